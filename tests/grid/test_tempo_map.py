"""Exact conversions between quarter notes, seconds and bar|beat|tick across tempo and meter changes."""
from fractions import Fraction as F

import pytest

from grid import BarBeatTick, TempoMap, bpm2us_per_quarter
from nbd_errors import TempoMapError


def test_constant_tempo_converts_quarters_to_seconds_exactly():
    tm = TempoMap.constant(120)
    # 120 BPM: a quarter is 0.5 s
    assert tm.quarters2seconds(3) == F(3, 2)
    assert tm.seconds2quarters(F(3, 2)) == 3
    assert tm.quarters2seconds(-1) == F(-1, 2)  # before MIDI time 0 the first tempo extends backwards


def test_tempo_change_accumulates_seconds_from_each_segment():
    # 120 BPM for 8 quarters (4 s), then 90 BPM (2/3 s per quarter)
    tm = TempoMap.from_changes([(0, bpm2us_per_quarter(120)), (8, bpm2us_per_quarter(90))])
    assert tm.quarters2seconds(8) == 4
    assert tm.quarters2seconds(11) == 4 + 3 * F(2, 3)  # 6 s
    assert tm.seconds2quarters(6) == 11
    assert tm.seconds2quarters(F(7, 2)) == 7  # still inside the first segment


def test_several_tempi_at_one_position_the_last_given_wins():
    tm = TempoMap.from_changes([(0, 500000), (0, 600000), (4, 400000), (4, 450000)])
    assert [t.us_per_quarter for t in tm.tempos] == [600000, 450000]


def test_missing_tempo_at_zero_means_120_bpm_until_the_first():
    tm = TempoMap.from_changes([(4, 1_000_000)])
    assert tm.tempos[0].us_per_quarter == 500000
    assert tm.quarters2seconds(5) == 2 + 1


def test_bbt_in_four_four_and_back():
    tm = TempoMap.constant(100)
    # quarter 9.5 = bar 3 (starts at quarter 8), beat 2, half a quarter = 480 ticks
    assert tm.quarters2bbt(F(19, 2)) == BarBeatTick(3, 2, F(480))
    assert str(tm.quarters2bbt(F(19, 2))) == "3|2|480"
    assert tm.bbt2quarters(3, 2, 480) == F(19, 2)


def test_meter_change_starts_a_new_bar():
    # 4/4 for two bars (8 quarters), then 6/8: beats are eighths, a bar is 3 quarters
    tm = TempoMap.from_changes([(0, 500000)], [(0, 4, 4), (8, 6, 8)])
    assert tm.quarters2bbt(8) == BarBeatTick(3, 1, F(0))
    assert tm.quarters2bbt(F(8 + 3 + 1, 1)) == BarBeatTick(4, 3, F(0))  # bar 4 beat 3 = 2 eighths in
    assert tm.bar_start_quarters(5) == 14


def test_meter_change_inside_a_bar_cuts_that_bar_short():
    # 4/4, then 3/4 from quarter 6: bar 2 (quarters 4-6) is cut to two beats; 3/4 starts bar 3 at quarter 6
    tm = TempoMap.from_changes([(0, 500000)], [(0, 4, 4), (6, 3, 4)])
    assert tm.quarters2bbt(5) == BarBeatTick(2, 2, F(0))
    assert tm.quarters2bbt(6) == BarBeatTick(3, 1, F(0))
    assert tm.bar_end_quarters(2) == 6
    assert [b[0] for b in tm.bars(0, 10)] == [1, 2, 3, 4]


def test_positions_before_zero_are_bar_zero_and_below():
    tm = TempoMap.constant(120)
    assert tm.quarters2bbt(-1) == BarBeatTick(0, 4, F(0))
    assert tm.quarters2bbt(-5) == BarBeatTick(-1, 4, F(0))


def test_json_form_is_lossless():
    tm = TempoMap.from_changes([(0, 499999), (F(17, 3), 600001)], [(0, 7, 8), (F(7, 2), 4, 4)])
    assert TempoMap.from_json(tm.to_json()) == tm


def test_a_map_out_of_order_is_refused_with_every_problem():
    from grid import MeterChange, TempoChange

    with pytest.raises(TempoMapError) as err:
        TempoMap((TempoChange(F(1), F(500000)),), (MeterChange(F(0), 4, 4), MeterChange(F(0), 3, 4)))
    assert "first tempo change" in str(err.value) and "not strictly increasing" in str(err.value)
