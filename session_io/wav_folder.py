"""Sessions from a folder of audio files (one per mic) or from one poly WAV (one channel per mic).

A folder's WAV, AIFF and FLAC files are its mics, named after their files; a stereo file stays one two-channel mic,
both channels edited together. Anything else in the folder — MIDI, JSON, text, ``._*`` resource forks, ``.DS_Store``,
subfolders — is ignored. A folder holding a single file of two or more channels, or a single audio file given
directly, is a poly WAV: each channel is a mic, named from its iXML track list where it has one.

Files are laid on one timeline by their BWF time references (the earliest is sample 0) where they have one, else
from sample 0; shorter files are read as silence past their end.
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

from nbd_errors import SessionReadError
from session_io.audio import check_audio, probe
from session_io.riff import read_ixml_track_names
from session_io.session import MAX_RATE_HZ, MIN_RATE_HZ, AudioSource, Session, Track

__all__ = ["AUDIO_SUFFIXES", "read_session", "read_folder", "read_poly_file", "list_audio_files"]

log = logging.getLogger("nbd")

AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".bwf", ".rf64", ".w64", ".aif", ".aiff", ".aifc", ".flac"})


def _natural_key(path: Path) -> list:
    """Sort key that puts "Tom 2" before "Tom 10"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_audio_files(folder: Path) -> list[Path]:
    """Audio files directly in a folder, in natural name order, skipping hidden files and resource forks."""
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in AUDIO_SUFFIXES),
        key=_natural_key,
    )


def _check_rates(sources: list[AudioSource]) -> int:
    first = sources[0]
    for s in sources:
        if not MIN_RATE_HZ <= s.sample_rate_hz <= MAX_RATE_HZ:
            raise SessionReadError(
                f"sample rate {s.sample_rate_hz} Hz is outside the {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz nbd edits", s.path
            )
        if s.sample_rate_hz != first.sample_rate_hz:
            raise SessionReadError(
                f"sample rate {s.sample_rate_hz} Hz differs from {first.sample_rate_hz} Hz of {first.path.name}; "
                "every file of a session must share one rate",
                s.path,
            )
    return first.sample_rate_hz


def _place_on_timeline(sources: list[AudioSource]) -> tuple[list[AudioSource], int]:
    """Offsets from BWF time references; returns the placed sources and the clock time of timeline sample 0."""
    refs = [s.time_reference_samples for s in sources if s.time_reference_samples is not None]
    if not refs:
        return sources, 0
    start = min(refs)
    placed = []
    for s in sources:
        if s.time_reference_samples is None:
            log.warning("%s: no BWF time reference; placed at the session start", s.path)
            placed.append(s)
        else:
            placed.append(replace(s, offset_samples=s.time_reference_samples - start))
    return placed, start


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
        out.append(name if seen[key] == 1 else f"{name} {seen[key]}")
    return out


def _probe_all(paths: list[Path], check: bool) -> list[AudioSource]:
    sources = [probe(p) for p in paths]
    _check_rates(sources)
    if check:
        for s in sources:
            check_audio(s)
    return sources


def read_poly_file(path: str | Path, check: bool = True) -> Session:
    """A session from one multichannel file whose channels are the mics.

    Parameters
    ----------
    path : str or Path
    check : bool
        Decode the whole file once to catch corrupt data and NaN before any work starts.

    Returns
    -------
    Session
    """
    path = Path(path)
    (source,) = _probe_all([path], check)
    ixml = read_ixml_track_names(path) if source.container in ("WAV", "WAVEX", "RF64") else {}
    names = _unique([ixml.get(i, f"{path.stem} {i + 1}") for i in range(source.channels)])
    placed, start = _place_on_timeline([source])
    tracks = tuple(Track(name, 0, (i,)) for i, name in enumerate(names))
    return Session(path.stem, path, source.sample_rate_hz, tuple(placed), tracks, start)


def read_folder(folder: str | Path, check: bool = True) -> Session:
    """A session from a folder of audio files, one mic per file.

    Parameters
    ----------
    folder : str or Path
    check : bool
        Decode FLAC and float files once to catch corrupt data and NaN before any work starts.

    Returns
    -------
    Session

    Raises
    ------
    SessionReadError
        No audio files, or any file unusable (named in the message).
    """
    folder = Path(folder)
    paths = list_audio_files(folder)
    if not paths:
        raise SessionReadError("no audio files (WAV, AIFF, FLAC) in this folder", folder)
    sources = _probe_all(paths, check)
    if len(sources) == 1 and sources[0].channels >= 2:
        return read_poly_file(paths[0], check=False)
    placed, start = _place_on_timeline(sources)
    names = _unique([p.stem for p in paths])
    tracks = tuple(Track(name, i, tuple(range(s.channels))) for i, (name, s) in enumerate(zip(names, placed)))
    return Session(folder.name, folder, placed[0].sample_rate_hz, tuple(placed), tracks, start)


def read_session(path: str | Path, check: bool = True) -> Session:
    """A folder of mic files or one poly audio file → Session (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return read_folder(path, check)
    return read_poly_file(path, check)
