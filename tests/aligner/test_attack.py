"""Attacks under a ring: a linear prediction of the ring finds where a new stroke starts."""
import numpy as np
import pytest

from aligner.attack import attack_template, attack_under_ring, match_template, prediction_filter
from aligner.detect import DetectorSettings, refine_attack
from session_io import read_session
from session_io.audio import SessionReader
from tests.helpers import write_audio

SETTINGS = DetectorSettings()
RATE = 48000


def _ring(n: np.ndarray) -> np.ndarray:
    """A drum's ring: two decaying resonances."""
    t = n / RATE
    return np.exp(-n / 9000) * (0.3 * np.sin(2 * np.pi * 180 * t) + 0.15 * np.sin(2 * np.pi * 410 * t + 1))


def _stroke(n: np.ndarray, level: float) -> np.ndarray:
    """A soft stroke: a noise burst from sample 0 of ``n``, swelling over its first 2 ms, then decaying fast."""
    burst = np.random.default_rng(5).uniform(-1, 1, len(n))
    m = np.maximum(n, 0)
    return level * np.minimum(m / 96, 1) * np.exp(-m / 300) * burst * (n >= 0)


def test_the_prediction_filter_foresees_a_ring_and_leaves_silence_alone():
    n = np.arange(960, dtype=np.float64)
    x = _ring(n)
    a = prediction_filter(x, 16)
    error = np.convolve(x, a, "valid")
    assert a[0] == 1.0 and len(a) == 17
    assert np.abs(error).max() < 1e-3 * np.abs(x).max()
    assert list(prediction_filter(np.zeros(100), 4)) == [1.0, 0.0, 0.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def ringing(tmp_path_factory):
    """A mic with a backbeat ringing on and a ghost note at sample 30 000 that swells to 3 times the ring."""
    n = np.arange(60000)
    ring = _ring(n - 2000) * (n >= 2000)
    ghost_at = 30000
    level = 3 * np.abs(ring[ghost_at - 500:ghost_at]).max()
    x = ring + _stroke(n - ghost_at, level)
    folder = tmp_path_factory.mktemp("ringing")
    write_audio(folder / "Snare.wav", x[:, None], RATE)
    return read_session(folder), ghost_at


def test_a_stroke_under_a_ring_starts_where_the_prediction_fails_not_where_the_level_doubles(ringing):
    session, ghost_at = ringing
    with SessionReader(session) as reader:
        plain, plain_peak = refine_attack(reader, 0, ghost_at + 12, RATE, SETTINGS)
        position, peak = attack_under_ring(reader, 0, ghost_at + 12, RATE, SETTINGS, 0.1, 16, 10.0)
    assert plain - ghost_at > 48  # the level passes twice the ring's more than 1 ms into the attack
    assert 0 <= position - ghost_at <= 24  # 20 % of the error's peak: 0.5 ms into the stroke's 2 ms swell
    assert peak == plain_peak


def test_a_stroke_after_silence_is_found_as_refine_attack_finds_it(ringing):
    session, _ = ringing
    with SessionReader(session) as reader:
        for approx in (2000, 2030, 2100):  # the backbeat: nothing before it
            assert attack_under_ring(reader, 0, approx, RATE, SETTINGS, 0.1, 16, 10.0) == \
                refine_attack(reader, 0, approx, RATE, SETTINGS)


def _same_stroke(n: np.ndarray, level: float) -> np.ndarray:
    """A stroke from sample 0 of ``n`` that sounds the same each time: one noise burst, swelling over 2 ms and
    decaying fast."""
    burst = np.random.default_rng(7).uniform(-1, 1, 4000)
    m = np.clip(n, 0, len(burst) - 1)
    return level * np.minimum(m / 96, 1) * np.exp(-m / 300) * burst[m] * (n >= 0)


def test_a_ghost_too_faint_to_raise_the_level_is_found_where_it_matches_the_drums_clear_attacks(tmp_path):
    # Five backbeats, each ringing on, and a ghost note 60 ms after the last at half the ring's level there, so the
    # level hardly rises at it; its attack has the backbeats' shape, which their average finds from 3 ms away.
    n = np.arange(60000)
    beats = [2000 + 9000 * k for k in range(5)]
    x = sum(_same_stroke(n - b, 0.5) + _ring(n - b) * (n >= b) for b in beats)
    ghost = beats[-1] + 2880
    ring = np.abs(x[ghost - 480:ghost]).max()
    x = x + _same_stroke(n - ghost, 0.5 * ring)
    assert np.abs(x[ghost:ghost + 480]).max() < 1.5 * ring
    write_audio(tmp_path / "Snare.wav", x[:, None], RATE)
    with SessionReader(read_session(tmp_path)) as reader:
        template = attack_template(reader, 0, [(b, 0.5) for b in beats], RATE)
        for approx in (ghost - 144, ghost + 144):
            position, corr = match_template(reader, 0, template, approx, RATE, 5.0)
            assert abs(position - ghost) <= 1 and corr > 0.9, (approx, position, corr)
