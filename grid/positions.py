"""Positions typed by a person (``--midi-offset``, ``--start``): seconds, samples or timecode → session samples.

Accepted forms:

- ``1.5`` or ``1.5s`` — seconds; ``250ms`` — milliseconds;
- ``72000smp`` or ``72000samples`` — samples;
- ``01:00:02:00`` — timecode at ``fps`` (``;`` before the frames, or ``fps="29.97df"``, means drop frame);
- ``00:00:02.500`` — hours:minutes:seconds with a decimal fraction.

Timecode is clock time: where the session has a start time (a BWF time reference, an AAF start timecode) it is
measured from midnight and the session's start is subtracted; otherwise it counts from session sample 0.
"""
from __future__ import annotations

import re
from fractions import Fraction

from grid.session_grid import round_half_up

__all__ = ["FRAME_RATES", "parse_position", "timecode2seconds"]

#: Timecode rates by name → (frames per second as an exact fraction, nominal integer rate, drop frame).
FRAME_RATES: dict[str, tuple[Fraction, int, bool]] = {
    "23.976": (Fraction(24000, 1001), 24, False),
    "24": (Fraction(24), 24, False),
    "25": (Fraction(25), 25, False),
    "29.97": (Fraction(30000, 1001), 30, False),
    "29.97df": (Fraction(30000, 1001), 30, True),
    "30": (Fraction(30), 30, False),
}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"


def timecode2seconds(timecode: str, fps: str = "30") -> Fraction:
    """Exact seconds of ``HH:MM:SS:FF`` (or ``HH:MM:SS;FF`` drop frame) at a rate from :data:`FRAME_RATES`."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2}):(\d{2})([:;.])(\d+)", timecode.strip())
    if not m:
        raise ValueError(f"not a timecode: {timecode!r} (expected HH:MM:SS:FF)")
    hh, mm, ss, sep, ff = m.groups()
    if sep == ".":
        return int(hh) * 3600 + int(mm) * 60 + int(ss) + Fraction(f"0.{ff}")
    if fps not in FRAME_RATES:
        raise ValueError(f"unknown frame rate {fps!r}; choose one of {', '.join(FRAME_RATES)}")
    rate, nominal, drop = FRAME_RATES[fps]
    drop = drop or sep == ";"
    if int(ff) >= nominal or int(mm) >= 60 or int(ss) >= 60:
        raise ValueError(f"timecode {timecode!r} out of range at {fps} fps")
    frames = (int(hh) * 3600 + int(mm) * 60 + int(ss)) * nominal + int(ff)
    if drop:
        if nominal != 30:
            raise ValueError(f"drop-frame timecode {timecode!r} exists only at 29.97 fps")
        minutes = int(hh) * 60 + int(mm)
        frames -= 2 * (minutes - minutes // 10)
    return frames / rate


def parse_position(text: str, sample_rate_hz: int, fps: str = "30", session_start_samples: int = 0) -> int:
    """A typed position → integer session sample.

    Parameters
    ----------
    text : str
        See the module docstring for the forms.
    sample_rate_hz : int
        The session's rate, for seconds and timecode.
    fps : str
        Timecode rate, a key of :data:`FRAME_RATES`.
    session_start_samples : int
        Clock time of session sample 0 in samples since midnight; subtracted from timecode.

    Returns
    -------
    int
        Session sample (may be negative).

    Raises
    ------
    ValueError
        For text in none of the forms.
    """
    t = text.strip().lower()
    if ":" in t:
        return round_half_up(timecode2seconds(t, fps) * sample_rate_hz) - session_start_samples
    m = re.fullmatch(rf"({_NUMBER})\s*(s|sec|ms|smp|samples?)?", t)
    if not m:
        raise ValueError(f"not a position: {text!r} (use seconds like 1.5s, samples like 72000smp, or HH:MM:SS:FF)")
    value, unit = Fraction(m.group(1)), m.group(2) or "s"
    if unit in ("smp", "sample", "samples"):
        if value.denominator != 1:
            raise ValueError(f"a sample position must be a whole number: {text!r}")
        return int(value)
    if unit == "ms":
        value /= 1000
    return round_half_up(value * sample_rate_hz)
