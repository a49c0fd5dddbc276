"""Reading tempo maps from real and generated MIDI files, including every error case."""
import logging
from fractions import Fraction as F

import mido
import pytest

from grid import TempoMap, read_tempo_map, write_tempo_map
from nbd_errors import TempoMapError
from tests.conftest import realdata


def test_tempo_ramp_type0_matches_hand_computed_seconds():
    tm = read_tempo_map(realdata("midi/music21/test10.mid"))
    # 500000 µs/q for 4 quarters = 2 s; 545454 for 4 = 2.181816 s; 666666 for 4 = 2.666664 s; then 1 s per quarter
    assert tm.quarters2seconds(4) == 2
    assert tm.quarters2seconds(8) == F("4.181816")
    assert tm.quarters2seconds(12) == F("6.848480")
    assert tm.quarters2seconds(13) == F("7.848480")
    assert tm.seconds2quarters(F("7.848480")) == 13


def test_type1_version_of_the_ramp_gives_the_same_map():
    assert read_tempo_map(realdata("midi/music21/test11.mid")) == read_tempo_map(realdata("midi/music21/test10.mid"))


def test_two_tempi_at_tick_zero_the_last_in_file_order_wins():
    tm = read_tempo_map(realdata("midi/music21/k525short.mid"))
    # file order at tick 0: 499999 then 600001 µs per quarter
    assert tm.tempos[0].us_per_quarter == 600001
    # next change at tick 16384 of 1024 PPQ = quarter 16
    assert tm.tempos[1].position_quarters == 16
    assert tm.quarters2seconds(16) == F(16 * 600001, 1_000_000)


def test_two_tempi_and_a_meter_change():
    tm = read_tempo_map(realdata("midi/music21/test03.mid"))
    assert [t.us_per_quarter for t in tm.tempos] == [416666]  # 60 then 144 BPM at tick 0: 144 wins
    # 3/4 from tick 4096 = quarter 4 = bar 2
    assert tm.quarters2bbt(4).bar == 2
    assert tm.quarters2bbt(7).bar == 3  # bar 2 of 3/4 holds 3 quarters
    assert tm.quarters2bbt(8) .beat == 2


def test_pickup_bar_is_bar_one():
    tm = read_tempo_map(realdata("midi/music21/test02.mid"))
    # a 1/4 pickup bar, then 4/4 from quarter 1: bar 2 starts at quarter 1, bar 3 at quarter 5
    assert str(tm.quarters2bbt(0)) == "1|1|000"
    assert str(tm.quarters2bbt(1)) == "2|1|000"
    assert str(tm.quarters2bbt(5)) == "3|1|000"
    assert tm.quarters2seconds(5) == 5 * F(499999, 1_000_000)


def test_first_tempo_after_zero_means_120_before_it_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="nbd"):
        tm = read_tempo_map(realdata("midi/music21/test13.mid"))
    assert tm.quarters2seconds(4) == 2  # 4 quarters at the default 120 BPM
    assert "tick 1920" in caplog.text


def test_non_integer_bpm_tempo_kept_exactly():
    tm = read_tempo_map(realdata("midi/music21/test17.mid"))
    assert tm.tempos[0].us_per_quarter == 500003
    assert str(tm.meters[0]) == "3/4"


def test_gmd_take_reads_with_its_click_tempo():
    tm = read_tempo_map(realdata("midi/gmd/drummer1/session1/1_funk_80_beat_4-4.mid"))
    assert round(tm.tempos[0].bpm, 3) == 80


def test_tempo_and_meter_events_in_any_track_are_collected(tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    other = mido.MidiTrack([
        mido.MetaMessage("time_signature", numerator=3, denominator=4, time=96 * 4),
        mido.MetaMessage("set_tempo", tempo=400000, time=0),
    ])
    mid.tracks += [conductor, other]
    mid.save(tmp_path / "t.mid")
    tm = read_tempo_map(tmp_path / "t.mid")
    assert [(t.position_quarters, t.us_per_quarter) for t in tm.tempos] == [(0, 500000), (4, 400000)]
    assert str(tm.meter_at(4)) == "3/4"


def test_no_tempo_event_means_120_bpm_and_four_four_with_warnings(tmp_path, caplog):
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=36, velocity=100, time=0)]))
    mid.save(tmp_path / "bare.mid")
    with caplog.at_level(logging.WARNING, logger="nbd"):
        tm = read_tempo_map(tmp_path / "bare.mid")
    assert tm == TempoMap.constant(120)
    assert "120 BPM" in caplog.text and "4/4" in caplog.text


def test_write_then_read_gives_the_same_map(tmp_path):
    tm = TempoMap.from_changes([(0, 500000), (8, 480000)], [(0, 4, 4), (12, 7, 8)])
    write_tempo_map(tmp_path / "song.mid", tm)
    assert read_tempo_map(tmp_path / "song.mid") == tm
    # an independent reader sees the same events
    events = [(m.type, m.dict().get("tempo")) for m in mido.MidiFile(tmp_path / "song.mid").tracks[0] if m.is_meta]
    assert ("set_tempo", 480000) in events


def _midi_bytes(fmt: int, division: int) -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + fmt.to_bytes(2, "big") + (1).to_bytes(2, "big") + division.to_bytes(2, "big")
    track = b"MTrk" + (4).to_bytes(4, "big") + b"\x00\xff\x2f\x00"
    return header + track


@pytest.mark.parametrize(
    "content, expected",
    [
        (_midi_bytes(1, 0xE728), "SMPTE-timed"),  # -25 fps, 40 ticks per frame
        (_midi_bytes(2, 480), "type 2"),
        (_midi_bytes(1, 0), "0 ticks per quarter"),
        (b"RIFF\x00\x00\x00\x00WAVE", "not a MIDI file"),
        (b"", "not a MIDI file"),
        (_midi_bytes(1, 480)[:-6], "corrupt MIDI file"),
    ],
    ids=["smpte", "type2", "zero-ppq", "not-midi", "empty", "truncated"],
)
def test_bad_midi_files_are_refused_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "song.mid"
    path.write_bytes(content)
    with pytest.raises(TempoMapError) as err:
        read_tempo_map(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_missing_midi_file_is_named(tmp_path):
    with pytest.raises(TempoMapError, match="not found"):
        read_tempo_map(tmp_path / "nope.mid")
