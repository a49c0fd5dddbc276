"""The block-wise IIR filter gives sosfilt's output, whatever the sizes it is fed in; the meter's K-weighting is
pyloudnorm's."""
import numpy as np
import pytest
from scipy.signal import butter, sosfilt, tf2sos

from aligner.block_iir import BlockIIR
from aligner.loudness import k_weighting_sos


def _k_weighting(rate):
    import pyloudnorm

    stages = list(pyloudnorm.Meter(rate)._filters.values())
    return np.vstack([tf2sos(st.b * st.passband_gain, st.a) for st in stages])


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 88200, 96000, 192000])
def test_k_weighting_coefficients_are_pyloudnorms(rate):
    assert np.allclose(k_weighting_sos(rate), _k_weighting(rate), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_k_weighting_matches_sosfilt_in_any_feed_sizes(rate):
    rng = np.random.default_rng(rate)
    x = (rng.standard_normal((rate * 5 + 77, 2)) * 0.3).astype(np.float32)
    x[:, 1] += 0.5  # a DC offset exercises the high-pass's slow poles
    expected = sosfilt(_k_weighting(rate), x.astype(np.float64), axis=0)
    f = BlockIIR(_k_weighting(rate), channels=2)
    out, pos = [], 0
    for size in [65536, 1, 63, 1000, 7] * 100:
        out.append(f.filter(x[pos:pos + size]))
        pos += size
    out.append(f.flush())
    y = np.concatenate(out)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.abs(y - expected).max() < 1e-4 * np.abs(expected).max()


def test_other_filters_and_block_lengths():
    x = np.random.default_rng(1).standard_normal((5000, 1)).astype(np.float32)
    for sos in (butter(4, 0.01, "high", output="sos"), butter(6, 0.3, output="sos")):
        for block in (8, 64, 256):
            f = BlockIIR(sos, 1, block=block)
            y = np.concatenate([f.filter(x[:3000]), f.filter(x[3000:]), f.flush()])
            assert np.abs(y - sosfilt(sos, x.astype(np.float64), axis=0)).max() < 1e-4
