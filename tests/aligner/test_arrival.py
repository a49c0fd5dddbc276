"""Inter-mic arrival lags measured on the sound: GCC-PHAT over many strokes."""
import numpy as np
import pytest

from aligner.arrival import arrival_lags
from session_io import read_session
from session_io.audio import SessionReader
from tests.helpers import write_audio

RATE = 48000
STROKES = np.arange(12) * 9000 + 5000  # a hat's strokes as the clear mic hears them


def _hats(length: int, delay: int, level: float, seed: int) -> np.ndarray:
    """Hat strokes (noise bursts decaying over 2 ms) arriving ``delay`` samples after :data:`STROKES`."""
    rng = np.random.default_rng(seed)
    x = np.zeros(length)
    for at in STROKES + delay:
        x[at:at + 800] += level * rng.uniform(-1, 1, 800) * np.exp(-np.arange(800) / 100)
    return x


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A clear overhead (reference), a snare mic that hears the hats 50 samples earlier near its noise floor with a
    floor tom's ring far louder, a stereo kick pair hearing them 30 and 70 samples later, one channel inverted, and
    a tom mic that does not hear them at all."""
    length = STROKES[-1] + 6000
    n = np.arange(length)
    same = np.random.default_rng(1).uniform(-1, 1, (len(STROKES), 800)) * np.exp(-np.arange(800) / 100)

    def hats(delay, level):
        x = np.zeros(length)
        for at, burst in zip(STROKES + delay, same):
            x[at:at + 800] += level * burst
        return x

    noise = np.random.default_rng(2)
    ring = 0.5 * np.sin(2 * np.pi * 90 * n / RATE) * np.exp(-(n % 9000) / 4000)  # a tom struck between the hats
    folder = tmp_path_factory.mktemp("kit")
    write_audio(folder / "OH.wav", (hats(0, 0.5) + 0.002 * noise.standard_normal(length))[:, None], RATE)
    write_audio(folder / "Snare.wav", (hats(-50, 0.01) + ring + 0.005 * noise.standard_normal(length))[:, None], RATE)
    kick = np.stack([hats(30, 0.2), -hats(70, 0.1)], axis=1) + 0.002 * noise.standard_normal((length, 2))
    write_audio(folder / "Kick.wav", kick, RATE)
    write_audio(folder / "Tom.wav", (_hats(length, 0, 0.3, 9) + 0.002 * noise.standard_normal(length))[:, None],
                RATE)
    session = read_session(folder)
    return session, {t.name: i for i, t in enumerate(session.tracks)}


def test_lags_are_each_mics_first_arrival_behind_the_reference_even_near_its_noise_floor(kit):
    session, index = kit
    with SessionReader(session) as reader:
        lags = arrival_lags(reader, index["OH"], [index["Snare"], index["Kick"], index["Tom"]], list(STROKES), RATE)
    # the snare mic hears the hats at -34 dB under a floor tom's ring at -6 dB; the kick pair's first channel is its
    # arrival; the tom mic hears other strokes, never these
    assert lags == {index["OH"]: 0, index["Snare"]: -50, index["Kick"]: 30}


def test_one_stroke_gives_no_lag_to_check_against_another(kit):
    session, index = kit
    with SessionReader(session) as reader:
        lags = arrival_lags(reader, index["OH"], [index["Snare"], index["Kick"]], list(STROKES[:1]), RATE)
    assert lags == {index["OH"]: 0}
