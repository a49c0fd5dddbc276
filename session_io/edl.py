"""CMX 3600 edit lists: a frame-rounded reference of the edit, for tools that read EDLs.

CMX 3600 cannot carry this edit exactly: it counts whole frames, numbers at most 999 events per list and has four
audio channels (written A, A2, A3, A4 as Avid does). So each list holds up to four mics, a list that would pass 999
events continues in a next part, and every cut is rounded to the frame at its crossfade's middle. The lists say so in
their comments; the exact, sample-accurate edit is ``edit.aaf``.

Record timecode counts from the session's start time; source timecode is the media's own (its BWF time reference, or
00:00:00:00 at its first sample).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grid.positions import FRAME_RATES

__all__ = ["EdlCut", "EdlMic", "frames2timecode", "write_edls"]

MAX_EVENTS = 999
CHANNELS = ("A", "A2", "A3", "A4")


@dataclass(frozen=True)
class EdlCut:
    """One stretch of the edit, the same on every mic: output [record_in, record_out) plays source from source_in.
    All in session samples (source_in on the session timeline)."""

    record_in: int
    record_out: int
    source_in: int


@dataclass(frozen=True)
class EdlMic:
    """A mic as an EDL names it: its clip (file) name, where its file starts on the session timeline, and the clock
    time of the file's first sample (samples since midnight) for source timecode."""

    name: str
    clip_name: str
    file_offset_samples: int
    source_start_samples: int = 0


def frames2timecode(frames: int, fps: str) -> str:
    """A frame count → ``HH:MM:SS:FF`` (``;`` before the frames in drop frame) at a rate of ``FRAME_RATES``."""
    _, nominal, drop = FRAME_RATES[fps]
    if drop:
        ten_minutes = 17982  # frames in ten minutes of 29.97 drop frame
        d, m = divmod(frames, ten_minutes)
        frames += 18 * d + (2 * ((m - 2) // 1798) if m > 2 else 0)
    ff = frames % nominal
    total_seconds = frames // nominal
    return f"{total_seconds // 3600:02d}:{total_seconds // 60 % 60:02d}:{total_seconds % 60:02d}{';' if drop else ':'}{ff:02d}"


def _frame(samples: int, rate: int, fps: str) -> int:
    """Nearest frame at real time: samples / rate × (frames per second of the rate, 30000/1001 for 29.97); halves
    to even, as ``round`` does. In integers: a Fraction per call made this a third of writing the EDLs."""
    per_second = FRAME_RATES[fps][0]
    frames, rest = divmod(samples * per_second.numerator, rate * per_second.denominator)
    twice, whole = 2 * rest, rate * per_second.denominator
    return frames + (twice > whole or (twice == whole and frames % 2 == 1))


def _reel(name: str) -> str:
    """A CMX reel name: up to 8 characters, no spaces."""
    return (re.sub(r"[^A-Za-z0-9_]", "", name.upper()) or "AX")[:8]


def write_edls(folder: Path, title: str, sample_rate_hz: int, fps: str, start_samples: int,
               mics: list[EdlMic], cuts: list[EdlCut]) -> list[Path]:
    """Write the edit as CMX 3600 lists, four mics a list, 999 events a file.

    Parameters
    ----------
    folder : Path
        Created if missing.
    title : str
        The session's name.
    sample_rate_hz : int
    fps : str
        A key of ``grid.positions.FRAME_RATES``.
    start_samples : int
        Clock time of session sample 0 (samples since midnight): record timecode starts there.
    mics : list of EdlMic
    cuts : list of EdlCut
        In output order, not overlapping.

    Returns
    -------
    list of Path
        The files written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    base = _frame(start_samples, sample_rate_hz, fps)
    # frame-rounded stretches: each boundary rounded once, so neighbours meet exactly
    stretches = []
    for cut in cuts:
        rec_in = _frame(cut.record_in, sample_rate_hz, fps)
        rec_out = _frame(cut.record_out, sample_rate_hz, fps)
        if rec_out > rec_in:
            stretches.append((rec_in, rec_out, cut.source_in - cut.record_in))
    written = []
    safe_title = re.sub(r"[^\w\-]+", "_", title).strip("_") or "session"
    for g in range(0, len(mics), len(CHANNELS)):
        group = mics[g:g + len(CHANNELS)]
        events = [(mic, channel, stretch) for stretch in stretches for mic, channel in zip(group, CHANNELS)]
        parts = [events[i:i + MAX_EVENTS] for i in range(0, len(events), MAX_EVENTS)] or [[]]
        for p, part in enumerate(parts, 1):
            label = f"mics {g + 1}-{g + len(group)}" + (f" part {p}" if len(parts) > 1 else "")
            lines = [f"TITLE: {title} {label}", f"FCM: {'DROP FRAME' if FRAME_RATES[fps][2] else 'NON-DROP FRAME'}",
                     ""]
            reels = {mic.clip_name: _reel(Path(mic.clip_name).stem) for mic in group}
            for number, (mic, channel, (rec_in, rec_out, shift)) in enumerate(part, 1):
                media_in = rec_in + _frame(shift - mic.file_offset_samples, sample_rate_hz, fps)
                src_in = _frame(mic.source_start_samples, sample_rate_hz, fps) + media_in
                src_out = src_in + (rec_out - rec_in)
                tc = [frames2timecode(x, fps) for x in (src_in, src_out, base + rec_in, base + rec_out)]
                lines.append(f"{number:03d}  {reels[mic.clip_name]:<8} {channel:<5} C        " + " ".join(tc))
                lines.append(f"* FROM CLIP NAME: {mic.clip_name}")
                if number == 1:
                    lines.append(f"* NBD: {mic.name} and the other mics of this list, rounded to {fps} fps frames; "
                                 "the sample-accurate edit is edit.aaf")
            path = folder / f"{safe_title} {label.replace(' ', '_')}.edl"
            path.write_text("\r\n".join(lines) + "\r\n", encoding="ascii", errors="replace")
            written.append(path)
    return written
