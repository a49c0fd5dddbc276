"""CMX 3600 lists: frame-rounded, four mics and 999 events a list, parsed back by OpenTimelineIO's strict reader."""
import pytest

from session_io.edl import EdlCut, EdlMic, frames2timecode, write_edls

otio = pytest.importorskip("opentimelineio")
pytest.importorskip("otio_cmx3600_adapter")


def _read(path, fps):
    return otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=fps)


def _mics(n):
    return [EdlMic(f"Mic {i}", f"Mic {i}.wav", 0) for i in range(1, n + 1)]


def test_drop_frame_timecode():
    assert frames2timecode(17982, "29.97df") == "00:10:00;00"
    assert frames2timecode(1800, "29.97df") == "00:01:00;02"
    assert frames2timecode(30 * 3600, "30") == "01:00:00:00"


def test_cuts_round_to_frames_and_read_back_without_overlaps(tmp_path):
    rate = 48000
    # three stretches: 0-1.01 s from source 0; 1.01-2.5 s from 0.995 s (moved 15 ms later); then to 4 s
    cuts = [EdlCut(0, 48480, 0), EdlCut(48480, 120000, 47760), EdlCut(120000, 192000, 120100)]
    (path,) = write_edls(tmp_path, "take", rate, "25", 3600 * rate, _mics(2), cuts)
    timeline = _read(path, 25)
    tracks = [t for t in timeline.tracks if t.kind == "Audio"]
    assert [t.name for t in tracks] == ["A1", "A2"]
    for track in tracks:
        clips = [c for c in track if isinstance(c, otio.schema.Clip)]
        # record: 0, 1.01 s -> frame 25 (25.25 rounds down), 2.5 s = frame 62.5 -> 62, 4 s = 100, from 01:00:00:00
        assert [c.range_in_parent().start_time.value for c in clips] == [0, 25, 62]
        assert [c.source_range.duration.value for c in clips] == [25, 37, 38]
        # source of the second stretch: record frame 25 (1.0 s) minus its 720-sample (0.375 frame) move → frame 25
        assert clips[1].source_range.start_time.to_frames() == 25
    text = path.read_bytes().decode("ascii")
    assert text.startswith("TITLE: take mics 1-2\r\nFCM: NON-DROP FRAME\r\n")
    assert "01:00:01:00" in text and "edit.aaf" in text


def test_four_mics_a_list_and_999_events_a_file(tmp_path):
    cuts = [EdlCut(i * 4800, (i + 1) * 4800, i * 4800) for i in range(300)]  # 300 stretches of 0.1 s
    paths = write_edls(tmp_path, "big", 48000, "30", 0, _mics(6), cuts)
    names = sorted(p.name for p in paths)
    # mics 1-4: 1200 events -> 999 + 201; mics 5-6: 600 events
    assert names == ["big mics_1-4_part_1.edl", "big mics_1-4_part_2.edl", "big mics_5-6.edl"]
    for p in paths:
        lines = [x for x in p.read_text().splitlines() if x[:3].isdigit()]
        assert len(lines) <= 999
        assert {x.split()[2] for x in lines} <= {"A", "A2", "A3", "A4"}
        _read(p, 30)


def test_drop_frame_lists_read_back(tmp_path):
    cuts = [EdlCut(0, 480480, 0), EdlCut(480480, 960960, 480000)]
    (path,) = write_edls(tmp_path, "df", 48000, "29.97df", 0, _mics(1), cuts)
    assert "FCM: DROP FRAME" in path.read_text() and ";" in path.read_text()
    timeline = _read(path, 30000 / 1001)  # keep the timeline alive while its tracks are read
    clips = [c for c in timeline.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert [c.source_range.duration.value for c in clips] == [300, 300]  # 10.01 s at 29.97 = 300 frames


def test_samples_round_to_the_nearest_frame_halves_to_even():
    """A position exactly half a frame from two frames goes to the even one, at every frame rate (as round() of the
    exact fraction does); others to the nearest."""
    from fractions import Fraction

    from grid.positions import FRAME_RATES
    from session_io.edl import _frame

    for fps, (per_second, *_) in FRAME_RATES.items():
        for rate in (44100, 48000, 96000):
            for samples in [0, 1, 1599, 1600, 1601, 10 ** 10 + 7, -4321] + [
                    int(Fraction(2 * k + 1, 2) * rate / per_second) for k in range(40)]:
                assert _frame(samples, rate, fps) == round(Fraction(samples) * per_second / rate), (fps, rate, samples)
    assert _frame(1000, 48000, "24") == 0 and _frame(1000 * 3, 48000, "24") == 2  # 0.5 -> 0, 1.5 -> 2
