"""The planner on hand-made events, for situations detectors reach only by chance."""
from fractions import Fraction

import numpy as np

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
