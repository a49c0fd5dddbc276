"""How much later one mic hears a drum than another, measured on the sound itself.

A drum without a mic of its own (a hat with no hat mic) is heard first in its nearest mic, the snare mic, and
1-3 ms later in the kick, tom and overhead mics. nbd places its strokes on the mic that hears it first, as it places
a drum with a mic of its own on that mic. But the nearest mic may hear it faintly, so that its level does not rise
clearly at every stroke, and the strokes are then found in a clearer, further mic and moved by how much later that
mic hears the drum. That lag is measured here by generalised cross-correlation with the phase transform (GCC-PHAT)
over many strokes at once: the cross-spectra of a window around each stroke in the two mics, each reduced to its
phase, are summed, and the one lag at which they agree stands out even where a mic hears the drum near its noise
floor. Only frequencies from 3 kHz count: below, a kick's or tom's ring is in both mics too, with that drum's lag.
"""
from __future__ import annotations

import numpy as np

from session_io.audio import SessionReader

__all__ = ["arrival_lags"]


def arrival_lags(reader: SessionReader, reference: int, tracks: list[int], positions: list[int], rate: int,
                 before_ms: float = 3.0, after_ms: float = 12.0, max_lag_ms: float = 6.0, low_hz: float = 3000.0,
                 prominence: float = 10.0, max_strokes: int = 200) -> dict[int, int]:
    """How much later (samples; negative: earlier) each of ``tracks`` hears the strokes that mic ``reference`` hears
    at ``positions`` (session samples, strokes of one drum with no other drum's stroke near), within ±``max_lag_ms``.

    Each stroke's window runs from ``before_ms`` before to ``after_ms`` after its position; of more than
    ``max_strokes`` strokes, that many spread over the session count. The reference's loudest
    channel is compared with every channel of a track, and a track's lag is its earliest channel's, as a stroke's
    position in a multichannel track is its first arrival. A channel counts only where its correlation peak stands
    ``prominence`` times above the spread of the correlation at the other lags where the windows overlap, and the
    odd and the even strokes alone give the same lag (±1 sample); a track with no such channel has no lag. The
    reference's own lag is 0.

    Returns
    -------
    dict
        Track index → lag in samples.
    """
    if len(positions) < 2:
        return {reference: 0}
    positions = positions[::-(-len(positions) // max_strokes)]  # spread over the session
    before, after = round(before_ms / 1000 * rate), round(after_ms / 1000 * rate)
    max_lag = round(max_lag_ms / 1000 * rate)
    size = before + after
    nfft = 1 << int(np.ceil(np.log2(4 * size)))  # room for every lag in ±max_lag and a tail to measure the spread
    window = np.hanning(size)
    band = np.fft.rfftfreq(nfft, 1 / rate) >= low_hz

    def read(ti: int, p: int) -> np.ndarray:
        return reader.read_track(ti, p - before, p + after).astype(np.float64)

    references = [read(reference, p) for p in positions]  # at most max_strokes short windows
    loudest = int(np.argmax(sum(np.sum(x ** 2, axis=0) for x in references)))
    # per track: the phases of the cross-spectra summed over the even and over the odd strokes, per channel
    sums = {ti: np.zeros((2, len(reader.session.tracks[ti].channel_indices), nfft // 2 + 1), dtype=complex)
            for ti in tracks}
    for k, p in enumerate(positions):
        ref = np.conj(np.fft.rfft(references[k][:, loudest] * window, nfft))
        for ti in tracks:
            cross = np.fft.rfft(read(ti, p).T * window, nfft) * ref
            sums[ti][k % 2] += np.where(band, cross / np.maximum(np.abs(cross), 1e-30), 0.0)

    def peak(summed: np.ndarray) -> tuple[int, float]:
        corr = np.fft.irfft(summed, nfft)
        near = np.concatenate([corr[-max_lag:], corr[:max_lag + 1]])  # lags -max_lag … +max_lag
        best = int(np.argmax(np.abs(near)))
        spread = np.std(np.concatenate([corr[max_lag + 1:size], corr[-size + 1:-max_lag]]))  # the windows overlap
        return best - max_lag, abs(near[best]) / max(spread, 1e-30)

    lags: dict[int, int] = {}
    for ti, halves in sums.items():
        found = []
        for channel in range(halves.shape[1]):
            lag, strength = peak(halves[0, channel] + halves[1, channel])
            # two sounds that merely happen together agree on no lag from one half of the strokes to the other
            if strength >= prominence and all(abs(peak(half[channel])[0] - lag) <= 1 for half in halves):
                found.append(lag)
        if found:
            lags[ti] = min(found)
    lags[reference] = 0
    return lags
