"""From hits to events: every stroke goes to a grid line; the strokes on one line are one event, with an anchor.

- A stroke goes to its nearest line moved by the detector's ``line_shift`` (the neural detector's call for strokes
  played more than half a step off; 0 from the classic detector); a flam's grace note is a softer stroke of the same
  drum followed on its line within the flam window — the smaller of 35 ms and 0.3 × the grid step — by a louder one
  (``flam_louder`` times as strong).
  Kicks have no flams (:data:`NO_FLAMS`).
- The anchor is the stroke an editor lines up: kick and snare first, then toms, hats, cymbals; ties go to the
  earliest; never a grace note, and a ghost note (a soft snare: :data:`GHOST_DRUMS`) only when the event has nothing
  else.
- The target of the anchor is ``source + strength · (line − source)``. Events closer than ``exclude_within_pct`` % of
  a step, or outside ``bars`` / inside ``exclude_bars``, stay where they are. Ghost-only events are conformed, or with
  ``ghosts="ride"`` move with the event before them.
- Confidence falls as the anchor gets further than a quarter step from its line (0 at half a step, where the
  nearest line may be the wrong one) and as the anchor gets weak.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aligner.detect import Hit
from aligner.roles import ANCHOR_PRIORITY
from grid import GridLine, SessionGrid, grid_lines, line_samples, ms2samples, round_half_up

__all__ = ["NO_FLAMS", "GHOST_DRUMS", "EventSettings", "Event", "make_events", "parse_bar_ranges"]

#: Drums played with one beater: a louder second stroke just after a kick is not the main stroke of a flam but, far
#: more often, another drum's bleed taken for a kick (a hat 23 ms after a soft kick in a kick mic that hears the hat
#: nearly as loud). The earlier kick keeps its own line and can anchor its event.
NO_FLAMS = ("kick",)

#: Drums whose soft strokes are ghost notes, the drummer's filler between the backbeats. A soft kick or tom is still
#: the stroke an editor lines up over a hat on its line (the truth's convention too: only snares below velocity 45
#: are ghosts). On the validation sessions, ghosts of any drum against snares only: generated anchors 96.7 -> 96.7 %
#: (311 -> 303 of 9,308 off), real-kit 97.5 -> 97.7 % (22 -> 20 of 884); with kicks, toms or hats as well, 304-309
#: and 20-21.
GHOST_DRUMS = ("snare",)


@dataclass(frozen=True)
class EventSettings:
    """Options that decide which events move and where (see the module docstring)."""

    division: str = "1/16"
    swing_pct: float = 0.0
    strength_pct: float = 100.0
    exclude_within_pct: float = 0.0
    bars: tuple[tuple[int, int], ...] = ()  # conform only these bar ranges (inclusive); empty = all
    exclude_bars: tuple[tuple[int, int], ...] = ()
    ghosts: str = "conform"  # or "ride"
    # Strokes of GHOST_DRUMS below this share of their mic's loudest hit (-10.5 dB) are ghost notes. Chosen on the
    # validation sessions, whose truth calls snares below velocity 45 ghosts: anchors off (generated of 9,308 /
    # real-kit of 884) 0.2: 291 / 20; 0.25: 289 / 20; 0.3: 286 / 19; 0.35: 286 / 22; 0.4: 289 / 25; 0.5: 313 / 35.
    ghost_strength: float = 0.3
    flam_ms: float = 35.0
    # A softer stroke just before a louder one of the same drum that the model puts on another line but is less
    # than this sure of (0.9: where an event's confidence falls below 1) is still that stroke's grace note. Validation
    # anchors and lines equal from 0.75 to 0.95; a flam 48 % of a step early whose grace the weights of 2026-12-05
    # put on the next line at 0.58 stays one event.
    flam_unsure: float = 0.9
    # A grace note is clearly softer than its main stroke: the later is at least this many times as strong. Of two
    # even ghost notes 14-32 ms apart (a drag), the second reads louder over the first's ring (0.17 against 0.14) and
    # had made the first its grace, where the truth anchors the first. Chosen on the validation sessions, neural
    # anchors off: generated 218 -> 216 of 9,308, real-kit 12 -> 11 of 884, 21 and 12 more real-kit 72 -> 70 of
    # 2,309 and 41 -> 40 of 1,429, floor-tom grooves 61 -> 60 (1.2: 217 / 11 / 71 / 40, 2: 218 / 11 / 70 / 40, 3: 222);
    # classic 1,760 / 41 / 155 / 55 -> 1,760 / 40 / 157 / 55.
    flam_louder: float = 1.5
    doubtful_below: float = 0.5


@dataclass
class Event:
    """The strokes on one grid line and what happens to them.

    Attributes
    ----------
    line : GridLine
    strokes : list of Hit
        Sorted by position; grace notes included.
    anchor : Hit
    target : int
        Where the anchor goes (session samples); equals ``anchor.position`` when the event is not conformed.
    conform : bool
    reason : str
        Why it is not conformed (``exclude-within``, ``outside --bars``, ``--exclude-bars``, ``ghost ride``).
    confidence : float
        0-1.
    flags : list of str
        Problems found while planning (the planner adds to them).
    """

    line: GridLine
    strokes: list[Hit]
    anchor: Hit
    target: int
    step_samples: float
    conform: bool = True
    reason: str = ""
    confidence: float = 1.0
    grace: list[Hit] = field(default_factory=list)
    ghost_only: bool = False
    flags: list[str] = field(default_factory=list)

    @property
    def earliest(self) -> int:
        """Position of the earliest stroke (session samples)."""
        return self.strokes[0].position

    @property
    def latest(self) -> int:
        """Position of the latest stroke (session samples)."""
        return self.strokes[-1].position

    @property
    def shift(self) -> int:
        """Samples the event moves (positive = later)."""
        return self.target - self.anchor.position

    @property
    def doubtful(self) -> bool:
        """Worth a person's look: low confidence or a planning problem."""
        return self.confidence < 0.5 or bool(self.flags)


def parse_bar_ranges(text: str | None) -> tuple[tuple[int, int], ...]:
    """``"5-68,72"`` → ``((5, 68), (72, 72))``.

    Raises
    ------
    ValueError
        Text that is not a comma-separated list of bars and bar ranges.
    """
    if not text:
        return ()
    ranges = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"not a bar range: {part!r} (use e.g. 5-68 or 5-68,72)") from None
        if b < a:
            raise ValueError(f"bar range {part!r} ends before it starts")
        ranges.append((a, b))
    return tuple(ranges)


def _in_ranges(bar: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(a <= bar <= b for a, b in ranges)


def _is_ghost(hit: Hit, ghost_strength: float) -> bool:
    return hit.drum in GHOST_DRUMS and hit.strength < ghost_strength


def _anchor(strokes: list[Hit], grace: list[Hit], ghost_strength: float) -> Hit:
    candidates = [h for h in strokes if h not in grace] or strokes
    solid = [h for h in candidates if not _is_ghost(h, ghost_strength)]
    return min(solid or candidates, key=lambda h: (ANCHOR_PRIORITY.get(h.drum, 4), h.position))


def make_events(hits: list[Hit], grid: SessionGrid, length_samples: int, settings: EventSettings) -> list[Event]:
    """Group hits into events on grid lines and decide each event's target.

    Parameters
    ----------
    hits : list of Hit
        Sorted by position.
    grid : SessionGrid
    length_samples : int
        Session length, to bound the grid.
    settings : EventSettings

    Returns
    -------
    list of Event
        Sorted by earliest stroke.
    """
    if not hits:
        return []
    rate = grid.sample_rate_hz
    margin = rate  # lines up to a second outside the session still catch early first and late last strokes
    lines = grid_lines(grid, -margin, length_samples + margin, settings.division, settings.swing_pct)
    if not lines:
        return []
    samples = line_samples(lines)
    positions = np.array([h.position for h in hits], dtype=np.int64)
    right = np.clip(np.searchsorted(samples, positions), 1, len(samples) - 1)
    nearest = np.where(positions - samples[right - 1] <= samples[right] - positions, right - 1, right)
    line_of = [int(min(max(i + h.line_shift, 0), len(lines) - 1)) for i, h in zip(nearest, hits)]

    def step_at(i: int) -> float:
        line = lines[i]
        return float(grid.quarters2samples_exact(line.quarters + line.step_quarters)
                     - grid.quarters2samples_exact(line.quarters))

    # flams: a clearly softer stroke followed closely by a louder one of the same drum on its line is that stroke's
    # grace note. On different lines (the louder one 30-50 % early, or the model's line choices apart) they are two
    # notes, as the truth of real takes has it: on the validation sessions, neural lines 30-50 % off 99.4 -> 99.7 %
    # (generated) and 98.7 -> 99.0 % (real-kit), anchors equal. Unless the model is unsure (``flam_unsure``).
    grace_idx: set[int] = set()
    for i in range(len(hits) - 2, -1, -1):
        window = min(ms2samples(settings.flam_ms, rate), round(0.3 * step_at(line_of[i])))
        for j in range(i + 1, len(hits)):
            if hits[j].position - hits[i].position > window:
                break
            unsure = hits[i].line_confidence is not None and hits[i].line_confidence < settings.flam_unsure
            if (hits[j].drum == hits[i].drum and hits[i].drum not in NO_FLAMS
                    and hits[j].strength > settings.flam_louder * hits[i].strength
                    and (line_of[i] == line_of[j] or unsure)):
                grace_idx.add(i)
                line_of[i] = line_of[j]
                break

    by_line: dict[int, list[int]] = {}
    for i, li in enumerate(line_of):
        by_line.setdefault(li, []).append(i)

    events: list[Event] = []
    for li, members in sorted(by_line.items(), key=lambda kv: hits[kv[1][0]].position):
        strokes = sorted((hits[i] for i in members), key=lambda h: (h.position, h.track))
        grace = [hits[i] for i in members if i in grace_idx]
        anchor = _anchor(strokes, grace, settings.ghost_strength)
        line = lines[li]
        step = step_at(li)
        offset = line.sample - anchor.position
        ghost_only = all(_is_ghost(h, settings.ghost_strength) for h in strokes)
        event = Event(line, strokes, anchor, anchor.position, step, grace=grace, ghost_only=ghost_only)
        if ghost_only and settings.ghosts == "ride":
            event.conform, event.reason = False, "ghost ride"
        elif settings.bars and not _in_ranges(line.bar, settings.bars):
            event.conform, event.reason = False, "outside --bars"
        elif _in_ranges(line.bar, settings.exclude_bars):
            event.conform, event.reason = False, "--exclude-bars"
        elif abs(offset) < settings.exclude_within_pct / 100 * step:
            event.conform, event.reason = False, "exclude-within"
        else:
            event.target = anchor.position + round_half_up(offset * settings.strength_pct / 100)
        if anchor.line_confidence is not None:  # the model chose the line: as sure as it was (0.5 or less -> 0)
            timing = min(1.0, max(0.0, (anchor.line_confidence - 0.5) / 0.4))
        else:  # by distance: sure within a quarter step, unsure toward half a step, where the nearest line may be wrong
            ratio = abs(offset) / step if step else 0.0
            timing = min(1.0, max(0.0, (0.5 - ratio) / 0.25))
        loudness = min(1.0, anchor.strength / 0.1)
        event.confidence = round(timing * loudness, 3)
        events.append(event)
    return events
