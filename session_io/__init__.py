"""Readers and writers: everything that turns files into nbd's model and back.

Import order (lowest first): :mod:`session_io.session` (the model, no I/O) → :mod:`session_io.riff` →
:mod:`session_io.audio` → the format modules → this index.

- ``read_session(path, format=None)`` — a session folder, poly WAV or (later) AAF → :class:`Session`.
- ``available_formats()`` — the names ``format=`` takes.
- :mod:`session_io.stems` — aligned stems; :mod:`session_io.plan_json` — ``edits.json``;
  :mod:`session_io.output` — the all-or-nothing output set of one session.
"""
from __future__ import annotations

from pathlib import Path

from nbd_errors import SessionReadError, UnsupportedFormatError
from session_io import wav_folder
from session_io.session import AudioSource, Session, Track

__all__ = ["AudioSource", "Session", "Track", "available_formats", "read_session"]

_READERS = {
    "folder": wav_folder.read_folder,
    "audio": wav_folder.read_poly_file,
}


def available_formats() -> list[str]:
    """Names accepted by ``read_session(format=...)``."""
    return sorted(_READERS)


def read_session(path: str | Path, format: str | None = None, check: bool = True) -> Session:
    """Read one session.

    Parameters
    ----------
    path : str or Path
        A folder of mic files, or one multichannel audio file.
    format : str, optional
        One of :func:`available_formats`; by default chosen from the path (folder, or audio file by suffix).
    check : bool
        Decode compressed and float audio once up front to catch corruption and NaN before any work.

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
        if path.suffix.lower() == ".aaf":
            raise UnsupportedFormatError("AAF sessions cannot be read yet; export the tracks as WAV files", path)
        format = "folder" if path.is_dir() else "audio"
    try:
        reader = _READERS[format]
    except KeyError:
        raise UnsupportedFormatError(f"unknown session format {format!r}; choose one of {available_formats()}",
                                     path) from None
    return reader(path, check=check)
