"""Integrated loudness (ITU-R BS.1770-4, as pyloudnorm computes it), streamed: a meter fed by passes that read the
audio anyway (detection reads the inputs, rendering makes the stems), and a reader for files measured on their own.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aligner.block_iir import BlockIIR

__all__ = ["LoudnessMeter", "integrated_loudness", "k_weighting_sos"]


def k_weighting_sos(rate: int) -> np.ndarray:
    """The K-weighting filter of ITU-R BS.1770 at ``rate`` Hz as two second-order sections (rows ``b0 b1 b2 a0 a1 a2``):
    a +4 dB high shelf at 1500 Hz (Q 1/sqrt 2), then a high-pass at 38 Hz (Q 0.5), both from the Audio EQ Cookbook
    bilinear designs with pyloudnorm's parameters, so any rate gets the filter pyloudnorm uses (not only the standard's
    48 kHz table). Made here rather than by pyloudnorm, whose import loads ``scipy.signal`` (0.9 s)."""
    w0 = 2 * np.pi * np.array([1500.0, 38.0]) / rate
    cos, alpha = np.cos(w0), np.sin(w0) / (2 * np.array([1 / np.sqrt(2), 0.5]))
    a = 10 ** (4.0 / 40)  # shelf gain, as amplitude square root
    root = 2 * np.sqrt(a) * alpha[0]
    up, down = (a + 1) + (a - 1) * cos[0], (a + 1) - (a - 1) * cos[0]
    shelf = [a * (up + root), -2 * a * ((a - 1) + (a + 1) * cos[0]), a * (up - root),
             down + root, 2 * ((a - 1) - (a + 1) * cos[0]), down - root]
    high_pass = [(1 + cos[1]) / 2, -(1 + cos[1]), (1 + cos[1]) / 2, 1 + alpha[1], -2 * cos[1], 1 - alpha[1]]
    sos = np.array([shelf, high_pass])
    return sos / sos[:, 3:4]


class LoudnessMeter:
    """Integrated loudness (ITU-R BS.1770-4, as pyloudnorm computes it) of audio fed block by block, so memory does
    not grow with the length and the audio can be measured in a pass that reads it anyway.

    The K-weighting filters (:func:`k_weighting_sos`) run as one cascade with carried state
    (:class:`aligner.block_iir.BlockIIR`); mean squares are summed per 100 ms step and the 400 ms gating blocks (75 %
    overlap) are built from four steps.

    Parameters
    ----------
    rate : int
        Sample rate in Hz.
    channels : int
    frames : int
        Samples per channel that will be fed in all.
    """

    def __init__(self, rate: int, channels: int, frames: int):
        self.rate, self.channels, self.frames = rate, channels, frames
        # float32 filtering: its error (about 1e-5 of the level) is far below the 0.01 LU the value is rounded to
        self._filter = BlockIIR(k_weighting_sos(rate), channels)
        self._edges = np.array([int(0.1 * k * rate) for k in range(int(frames / (0.1 * rate)) + 2)], dtype=np.int64)
        self._steps = np.zeros((len(self._edges) - 1, channels))
        self._done = 0
        self._queue: list[np.ndarray] = []
        self._queued = 0

    #: Samples are filtered this many frames at a time: per call, the filter's small matrix products hold Python's
    #: lock, so threads metering side by side wait on each other less with fewer, larger calls.
    CHUNK_FRAMES = 1 << 18

    def add(self, block: np.ndarray) -> None:
        """Feed the next (frames, channels) samples at full scale ±1 (not changed afterwards: it may be kept until
        enough has come)."""
        self._queue.append(block)
        self._queued += len(block)
        if self._queued >= self.CHUNK_FRAMES:
            self._filter_queue()

    def _filter_queue(self) -> None:
        if self._queue:
            self._sum(self._filter.filter(np.concatenate(self._queue) if len(self._queue) > 1 else self._queue[0]))
            self._queue, self._queued = [], 0

    def _sum(self, weighted: np.ndarray) -> None:
        if not len(weighted):
            return
        np.square(weighted, out=weighted)
        lo, hi = self._done, self._done + len(weighted)
        first = max(int(np.searchsorted(self._edges, lo, side="right")) - 1, 0)
        inside = self._edges[(self._edges > lo) & (self._edges < hi)] - lo  # step boundaries within this block
        sums = np.add.reduceat(weighted, np.concatenate([[0], inside]), axis=0, dtype=np.float64)
        self._steps[first:first + len(sums)] += sums[: len(self._steps) - first]
        self._done = hi

    def value(self) -> float | None:
        """Integrated loudness in LUFS, rounded to 0.01; None for silence or less than one 400 ms gating block."""
        self._filter_queue()
        self._sum(self._filter.flush())
        rate, steps = self.rate, self._steps.T
        if self.frames < int(0.4 * rate):
            return None
        blocks = int(round((self.frames / rate - 0.4) / 0.1)) + 1
        z = np.stack([steps[:, j:j + 4].sum(axis=1) for j in range(blocks)], axis=1) / (0.4 * rate)
        gains = np.array([1.0, 1.0, 1.0, 1.41, 1.41] + [1.0] * max(0, self.channels - 5))[:self.channels, None]
        with np.errstate(divide="ignore"):
            block_loudness = -0.691 + 10 * np.log10((gains * z).sum(axis=0))
            gated = block_loudness >= -70.0
            if not gated.any():
                return None
            relative = -0.691 + 10 * np.log10((gains[:, 0] * z[:, gated].mean(axis=1)).sum()) - 10.0
            gated &= block_loudness > relative
            if not gated.any():
                return None
            value = -0.691 + 10 * np.log10((gains[:, 0] * z[:, gated].mean(axis=1)).sum())
        return round(float(value), 2) if np.isfinite(value) else None


def integrated_loudness(path: Path, block_frames: int = 1 << 16) -> float | None:
    """Integrated loudness of a file in LUFS (see :class:`LoudnessMeter`); None for silence or files shorter than one
    400 ms gating block. Plain WAV files are read without libsndfile (:mod:`session_io.pcm`)."""
    from session_io.audio import SourceReader, probe

    source = probe(path)  # at timeline offset 0
    meter = LoudnessMeter(source.sample_rate_hz, source.channels, source.frames)
    with SourceReader(source, np.float32) as reader:
        for start in range(0, source.frames, block_frames):
            meter.add(reader.read(start, min(start + block_frames, source.frames)))
    return meter.value()
