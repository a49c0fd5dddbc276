"""Readers and writers: everything that turns files into nbd's model and back.

Import order (lowest first): :mod:`session_io.session` (the model, no I/O) → :mod:`session_io.riff` →
:mod:`session_io.audio` → the format modules → this index.

- ``read_session(path, format=None)`` — a session folder, poly WAV or AAF → :class:`Session`.
- ``available_formats()`` — the names ``format=`` takes.
- :mod:`session_io.stems` — aligned stems; :mod:`session_io.plan_json` — ``edits.json``;
  :mod:`session_io.output` — the all-or-nothing output set of one session.
"""
from __future__ import annotations

from pathlib import Path

from nbd_errors import SessionReadError, UnsupportedFormatError
from session_io import aaf, wav_folder
from session_io.session import AudioSource, Session, Track

__all__ = ["AudioSource", "Session", "Track", "available_formats", "read_session"]

_READERS = {
    "folder": wav_folder.read_folder,
    "audio": wav_folder.read_poly_file,
}


def available_formats() -> list[str]:
    """Names accepted by ``read_session(format=...)``."""
    return sorted([*_READERS, "aaf"])


def read_session(path: str | Path, format: str | None = None, check: bool = True, workdir: Path | None = None,
                 media_dirs: list[Path] | tuple = (), skip_missing: bool = False) -> Session:
    """Read one session.

    Parameters
    ----------
    path : str or Path
        A folder of mic files, or one multichannel audio file.
    format : str, optional
        One of :func:`available_formats`; by default chosen from the path (folder, or audio file by suffix).
    check : bool
        Decode compressed and float audio once up front to catch corruption and NaN before any work.
    workdir : Path, optional
        AAF only: where each track is flattened to a WAV file (required for AAF).
    media_dirs : list of Path
        AAF only: more folders to find linked media in.
    skip_missing : bool
        AAF only: leave tracks silent where their media is missing, instead of failing.

    Returns
    -------
    Session

    Raises
    ------
    SessionReadError, UnsupportedFormatError
        Naming the file and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise SessionReadError("no such file or folder", path)
    if format is None:
        format = "aaf" if path.suffix.lower() == ".aaf" else "folder" if path.is_dir() else "audio"
    if format == "aaf":
        if workdir is None:
            raise ValueError("reading an AAF needs a workdir to flatten its tracks into")
        return aaf.read_aaf(path, workdir, list(media_dirs), skip_missing, check)
    try:
        reader = _READERS[format]
    except KeyError:
        raise UnsupportedFormatError(f"unknown session format {format!r}; choose one of {available_formats()}",
                                     path) from None
    return reader(path, check=check)
