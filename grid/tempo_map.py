"""Tempo maps: tempo and meter changes in musical time, with exact conversions.

Musical positions are counted in quarter notes from MIDI time 0 (``quarters``, an exact ``Fraction``), whatever the
meter: that is what MIDI's ticks-per-quarter and µs-per-quarter measure. Seconds are exact ``Fraction`` too; a
position becomes an integer sample only in :mod:`grid.session_grid`, at the session's rate.

Bars follow the meter changes: a meter change always starts a new bar (a change that falls inside a bar cuts that bar
short), and bar 1 starts at quarter 0. Positions before quarter 0 extend the first tempo and meter backwards
(bar 0, -1, …), so hits in a count-in before the tempo map's start still have a place.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator, Union

from nbd_errors import TempoMapError

__all__ = [
    "TICKS_PER_QUARTER_DISPLAY",
    "TempoChange",
    "MeterChange",
    "BarBeatTick",
    "TempoMap",
    "bpm2us_per_quarter",
    "us_per_quarter2bpm",
]

#: Ticks per quarter note used to print positions as bar|beat|tick, as Pro Tools does.
TICKS_PER_QUARTER_DISPLAY = 960

Number = Union[int, float, Fraction]


def _exact(value: Number) -> Fraction:
    """An exact Fraction from an int, Fraction or float (a float through its shortest decimal repr)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return Fraction(repr(value))
    return Fraction(value)


def bpm2us_per_quarter(bpm: Number) -> Fraction:
    """Quarter notes per minute → microseconds per quarter note (exact)."""
    bpm = _exact(bpm)
    if bpm <= 0:
        raise ValueError(f"tempo must be positive, got {float(bpm)} BPM")
    return Fraction(60_000_000) / bpm


def us_per_quarter2bpm(us_per_quarter: Number) -> Fraction:
    """Microseconds per quarter note → quarter notes per minute (exact)."""
    return Fraction(60_000_000) / _exact(us_per_quarter)


@dataclass(frozen=True)
class TempoChange:
    """A tempo that holds from ``position_quarters`` until the next change."""

    position_quarters: Fraction
    us_per_quarter: Fraction

    @property
    def bpm(self) -> float:
        """Quarter notes per minute."""
        return float(us_per_quarter2bpm(self.us_per_quarter))


@dataclass(frozen=True)
class MeterChange:
    """A time signature that starts a new bar at ``position_quarters``; beats are ``1/denominator`` notes."""

    position_quarters: Fraction
    numerator: int
    denominator: int

    @property
    def beat_quarters(self) -> Fraction:
        """Length of one beat in quarter notes (1/2 for an eighth-note beat)."""
        return Fraction(4, self.denominator)

    @property
    def bar_quarters(self) -> Fraction:
        """Length of one full bar in quarter notes."""
        return self.numerator * self.beat_quarters

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True)
class BarBeatTick:
    """A musical position as a DAW shows it: bar and beat from 1, ticks at 960 per quarter note (exact)."""

    bar: int
    beat: int
    tick: Fraction

    def __str__(self) -> str:
        return f"{self.bar}|{self.beat}|{math.floor(self.tick):03d}"


@dataclass(frozen=True)
class TempoMap:
    """Tempo and meter changes of a song, in quarter notes from MIDI time 0.

    Parameters
    ----------
    tempos : tuple of TempoChange
        Sorted by position, the first at quarter 0, at most one per position.
    meters : tuple of MeterChange
        Sorted by position, the first at quarter 0, at most one per position.

    Use :meth:`from_changes` to build one from raw (possibly unsorted, duplicated) events.
    """

    tempos: tuple[TempoChange, ...]
    meters: tuple[MeterChange, ...]
    _tempo_q: list = field(init=False, repr=False, compare=False)
    _tempo_s: list = field(init=False, repr=False, compare=False)
    _meter_q: list = field(init=False, repr=False, compare=False)
    _meter_bar: list = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        for name, changes in (("tempo", self.tempos), ("meter", self.meters)):
            if not changes:
                problems.append(f"no {name} at all")
                continue
            if changes[0].position_quarters != 0:
                problems.append(f"first {name} change is at quarter {changes[0].position_quarters}, not 0")
            for a, b in zip(changes, changes[1:]):
                if b.position_quarters <= a.position_quarters:
                    problems.append(f"{name} changes not strictly increasing at quarter {b.position_quarters}")
        for t in self.tempos:
            if t.us_per_quarter <= 0:
                problems.append(f"tempo of {t.us_per_quarter} µs per quarter at quarter {t.position_quarters}")
        for m in self.meters:
            if m.numerator < 1 or m.denominator < 1:
                problems.append(f"meter {m} at quarter {m.position_quarters}")
        if problems:
            raise TempoMapError("; ".join(problems))

        tempo_q = [t.position_quarters for t in self.tempos]
        tempo_s = [Fraction(0)]
        for a, b in zip(self.tempos, self.tempos[1:]):
            tempo_s.append(tempo_s[-1] + (b.position_quarters - a.position_quarters) * a.us_per_quarter / 1_000_000)
        meter_q = [m.position_quarters for m in self.meters]
        meter_bar = [1]
        for a, b in zip(self.meters, self.meters[1:]):
            # A change inside a bar cuts that bar short: the partial bar still counts as one bar.
            meter_bar.append(meter_bar[-1] + math.ceil((b.position_quarters - a.position_quarters) / a.bar_quarters))
        object.__setattr__(self, "_tempo_q", tempo_q)
        object.__setattr__(self, "_tempo_s", tempo_s)
        object.__setattr__(self, "_meter_q", meter_q)
        object.__setattr__(self, "_meter_bar", meter_bar)

    # -- construction ------------------------------------------------------------------------------------------

    @classmethod
    def from_changes(
        cls,
        tempos: list[tuple[Number, Number]],
        meters: list[tuple[Number, int, int]] = (),
    ) -> "TempoMap":
        """Build a map from raw events, in file order.

        Parameters
        ----------
        tempos : list of (position_quarters, us_per_quarter)
            Unsorted is fine; of several at one position the last one given wins. Without one at quarter 0,
            120 BPM holds until the first (the MIDI default).
        meters : list of (position_quarters, numerator, denominator)
            Same rules; 4/4 holds until the first.

        Returns
        -------
        TempoMap
        """
        tempo_at: dict[Fraction, Fraction] = {Fraction(0): bpm2us_per_quarter(120)}
        for pos, us in tempos:
            tempo_at[_exact(pos)] = _exact(us)  # later events overwrite earlier ones at the same position
        meter_at: dict[Fraction, tuple[int, int]] = {Fraction(0): (4, 4)}
        for pos, num, den in meters:
            meter_at[_exact(pos)] = (int(num), int(den))
        return cls(
            tempos=tuple(TempoChange(q, us) for q, us in sorted(tempo_at.items())),
            meters=tuple(MeterChange(q, n, d) for q, (n, d) in sorted(meter_at.items())),
        )

    @classmethod
    def constant(cls, bpm: Number, numerator: int = 4, denominator: int = 4) -> "TempoMap":
        """A map with one tempo (quarter notes per minute) and one meter throughout."""
        return cls.from_changes([(0, bpm2us_per_quarter(bpm))], [(0, numerator, denominator)])

    # -- seconds -----------------------------------------------------------------------------------------------

    def quarters2seconds(self, quarters: Number) -> Fraction:
        """Exact seconds from MIDI time 0 at a position in quarter notes (negative before time 0)."""
        q = _exact(quarters)
        i = max(bisect.bisect_right(self._tempo_q, q) - 1, 0)
        return self._tempo_s[i] + (q - self._tempo_q[i]) * self.tempos[i].us_per_quarter / 1_000_000

    def seconds2quarters(self, seconds: Number) -> Fraction:
        """Exact position in quarter notes at a time in seconds from MIDI time 0."""
        s = _exact(seconds)
        i = max(bisect.bisect_right(self._tempo_s, s) - 1, 0)
        return self._tempo_q[i] + (s - self._tempo_s[i]) * 1_000_000 / self.tempos[i].us_per_quarter

    def tempo_at(self, quarters: Number) -> TempoChange:
        """The tempo in force at a position in quarter notes."""
        i = max(bisect.bisect_right(self._tempo_q, _exact(quarters)) - 1, 0)
        return self.tempos[i]

    # -- bars and beats ----------------------------------------------------------------------------------------

    def _meter_index_at(self, quarters: Fraction) -> int:
        return max(bisect.bisect_right(self._meter_q, quarters) - 1, 0)

    def meter_at(self, quarters: Number) -> MeterChange:
        """The meter in force at a position in quarter notes."""
        return self.meters[self._meter_index_at(_exact(quarters))]

    def quarters2bbt(self, quarters: Number) -> BarBeatTick:
        """Bar, beat (both from 1) and tick (960 per quarter) of a position in quarter notes."""
        q = _exact(quarters)
        m = self._meter_index_at(q)
        meter = self.meters[m]
        rel = q - meter.position_quarters
        bar_index = math.floor(rel / meter.bar_quarters)
        within = rel - bar_index * meter.bar_quarters
        beat_index = math.floor(within / meter.beat_quarters)
        tick = (within - beat_index * meter.beat_quarters) * TICKS_PER_QUARTER_DISPLAY
        return BarBeatTick(self._meter_bar[m] + bar_index, beat_index + 1, tick)

    def bbt2quarters(self, bar: int, beat: int = 1, tick: Number = 0) -> Fraction:
        """Position in quarter notes of bar|beat|tick (bar and beat from 1, 960 ticks per quarter)."""
        m = max(bisect.bisect_right(self._meter_bar, bar) - 1, 0)
        meter = self.meters[m]
        return (
            meter.position_quarters
            + (bar - self._meter_bar[m]) * meter.bar_quarters
            + (beat - 1) * meter.beat_quarters
            + _exact(tick) / TICKS_PER_QUARTER_DISPLAY
        )

    def bar_start_quarters(self, bar: int) -> Fraction:
        """Position in quarter notes where a bar starts."""
        return self.bbt2quarters(bar, 1, 0)

    def bar_end_quarters(self, bar: int) -> Fraction:
        """Position in quarter notes where a bar ends: the next bar's start (a meter change may cut it short)."""
        return self.bar_start_quarters(bar + 1)

    def bars(self, from_quarters: Number, to_quarters: Number) -> Iterator[tuple[int, Fraction, Fraction, MeterChange]]:
        """Every bar that overlaps ``[from_quarters, to_quarters)``.

        Yields
        ------
        (bar number, start in quarters, end in quarters, meter of the bar)
        """
        lo, hi = _exact(from_quarters), _exact(to_quarters)
        bar = self.quarters2bbt(lo).bar
        while True:
            start = self.bar_start_quarters(bar)
            if start >= hi:
                return
            end = self.bar_end_quarters(bar)
            yield bar, start, end, self.meter_at(start)
            bar += 1

    # -- lossless JSON form --------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        """A JSON-ready dict: positions as exact fraction strings plus readable BPM and bar|beat|tick."""
        return {
            "tempos": [
                {
                    "position_quarters": str(t.position_quarters),
                    "us_per_quarter": str(t.us_per_quarter),
                    "bpm": round(t.bpm, 6),
                    "bbt": str(self.quarters2bbt(t.position_quarters)),
                }
                for t in self.tempos
            ],
            "meters": [
                {
                    "position_quarters": str(m.position_quarters),
                    "meter": str(m),
                    "bar": self.quarters2bbt(m.position_quarters).bar,
                }
                for m in self.meters
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> "TempoMap":
        """Inverse of :meth:`to_json`."""
        return cls(
            tempos=tuple(TempoChange(Fraction(t["position_quarters"]), Fraction(t["us_per_quarter"])) for t in data["tempos"]),
            meters=tuple(
                MeterChange(Fraction(m["position_quarters"]), *map(int, m["meter"].split("/"))) for m in data["meters"]
            ),
        )
