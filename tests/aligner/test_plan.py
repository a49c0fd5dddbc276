"""Edit plan rules: tiling, crossfades, integer samples, and one error that lists every problem."""
import numpy as np
import pytest

from aligner.plan import EditPlan, Segment, fade_gains
from nbd_errors import PlanValidationError


def test_identity_plan_is_valid():
    plan = EditPlan.identity(1000).validate()
    assert plan.segments[0].shift_samples == 0


def test_plan_with_crossfades_and_moves_is_valid():
    plan = EditPlan(1000, (
        Segment(0, 410, 0, fade_out_samples=10),
        Segment(395, 600, 400, fade_in_samples=10, fade_out_samples=20, fade_out_shape="equal_gain"),
        Segment(580, 975, 585, fade_in_samples=20, fade_in_shape="equal_gain"),
        Segment(975, 995, 980),
    ))
    plan.validate()
    assert [s.shift_samples for s in plan.segments] == [0, 5, 5, 5]
    assert plan.segments[-1].dest_end_samples == 1000
    assert plan.map_source_to_dest(500) == 505


def test_every_problem_is_listed_at_once():
    plan = EditPlan(1000, (
        Segment(0, 400, 10),                          # does not start at 0
        Segment(400, 380, 410),                       # backwards
        Segment(500, 700, 700, fade_in_samples=5),    # gap before it; fade without overlap
        Segment(-50, 100, 1400),                      # before the session start, and not the first
        Segment(700, 1200, 900),                      # past the session end: fine, it is the last
    ))
    with pytest.raises(PlanValidationError) as err:
        plan.validate()
    problems = err.value.problems
    assert any("segment 1: source end 380 is not after start 400" in p for p in problems)
    assert any("segment 3: source range -50-100 lies outside" in p for p in problems)
    assert not any("segment 4: source range" in p for p in problems)
    assert len(problems) >= 2


def test_tiling_problems_are_listed_together():
    plan = EditPlan(1000, (
        Segment(0, 400, 10),
        Segment(400, 600, 500, fade_in_samples=5),
        Segment(600, 700, 700),
    ))
    with pytest.raises(PlanValidationError) as err:
        plan.validate()
    text = " | ".join(err.value.problems)
    assert "segment 0 starts at output sample 10" in text
    assert "gap of 90 samples before segment 1" in text
    assert "last segment ends at output sample 800" in text


def test_crossfade_must_match_on_both_sides():
    plan = EditPlan(100, (Segment(0, 60, 0, fade_out_samples=10), Segment(50, 100, 50, fade_in_samples=8)))
    with pytest.raises(PlanValidationError, match="overlap by 10 samples but fade out 10 / in 8"):
        plan.validate()


def test_float_positions_are_refused():
    with pytest.raises(PlanValidationError, match="integer samples"):
        EditPlan(100, (Segment(0, 100.0, 0),)).validate()


def test_json_round_trip_is_lossless():
    plan = EditPlan(100, (Segment(0, 60, 0, fade_out_samples=10, fade_out_shape="equal_gain", label="a"),
                          Segment(50, 100, 50, fade_in_samples=10, fade_in_shape="equal_gain")))
    assert EditPlan.from_json(plan.to_json()) == plan


def test_fade_curves_sum_to_unity_gain_or_unity_power():
    g_in, g_out = fade_gains("equal_gain", 64)
    assert np.allclose(g_in + g_out, 1.0)
    p_in, p_out = fade_gains("equal_power", 64)
    assert np.allclose(p_in ** 2 + p_out ** 2, 1.0)
    assert np.allclose(p_in, p_out[::-1])  # mirror images
    assert 0 < p_in[0] and p_in[-1] < 1
