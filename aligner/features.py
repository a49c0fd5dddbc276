"""What the neural aligner hears: per-mic band energies at 5 ms frames, the mic's role, and the grid as a metronome.

- Per mic (a track; a stereo mic is one track, its channels' band powers max-combined): log power in
  :data:`N_BANDS` bands from 0 to 20 kHz over a Hann window of about 20 ms centred on each 5 ms frame, relative to the
  mic's loudest band-frame (so mic gain does not matter), and its positive frame-to-frame rise. The frame hop is a
  whole number of samples near 5 ms at any rate, so the model sees the same time scale at 44.1 and 96 kHz.
- The mic's role (from its name, :mod:`aligner.roles`) as a one-hot vector: the model hears which mic is which.
- The grid: where each frame sits within its 16th step, its beat and its bar (sine and cosine of each phase) and the
  step's length, like a metronome track. The ablation switches it off with zeros.

Frame ``j`` covers session samples ``[j * hop, (j + 1) * hop)``.
"""
from __future__ import annotations

import math

import numpy as np

from aligner.threads import locked, map_in_threads
from grid import SessionGrid, grid_lines, line_samples
from session_io.audio import SourceReader
from session_io.session import Session

__all__ = ["FRAME_S", "N_BANDS", "MIC_FEATURES", "MODEL_ROLES", "GRID_FEATURES", "hop_samples", "band_features",
           "session_features", "SessionFeatures", "role_vector", "grid_features"]

FRAME_S = 0.005
N_BANDS = 12
MIC_FEATURES = 2 * N_BANDS
MODEL_ROLES = ("kick", "snare", "tom", "hihat", "ride", "crash", "overhead", "room", "other")
GRID_FEATURES = 7
_FLOOR_DB = -100.0
_BLOCK_FRAMES = 4096
# Frames per FFT call: a block's spectra at once (16 MB) ran from memory, 64 at a time (0.25 MB) from the CPU's cache,
# about twice as fast. A multiple of it divides _BLOCK_FRAMES, so streamed and in-memory features group frames alike.
_FFT_ROWS = 64


def hop_samples(rate: int) -> int:
    """Samples per frame at ``rate`` Hz (about 5 ms)."""
    return max(1, round(FRAME_S * rate))


def _fft_size(rate: int) -> int:
    return 2 ** math.ceil(math.log2(4 * hop_samples(rate)))


def _band_matrix(rate: int) -> np.ndarray:
    """(bins, N_BANDS) 0/1 matrix summing FFT bins into log-spaced bands (the first from 0 Hz)."""
    n_fft = _fft_size(rate)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    edges = np.concatenate([[0.0], np.geomspace(60.0, 20000.0, N_BANDS)])
    band = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, N_BANDS - 1)
    matrix = np.zeros((len(freqs), N_BANDS), dtype=np.float32)
    matrix[np.arange(len(freqs)), band] = 1.0
    return matrix


def _band_power(x: np.ndarray, rate: int, frames: int) -> np.ndarray:
    """Band power of ``frames`` frames; ``x`` (samples, channels) starts half a window before frame 0's centre."""
    hop, n_fft = hop_samples(rate), _fft_size(rate)
    window = np.hanning(n_fft).astype(np.float32)
    matrix = _band_matrix(rate)
    out = np.zeros((frames, N_BANDS), dtype=np.float32)
    for c in range(x.shape[1]):
        views = np.lib.stride_tricks.sliding_window_view(x[:, c], n_fft)[: frames * hop: hop]
        for a in range(0, frames, _FFT_ROWS):
            spectrum = np.fft.rfft(views[a:a + _FFT_ROWS] * window, axis=1)
            power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32) @ matrix
            np.maximum(out[a:a + _FFT_ROWS], power, out=out[a:a + _FFT_ROWS])
    return out


def _db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(power + 1e-12)


def _normalise(power: np.ndarray, top: np.floating | None = None) -> np.ndarray:
    """(frames, N_BANDS) power → (frames, MIC_FEATURES): level re the loudest band-frame (``top`` dB, by default
    the loudest of ``power``), and its rise from the frame before, in 20 dB."""
    db = _db(power)
    db = np.maximum(db - (db.max() if top is None else top), _FLOOR_DB) / 20
    rise = np.maximum(np.diff(db, axis=0, prepend=db[:1]), 0)
    return np.concatenate([db, rise], axis=1).astype(np.float32)


def band_features(x: np.ndarray, rate: int) -> np.ndarray:
    """Features of one mic held in memory.

    Parameters
    ----------
    x : ndarray
        (samples, channels) audio of the mic, session sample 0 first.
    rate : int

    Returns
    -------
    ndarray
        (frames, MIC_FEATURES) float32, ``frames = ceil(samples / hop)``.
    """
    hop, n_fft = hop_samples(rate), _fft_size(rate)
    frames = -(-len(x) // hop)
    left = n_fft // 2 - hop // 2
    padded = np.zeros((left + frames * hop + n_fft, x.shape[1]), dtype=np.float32)
    padded[left:left + len(x)] = x
    return _normalise(_band_power(padded, rate, frames))


def session_features(session: Session, progress=None) -> "SessionFeatures":
    """Features of every track of a session, streamed from its files one block at a time.

    Returns
    -------
    SessionFeatures
        Indexed as a (tracks, frames, MIC_FEATURES) float32 array, ``frames = ceil(length / hop)``.
    """
    rate = session.sample_rate_hz
    hop, n_fft = hop_samples(rate), _fft_size(rate)
    frames = -(-session.length_samples // hop)
    left = n_fft // 2 - hop // 2
    power = np.zeros((len(session.tracks), frames, N_BANDS), dtype=np.float32)
    progress = locked(progress)

    def one_source(si: int) -> None:  # each source's tracks fill their own rows: the same result on any thread count
        tracks = [(ti, t) for ti, t in enumerate(session.tracks) if t.source_index == si]
        if not tracks:
            return
        with SourceReader(session.sources[si], np.float32) as reader:
            for f0 in range(0, frames, _BLOCK_FRAMES):
                f1 = min(frames, f0 + _BLOCK_FRAMES)
                data = reader.read(f0 * hop - left, f1 * hop - left + n_fft)
                for ti, t in tracks:
                    power[ti, f0:f1] = _band_power(data[:, list(t.channel_indices)], rate, f1 - f0)
                if progress is not None:
                    progress(min(f1 * hop, session.length_samples) - f0 * hop)

    map_in_threads(one_source, range(len(session.sources)))
    return SessionFeatures(power)


class SessionFeatures:
    """Every track's features, as :func:`band_features` gives them for the track's audio, indexed like an array of
    shape (tracks, frames, MIC_FEATURES): ``features[:, lo:hi]`` (a window of every track) or ``features[ti]``.
    Held as band power and normalised as they are read: half the memory of the features, and a session's worth
    is never copied (whole features grew the neural detector's peak by 14 MB a minute of 12 mics)."""

    def __init__(self, power: np.ndarray):
        self.power = power  # (tracks, frames, N_BANDS) float32
        self.top = [_db(p).max() for p in power]  # each track's loudest band-frame (dB), as _normalise finds it
        self.shape = (power.shape[0], power.shape[1], MIC_FEATURES)

    def _rows(self, ti: int, lo: int, hi: int) -> np.ndarray:
        start = max(lo - 1, 0)  # a frame's rise is from the frame before
        return _normalise(self.power[ti, start:hi], self.top[ti])[lo - start:]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self._rows(int(key), 0, self.shape[1])
        tracks, window = key
        if tracks != slice(None):
            raise IndexError("SessionFeatures takes [ti] or [:, lo:hi]")
        lo, hi, step = window.indices(self.shape[1])
        if step != 1:
            raise IndexError("SessionFeatures takes windows of consecutive frames")
        if not self.shape[0]:
            return np.zeros((0, max(hi - lo, 0), MIC_FEATURES), dtype=np.float32)
        return np.stack([self._rows(ti, lo, hi) for ti in range(self.shape[0])])


def role_vector(role: str) -> np.ndarray:
    """One-hot (len(MODEL_ROLES),) float32 of a mic role; unknown roles count as ``other``."""
    v = np.zeros(len(MODEL_ROLES), dtype=np.float32)
    v[MODEL_ROLES.index(role if role in MODEL_ROLES else "other")] = 1.0
    return v


def grid_features(grid: SessionGrid, frames: int, hop: int, swing_pct: float = 0.0) -> np.ndarray:
    """The grid as the model sees it, per frame.

    Returns
    -------
    ndarray
        (frames, GRID_FEATURES) float32: sin/cos of the phase within the 16th step, the beat (quarter note) and the
        bar, and log2 of the step's length in seconds / 0.125.
    """
    rate = grid.sample_rate_hz
    margin = 4 * rate
    lines = grid_lines(grid, -margin, frames * hop + margin, "1/16", swing_pct)
    out = np.zeros((frames, GRID_FEATURES), dtype=np.float32)
    if len(lines) < 2:
        return out
    samples = line_samples(lines).astype(np.float64)
    centres = (np.arange(frames) + 0.5) * hop
    i = np.clip(np.searchsorted(samples, centres, side="right") - 1, 0, len(lines) - 2)
    step_len = samples[i + 1] - samples[i]
    phase = (centres - samples[i]) / step_len
    index = np.array([lines[k].index_in_bar for k in range(len(lines))], dtype=np.float64)
    steps_in_bar = np.ones(len(lines))
    bars = np.array([ln.bar for ln in lines])
    for bar in np.unique(bars):
        mask = bars == bar
        steps_in_bar[mask] = index[mask].max() + 1
    position = index[i] + phase  # in steps from the bar line
    beat_phase = (position / 4) % 1.0  # a 16th step is a quarter of a quarter note
    bar_phase = position / steps_in_bar[i]
    for k, p in enumerate((phase, beat_phase, bar_phase)):
        out[:, 2 * k] = np.sin(2 * np.pi * p)
        out[:, 2 * k + 1] = np.cos(2 * np.pi * p)
    out[:, 6] = np.log2(np.maximum(step_len / rate, 1e-3) / 0.125)
    return out
