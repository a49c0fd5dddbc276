"""Direct WAV window reads give exactly libsndfile's samples (float32, and the processing dtype rendering copies),
for every layout they take on."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from session_io.audio import SourceReader, probe
from session_io.pcm import PcmWindowReader
from session_io.session import sample_domain


def _noise(frames: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (frames, channels))
    x[:10] = [[-1.0] * channels, [0.999999] * channels] * 5  # full scale both ways
    return x


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
                                         ("WAVEX", "PCM_24"), ("RF64", "PCM_24")])
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_windows_equal_libsndfile(tmp_path, fmt, subtype, channels):
    path = tmp_path / "a.wav"
    sf.write(str(path), _noise(20000, channels), 48000, subtype, format=fmt)
    source = probe(path)
    direct = PcmWindowReader.open(source)
    assert direct is not None
    try:
        for lo, hi in ((0, 20000), (0, 1), (12345, 16441), (19999, 20000), (7, 4103)):
            expected = sf.read(str(path), start=lo, stop=hi, dtype="float32", always_2d=True)[0]
            got = direct.read(lo, hi)
            assert got.dtype == np.float32 and got.shape == expected.shape
            assert np.array_equal(got, expected), (lo, hi)
    finally:
        direct.close()
    dtype = sample_domain(subtype)[0]
    with SourceReader(source) as reader:  # rendering's reads: bit-exact integers
        assert reader._direct is not None
        for lo, hi in ((0, 20000), (0, 1), (12345, 16441), (19999, 20000)):
            expected = sf.read(str(path), start=lo, stop=hi, dtype=dtype.name, always_2d=True)[0]
            got = reader.read(lo, hi)
            assert got.dtype == dtype and np.array_equal(got, expected), (lo, hi)


@pytest.mark.parametrize("fmt,subtype", [("FLAC", "PCM_24"), ("AIFF", "PCM_24"), ("WAV", "DOUBLE"),
                                         ("WAV", "PCM_U8")])
def test_other_layouts_go_through_libsndfile(tmp_path, fmt, subtype):
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(str(path), _noise(5000, 2), 48000, subtype, format=fmt)
    assert PcmWindowReader.open(probe(path)) is None
    with SourceReader(probe(path), np.float32) as reader:  # still read, through libsndfile
        assert np.array_equal(reader.read(100, 200), sf.read(str(path), start=100, stop=200, dtype="float32")[0])


def test_timeline_reads_place_the_file(tmp_path):
    """A source placed at a timeline offset reads as silence before it and after its end, the file in between."""
    path = tmp_path / "a.wav"
    x = _noise(3000, 1)
    sf.write(str(path), x, 48000, "PCM_24")
    source = probe(path)
    source = type(source)(**{**source.__dict__, "offset_samples": 1000})
    with SourceReader(source, np.float32) as reader:
        got = reader.read(0, 5000)
    expected = sf.read(str(path), dtype="float32", always_2d=True)[0]
    assert not got[:1000].any() and not got[4000:].any()
    assert np.array_equal(got[1000:4000], expected)


def test_session_reads_of_all_mics_match_the_files_wherever_they_fall(tmp_path):
    """The reader's block cache gives, for any range (inside a block, across blocks, before the start, past the end,
    longer than the cache), every file's samples side by side, and the caller cannot write into its cache."""
    from session_io import read_session
    from session_io.audio import SessionReader

    files = {"Kick.wav": _noise(50_000, 1, 1), "OH.wav": _noise(50_000, 2, 2), "Snare.wav": _noise(50_000, 1, 3)}
    for name, x in files.items():
        sf.write(str(tmp_path / name), x, 48000, "PCM_24")
    session = read_session(tmp_path)
    truth = np.concatenate([sf.read(str(tmp_path / s.path.name), dtype="float32", always_2d=True)[0]
                            for s in session.sources], axis=1)
    padded = np.concatenate([np.zeros((9000, 4), np.float32), truth, np.zeros((300_000, 4), np.float32)])
    step = SessionReader.ALL_FRAMES
    ranges = [(0, 10), (step - 5, step + 5), (3 * step - 1, 5 * step + 2), (-700, 40), (49_990, 50_100), (0, 50_000),
              (7, 7 + step * SessionReader.ALL_BLOCKS), (60_000, 60_100), (100, 200)]
    with SessionReader(session) as reader:
        for start, stop in ranges * 2:  # the second time from the cache
            got = reader.read_all(start, stop)
            assert got.shape == (stop - start, 4)
            assert np.array_equal(got, padded[start + 9000:stop + 9000]), (start, stop)
            with pytest.raises(ValueError):
                got[:1] = 0.5
