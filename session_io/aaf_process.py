"""Writing a linked AAF in a fresh Python process, beside other work.

:func:`session_io.aaf_writer.write_linked_aaf` is Python work (about 0.1 ms a clip), so a thread could not run it
beside the rendering (the GIL); a process can. It is a fresh interpreter (``python -m session_io.aaf_process JOB``)
rather than a multiprocessing child, so it never imports the caller's main module (a script without a ``__main__``
guard would run again in a spawned child) and needs no fork of a process that runs threads. The job travels as JSON.

If the process fails for any reason, :meth:`AafWriterProcess.wait` writes the file in this process instead, so a
real problem (unreadable media, a full disk) is raised here with its usual message.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from session_io.aaf_writer import LinkedClip, LinkedTrack, write_linked_aaf

__all__ = ["AafWriterProcess", "main"]

log = logging.getLogger("nbd")

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: A clip travels as the list of its fields in this order (tens of thousands of clips: no dict per clip).
_CLIP_FIELDS = tuple(f.name for f in fields(LinkedClip))


def _job(path: Path, name: str, sample_rate_hz: int, tracks: list[LinkedTrack], start_timecode_samples: int,
         length_samples: int) -> dict:
    numbers: dict[int, int] = {}  # tracks that share one clip tuple (files placed alike) send it once
    lists: list[tuple[LinkedClip, ...]] = []
    for t in tracks:
        if id(t.clips) not in numbers:
            numbers[id(t.clips)] = len(lists)
            lists.append(t.clips)
    return {"path": str(path), "name": name, "sample_rate_hz": sample_rate_hz,
            "start_timecode_samples": start_timecode_samples, "length_samples": length_samples,
            "clip_lists": [[[getattr(c, f) for f in _CLIP_FIELDS] for c in clips] for clips in lists],
            "tracks": [{"name": t.name, "media": str(t.media), "channel": t.channel,
                        "media_url": None if t.media_url is None else str(t.media_url),
                        "clips": numbers[id(t.clips)]} for t in tracks]}


def _write(job: dict) -> None:
    clip_lists = [tuple(LinkedClip(*c) for c in clips) for clips in job["clip_lists"]]
    tracks = [LinkedTrack(t["name"], Path(t["media"]), t["channel"], clip_lists[t["clips"]],
                          None if t["media_url"] is None else Path(t["media_url"])) for t in job["tracks"]]
    write_linked_aaf(Path(job["path"]), job["name"], job["sample_rate_hz"], tracks,
                     start_timecode_samples=job["start_timecode_samples"], length_samples=job["length_samples"])


class AafWriterProcess:
    """Starts writing a linked AAF (the arguments of :func:`~session_io.aaf_writer.write_linked_aaf`, without
    embedding) in a fresh process; :meth:`wait` returns when the file is written.

    Use as a context manager: leaving it early (an error elsewhere) stops the process and waits for it, so it never
    writes after its caller has moved on.
    """

    def __init__(self, path: Path, name: str, sample_rate_hz: int, tracks: list[LinkedTrack],
                 start_timecode_samples: int = 0, length_samples: int = 0):
        self._job = _job(path, name, sample_rate_hz, tracks, start_timecode_samples, length_samples)
        self._folder = tempfile.TemporaryDirectory(prefix="nbd-aaf-job-")
        job_file = Path(self._folder.name) / "job.json"
        job_file.write_text(json.dumps(self._job))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
        self._done = False
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", "session_io.aaf_process", str(job_file)], env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as e:  # no interpreter to start (an embedded Python): write it in wait()
            self._proc, self._start_error = None, str(e)

    def wait(self) -> None:
        """Wait for the file; if the process failed, write it here (raising what goes wrong)."""
        if self._done:
            return
        self._done = True
        if self._proc is None:
            failure = f"could not start it: {self._start_error}"
        else:
            _, err = self._proc.communicate()
            failure = (err.decode(errors="replace").strip().splitlines() or ["no message"])[-1] \
                if self._proc.returncode != 0 else None
        self._folder.cleanup()
        if failure is not None:
            # about this machine, not the session: the file written here is the same, so no report keeps this
            log.warning("%s: the process writing it failed (%s); writing it again here", self._job["path"], failure,
                        extra={"session_warning": False})
            _write(self._job)

    def __enter__(self) -> "AafWriterProcess":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None and not self._done:
            self._done = True
            if self._proc is not None:
                self._proc.kill()
                self._proc.communicate()
            self._folder.cleanup()
        self.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m session_io.aaf_process JOB.json``: write the AAF a job file describes; exit status 0 when done."""
    args = sys.argv[1:] if argv is None else argv
    _write(json.loads(Path(args[0]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
