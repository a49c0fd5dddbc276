"""The planner on hand-made events, for situations detectors reach only by chance."""
from fractions import Fraction

import numpy as np
import pytest

from aligner.detect import Hit
from aligner.events import Event
from aligner.planner import make_plan
from grid import GridLine
from session_io import read_session
from session_io.audio import SessionReader
from tests.helpers import write_audio


def _event(position: int, shift: int, line_index: int) -> Event:
    hit = Hit(position, "snare", 0, 1.0, 0.5)
    line = GridLine(Fraction(line_index, 4), position + shift, 1, line_index, Fraction(1, 4))
    return Event(line, [hit], hit, position + shift, 6000.0)


def test_a_partly_reduced_earlier_move_near_the_end_never_runs_past_it(tmp_path):
    # The second event wants to go 6000 samples earlier, but the first event's ring (guard) lets it move only ~1000:
    # its reduced move would place it past the session's end. It must stay with the event before, flagged, and the
    # plan must be valid (it once closed a segment that ended before it started).
    length = 47_100
    decay = np.exp(-np.arange(length) / 20_000.0)[:, None] * np.random.default_rng(1).uniform(-0.1, 0.1, (length, 1))
    folder = tmp_path / "s"
    folder.mkdir()
    write_audio(folder / "snare.wav", decay)
    session = read_session(folder)
    first, second = _event(40_000, 6_000, 1), _event(42_500, 0, 2)
    with SessionReader(session) as reader:
        plan = make_plan(session, [first, second], reader)
    assert plan.validate() is plan
    assert plan.map_source_to_dest(40_000) == 46_000  # the first event still lands on its target
    assert second.target == 42_500 + 6_000 and any("past the end" in f for f in second.flags)
    # gap fill replays decay, never a stroke; the second stroke now falls past the end, as the flag says
    assert all(plan.times_played(p) == 1 for p in range(40_000, 40_480))
    assert all(plan.times_played(p) == 0 for p in range(42_500, 42_980))


def _decaying_hits(length: int, hits: list[int], seed: int = 2) -> np.ndarray:
    """Noise bursts at ``hits`` (samples), each decaying over ~40 ms, on a quiet noise floor; (length, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1e-4, 1e-4, length)
    for h in hits:
        n = min(length - h, 9600)
        x[h:h + n] += rng.uniform(-0.5, 0.5, n) * np.exp(-np.arange(n) / 2000.0)
    return x[:, None]


def _times_missed_stroke_is_played(tmp_path, missed: int, shift: int) -> set[int]:
    """Plan events at 20000 and 60000 (the second moved by ``shift``) over audio that also holds a stroke at
    ``missed`` no detector reported; how many times each sample of that stroke's first 10 ms is played."""
    folder = tmp_path / f"s{missed}"
    if not folder.exists():
        folder.mkdir()
        write_audio(folder / "snare.wav", _decaying_hits(96_000, [20_000, missed, 60_000]))
    session = read_session(folder)
    first, second = _event(20_000, 0, 1), _event(60_000, shift, 2)
    with SessionReader(session) as reader:
        plan = make_plan(session, [first, second], reader)
    assert plan.validate() is plan
    return {plan.times_played(p) for p in range(missed, missed + 480)}


def test_a_stroke_no_detector_reported_is_neither_replayed_by_a_gap_fill_nor_cut_out(tmp_path):
    # the stroke at 58600 was missed (a soft ghost, say). Moving the second event 1500 samples later needs filler:
    # the decay just before its cut holds the missed stroke, so the filler must come from elsewhere. Moving it
    # earlier instead must not cut the missed stroke out.
    for shift in (1_500, -1_500):
        assert _times_missed_stroke_is_played(tmp_path, 58_600, shift) == {1}, shift


def test_a_gap_fill_never_starts_inside_a_missed_strokes_first_10_ms(tmp_path):
    # The decay before the second event's cut starts ~8 ms after a stroke no detector reported (a soft hat just
    # before a loud kick, on real hits): a fill taken from there would replay the end of that stroke's attack.
    for shift in (300, 450, 600, 800):
        assert _times_missed_stroke_is_played(tmp_path, 58_900, shift) == {1}, shift


def test_strokes_played_well_before_the_main_hit_stay_behind_when_moving_them_would_cut_into_the_event_before(
        tmp_path):
    # A real drummer's ghost snare 42 ms after the stroke before, then the main hit 63 ms later and 31 ms late. The
    # event cannot move 31 ms earlier with its ghost: that would cut into the ring of the stroke before. An editor
    # drops the trigger on the ghost note instead: the ghost stays with the event before and the main hit lands.
    rate = 48_000
    folder = tmp_path / "s"
    folder.mkdir()
    write_audio(folder / "snare.wav", _decaying_hits(96_000, [20_000, 55_000, 57_000, 60_000]))
    session = read_session(folder)
    before = _event(20_000, 0, 1)
    before.strokes.append(Hit(55_000, "snare", 0, 1.0, 0.5))
    ghost, main = Hit(57_000, "snare", 0, 0.1, 0.05), Hit(60_000, "snare", 0, 1.0, 0.5)
    line = GridLine(Fraction(2, 4), 58_500, 1, 2, Fraction(1, 4))
    late = Event(line, [ghost, main], main, 58_500, 6000.0)
    with SessionReader(session) as reader:
        plan = make_plan(session, [before, late], reader)
    assert plan.map_source_to_dest(60_000) == 58_500
    assert plan.map_source_to_dest(57_000) == 57_000  # the ghost moved with the event before it (not at all)
    assert not any("more would cut" in f for f in late.flags)
    assert any("first 1 stroke moved with the event before" in f for f in late.flags)
    for stroke in (20_000, 55_000, 57_000, 60_000):  # every attack's first 10 ms is heard once, none cut out
        assert {plan.times_played(p) for p in range(stroke, stroke + rate // 100)} == {1}, stroke


def test_a_gap_fill_never_replays_the_attack_of_a_stroke_placed_a_little_late(tmp_path):
    # Detectors can place a soft stroke 1-2 ms after its attack starts (a soft hat rising under the snare's ring,
    # 30 ms after it). Moving it later fills the gap by looping the short decay just before the cut: that material
    # must not hold the soft stroke's first samples, or each loop replays them (6 times with a 0.7 ms pre-roll).
    rng = np.random.default_rng(3)
    n = np.arange(9600)
    x = rng.uniform(-1e-5, 1e-5, 96_000)
    for hit in (20_000, 58_500):
        x[hit:hit + 9600] += 0.5 * np.sin(2 * np.pi * n / 16) * np.exp(-n / 700.0)  # a ring that fades smoothly
    x[60_000:60_000 + 9600] += rng.uniform(-0.05, 0.05, 9600) * np.minimum(n / 96, 1) * np.exp(-n / 2000.0)
    folder = tmp_path / "s"
    folder.mkdir()
    write_audio(folder / "snare.wav", x[:, None])
    session = read_session(folder)
    for late in (48, 72, 96):  # placed 1, 1.5 and 2 ms after its attack starts
        first, second = _event(20_000, 0, 1), _event(60_000 + late, 1_500, 2)
        first.strokes.append(Hit(58_500, "snare", 0, 1.0, 0.5))
        with SessionReader(session) as reader:
            plan = make_plan(session, [first, second], reader)
        assert plan.map_source_to_dest(60_000 + late) == 60_000 + late + 1_500
        assert {plan.times_played(p) for p in range(60_000, 60_480)} == {1}, late


def _late_event_after_a_stroke(tmp_path, extra: str, at_ms: float) -> tuple:
    """A stroke at 20000, then one 60 ms later and 30 ms late, on a snare mic plus ``extra`` ("Room": hears both
    strokes ``at_ms`` later and 10 dB down; "Kick Trig": a faint pulse ``at_ms`` after the first); (plan, event)."""
    rate = 48_000
    snare = _decaying_hits(96_000, [20_000, 22_880])
    if extra == "Room":
        delay = round(at_ms / 1000 * rate)
        other = np.concatenate([np.zeros((delay, 1)), 0.3 * snare[:-delay]])
    else:  # a trigger's crosstalk: silent but for a pulse 60 dB down
        other = np.zeros_like(snare)
        at = 20_000 + round(at_ms / 1000 * rate)
        other[at:at + 8, 0] = 3e-3 * np.hanning(8)
    folder = tmp_path / extra
    folder.mkdir()
    write_audio(folder / "snare.wav", snare)
    write_audio(folder / f"{extra}.wav", other)
    session = read_session(folder)
    before = _event(20_000, 0, 1)
    main = Hit(22_880, "snare", 0, 1.0, 0.5)
    late = Event(GridLine(Fraction(2, 4), 21_440, 1, 2, Fraction(1, 4)), [main], main, 21_440, 6000.0)
    with SessionReader(session) as reader:
        plan = make_plan(session, [before, late], reader)
    return plan, late


@pytest.mark.parametrize("extra, at_ms", [("Room", 10.0), ("Kick Trig", 28.0)])
def test_a_far_mics_arrival_or_a_triggers_crosstalk_does_not_stop_a_move_earlier(tmp_path, extra, at_ms):
    # 60 ms after a stroke comes one 30 ms late: the move earlier may remove material from 20 ms after the stroke
    # (its guard) on. A room mic hearing that stroke 10 ms late, or a kick trigger's faint pulse 28 ms after a floor
    # tom (MuldjordKit), looked like a stroke no detector reported and guarded another 20 ms: the event moved
    # 27 ms of 30 (or 9.5). The room's arrival is the stroke itself, which the guard covers, and a trigger's
    # pulse is no sound to keep.
    plan, late = _late_event_after_a_stroke(tmp_path, extra, at_ms)
    assert plan.map_source_to_dest(22_880) == 21_440
    assert not any("more would cut" in f for f in late.flags), late.flags
    for stroke in (20_000, 22_880):  # every attack's first 10 ms is heard once, none cut out
        assert {plan.times_played(p) for p in range(stroke, stroke + 480)} == {1}, stroke
