"""Classic hit detection on all mics together: energy-rise onsets per mic, bleed removed across mics, each hit placed
on the first sample of its attack in the close mic that owns it.

1. One streaming pass per source computes each mic's peak slope (first difference) in 0.5 ms frames (memory: one float per frame).
2. Per mic, an onset is where the peak level of the next 1 ms rises by ``rise_db`` over the highest peak of the
   12 ms before: a peak hold that spans half a period of a 40 Hz kick, so low notes do not retrigger at their
   zero crossings.
3. Each onset is refined on the waveform to the first sample that stands out of what came before it.
4. Close mics of the same drum (snare top and bottom, kick in and out) share their onsets: the earliest owns the hit.
5. An onset in one close mic is bleed, and dropped, when another mic (close or overhead) has an onset at most
   ``bleed_window_ms`` before it that is ``bleed_margin_db`` louder (real close-mic bleed is 20-50 dB down, a ghost
   note under the hats only 5-10 dB), or whose attack it copies (their slopes correlate, in either polarity).
6. Overheads add only the hits no close mic has (a ride or crash line); rooms and unknown mics never place hits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aligner.loudness import LoudnessMeter
from aligner.roles import CLOSE_ROLES
from aligner.threads import locked, map_in_threads
from session_io.audio import BLOCK_FRAMES, SessionReader, SourceReader
from session_io.session import Session

__all__ = ["Hit", "DetectorSettings", "detect_hits", "hits_from_envelopes", "mic_envelopes", "slope_peaks",
           "level_rise", "frame_onsets", "refine_attack"]


@dataclass(frozen=True)
class Hit:
    """One detected stroke.

    Attributes
    ----------
    position : int
        Session sample of the attack's first sample in the owning mic.
    drum : str
        The owning mic's role (``kick``, ``snare``, ``tom``, ``hihat``, ``ride``, ``crash``), or ``cymbal`` for a hit
        heard only in the overheads.
    track : int
        Index of the owning mic in ``session.tracks``.
    strength : float
        Peak of the attack relative to the owning mic's loudest hit (0-1].
    peak : float
        Peak amplitude of the attack in the owning mic (full scale = 1).
    line_shift : int
        The detector's choice of grid line relative to the stroke's nearest 16th line (-1, 0, +1); the neural
        detector sets it for strokes played more than half a step off, the classic detector leaves it 0.
    line_confidence : float or None
        The neural model's probability (0-1) for that choice; None from the classic detector, whose events are
        judged by their distance to the line instead.
    """

    position: int
    drum: str
    track: int
    strength: float
    peak: float
    line_shift: int = 0
    line_confidence: float | None = None


@dataclass(frozen=True)
class DetectorSettings:
    """Tuning of the classic detector; times in ms, levels in dB."""

    frame_ms: float = 0.5
    rise_db: float = 9.0
    hold_ms: float = 12.0
    min_gap_ms: float = 2.5  # frames of one rise; a second stroke 3 ms later is its own onset
    floor_above_noise_db: float = 12.0
    range_db: float = 45.0  # onsets more than this below the mic's loudest are ignored
    refine_before_ms: float = 3.0
    refine_after_ms: float = 4.0
    attack_fraction: float = 0.2  # the attack starts where the mic first exceeds this share of the attack's peak
    same_drum_window_ms: float = 10.0  # mics on one drum (in, out, trigger) hear one stroke within this
    bleed_window_ms: float = 8.0
    bleed_margin_db: float = 15.0  # an onset this much quieter than one in another mic just before it is bleed
    bleed_correlation: float = 0.6
    bleed_lag_ms: float = 2.5
    min_strength: float = 0.04  # close-mic onsets below this share of the mic's loudest hit are bleed or noise
    overhead_explained_ms: float = 20.0
    overhead_min_strength: float = 0.15

    def frames(self, rate: int) -> tuple[int, int]:
        """The envelope's frame length (samples) and the level-rise hold window (frames) at ``rate``."""
        hop = max(1, round(self.frame_ms / 1000 * rate))
        return hop, max(2, round(self.hold_ms / 1000 * rate / hop))


def slope_peaks(audio: np.ndarray, hop: int, before: np.ndarray | None = None) -> np.ndarray:
    """Peak magnitude of the first difference (attacks are broadband, the decays under them mostly low) per
    ``hop``-sample frame and channel of ``audio`` (samples, channels): (len(audio) // hop, channels). ``before`` is
    the sample just before ``audio`` (its first sample if not given, a zero slope)."""
    slope = np.abs(np.diff(audio, axis=0, prepend=audio[:1] if before is None else before))
    frames = len(slope) // hop
    return slope[:frames * hop].reshape(frames, hop, -1).max(axis=1)


def mic_envelopes(session: Session, hop: int, progress=None,
                  loudness: dict[str, float | None] | None = None) -> list[np.ndarray]:
    """Peak magnitude of the first difference per ``hop``-sample frame of every mic (max over its channels).

    Streams each source once (sources in parallel); returns one float32 array per track (8 KB per second of audio
    at 0.5 ms frames). When ``loudness`` is given, each input file's integrated loudness (LUFS, for the report) is
    measured on the same reads and stored in it by file name.
    """
    block = (BLOCK_FRAMES // hop) * hop
    progress = locked(progress)

    def one_source(si: int) -> dict[int, np.ndarray]:
        tracks = [(ti, t) for ti, t in enumerate(session.tracks) if t.source_index == si]
        parts: dict[int, list[np.ndarray]] = {ti: [] for ti, _ in tracks}
        previous: dict[int, np.ndarray] = {}
        source = session.sources[si]
        meter = LoudnessMeter(session.sample_rate_hz, source.channels, source.frames) if loudness is not None else None
        with SourceReader(source, np.float32) as reader:
            for start in range(0, session.length_samples, block):
                stop = min(start + block, session.length_samples)
                data = reader.read(start, stop)
                if meter is not None:  # the file's own samples, without the timeline's padding
                    meter.add(data[max(source.offset_samples - start, 0):
                                   max(min(source.end_samples - start, stop - start), 0)])
                pad = (-len(data)) % hop
                if pad:
                    data = np.concatenate([data, np.zeros((pad, data.shape[1]), dtype=data.dtype)])
                for ti, t in tracks:
                    mic = data[:, list(t.channel_indices)]
                    edge = previous.get(ti, mic[:1])
                    previous[ti] = mic[-1:]
                    parts[ti].append(slope_peaks(mic, hop, edge).max(axis=1))
                if progress is not None:
                    progress(stop - start)
        if meter is not None:
            loudness[source.path.name] = meter.value()
        return {ti: np.concatenate(p) for ti, p in parts.items()}

    envelopes: dict[int, np.ndarray] = {}
    for result in map_in_threads(one_source, range(len(session.sources))):
        envelopes.update(result)
    return [envelopes.get(ti, np.zeros(0, dtype=np.float32)) for ti in range(len(session.tracks))]


@dataclass
class _Onset:
    track: int
    role: str
    position: int
    peak: float
    strength: float = 0.0


def _running_max(x: np.ndarray, width: int) -> np.ndarray:
    """out[j] = max(x[j - width + 1 .. j]) (shorter at the start), in O(n log width)."""
    out = x.copy()
    span = 1
    while span < width:
        step = min(span, width - span)
        out[step:] = np.maximum(out[step:], out[:-step])
        span += step
    return out


def level_rise(db: np.ndarray, hold: int) -> np.ndarray:
    """Per frame, how far (dB) the level of that frame and the next rises over the highest level of the ``hold``
    frames that end two frames before it; -inf for the first two frames, which have no such past."""
    ahead = np.maximum(db, np.concatenate([db[1:], db[-1:]]))  # the next 1 ms
    held = _running_max(db, hold)  # held[j] = max of frames j-hold+1 .. j
    past = np.full_like(db, np.inf)
    past[2:] = held[:-2]  # frames 1 to about 12 ms before
    return ahead - past


def frame_onsets(peaks: np.ndarray, hop: int, rate: int, s: DetectorSettings) -> list[int]:
    """The first frame of the rise of every onset of one mic's frame peaks (its level is measured on the waveform
    by :func:`refine_attack`)."""
    hold = s.frames(rate)[1]
    if len(peaks) < hold + 4:
        return []
    db = 20 * np.log10(peaks + np.float32(1e-12))  # float32 throughout: memory is a few bytes per ms of audio
    noise_db = np.percentile(db, 10)
    gate = max(noise_db + s.floor_above_noise_db, db.max() - s.range_db)
    rise = level_rise(db, hold)
    candidates = np.flatnonzero((rise >= s.rise_db) & (db >= gate))
    if len(candidates) == 0:
        return []
    min_gap = max(1, round(s.min_gap_ms / 1000 * rate / hop))
    starts = np.concatenate([[0], np.flatnonzero(np.diff(candidates) > min_gap) + 1])
    return [int(first) for first in candidates[starts]]


def refine_attack(reader: SessionReader, track: int, approx: int, rate: int, s: DetectorSettings) -> tuple[int, float]:
    """First sample (session samples) of the attack near ``approx`` in mic ``track``, and the attack's peak amplitude
    (full scale = 1): the first sample above both twice the level just before and ``attack_fraction`` of the peak."""
    before = round(s.refine_before_ms / 1000 * rate)
    after = round(s.refine_after_ms / 1000 * rate)
    start = approx - before
    mag = np.max(np.abs(reader.read_track(track, start, approx + after)), axis=1)
    pre_end = before // 2
    background = float(mag[:pre_end].max()) if pre_end else 0.0
    peak = float(mag[pre_end:].max()) if len(mag) > pre_end else 0.0
    threshold = max(2.0 * background, s.attack_fraction * peak, 1e-9)
    above = np.flatnonzero(mag[pre_end:] > threshold)
    position = start + pre_end + int(above[0]) if len(above) else approx
    return position, peak


def _mono_slope(reader: SessionReader, track: int, start: int, stop: int) -> np.ndarray:
    """First difference of a mic summed over its channels: the attack's content, not the decays under it."""
    return np.diff(reader.read_track(track, start - 1, stop).sum(axis=1))


def _is_copy(reader: SessionReader, a: _Onset, b: _Onset, rate: int, s: DetectorSettings) -> bool:
    """Is ``a``'s attack ``b``'s attack arriving later (bleed)?

    The attacks' slopes are cross-correlated over lags of ±``bleed_lag_ms`` around the detected delay; ``a`` is bleed when they
    match (either polarity) and the best lag puts ``b`` first. Onset times of weak bleed are imprecise, so the order
    comes from the correlation, not from them.
    """
    n = round(0.004 * rate)
    slack = round(s.bleed_lag_ms / 1000 * rate)
    wa = _mono_slope(reader, a.track, a.position - slack // 2, a.position - slack // 2 + n)
    b_start = b.position - slack // 2 - slack
    wb = _mono_slope(reader, b.track, b_start, b_start + n + 2 * slack)
    if not wa.any() or not wb.any():
        return False
    corr = np.correlate(wb, wa, mode="valid")  # corr[k]: a's window against b's from b_start + k
    energy_b = np.convolve(wb ** 2, np.ones(n), mode="valid")
    score = np.abs(corr) / (np.sqrt(energy_b * float(wa @ wa)) + 1e-20)
    best = int(np.argmax(score))
    b_time_matching_a = b_start + best + slack // 2  # where in b the sound that a hears at a.position sits
    return float(score[best]) >= s.bleed_correlation and b_time_matching_a <= a.position


def _merge_same_drum(onsets: list[_Onset], window: int) -> list[_Onset]:
    """Onsets of one drum's mics within ``window`` samples are one stroke, owned by the earliest.

    A group takes each mic once, so two strokes of a flam stay two. A group heard only in the drum's secondary mics
    (not in the mic that hears the drum first) right after a stroke is that stroke's resonance — a snare bottom
    mic's wires answering 10 ms later — and is dropped.
    """
    merged: list[_Onset] = []
    for role in sorted({o.role for o in onsets}):
        groups: list[tuple[_Onset, set[int]]] = []
        for o in sorted((o for o in onsets if o.role == role), key=lambda o: o.position):
            if groups and o.position - groups[-1][0].position <= window and o.track not in groups[-1][1]:
                groups[-1][0].strength = max(groups[-1][0].strength, o.strength)
                groups[-1][0].peak = max(groups[-1][0].peak, o.peak)
                groups[-1][1].add(o.track)
            else:
                groups.append((o, {o.track}))
        # the primary mic is the one that hears the drum first where several hear it
        firsts = [g[0].track for g in groups if len(g[1]) > 1] or [g[0].track for g in groups]
        primary = max(set(firsts), key=lambda t: (firsts.count(t), -t)) if firsts else None
        last_primary: _Onset | None = None
        for head, tracks in groups:
            if (primary not in tracks and last_primary is not None
                    and head.position - last_primary.position <= 2 * window):
                continue
            if primary in tracks:
                last_primary = head
            merged.append(head)
    return sorted(merged, key=lambda o: o.position)


def detect_hits(session: Session, settings: DetectorSettings = DetectorSettings(), progress=None,
                loudness: dict[str, float | None] | None = None) -> list[Hit]:
    """Find every stroke of a session, looking at all mics together.

    Parameters
    ----------
    session : Session
        With roles assigned (:func:`aligner.roles.assign_roles`).
    settings : DetectorSettings
    progress : callable, optional
        Called with frames read during the streaming pass.
    loudness : dict, optional
        Filled with each input file's integrated loudness (LUFS) measured in the streaming pass.

    Returns
    -------
    list of Hit
        Sorted by position.
    """
    envelopes = mic_envelopes(session, settings.frames(session.sample_rate_hz)[0], progress, loudness)
    return hits_from_envelopes(session, envelopes, settings)


def hits_from_envelopes(session: Session, envelopes: list[np.ndarray],
                        settings: DetectorSettings = DetectorSettings()) -> list[Hit]:
    """:func:`detect_hits` after its streaming pass: ``envelopes`` are :func:`mic_envelopes` at ``settings``' hop
    (the neural detector makes them too). Returns the hits sorted by position."""
    rate = session.sample_rate_hz
    hop = settings.frames(rate)[0]
    ms = lambda v: round(v / 1000 * rate)  # noqa: E731
    close: list[_Onset] = []
    distant: list[_Onset] = []
    with SessionReader(session) as reader:
        for ti, track in enumerate(session.tracks):
            if track.role not in CLOSE_ROLES and track.role != "overhead":
                continue
            onsets = []
            for frame in frame_onsets(envelopes[ti], hop, rate, settings):
                position, peak = refine_attack(reader, ti, frame * hop, rate, settings)
                onsets.append(_Onset(ti, track.role, position, peak))
            loudest = max((o.peak for o in onsets), default=0.0)
            for o in onsets:
                o.strength = o.peak / loudest if loudest > 0 else 0.0
            if track.role in CLOSE_ROLES:
                onsets = [o for o in onsets if o.strength >= settings.min_strength]
            (close if track.role in CLOSE_ROLES else distant).extend(onsets)

        close = _merge_same_drum(close, ms(settings.same_drum_window_ms))
        distant = _merge_same_drum(distant, ms(settings.same_drum_window_ms))
        # a cymbal can be nearer an overhead than any close mic: overhead onsets are rivals too
        everyone = sorted(close + distant, key=lambda o: o.position)
        positions = np.array([o.position for o in everyone], dtype=np.int64)
        kept: list[_Onset] = []
        for a in close:
            lo, hi = np.searchsorted(positions, [a.position - ms(settings.bleed_window_ms), a.position + ms(1.0)])
            rivals = [b for b in everyone[lo:hi] if b.role != a.role]
            louder = a.peak * 10 ** (settings.bleed_margin_db / 20)
            if not any(b.peak >= louder or _is_copy(reader, a, b, rate, settings) for b in rivals):
                kept.append(a)

        hits = [Hit(o.position, o.role, o.track, round(o.strength, 6), round(o.peak, 6)) for o in kept]
        kept_positions = np.array(sorted(o.position for o in kept), dtype=np.int64)
        for o in distant:
            lo = np.searchsorted(kept_positions, o.position - ms(settings.overhead_explained_ms))
            hi = np.searchsorted(kept_positions, o.position + ms(2.0))
            if hi > lo or o.strength < settings.overhead_min_strength:
                continue
            hits.append(Hit(o.position, "cymbal", o.track, round(o.strength, 6), round(o.peak, 6)))
    return sorted(hits, key=lambda h: (h.position, h.track))
