"""A session's outputs as one all-or-nothing set.

Everything is written into ``<session dir>/.partial-<id>/`` first. Only when every file is complete does
:meth:`OutputSet.commit` move the earlier outputs aside, rename the new ones into place — ``edits.json`` last, as the
mark of a finished set — and delete the old ones. A crash before that leaves the earlier outputs as they were and
a ``.partial-*`` folder that the next run removes; the stems inside it still carry their ``.part`` suffix, so no
half-made set ever looks finished.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from pathlib import Path

from nbd_errors import OutputWriteError
from session_io.stems import PART_SUFFIX

__all__ = ["MARKER", "MANAGED_OUTPUTS", "OutputSet"]

log = logging.getLogger("nbd")

#: The file whose presence says a session's output set is complete; renamed in last, moved out first.
MARKER = "edits.json"
#: Every name nbd writes into a session's output folder; a new set replaces all of them, stale ones included.
MANAGED_OUTPUTS = ("stems", "hits.mid", "edit.aaf", "edl", "report.html", MARKER)


def _describe(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "disk full"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "not writable"
    return e.strerror or str(e)


class OutputSet:
    """Context manager for one session's output folder.

    Parameters
    ----------
    directory : Path
        The session's output folder (``OUT`` for one session, ``OUT/<name>`` for several); created if missing.

    Examples
    --------
    >>> with OutputSet(Path("out")) as outputs:           # doctest: +SKIP
    ...     write_things(outputs.partial / "stems")
    ...     outputs.commit()
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.partial = self.directory / f".partial-{uuid.uuid4().hex[:12]}"
        self.committed = False

    def __enter__(self) -> "OutputSet":
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for stale in self.directory.glob(".partial-*"):
                shutil.rmtree(stale, ignore_errors=True)  # left by a run that crashed
            self.partial.mkdir()
        except OSError as e:
            raise OutputWriteError(f"cannot create output folder ({_describe(e)})", self.directory) from None
        return self

    def __exit__(self, exc_type, *exc) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)

    def commit(self) -> None:
        """Put the finished set in place of the earlier outputs.

        Raises
        ------
        OutputWriteError
            If renaming fails; the earlier outputs are put back where possible.
        """
        try:
            for part in sorted(self.partial.rglob("*" + PART_SUFFIX)):
                part.rename(part.with_name(part.name[: -len(PART_SUFFIX)]))
        except OSError as e:
            raise OutputWriteError(f"cannot finish outputs ({_describe(e)})", self.partial) from None
        new_items = sorted(p.name for p in self.partial.iterdir())
        old = self.directory / f".old-{self.partial.name[len('.partial-'):]}"
        moved_aside: list[str] = []
        try:
            old.mkdir()
            # The marker leaves first, so a crash mid-swap leaves no set that looks finished.
            for name in sorted(set(MANAGED_OUTPUTS) | set(new_items), key=lambda n: n != MARKER):
                if (self.directory / name).exists():
                    (self.directory / name).rename(old / name)
                    moved_aside.append(name)
            for name in sorted(new_items, key=lambda n: n == MARKER):
                (self.partial / name).rename(self.directory / name)
        except OSError as e:
            self._restore(old, moved_aside)
            raise OutputWriteError(f"cannot put outputs in place ({_describe(e)})", self.directory) from None
        shutil.rmtree(old, ignore_errors=True)
        self.committed = True

    def _restore(self, old: Path, moved_aside: list[str]) -> None:
        for name in moved_aside:
            target = self.directory / name
            try:
                if target.exists():
                    shutil.rmtree(target) if target.is_dir() else target.unlink()
                os.replace(old / name, target)
            except OSError:
                log.error("%s: earlier output %s is kept in %s", self.directory, name, old)
