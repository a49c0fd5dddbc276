"""AAF reading against the real files in ../shared/realdata/aaf and LibAAF's independent dumps of them."""
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from nbd_errors import SessionReadError
from session_io.aaf import read_aaf, read_aaf_structure
from tests.conftest import REALDATA

LIBAAF = REALDATA / "aaf" / "libaaf"
ALL_AAF = sorted(str(p.relative_to(REALDATA / "aaf")) for p in (REALDATA / "aaf").glob("*/*.aaf")) \
    if (REALDATA / "aaf").exists() else []
#: LibAAF prints positions in samples at the composition's rate; where its media runs at another rate (which nbd
#: reads at the media's rate and will not resample), these are the rates of LibAAF's numbers.
LIBAAF_POSITION_RATE = {"PT_PCM_Internal.aaf": 44100, "PT_WAV_External_same_directory.aaf": 44100,
                        "DR_Stereo_Clip_Positioning.aaf": 48000}


def _expected(name: str) -> list[list[tuple[int, int, int]]]:
    """(start, length, source offset) of every clip of every audio track in LibAAF's dump."""
    tracks = []
    for line in (LIBAAF / "expected" / f"{name}.expected").read_text(errors="replace").splitlines():
        if re.search(r"AudioTrack\[\d+\]", line):
            tracks.append([])
        m = re.search(r"Clip \(\d+\):\s+Start: (-?\d+)\s+Len: (\d+)\s+End: -?\d+\s+SourceOffset: (-?\d+)", line)
        if m and tracks:
            tracks[-1].append(tuple(int(x) for x in m.groups()))
    return tracks


def _covered(clips, rate) -> list[tuple[float, float]]:
    """Merged [start, end) spans in seconds: LibAAF folds Pro Tools' one-frame "sample accurate edit" slivers
    into their neighbours."""
    spans = []
    for start, length in sorted(clips):
        if spans and abs(start / rate - spans[-1][1]) < 1e-3:
            spans[-1][1] = (start + length) / rate
        else:
            spans.append([start / rate, (start + length) / rate])
    return [tuple(s) for s in spans]


@pytest.mark.parametrize("name", [p.name for p in sorted(LIBAAF.glob("*.aaf"))] if LIBAAF.exists() else [])
def test_clip_positions_lengths_and_offsets_match_libaaf(name):
    comp = read_aaf_structure(LIBAAF / name)
    expected = _expected(name)
    theirs_rate = LIBAAF_POSITION_RATE.get(name, comp.sample_rate_hz)
    assert len(comp.tracks) == len(expected)
    tolerance = 1.5 / min(comp.sample_rate_hz, theirs_rate)  # a sample of rounding, in seconds
    for track, theirs in zip(comp.tracks, expected):
        ours = [(c.position_samples, c.length_samples) for c in track.clips]
        mine = _covered(ours, comp.sample_rate_hz)
        base_mine, base_theirs = mine[0][0], theirs[0][0] / theirs_rate
        spans = _covered([(s, n) for s, n, _ in theirs], theirs_rate)
        assert len(mine) == len(spans)
        for (a0, a1), (b0, b1) in zip(mine, spans):
            assert abs((a0 - base_mine) - (b0 - base_theirs)) <= tolerance
            assert abs((a1 - a0) - (b1 - b0)) <= tolerance
        if len(ours) == len(theirs):
            for clip, (_, _, offset) in zip(track.clips, theirs):
                assert abs(clip.source_offset_samples / comp.sample_rate_hz - offset / theirs_rate) <= tolerance


def test_fades_and_crossfades_become_clip_fades():
    comp = read_aaf_structure(LIBAAF / "MC_Fades.aaf")
    first = comp.tracks[0].clips
    # LibAAF: clip 1 fades in and out over 8008 samples (5 frames at 29.97); the last two clips crossfade with an
    # equal-power curve ("CURV_PWR")
    assert first[0].fade_in == (8008, "equal_gain") and first[0].fade_out == (8008, "equal_gain")
    assert first[2].fade_out[1] == "equal_power" and first[3].fade_in == (8008, "equal_power")


def test_channel_combiner_makes_one_stereo_track():
    comp = read_aaf_structure(LIBAAF / "PT_Multichannel_stereo_multi_source.aaf")
    assert comp.tracks[0].channels == 2
    assert [m.name for m in comp.tracks[0].clips[0].media] == ["stereo-identif-01.L", "stereo-identif-01.R"]


def test_clip_gain_is_read():
    comp = read_aaf_structure(LIBAAF / "MC_Audio_Levels.aaf")
    gains = [c.gain for t in comp.tracks for c in t.clips]
    assert any(abs(g - 758350319 / 536870912) < 1e-9 for g in gains)  # +3 dB as Avid writes it


@pytest.mark.parametrize("relative", ALL_AAF)
def test_every_real_aaf_reads_or_fails_with_the_missing_media_listed(relative, tmp_path):
    path = REALDATA / "aaf" / relative
    try:
        session = read_aaf(path, tmp_path)
    except SessionReadError as e:
        message = str(e)
        assert str(path) in message and "\n" not in message
        assert "not found" in message or "Hz in a" in message or "outside the 44100" in message
        return
    assert session.sources and all(s.path.parent == tmp_path for s in session.sources)


def test_embedded_wave_essence_is_decoded(tmp_path):
    session = read_aaf(LIBAAF / "PR_WAV_Internal.aaf", tmp_path)
    audio = sf.read(str(session.sources[0].path), always_2d=True)[0]
    assert session.sample_rate_hz == 48000 and len(audio) == 48048  # 30 frames at 29.97
    assert np.abs(audio).max() > 0.05  # the 1 kHz tone at -18 dBFS


def test_missing_media_lists_every_file_and_skip_missing_leaves_silence(tmp_path):
    with pytest.raises(SessionReadError) as err:
        read_aaf(LIBAAF / "PT_Fades.aaf", tmp_path)
    assert "media file(s) not found" in str(err.value) and "PT_Fades" in str(err.value)
    assert str(err.value).count(";") >= 5  # every missing file, not just the first
    session = read_aaf(LIBAAF / "PT_Fades.aaf", tmp_path / "skip", skip_missing=True)
    assert not sf.read(str(session.sources[0].path))[0].any()


def test_linked_media_found_through_media_dir(tmp_path):
    shutil.copy(LIBAAF / "PT_WAV_External_same_directory.aaf", tmp_path / "session.aaf")
    with pytest.raises(SessionReadError, match="not found"):
        read_aaf(tmp_path / "session.aaf", tmp_path / "work")
    # found through --media-dir; this one is 32 kHz media, which nbd names rather than edits
    with pytest.raises(SessionReadError, match="32000 Hz, outside the 44100-192000 Hz"):
        read_aaf(tmp_path / "session.aaf", tmp_path / "work", media_dirs=[LIBAAF])


def test_corrupt_aaf_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.aaf"
    bad.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(SessionReadError, match="not a readable AAF"):
        read_aaf_structure(bad)
