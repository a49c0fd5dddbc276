"""From events to one edit plan: cuts in the quiet before each event, moves, gap fills and crossfades.

Events that move by the same amount share a segment, so a cut is made only where the move changes. Each cut sits at
the quietest point (all mics summed) of a short pre-roll before the event's earliest stroke (and before any attack
in the pre-roll that no detector reported), and its crossfade lies wholly before the cut, so no crossfade ever spans
a transient. At a cut:

- **overlap** (the event moves earlier than the material before it): the earlier segment is shortened; it may not
  end within ``guard_ms`` of its own last stroke (the attack still ringing into the far mics). Short of room, the
  cut moves later in the pre-roll, then to just before a later stroke of the event up to its anchor (the strokes
  before it stay with the material before, as an editor drops the trigger on a ghost note); else the move is
  reduced and the event flagged;
- **gap** (the event moves later): the gap is filled with material in which no mic has an onset — the decay just
  before the cut replayed (seamless into the event's pre-roll) or, when that is too short, the tail of an earlier
  event, looped if need be; never silence. Without enough clean material the move is reduced and the event flagged.

Crossfades are equal-gain where the two sides are correlated (> 0.5 over all mics) and equal-power where not, with
the same gains on every channel. No stroke's source samples are ever played twice.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from aligner.detect import DetectorSettings, level_rise, slope_peaks
from aligner.events import Event
from aligner.plan import EditPlan, Segment
from aligner.roles import is_trigger
from grid import ms2samples
from session_io.audio import SessionReader

__all__ = ["PlannerSettings", "make_plan"]


@dataclass(frozen=True)
class PlannerSettings:
    """Cut and fade lengths in ms."""

    crossfade_ms: float = 2.0
    preroll_ms: float = 10.0
    min_preroll_ms: float = 0.7  # the crossfade ends at least this long before the earliest stroke
    # ... and this long before it where the event moves later: a gap fill replays, and may loop, the material just
    # before the cut, and a detector can place a soft stroke 1-2 ms after its attack starts. 20 generated validation
    # sessions: strokes whose attack was played twice 9 -> 1 (neural), 9 -> 4 (classic) against 0.7 ms.
    gap_preroll_ms: float = 2.5
    # An attack in the pre-roll (a stroke no detector reported) keeps the cut before it when some mic's level rises
    # this much: less than a detector's onset (9 dB), since a soft hat under the previous decay rises less, and a
    # false alarm costs only an earlier cut. 20 generated validation sessions: classic strokes played twice 11 at 9 dB,
    # 9 at 6 dB; held-out groups unchanged.
    preroll_rise_db: float = 6.0
    guard_ms: float = 20.0  # after a stroke, its attack may still reach far mics: no cut or replay before this
    # An attack this soon after a stroke is that stroke reaching a far mic (MuldjordKit's rooms hear the kit 7-13 ms
    # late), which the guard already covers: it adds no guard of its own where a move earlier removes material. On
    # the 10 real-kit validation takes, with trigger pulses ignored too: anchors within 1 ms 96.2 -> 96.7 % (neural),
    # 94.7 -> 95.2 % (classic); generated sessions and strokes played twice equal; 10 and 16 ms the same as 13.
    arrival_ms: float = 13.0
    look_back_units: int = 8  # how many earlier decays may serve as gap filler

    def fade_samples(self, rate: int) -> int:
        """The crossfade's length at ``rate`` Hz (samples, at least 1)."""
        return max(1, ms2samples(self.crossfade_ms, rate))


@dataclass
class _Unit:
    events: list[Event]
    shift: int
    cut: int = 0
    strokes_latest: int = -(1 << 62)

    @property
    def earliest(self) -> int:
        return self.events[0].earliest


def _correlated(reader: SessionReader, a_start: int, b_start: int, length: int) -> bool:
    a = reader.read_all(a_start, a_start + length)
    b = reader.read_all(b_start, b_start + length)
    a, b = a.astype(np.float64), b.astype(np.float64)
    denom = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    return denom > 0 and float(np.sum(a * b)) / denom > 0.5


def _shape(reader: SessionReader, a_start: int, b_start: int, length: int) -> str:
    """Crossfade shape for fading source [a_start, +length) out while [b_start, +length) fades in."""
    if a_start == b_start:
        return "equal_gain"
    return "equal_gain" if _correlated(reader, a_start, b_start, length) else "equal_power"


def _heard(reader: SessionReader, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` of every mic but the triggers, side by side (frames, channels): what a stroke no
    detector reported would show in. A trigger's pulse is no sound to keep whole, and a pickup's crosstalk makes
    faint pulses that rise like attacks (MuldjordKit's kick trigger, 28 ms after a floor tom, 60 dB down)."""
    audio = reader.read_all(start, stop)
    session = reader.session
    if not any(is_trigger(t.name) for t in session.tracks):
        return audio
    first = np.cumsum([0] + [src.channels for src in session.sources])
    keep = [int(first[t.source_index]) + c for t in session.tracks if not is_trigger(t.name) for c in t.channel_indices]
    return audio[:, sorted(keep)]


def _onset_margin(rate: int) -> int:
    """Samples of past that :func:`_last_onset` needs before the first sample it checks."""
    hop, hold = DetectorSettings().frames(rate)
    return (hold + 3) * hop


def _onsets(audio: np.ndarray, first: int, rate: int, rise_db: float | None = None) -> np.ndarray:
    """Indices ≥ ``first`` of ``audio`` (samples, all mics), each the start of a 0.5 ms frame where any mic's level
    rises as a stroke's attack does (by ``rise_db`` over the classic detector's hold window; its own onset rise when
    None), in order; ``first`` must be at least :func:`_onset_margin` into ``audio``. Finds strokes no detector
    reported."""
    s = DetectorSettings()
    hop, hold = s.frames(rate)
    frames = (len(audio) - 1) // hop
    if frames < hold + 4 or first >= frames * hop:
        return np.zeros(0, dtype=np.int64)
    db = 20 * np.log10(slope_peaks(audio[1:], hop, before=audio[:1]) + np.float32(1e-12))  # (frames, mics)
    # a rise counts only within 40 dB of the mic's loudest here and above the noise floor
    gate = np.maximum(db.max(axis=0) - 40.0, -80.0)
    onset = (level_rise(db, hold) >= (s.rise_db if rise_db is None else rise_db)) & (db >= gate)
    return (first // hop + np.flatnonzero(onset[first // hop:].any(axis=1))) * hop


def _last_onset(audio: np.ndarray, first: int, rate: int) -> int | None:
    """The latest of :func:`_onsets`, or None: keeps strokes no detector reported out of gap fills and out of the
    stretches an overlap removes."""
    found = _onsets(audio, first, rate)
    return int(found[-1]) if len(found) else None


def _quietest_cut(reader: SessionReader, lo: int, hi: int, fade: int) -> int:
    """The cut in [lo, hi] whose crossfade [cut - fade, cut) has the least energy over all mics."""
    audio = reader.read_all(lo - fade, hi)
    energy = np.concatenate([[0.0], np.cumsum(np.sum(np.square(audio, dtype=np.float64), axis=1))])
    windows = energy[fade:] - energy[:-fade]  # windows[i] = energy of [lo - fade + i, lo + i)
    return lo + int(np.argmin(windows[: hi - lo + 1]))


@dataclass
class _Builder:
    """Accumulates segments; the open one runs from ``src_start`` with ``shift`` and a known fade-in."""

    reader: SessionReader
    segments: list[Segment] = field(default_factory=list)
    src_start: int = 0
    shift: int = 0
    fade_in: int = 0
    shape_in: str = "equal_power"
    label: str = "session start"

    def close(self, src_end: int, fade_out: int, shape_out: str) -> None:
        self.segments.append(Segment(self.src_start, src_end, self.src_start + self.shift, self.fade_in, fade_out,
                                     self.shape_in, shape_out, self.label))

    def open(self, src_start: int, shift: int, fade_in: int, shape_in: str, label: str) -> None:
        self.src_start, self.shift, self.fade_in, self.shape_in, self.label = src_start, shift, fade_in, shape_in, label


def _fill_pieces(span: int, piece_max: int, fade: int) -> list[int]:
    """Lengths of pieces that cover ``span`` output samples, overlapping each other by ``fade``."""
    if span <= piece_max:
        return [span]
    n = math.ceil((span - fade) / (piece_max - fade))
    total = span + (n - 1) * fade
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def make_plan(session, events: list[Event], reader: SessionReader,
              settings: PlannerSettings = PlannerSettings()) -> EditPlan:
    """Build the session's edit plan from its events (their ``flags`` are extended where a move is reduced).

    Parameters
    ----------
    session : Session
    events : list of Event
        Sorted by earliest stroke, with targets decided.
    reader : SessionReader
        Open on the session, to find quiet cut points and choose crossfade shapes.
    settings : PlannerSettings

    Returns
    -------
    EditPlan
        Valid; every event's anchor lands on its target unless the event was flagged.
    """
    rate = session.sample_rate_hz
    length = session.length_samples
    fade = settings.fade_samples(rate)
    guard = ms2samples(settings.guard_ms, rate)

    head = _Unit([], 0, cut=0)
    units = [head]
    for e in events:
        shift = e.shift if e.conform else 0
        if (e.reason == "ghost ride" or shift == units[-1].shift) and units[-1].events:
            units[-1].events.append(e)
        elif e.reason == "ghost ride" or shift == units[-1].shift:
            head.events.append(e)  # before any other event: rides with the session start
        else:
            units.append(_Unit([e], shift))
    for u in units:
        u.strokes_latest = max((e.latest for e in u.events), default=-(1 << 62))

    build = _Builder(reader)
    done: list[_Unit] = [head]
    for unit in units[1:]:
        prev = done[-1]
        lead = unit.events[0]
        # the open segment must keep room for its fade-in and, when filler from elsewhere follows, for a fade-out
        # that ends one crossfade before the cut
        room = build.src_start + build.fade_in + 2 * fade
        wanted = unit.shift - build.shift
        cut, quiet = _cut_before(reader, unit.earliest, prev.strokes_latest, room, settings, gap=wanted > 0)
        if not quiet:
            lead.flags.append("no quiet pre-roll before this event: the cut may clip the previous decay")
        if cut + unit.shift >= length - fade:
            lead.flags.append("would move past the end of the session: left with the event before")
            _merge(prev, unit)
            continue

        if wanted < 0:  # overlap: shorten what comes before
            cut, overlap = _earlier_cut(reader, unit.earliest, prev.strokes_latest, cut, quiet, build, room, wanted,
                                        settings)
            if overlap < -wanted:
                split = _split_lead(reader, lead, prev.strokes_latest, build, room, wanted, settings)
                if split is not None:
                    cut, riders = split
                    overlap = -wanted
                    prev.strokes_latest = max(prev.strokes_latest, lead.strokes[riders - 1].position)
                    lead.flags.append(f"its first {riders} stroke{'s' if riders > 1 else ''} moved with the event "
                                      "before: moving them too would cut into it")
            if overlap < -wanted:
                lead.flags.append(f"moved {overlap / rate * 1000:.1f} of {-wanted / rate * 1000:.1f} ms earlier: "
                                  "more would cut into the previous event")
            shift = build.shift - overlap
            if overlap and cut + shift >= length - fade:  # a reduced move can still run past the end
                lead.flags.append("would move past the end of the session: left with the event before")
                overlap = 0
            if overlap == 0:
                _merge(prev, unit)
                continue
            join = min(fade, overlap)  # a shorter crossfade for a tiny move: nothing is played twice
            shape = _shape(reader, cut - overlap - join, cut - join, join)
            build.close(cut - overlap, join, shape)
            build.open(cut - join, shift, join, shape, _label(lead))
        else:  # gap: fill with clean decay
            gap, region, looped, mismatch = _find_filler(done, build, cut, wanted, fade, guard,
                                                         settings.look_back_units, reader)
            if gap < wanted:
                lead.flags.append(f"moved {gap / rate * 1000:.1f} of {wanted / rate * 1000:.1f} ms later: "
                                  "not enough material without an onset to fill the gap")
            if looped:
                lead.flags.append("gap filled by repeating a short decay")
            if mismatch > 6.0:
                lead.flags.append(f"gap fill is {mismatch:.0f} dB off the level before it")
            if gap == 0:
                _merge(prev, unit)
                continue
            shift = build.shift + gap
            r0, r1 = region
            fade_next = min(fade, gap)
            # Replaying the decay just before the cut flows on into the event's pre-roll. Filler from elsewhere
            # needs a real crossfade into the event: the material before stops fade_next earlier so that the
            # pre-roll under that crossfade is not heard twice.
            close_at = cut if r1 == cut else cut - fade_next
            lengths = _fill_pieces(gap + fade + (cut - close_at), r1 - r0, fade)
            first_src = r1 - lengths[0]
            shape = _shape(reader, close_at - fade, first_src, fade)
            build.close(close_at, fade, shape)
            dest = close_at + build.shift - fade
            for i, piece in enumerate(lengths):
                src = r1 - piece
                last = i == len(lengths) - 1
                out_fade = fade_next if last else fade
                next_src = (cut - fade_next) if last else r1 - lengths[i + 1]
                out_shape = _shape(reader, r1 - out_fade, next_src, out_fade)
                build.segments.append(Segment(src, r1, dest, fade, out_fade, shape, out_shape,
                                              f"gap fill before {_label(lead)}"))
                shape = out_shape
                dest += piece - out_fade
            build.open(cut - fade_next, shift, fade_next, shape, _label(lead))
        unit.cut = cut
        unit.shift = shift
        for e in unit.events:
            e.target = e.anchor.position + shift
        done.append(unit)

    build.close(length - build.shift, 0, "equal_power")
    return EditPlan(length, tuple(build.segments)).validate()


def _cut_before(reader: SessionReader, first: int, before_latest: int, room: int, settings: PlannerSettings,
                not_before: int | None = None, gap: bool = False) -> tuple[int, bool]:
    """Where to cut before material whose earliest stroke is at ``first`` (samples), when the material before it has
    its last stroke at ``before_latest`` and its open segment needs the cut at ``room`` or later; ``not_before``
    asks for a cut at or after that sample where the pre-roll allows (else its latest); ``gap`` keeps the longer
    pre-roll of an event that moves later (``gap_preroll_ms``).

    Returns
    -------
    (int, bool)
        The cut (samples), and whether it lies in a quiet pre-roll: the quietest point of the pre-roll, at least
        5 ms after ``before_latest`` and before any attack there that no detector reported. When there is no such
        room, the latest cut the pre-roll allows and False.
    """
    rate = reader.session.sample_rate_hz
    fade = settings.fade_samples(rate)
    min_pre = ms2samples(settings.gap_preroll_ms if gap else settings.min_preroll_ms, rate)
    floor = max(before_latest + ms2samples(5, rate) + fade, room)
    hi = first - min_pre
    lo = max(first - ms2samples(settings.preroll_ms, rate), floor)
    if lo <= hi:
        # an attack no detector reported just before the event (a soft hat a few ms before the kick) keeps the
        # crossfade out of it too
        margin = min(lo, _onset_margin(rate))
        hidden = _onsets(_heard(reader, lo - margin, first), margin, rate, settings.preroll_rise_db)
        if len(hidden):
            hi = min(hi, lo - margin + int(hidden[0]) - min_pre)
    if lo > hi:
        return max(hi, room), False
    if not_before is not None:
        lo = min(max(lo, not_before), hi)
    return _quietest_cut(reader, lo, hi, fade), True


def _overlap_room(reader: SessionReader, before_latest: int, build: _Builder, cut: int, wanted: int,
                  settings: PlannerSettings) -> tuple[int, int]:
    """How many samples (at most ``-wanted``) the material before ``cut`` may lose so that the material after it
    moves earlier: never within ``guard_ms`` of its last stroke (``before_latest``) or of an attack no detector
    reported (but not that stroke's own arrival in a far mic, ``arrival_ms``), never into the open segment's
    fade-in. Returns that and the first sample it must keep."""
    rate = reader.session.sample_rate_hz
    fade = settings.fade_samples(rate)
    guard = ms2samples(settings.guard_ms, rate)
    keep_until = max(before_latest + guard, build.src_start + build.fade_in)
    # a stroke no detector reported in the stretch the move would remove; its ring reaches guard further
    lo = max(keep_until - guard, before_latest + ms2samples(settings.arrival_ms, rate), cut + wanted - 2 * fade - guard,
             0)
    margin = min(lo, _onset_margin(rate))
    hidden = _last_onset(_heard(reader, lo - margin, cut - fade), margin, rate) if lo < cut - fade else None
    if hidden is not None:
        keep_until = max(keep_until, lo - margin + hidden + guard)
    return min(-wanted, max(cut - fade - keep_until, 0)), keep_until


def _earlier_cut(reader: SessionReader, first: int, before_latest: int, cut: int, quiet: bool, build: _Builder,
                 room: int, wanted: int, settings: PlannerSettings) -> tuple[int, int]:
    """The cut before material whose earliest stroke is at ``first`` that is to move ``-wanted`` samples earlier
    over the material before it (last stroke at ``before_latest``): ``cut``, :func:`_cut_before`'s choice (in a
    ``quiet`` pre-roll or not), or a later one in that pre-roll when that removes more of the material before.

    Returns
    -------
    (int, int)
        The cut (samples) and how far the move earlier may go (samples, at most ``-wanted``).
    """
    overlap, keep_until = _overlap_room(reader, before_latest, build, cut, wanted, settings)
    if quiet and overlap < -wanted:
        fade = settings.fade_samples(reader.session.sample_rate_hz)
        later, _ = _cut_before(reader, first, before_latest, room, settings, not_before=keep_until + fade - wanted)
        more, _ = _overlap_room(reader, before_latest, build, later, wanted, settings)
        if more > overlap:
            cut, overlap = later, more
    return cut, overlap


def _split_lead(reader: SessionReader, lead: Event, before_latest: int, build: _Builder, room: int, wanted: int,
                settings: PlannerSettings) -> tuple[int, int] | None:
    """A later cut inside ``lead`` that lets its anchor make the whole move earlier (``wanted`` < 0), as an editor
    drops the trigger on a ghost note or a hat played well before the main hit: the strokes before the cut stay
    with the material before.

    Returns
    -------
    (int, int) or None
        The cut (samples) and how many of the event's first strokes stay behind; None when no cut before the
        anchor allows the whole move.
    """
    strokes = lead.strokes
    for k in range(1, len(strokes)):
        if strokes[k].position > lead.anchor.position:
            break
        if strokes[k].position == strokes[k - 1].position:
            continue
        latest = max(before_latest, strokes[k - 1].position)
        cut, quiet = _cut_before(reader, strokes[k].position, latest, room, settings)
        if not quiet:
            continue
        cut, overlap = _earlier_cut(reader, strokes[k].position, latest, cut, quiet, build, room, wanted, settings)
        if overlap == -wanted:
            return cut, k
    return None


def _merge(prev: _Unit, unit: _Unit) -> None:
    """A unit whose move came to nothing joins the one before it."""
    for e in unit.events:
        e.target = e.anchor.position + prev.shift
    prev.events.extend(unit.events)
    prev.strokes_latest = max(prev.strokes_latest, unit.strokes_latest)


def _label(event: Event) -> str:
    return f"event at line {event.line.bar}|{event.line.index_in_bar + 1}"


def _rms_db(audio: np.ndarray) -> float:
    return 10 * math.log10(float(np.mean(np.square(audio, dtype=np.float64))) + 1e-20)


def _find_filler(done: list[_Unit], build: _Builder, cut: int, wanted: int, fade: int, guard: int,
                 look_back: int, reader: SessionReader) -> tuple[int, tuple[int, int], bool, float]:
    """Clean material for a gap: (gap filled, source region, whether it is looped, level mismatch in dB).

    Candidates are the stretches between each earlier unit's last stroke (plus the guard) and the cut after it:
    the decay just before this cut, then earlier decays. The one whose level best matches what plays just before the
    cut wins (looping a short one costs 3 dB), so the fill neither drops out nor jumps up.
    """
    recent = done[-(look_back + 1):]  # only these: a long session has tens of thousands of units done
    ends = [u.cut for u in done[len(done) - len(recent) + 1:]] + [cut]  # each unit's material runs to the next cut
    rate = reader.session.sample_rate_hz
    target_db = _rms_db(reader.read_all(cut - 5 * fade, cut))
    best = None
    for unit, end in reversed(list(zip(recent, ends))):
        start = max(unit.strokes_latest + guard, 0)
        if end - start < 3 * fade:
            continue
        needed = wanted + fade + (0 if end == cut else min(fade, wanted))
        lo = max(start, end - needed)
        # a stroke no detector reported, in the material or up to a guard before it (its attack still sounds then)
        scan = max(lo - guard, 0)
        margin = min(scan, _onset_margin(rate))
        audio = reader.read_all(scan - margin, end)
        hidden = _last_onset(audio, margin, rate)
        if hidden is not None:
            start = max(start, scan - margin + hidden + guard)
            if end - start < 3 * fade:
                continue
        looped = end - start < needed
        used = end - min(end - start, needed)
        mismatch = abs(_rms_db(audio[used - (scan - margin):]) - target_db)
        score = mismatch + (3.0 if looped else 0.0)
        if best is None or score < best[0]:
            best = (score, (start, end), looped, mismatch)
        if score <= 3.0:
            break  # close enough: the nearest such decay is the best-sounding choice
    if best is None:
        return 0, (cut, cut), False, 0.0
    return wanted, best[1], best[2], best[3]
