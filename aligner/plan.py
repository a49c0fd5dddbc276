"""The edit plan: one list of segments, in integer samples, applied identically to every channel of a session.

A segment copies source timeline samples ``[source_start, source_end)`` to the output from ``dest_start``. The
segments tile the output timeline ``[0, length)`` in order; two neighbours overlap only by a crossfade, whose length
is both the earlier one's ``fade_out`` and the later one's ``fade_in`` and whose shape they share. The first segment
may fade in from silence and the last fade out to silence. Outside fades every output sample is a copy of one
source sample, so a stem nulls against its source shifted by the segment's move. The first segment may start before source sample 0 and the last may end after the session's end:
there the source is silence.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache

import numpy as np

from nbd_errors import PlanValidationError

__all__ = ["FADE_SHAPES", "Segment", "EditPlan", "fade_gains"]

#: Crossfade shapes: equal-gain (linear, for correlated sides) and equal-power (sine/cosine, for uncorrelated).
FADE_SHAPES = ("equal_power", "equal_gain")


@lru_cache(maxsize=64)
def _fade_gains_cached(shape: str, length: int) -> tuple[np.ndarray, np.ndarray]:
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    if shape == "equal_gain":
        g_in, g_out = t, 1.0 - t
    elif shape == "equal_power":
        g_in, g_out = np.sin(t * (math.pi / 2)), np.cos(t * (math.pi / 2))
    else:
        raise ValueError(f"unknown fade shape {shape!r}; choose one of {FADE_SHAPES}")
    g_in.flags.writeable = False
    g_out.flags.writeable = False
    return g_in, g_out


def fade_gains(shape: str, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Gains of a fade of ``length`` samples: (fade-in gains rising, fade-out gains falling), float64, read-only.

    Gains are taken at sample centres, ``t = (i + 0.5) / length``, so neither side is ever exactly 0 or 1 inside a
    fade and the two curves of one crossfade mirror each other. Equal-gain sums to 1; equal-power squares sum to 1.
    """
    return _fade_gains_cached(shape, int(length))


@dataclass(frozen=True)
class Segment:
    """A run of source audio placed on the output timeline. Every position is in samples.

    Attributes
    ----------
    source_start_samples, source_end_samples : int
        Source timeline range, end exclusive.
    dest_start_samples : int
        Output timeline position of ``source_start_samples``.
    fade_in_samples, fade_out_samples : int
        Lengths of the fades at the segment's two ends (the crossfades with its neighbours).
    fade_in_shape, fade_out_shape : str
        One of :data:`FADE_SHAPES`.
    label : str
        What the segment is, for people (``"event 12 at 5|2|000"``).
    """

    source_start_samples: int
    source_end_samples: int
    dest_start_samples: int
    fade_in_samples: int = 0
    fade_out_samples: int = 0
    fade_in_shape: str = "equal_power"
    fade_out_shape: str = "equal_power"
    label: str = ""

    @property
    def length_samples(self) -> int:
        """Samples the segment lasts."""
        return self.source_end_samples - self.source_start_samples

    @property
    def dest_end_samples(self) -> int:
        """Output position just after the segment."""
        return self.dest_start_samples + self.length_samples

    @property
    def shift_samples(self) -> int:
        """How far the segment's audio moves: destination minus source (positive = later)."""
        return self.dest_start_samples - self.source_start_samples


@dataclass(frozen=True)
class EditPlan:
    """Segments covering an output timeline of ``length_samples``, for every channel of a session at once."""

    length_samples: int
    segments: tuple[Segment, ...]

    @classmethod
    def identity(cls, length_samples: int) -> "EditPlan":
        """The plan that changes nothing: one segment over the whole timeline."""
        return cls(length_samples, (Segment(0, length_samples, 0, label="whole session"),))

    def validate(self) -> "EditPlan":
        """Check every rule and raise one error listing every broken one.

        Returns
        -------
        EditPlan
            self, so that ``plan = EditPlan(...).validate()`` reads naturally.

        Raises
        ------
        PlanValidationError
            With ``problems``: one line per broken rule, naming the segment by index.
        """
        problems: list[str] = []
        n = self.length_samples
        if not _is_int(n) or n <= 0:
            problems.append(f"length_samples must be a positive integer, got {n!r}")
        if not self.segments:
            problems.append("no segments")
        for i, s in enumerate(self.segments):
            fields = asdict(s)
            bad = [k for k, v in fields.items() if k.endswith("_samples") and not _is_int(v)]
            if bad:
                problems.append(f"segment {i}: {', '.join(bad)} must be integer samples")
                continue
            if s.source_end_samples <= s.source_start_samples:
                problems.append(f"segment {i}: source end {s.source_end_samples} is not after start {s.source_start_samples}")
            # Only the first segment may start before the session and only the last end after it (silence there).
            if (s.source_start_samples < 0 and i > 0) or (
                _is_int(n) and s.source_end_samples > n and i < len(self.segments) - 1
            ):
                problems.append(f"segment {i}: source range {s.source_start_samples}-{s.source_end_samples} "
                                f"lies outside the session (0-{n})")
            if s.fade_in_samples < 0 or s.fade_out_samples < 0:
                problems.append(f"segment {i}: negative fade")
            elif s.fade_in_samples + s.fade_out_samples > s.length_samples:
                problems.append(f"segment {i}: fades of {s.fade_in_samples} + {s.fade_out_samples} samples are longer "
                                f"than the segment ({s.length_samples})")
            for shape in (s.fade_in_shape, s.fade_out_shape):
                if shape not in FADE_SHAPES:
                    problems.append(f"segment {i}: unknown fade shape {shape!r}")
        if not problems:
            problems += self._tiling_problems()
        if problems:
            raise PlanValidationError(problems)
        return self

    def _tiling_problems(self) -> list[str]:
        problems = []
        first, last = self.segments[0], self.segments[-1]
        if first.dest_start_samples != 0:
            problems.append(f"segment 0 starts at output sample {first.dest_start_samples}, not 0")
        for i in range(1, len(self.segments)):
            a, b = self.segments[i - 1], self.segments[i]
            overlap = a.dest_end_samples - b.dest_start_samples
            if overlap < 0:
                problems.append(f"gap of {-overlap} samples before segment {i} (output {a.dest_end_samples}-"
                                f"{b.dest_start_samples} would be silent)")
            elif not overlap == a.fade_out_samples == b.fade_in_samples:
                problems.append(f"segments {i - 1} and {i} overlap by {overlap} samples but fade out "
                                f"{a.fade_out_samples} / in {b.fade_in_samples}; a crossfade must be all three")
            elif a.fade_out_shape != b.fade_in_shape:
                problems.append(f"segments {i - 1} and {i}: crossfade shapes differ ({a.fade_out_shape} / {b.fade_in_shape})")
        if last.dest_end_samples != self.length_samples:
            problems.append(f"last segment ends at output sample {last.dest_end_samples}, not at the session length "
                            f"{self.length_samples}")
        return problems

    def map_source_to_dest(self, source_sample: int) -> int | None:
        """Output position of a source sample if the plan plays it outside a fade, else None.

        Where a sample is played by more than one segment (never in a valid plan from the planner, but possible in a
        hand-made one), the first is returned.
        """
        body_lo, body_hi, shifts = self._bodies
        inside = np.flatnonzero((body_lo <= source_sample) & (source_sample < body_hi))
        return int(source_sample + shifts[inside[0]]) if len(inside) else None

    @cached_property
    def _bodies(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every segment's source span outside its fades, and its shift (samples): what reports and the MIDI of
        the hits look up a few thousand times."""
        lo = np.array([s.source_start_samples + s.fade_in_samples for s in self.segments], dtype=np.int64)
        hi = np.array([s.source_end_samples - s.fade_out_samples for s in self.segments], dtype=np.int64)
        return lo, hi, np.array([s.shift_samples for s in self.segments], dtype=np.int64)

    def times_played(self, source_sample: int) -> int:
        """How many segments play a source sample, fades included: 1 for every sample of a transient in a good plan
        (0 means it was cut out, 2 that it is heard twice)."""
        return sum(1 for s in self.segments if s.source_start_samples <= source_sample < s.source_end_samples)

    # -- lossless JSON form ------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        """A JSON-ready dict holding every field in samples."""
        return {"length_samples": self.length_samples, "segments": [asdict(s) for s in self.segments]}

    @classmethod
    def from_json(cls, data: dict) -> "EditPlan":
        """Inverse of :meth:`to_json`; unknown keys in a segment are an error, missing fades default to 0."""
        try:
            segments = tuple(Segment(**seg) for seg in data["segments"])
            return cls(data["length_samples"], segments)
        except (KeyError, TypeError) as e:
            raise PlanValidationError([f"malformed plan JSON ({e})"]) from None


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
