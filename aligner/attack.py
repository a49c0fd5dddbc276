"""Where an attack starts under the ring of what came before it.

:func:`aligner.detect.refine_attack` finds an attack where a mic's level first passes twice the level just before
it. After silence that is the attack's first millisecond; under a ring (a ghost note after a backbeat, floor toms in
triplets) twice the ring is reached 1-3 ms into the attack. A ring is a few decaying resonances, which a short linear
prediction fitted on it continues closely; a new stroke is what the prediction does not foresee, from its first
sample. So under a ring the same rule runs on the prediction's error instead of the level.

A stroke too faint to raise the level at all (a ghost note under the ring of a backbeat) is found by its shape
instead: the same drum sounds alike in the same mic at every stroke, so the mic's clear attacks of that drum,
averaged, are a template that the faint one matches where it starts (:func:`attack_template`,
:func:`match_template`). Matched the same way, clear strokes get their first sample taken alike too.
"""
from __future__ import annotations

import numpy as np

from aligner.detect import DetectorSettings, attack_starts, mono_slope, refine_attack, sliding_correlation
from session_io.audio import SessionReader

__all__ = ["prediction_filter", "attack_under_ring", "attack_template", "match_template"]


def prediction_filter(x: np.ndarray, order: int) -> np.ndarray:
    """The linear prediction error filter of ``x`` (1-D samples, float64): coefficients ``[1, a1 … a_order]`` such that
    ``x[n] + a1 x[n-1] + … + a_order x[n-order]`` is what a prediction from the ``order`` samples before misses, fitted
    on ``x`` under a Hann window (autocorrelation method, Levinson-Durbin recursion; numpy only, so the same on every
    machine). Silence gives ``[1, 0 … 0]``."""
    w = x * np.hanning(len(x))
    r = np.correlate(w, w, "full")[len(w) - 1:len(w) + order].copy()
    r[0] *= 1 + 1e-9  # a hair of white noise keeps the recursion stable on pure tones
    a = np.zeros(order + 1)
    a[0] = 1.0
    error = r[0]
    for i in range(1, order + 1):
        if error <= 0:
            break
        k = -(r[i] + a[1:i] @ r[i - 1:0:-1]) / error
        a[1:i + 1] += k * a[i - 1::-1][:i]
        error *= 1 - k * k
    return a


def attack_under_ring(reader: SessionReader, track: int, approx: int, rate: int, s: DetectorSettings,
                      ring_share: float, order: int, fit_ms: float) -> tuple[int, float]:
    """First sample (session samples) of the attack near ``approx`` in mic ``track``, and the attack's peak amplitude
    (full scale = 1), as :func:`aligner.detect.refine_attack` finds them; but where the level just before its search
    is more than ``ring_share`` of that peak, the start is found by the same rule on the error of an ``order``-sample
    linear prediction (:func:`prediction_filter`, each channel's own, fitted on the ``fit_ms`` up to where the search
    starts). The peak is the level's either way."""
    position, peak = refine_attack(reader, track, approx, rate, s)
    before = round(s.refine_before_ms / 1000 * rate)
    after = round(s.refine_after_ms / 1000 * rate)
    # refine_attack's window is [start, approx + after): its first ``pre`` samples are the level before the attack,
    # and its search starts after them
    start, pre = approx - before, before // 2
    fit = round(fit_ms / 1000 * rate)
    first = start + pre - fit - order  # the prediction's fit ends where the search starts
    x = reader.read_track(track, first, approx + after)
    if np.abs(x[start - first:start - first + pre]).max(initial=0.0) <= ring_share * peak:
        return position, peak
    error = np.zeros(len(x) - order)
    for channel in x.T.astype(np.float64):
        a = prediction_filter(channel[:fit + order], order)
        error = np.maximum(error, np.abs(np.convolve(channel, a, "valid")))  # error[i]: sample first + order + i
    offsets, _ = attack_starts(error[None, fit - pre:], pre, s.attack_fraction)
    return (start + pre + int(offsets[0]) if offsets[0] >= 0 else position), peak


def attack_template(reader: SessionReader, track: int, attacks: list[tuple[int, float]], rate: int,
                    before_ms: float = 1.0, after_ms: float = 3.0) -> np.ndarray:
    """What an attack looks like in mic ``track``: the mean first difference (:func:`aligner.detect.mono_slope`)
    from ``before_ms`` before to ``after_ms`` after each of ``attacks`` ((first sample, peak) in session samples and
    full scale), each scaled by its peak."""
    before, after = round(before_ms / 1000 * rate), round(after_ms / 1000 * rate)
    return np.mean([mono_slope(reader, track, at - before, at + after).astype(np.float64) / max(peak, 1e-9)
                    for at, peak in attacks], axis=0)


def match_template(reader: SessionReader, track: int, template: np.ndarray, approx: int, rate: int,
                   reach_ms: float, before_ms: float = 1.0) -> tuple[int, float]:
    """Where in mic ``track``, within ``reach_ms`` of ``approx`` (session samples), an attack starts that best
    matches ``template`` (:func:`attack_template`, made with the same ``before_ms``): the first sample and the
    normalised correlation there (-1 to 1)."""
    before, reach = round(before_ms / 1000 * rate), round(reach_ms / 1000 * rate)
    x = mono_slope(reader, track, approx - reach - before, approx + reach - before + len(template))
    corr = sliding_correlation(x.astype(np.float64), template)
    best = int(np.argmax(corr))
    return approx - reach + best, float(corr[best])
