"""Samples ↔ musical time on a session, grid lines with swing and triplets, typed positions."""
from fractions import Fraction as F

import pytest

from grid import SessionGrid, TempoMap, bpm2us_per_quarter, grid_lines, ms2samples, parse_position, timecode2seconds


def test_samples_and_bbt_across_a_tempo_change_at_48k():
    # 120 BPM for bar 1-2 (8 quarters = 4 s), then 96 BPM (0.625 s per quarter); MIDI time 0 at sample 4800
    tm = TempoMap.from_changes([(0, bpm2us_per_quarter(120)), (8, bpm2us_per_quarter(96))])
    g = SessionGrid(tm, 48000, origin_samples=4800)
    assert g.bbt2sample(1) == 4800
    assert g.bbt2sample(3) == 4800 + 4 * 48000
    assert g.bbt2sample(3, 2) == 4800 + 4 * 48000 + 30000  # one 96-BPM quarter = 0.625 s = 30000 samples
    assert str(g.sample2bbt(4800 + 4 * 48000 + 30000 + 15000)) == "3|2|480"
    assert g.sample2quarters(4800 + 24000) == 1


def test_fractional_sample_positions_round_half_up():
    # 44.1 kHz at 137 BPM: a 16th is 4828.467… samples
    g = SessionGrid(TempoMap.constant(137), 44100)
    exact = g.quarters2samples_exact(F(1, 4))
    assert exact == F(44100 * 60, 137 * 4)
    assert g.quarters2sample(F(1, 4)) == 4828


def test_sixteenth_lines_at_120_bpm_48k():
    g = SessionGrid(TempoMap.constant(120), 48000)
    lines = grid_lines(g, 0, 48000)  # one second = 2 quarters = 8 sixteenths
    assert [line.sample for line in lines] == [i * 6000 for i in range(8)]
    assert [line.index_in_bar for line in lines] == list(range(8))


def test_triplet_eighths_put_three_lines_per_quarter():
    g = SessionGrid(TempoMap.constant(120), 48000)
    lines = grid_lines(g, 0, 24000, "1/8t")
    assert [line.sample for line in lines] == [0, 8000, 16000]


def test_full_swing_moves_every_second_eighth_onto_the_triplet():
    g = SessionGrid(TempoMap.constant(120), 48000)
    straight = [line.sample for line in grid_lines(g, 0, 48000, "1/8")]
    swung = [line.sample for line in grid_lines(g, 0, 48000, "1/8", swing_pct=100)]
    half = [line.sample for line in grid_lines(g, 0, 48000, "1/8", swing_pct=50)]
    assert straight == [0, 12000, 24000, 36000]
    assert swung == [0, 16000, 24000, 40000]  # off-beats at 2/3 of the quarter
    assert half == [0, 14000, 24000, 38000]


def test_lines_restart_at_each_bar_in_five_eight():
    # 5/8 bar = 2.5 quarters; on a 1/4 grid the lines are 0, 1, 2 then the next bar at 2.5
    g = SessionGrid(TempoMap.constant(120, 5, 8), 48000)
    lines = grid_lines(g, 0, 5 * 24000, "1/4")
    assert [line.quarters for line in lines] == [0, 1, 2, F(5, 2), F(7, 2), F(9, 2)]
    assert [line.bar for line in lines] == [1, 1, 1, 2, 2, 2]


def test_lines_follow_a_meter_change_inside_a_bar():
    tm = TempoMap.from_changes([(0, 500000)], [(0, 4, 4), (F(3, 2), 4, 4)])  # a 4/4 cut short after 1.5 quarters
    lines = grid_lines(SessionGrid(tm, 48000), 0, 96000, "1/4")  # 4 quarters
    assert [line.quarters for line in lines] == [0, 1, F(3, 2), F(5, 2), F(7, 2)]


def test_bad_grid_and_swing_are_refused():
    g = SessionGrid(TempoMap.constant(120), 48000)
    with pytest.raises(ValueError, match="unknown grid"):
        grid_lines(g, 0, 100, "1/5")
    with pytest.raises(ValueError, match="triplet"):
        grid_lines(g, 0, 100, "1/16t", swing_pct=30)
    with pytest.raises(ValueError, match="between 0 and 100"):
        grid_lines(g, 0, 100, "1/16", swing_pct=130)


def test_ms_options_convert_at_the_session_rate():
    assert ms2samples(35, 44100) == 1544  # 1543.5 rounds up
    assert ms2samples(35, 96000) == 3360


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.5", 72000), ("1.5s", 72000), ("250ms", 12000), ("72001smp", 72001), ("-100 samples", -100),
        ("00:00:01:15", 72000),  # 1 s + 15 frames at 30 fps
        ("00:00:02.25", 108000),
    ],
)
def test_typed_positions(text, expected):
    assert parse_position(text, 48000, fps="30") == expected


def test_timecode_is_clock_time_against_the_session_start():
    start = 3600 * 48000  # session starts at 01:00:00:00
    assert parse_position("01:00:02:00", 48000, "25", session_start_samples=start) == 96000


def test_drop_frame_timecode():
    # 00:10:00;00 in 29.97 drop frame is frame 17982, exactly 600.0 - 0.6 + 0.6 = 599.9994 s
    assert timecode2seconds("00:10:00;00", "29.97df") == F(17982 * 1001, 30000)
    assert timecode2seconds("00:01:00;02", "29.97df") == F(1800 * 1001, 30000)


@pytest.mark.parametrize("text", ["abc", "1.5x", "12.5smp", "00:00:01:45"])
def test_bad_positions_are_refused(text):
    with pytest.raises(ValueError):
        parse_position(text, 48000, fps="30")
