"""A tempo map laid on a session's timeline, and the grid lines an editor snaps to.

``SessionGrid`` says at which session sample MIDI time 0 sits and at what sample rate, so it converts exactly
between samples, seconds and musical positions. ``grid_lines`` lists the lines of a subdivision (1/16, 1/8t, …),
with swing, restarting at every bar line so that odd meters and meter changes keep their lines on the bar.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from grid.tempo_map import BarBeatTick, Number, TempoMap, _exact

__all__ = [
    "DIVISIONS",
    "SessionGrid",
    "GridLine",
    "division2quarters",
    "grid_lines",
    "line_samples",
    "round_half_up",
    "seconds2samples",
    "samples2seconds",
    "ms2samples",
]

#: Grid subdivisions by name → step in quarter notes.
DIVISIONS: dict[str, Fraction] = {
    "1/4": Fraction(1),
    "1/8": Fraction(1, 2),
    "1/16": Fraction(1, 4),
    "1/32": Fraction(1, 8),
    "1/8t": Fraction(1, 3),
    "1/16t": Fraction(1, 6),
}


def round_half_up(value: Number) -> int:
    """Nearest integer, halves rounded up (toward +inf): the one rounding nbd uses for positions."""
    return math.floor(_exact(value) + Fraction(1, 2))


def seconds2samples(seconds: Number, sample_rate_hz: int) -> int:
    """Seconds → nearest integer sample at ``sample_rate_hz``."""
    return round_half_up(_exact(seconds) * sample_rate_hz)


def samples2seconds(samples: Number, sample_rate_hz: int) -> Fraction:
    """Samples → exact seconds at ``sample_rate_hz``."""
    return _exact(samples) / sample_rate_hz


def ms2samples(ms: Number, sample_rate_hz: int) -> int:
    """Milliseconds (an option value) → nearest integer sample at the session's rate."""
    return round_half_up(_exact(ms) * sample_rate_hz / 1000)


def division2quarters(division: str) -> Fraction:
    """Grid step in quarter notes of a subdivision name such as ``"1/16"`` or ``"1/8t"``.

    Raises
    ------
    ValueError
        For a name not in :data:`DIVISIONS`.
    """
    try:
        return DIVISIONS[division.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown grid {division!r}; choose one of {', '.join(DIVISIONS)}") from None


@dataclass(frozen=True)
class SessionGrid:
    """A tempo map placed on a session timeline.

    Parameters
    ----------
    tempo_map : TempoMap
    sample_rate_hz : int
        The session's sample rate.
    origin_samples : int
        Session sample at which MIDI time 0 (quarter 0, bar 1) sits.
    """

    tempo_map: TempoMap
    sample_rate_hz: int
    origin_samples: int = 0

    def quarters2seconds(self, quarters: Number) -> Fraction:
        """Exact session time in seconds (from session sample 0) of a musical position."""
        return self.tempo_map.quarters2seconds(quarters) + Fraction(self.origin_samples, self.sample_rate_hz)

    def seconds2quarters(self, seconds: Number) -> Fraction:
        """Exact musical position of a session time in seconds."""
        return self.tempo_map.seconds2quarters(_exact(seconds) - Fraction(self.origin_samples, self.sample_rate_hz))

    def quarters2samples_exact(self, quarters: Number) -> Fraction:
        """Exact, possibly fractional, session sample of a musical position."""
        return self.quarters2seconds(quarters) * self.sample_rate_hz

    def quarters2sample(self, quarters: Number) -> int:
        """Nearest integer session sample of a musical position."""
        return round_half_up(self.quarters2samples_exact(quarters))

    def sample2quarters(self, sample: Number) -> Fraction:
        """Exact musical position of a (possibly fractional) session sample."""
        return self.seconds2quarters(_exact(sample) / self.sample_rate_hz)

    def sample2bbt(self, sample: Number) -> BarBeatTick:
        """Bar|beat|tick of a session sample."""
        return self.tempo_map.quarters2bbt(self.sample2quarters(sample))

    def bbt2sample(self, bar: int, beat: int = 1, tick: Number = 0) -> int:
        """Nearest integer session sample of bar|beat|tick."""
        return self.quarters2sample(self.tempo_map.bbt2quarters(bar, beat, tick))


@dataclass(frozen=True)
class GridLine:
    """One line of the grid.

    Attributes
    ----------
    quarters : Fraction
        Exact musical position, swing included.
    sample : int
        Nearest session sample.
    bar : int
        Bar the line belongs to.
    index_in_bar : int
        0 for the bar line, 1 for the next step, …
    step_quarters : Fraction
        The straight (unswung) step of the grid, in quarter notes.
    """

    quarters: Fraction
    sample: int
    bar: int
    index_in_bar: int
    step_quarters: Fraction


def grid_lines(
    grid: SessionGrid,
    start_sample: int,
    end_sample: int,
    division: str = "1/16",
    swing_pct: float = 0.0,
) -> list[GridLine]:
    """Every grid line from ``start_sample`` (inclusive) to ``end_sample`` (exclusive).

    Lines restart at each bar line: a bar of 5/8 on a 1/4 grid has lines at 0, 1 and 2 quarters, and the next bar's
    line follows 2.5 quarters after its start. Swing delays every second line of a bar (the off-beat of each pair of
    steps) by ``swing_pct`` % of a third of a step: 0 is straight, 100 puts the off-beat on the triplet.

    Parameters
    ----------
    grid : SessionGrid
    start_sample, end_sample : int
        Session samples.
    division : str
        One of :data:`DIVISIONS`.
    swing_pct : float
        0 to 100; only for straight (non-triplet) grids.

    Returns
    -------
    list of GridLine, sorted by sample.
    """
    step = division2quarters(division)
    if not 0 <= swing_pct <= 100:
        raise ValueError(f"swing must be between 0 and 100 %, got {swing_pct}")
    if swing_pct and division.strip().lower().endswith("t"):
        raise ValueError(f"swing applies to straight grids only, not to the triplet grid {division}")
    swing_delay = step * _exact(swing_pct) / 100 / 3
    q_lo = grid.sample2quarters(start_sample)
    q_hi = grid.sample2quarters(end_sample)
    lines: list[GridLine] = []
    for bar, bar_start, bar_end, _meter in grid.tempo_map.bars(q_lo - step, q_hi + step):
        k = 0
        while bar_start + k * step < bar_end:
            q = bar_start + k * step + (swing_delay if k % 2 else 0)
            sample = grid.quarters2sample(q)
            if start_sample <= sample < end_sample:
                lines.append(GridLine(q, sample, bar, k, step))
            k += 1
    return lines


def line_samples(lines: list[GridLine]) -> np.ndarray:
    """Samples of grid lines as an int64 array (for vectorised nearest-line searches)."""
    return np.fromiter((line.sample for line in lines), dtype=np.int64, count=len(lines))

