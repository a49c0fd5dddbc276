"""Classic hit detection on all mics together: energy-rise onsets per mic, bleed removed across mics, each hit placed
on the first sample of its attack in the close mic that owns it.

1. One streaming pass per source computes each mic's peak slope (first difference) in 0.5 ms frames.
2. Per mic, an onset is where the peak level of the next 1 ms rises by ``rise_db`` over the highest peak of the
   12 ms before: a peak hold that spans half a period of a 40 Hz kick, so low notes do not retrigger at their
   zero crossings. The rises are found as the blocks pass (:class:`OnsetScan`): memory does not grow with the
   session's length.
3. Each onset is refined on the waveform to the first sample that stands out of what came before it.
4. Close mics of the same drum (snare top and bottom, kick in and out) share their onsets: the earliest owns the hit.
5. An onset in one close mic is bleed, and dropped, when another mic (close or overhead) has an onset at most
   ``bleed_window_ms`` before it that is ``bleed_margin_db`` louder (real close-mic bleed is 20-50 dB down, a ghost
   note under the hats only 5-10 dB), or whose attack it copies (their slopes correlate, in either polarity).
6. Overheads add only the hits no close mic has (a ride or crash line); rooms and unknown mics never place hits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from aligner.loudness import LoudnessMeter
from aligner.roles import CLOSE_ROLES, places_hits
from aligner.threads import locked, map_in_threads
from session_io.audio import BLOCK_FRAMES, SessionReader, SourceReader
from session_io.session import Session

__all__ = ["Hit", "DetectorSettings", "detect_hits", "hits_from_scans", "hits_and_bleed_onsets", "scan_mics",
           "slope_peaks", "level_rise", "OnsetScan", "attack_starts", "refine_attack", "mono_slope",
           "sliding_correlation"]


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
        Peak of the attack relative to the owning mic's loudest hit (0-1]. The neural detector reads a kick, snare
        or hat placed in more than one mic in the mic that places most of them, so its strokes compare.
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


def whole_frames(audio: np.ndarray, hop: int) -> np.ndarray:
    """``audio`` (samples, channels) padded to whole ``hop``-sample frames by holding its last sample. Zeros would
    make a mic that is still ringing where the session ends step to silence, an attack to :func:`slope_peaks` (on
    the real-kit validation takes, a tom the classic detector heard in the last frame of an unplayed tom's mic)."""
    pad = (-len(audio)) % hop
    return np.concatenate([audio, np.repeat(audio[-1:], pad, axis=0)]) if pad and len(audio) else audio


#: Frames per read in the detection pass: the per-block work is dozens of numpy calls, and Python's lock is held
#: between them; with blocks 4x the rendering's, two sources' threads ran side by side 0.25 s sooner on the 3-minute
#: bench session (1.2-1.4 -> 0.9-1.1 s), for 1 MB a mono source.
STREAM_FRAMES = 4 * BLOCK_FRAMES


def _stream_mics(session: Session, hop: int, feeders: dict[int, Callable[[np.ndarray, np.ndarray], None]],
                 progress=None, loudness: dict[str, float | None] | None = None) -> None:
    """Stream every source once (sources in parallel, each on one thread) and call ``feeders[track]`` with each
    block's frame peaks of that mic (:func:`slope_peaks`, max over its channels) and the block's samples of the mic
    (float32). Where the session's timeline runs on after a file, the file's last sample is held there, and the last
    block is padded to whole frames by :func:`whole_frames`: a mic still ringing where its file or the session stops
    does not step to silence, which would be an attack. Tracks without a feeder are not analysed. When ``loudness``
    is given, each input file's integrated loudness (LUFS, for the report) is measured on the same reads and stored
    in it by file name."""
    block = (STREAM_FRAMES // hop) * hop
    progress = locked(progress)

    def one_source(si: int) -> None:
        tracks = [(ti, t) for ti, t in enumerate(session.tracks) if t.source_index == si and ti in feeders]
        previous: dict[int, np.ndarray] = {}
        source = session.sources[si]
        meter = LoudnessMeter(session.sample_rate_hz, source.channels, source.frames) if loudness is not None else None
        if not tracks and meter is None:
            return
        with SourceReader(source, np.float32) as reader:
            last = reader.read(source.end_samples - 1, source.end_samples)
            for start in range(0, session.length_samples, block):
                stop = min(start + block, session.length_samples)
                data = reader.read(start, stop)
                own = slice(min(max(source.offset_samples - start, 0), stop - start),
                            min(max(source.end_samples - start, 0), stop - start))  # the file's own samples
                if meter is not None:
                    meter.add(data[own])
                if source.frames:
                    data[own.stop:] = last
                data = whole_frames(data, hop)
                for ti, t in tracks:
                    mic = data[:, list(t.channel_indices)]
                    edge = previous.get(ti, mic[:1])
                    previous[ti] = mic[-1:]
                    feeders[ti](slope_peaks(mic, hop, edge).max(axis=1), mic)
                if progress is not None:
                    progress(stop - start)
        if meter is not None:
            loudness[source.path.name] = meter.value()

    map_in_threads(one_source, range(len(session.sources)))


def scan_mics(session: Session, hop: int, scans: dict[int, "OnsetScan"], progress=None,
              loudness: dict[str, float | None] | None = None) -> None:
    """Feed each mic's :class:`OnsetScan` (by track, all at ``hop`` samples a frame; mics without one are not
    analysed) in one streaming pass of every source. When ``loudness`` is given, each input file's integrated
    loudness (LUFS) is measured on the same reads and stored in it by file name."""
    _stream_mics(session, hop, {ti: scan.feed for ti, scan in scans.items()}, progress, loudness)


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


#: The noise floor is a percentile of a mic's frame levels, counted in bins of this many dB from ``_LEVEL_FLOOR_DB``.
_LEVEL_BIN_DB = 0.01
_LEVEL_FLOOR_DB = -250.0
_LEVEL_BINS = 30000


class OnsetScan:
    """One mic's onsets, found while its frame peaks stream past block by block (:func:`_stream_mics`).

    An onset is the first frame of a rise (:func:`level_rise`) of at least ``rise_db``, at a level within
    ``range_db`` of the mic's loudest frame and ``floor_above_noise_db`` over its noise floor (the 10th percentile of
    its frame levels, to 0.01 dB); rises closer than ``min_gap_ms`` are one onset. The scan keeps a histogram of
    levels and the frames that rise (a few a second), not the envelope: memory does not grow with the session's
    length. Fed the mic's samples too, it measures each rise's attack on them as it passes (:func:`refine_attack`'s
    rule), so that no window has to be read back.
    """

    def __init__(self, hop: int, rate: int, settings: DetectorSettings):
        self.hop, self.settings = hop, settings
        self.hold = settings.frames(rate)[1]
        self.min_gap = max(1, round(settings.min_gap_ms / 1000 * rate / hop))
        self.before = round(settings.refine_before_ms / 1000 * rate)
        self.after = round(settings.refine_after_ms / 1000 * rate)
        self._frames = 0  # frames fed
        self._tail = np.zeros(0, dtype=np.float32)  # levels of the last hold + 2 frames: the next rises' past
        self._histogram = np.zeros(_LEVEL_BINS, dtype=np.int64)
        self._loudest = np.float32(-np.inf)
        self._rising: list[tuple[np.ndarray, np.ndarray]] = []  # (frames, levels) of rises
        self._with_audio: bool | None = None
        self._mag = np.zeros(self.before, dtype=np.float32)  # |samples| of the mic from sample _mag_start on
        self._mag_start = -self.before  # the timeline is silent before the session starts
        self._waiting = np.zeros(0, dtype=np.int64)  # rising frames whose attack window is not all here yet
        self._attacks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (frames, positions, peaks)
        self._finished = False

    def feed(self, peaks: np.ndarray, audio: np.ndarray | None = None) -> None:
        """Add the next frames' peaks (float32) and, optionally, the mic's samples under them (len(peaks) * hop,
        channels), float32."""
        if self._finished:
            raise ValueError("the scan has given its onsets: nothing more can be fed")
        if self._with_audio is None:
            self._with_audio = audio is not None
        elif self._with_audio != (audio is not None):
            raise ValueError("feed every block of a scan with its samples, or none")
        db = 20 * np.log10(peaks + np.float32(1e-12))  # float32 throughout
        if len(db):
            bins = np.clip(((db.astype(np.float64) - _LEVEL_FLOOR_DB) / _LEVEL_BIN_DB).astype(np.int64), 0,
                           _LEVEL_BINS - 1)
            self._histogram += np.bincount(bins, minlength=_LEVEL_BINS)
            self._loudest = max(self._loudest, db.max())
        levels = np.concatenate([self._tail, db])
        first = self._frames - len(self._tail)  # frame number of levels[0]
        self._frames += len(db)
        # every frame but the newest has its next frame now; the newest waits for the next block (or finish)
        self._rises(levels, first, len(levels) - 1)
        self._tail = levels[-(self.hold + 2):]
        if audio is not None:
            self._measure(np.abs(audio).max(axis=1), final=False)

    def _rises(self, levels: np.ndarray, first: int, end: int) -> None:
        """Note which of ``levels[start:end]`` rise, within reach of the gate: ``levels`` is the kept tail then the new
        frames (``first`` is the frame number of ``levels[0]``), and ``start`` the tail's newest frame, which had no
        next frame when it came."""
        start = max(len(self._tail) - 1, 0)
        if end <= start:
            return
        s = self.settings
        rise = level_rise(levels, self.hold)[start:end]
        # the gate is at least range_db under the loudest frame; what is already below that never passes it
        at = start + np.flatnonzero((rise >= s.rise_db) & (levels[start:end] >= self._loudest - s.range_db))
        if len(at):
            self._rising.append((first + at, levels[at]))
            if self._with_audio:
                self._waiting = np.concatenate([self._waiting, first + at])

    def _measure(self, mag: np.ndarray, final: bool) -> None:
        """Measure the attacks whose windows are complete with ``mag`` (|samples|, max over the mic's channels)
        appended; with ``final``, the silence after the session completes the rest."""
        self._mag = np.concatenate([self._mag, mag, np.zeros(self.after if final else 0, dtype=np.float32)])
        end = self._mag_start + len(self._mag)
        approx = self._waiting * self.hop
        ready = approx + self.after <= end
        if ready.any():
            where = approx[ready] - self.before - self._mag_start
            windows = self._mag[where[:, None] + np.arange(self.before + self.after)]
            offsets, peaks = attack_starts(windows, self.before // 2, self.settings.attack_fraction)
            positions = np.where(offsets >= 0, approx[ready] - self.before + self.before // 2 + offsets, approx[ready])
            self._attacks.append((self._waiting[ready], positions, peaks))
            self._waiting = self._waiting[~ready]
        # keep what the waiting rises and the next block's rises (from the newest frame on) will need
        keep_from = (self._frames - 1) * self.hop - self.before
        if len(self._waiting):
            keep_from = min(keep_from, int(self._waiting[0]) * self.hop - self.before)
        drop = max(keep_from - self._mag_start, 0)
        self._mag = self._mag[drop:]
        self._mag_start += drop

    def _finish(self) -> tuple[np.ndarray, np.ndarray]:
        """All rising frames and their levels, the newest frame looked at with no frame after it."""
        if len(self._tail) and not self._finished:
            self._finished = True
            self._rises(self._tail, self._frames - len(self._tail), len(self._tail))
            if self._with_audio:
                self._measure(np.zeros(0, dtype=np.float32), final=True)
        if not self._rising:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate([f for f, _ in self._rising]), np.concatenate([v for _, v in self._rising])

    def onsets(self) -> np.ndarray:
        """Frames (int64, ascending) where the mic's onsets start."""
        frames, levels = self._finish()
        s = self.settings
        if self._frames < self.hold + 4 or not len(frames):
            return np.zeros(0, dtype=np.int64)
        gate = max(self._noise_floor() + np.float32(s.floor_above_noise_db), self._loudest - np.float32(s.range_db))
        candidates = frames[levels >= gate]
        if not len(candidates):
            return candidates
        starts = np.concatenate([[0], np.flatnonzero(np.diff(candidates) > self.min_gap) + 1])
        return candidates[starts]

    def attacks(self) -> list[tuple[int, float]]:
        """Per onset, its attack measured on the fed samples: (first sample of the attack, peak amplitude)."""
        onsets = self.onsets()
        if not self._with_audio:
            raise ValueError("attacks() needs the mic's samples fed with the peaks")
        frames, positions, peaks = (np.concatenate(parts) for parts in zip(*self._attacks)) if self._attacks else \
            (np.zeros(0, dtype=np.int64),) * 3
        at = np.searchsorted(frames, onsets)
        return [(int(positions[k]), float(peaks[k])) for k in at]

    def _noise_floor(self) -> np.float32:
        """The 10th percentile of the frame levels (dB), interpolated between order statistics as numpy's
        percentile does, each taken at its 0.01 dB bin's centre."""
        counts = np.cumsum(self._histogram)
        rank = 0.1 * (self._frames - 1)
        below = int(rank)
        lo, hi = np.searchsorted(counts, [below + 1, min(below + 2, self._frames)])
        centre = lambda b: _LEVEL_FLOOR_DB + (b + 0.5) * _LEVEL_BIN_DB  # noqa: E731
        return np.float32(centre(lo) + (rank - below) * (centre(hi) - centre(lo)))


def attack_starts(mag: np.ndarray, pre_end: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each window's attack starts, for windows of sample magnitudes (windows, samples) whose first
    ``pre_end`` samples come before the attack: the first sample after them above both twice their peak and
    ``fraction`` of the attack's peak. Returns (offsets from ``pre_end``, -1 where none; the attacks' peaks)."""
    background = mag[:, :pre_end].max(axis=1) if pre_end else np.zeros(len(mag), dtype=mag.dtype)
    peak = mag[:, pre_end:].max(axis=1) if mag.shape[1] > pre_end else np.zeros(len(mag), dtype=mag.dtype)
    threshold = np.maximum(np.maximum(2.0 * background.astype(np.float64), fraction * peak.astype(np.float64)), 1e-9)
    above = mag[:, pre_end:] > threshold.astype(mag.dtype)[:, None]
    first = np.argmax(above, axis=1) if above.shape[1] else np.zeros(len(mag), dtype=np.int64)
    return np.where(above.any(axis=1), first, -1), peak


def refine_attack(reader: SessionReader, track: int, approx: int, rate: int, s: DetectorSettings) -> tuple[int, float]:
    """First sample (session samples) of the attack near ``approx`` in mic ``track``, and the attack's peak amplitude
    (full scale = 1): the first sample above both twice the level just before and ``attack_fraction`` of the peak."""
    before = round(s.refine_before_ms / 1000 * rate)
    after = round(s.refine_after_ms / 1000 * rate)
    start = approx - before
    mag = np.max(np.abs(reader.read_track(track, start, approx + after)), axis=1)
    offsets, peaks = attack_starts(mag[None], before // 2, s.attack_fraction)
    position = start + before // 2 + int(offsets[0]) if offsets[0] >= 0 else approx
    return position, float(peaks[0])


def mono_slope(reader: SessionReader, track: int, start: int, stop: int) -> np.ndarray:
    """First difference of mic ``track``'s samples ``start`` to ``stop`` (session samples) summed over its channels:
    the attack's content, not the decays under it (float32, ``stop - start`` samples)."""
    return np.diff(reader.read_track(track, start - 1, stop).sum(axis=1))


def sliding_correlation(x: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised correlation (-1 to 1) of ``template`` with each window of ``x`` as long as it: element ``k`` for
    ``x[k:k + len(template)]`` (``len(x) - len(template) + 1`` of them; 0 where either is silent)."""
    products = np.correlate(x, template, mode="valid")
    energy = np.convolve(x * x, np.ones(len(template)), mode="valid")
    return products / (np.sqrt(energy * float(template @ template)) + 1e-20)


def _is_copy(reader: SessionReader, a: _Onset, b: _Onset, rate: int, s: DetectorSettings) -> bool:
    """Is ``a``'s attack ``b``'s attack arriving later (bleed)?

    The attacks' slopes are cross-correlated over lags of ±``bleed_lag_ms`` around the detected delay; ``a`` is bleed
    when they match (either polarity) and the best lag puts ``b`` first. Onset times of weak bleed are imprecise, so
    the order comes from the correlation, not from them.
    """
    n = round(0.004 * rate)
    slack = round(s.bleed_lag_ms / 1000 * rate)
    wa = mono_slope(reader, a.track, a.position - slack // 2, a.position - slack // 2 + n)
    b_start = b.position - slack // 2 - slack
    wb = mono_slope(reader, b.track, b_start, b_start + n + 2 * slack)
    if not wa.any() or not wb.any():
        return False
    score = np.abs(sliding_correlation(wb, wa))  # score[k]: a's window against b's from b_start + k
    best = int(np.argmax(score))
    b_time_matching_a = b_start + best + slack // 2  # where in b the sound that a hears at a.position sits
    return float(score[best]) >= s.bleed_correlation and b_time_matching_a <= a.position


#: Roles whose mics are on different drums (rack and floor toms): a stroke heard in one of them alone, just after
#: one heard first in another, is a stroke of its own drum, not the first drum's resonance.
_SEVERAL_DRUMS = ("tom",)


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
            if (primary not in tracks and last_primary is not None and role not in _SEVERAL_DRUMS
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
    rate = session.sample_rate_hz
    hop = settings.frames(rate)[0]
    scans = {ti: OnsetScan(hop, rate, settings) for ti, t in enumerate(session.tracks) if places_hits(t.role)}
    scan_mics(session, hop, scans, progress, loudness)
    return hits_from_scans(session, scans, settings)


def hits_from_scans(session: Session, scans: dict[int, OnsetScan],
                    settings: DetectorSettings = DetectorSettings()) -> list[Hit]:
    """:func:`detect_hits` after its streaming pass: ``scans`` are each mic's :class:`OnsetScan` (by track, fed with
    the mic's samples; the neural detector feeds them in its envelope pass). Mics that never place hits (rooms,
    unknown) are left out whether scanned or not. Returns the hits sorted by position."""
    return _classic_pass(session, scans, settings, with_bleed_onsets=False)[0]


def hits_and_bleed_onsets(session: Session, scans: dict[int, OnsetScan], settings: DetectorSettings = DetectorSettings()
                          ) -> tuple[list[Hit], dict[int, np.ndarray]]:
    """:func:`hits_from_scans`, and per close mic (by track) the frames of its onsets (:meth:`OnsetScan.onsets`) that
    the same bleed test gives to another drum (a hat's attack arriving in the kick mic, say), from one pass: each
    onset is bleed-tested once."""
    return _classic_pass(session, scans, settings, with_bleed_onsets=True)


def _strokes_heard(session: Session, attacks: dict[int, list[tuple[int, float]]],
                   settings: DetectorSettings) -> tuple[list[_Onset], list[_Onset]]:
    """Each mic's onsets ((attack's first sample, peak) per onset, by track) with their strengths, the close mics'
    above ``min_strength``, merged per drum: (close, distant)."""
    window = round(settings.same_drum_window_ms / 1000 * session.sample_rate_hz)
    close: list[_Onset] = []
    distant: list[_Onset] = []
    for ti, found in attacks.items():
        role = session.tracks[ti].role
        onsets = [_Onset(ti, role, position, peak) for position, peak in found]
        loudest = max((o.peak for o in onsets), default=0.0)
        for o in onsets:
            o.strength = o.peak / loudest if loudest > 0 else 0.0
        if role in CLOSE_ROLES:
            onsets = [o for o in onsets if o.strength >= settings.min_strength]
        (close if role in CLOSE_ROLES else distant).extend(onsets)
    return _merge_same_drum(close, window), _merge_same_drum(distant, window)


class _BleedTest:
    """The classic detector's bleed test against the strokes every mic hears (a cymbal can be nearer an overhead than
    any close mic: overhead onsets are rivals too). Each onset's verdict is kept: a stroke's merged onset is its
    mic's own onset too."""

    def __init__(self, reader: SessionReader, heard: list[_Onset], settings: DetectorSettings):
        self.reader, self.settings = reader, settings
        self.rate = reader.session.sample_rate_hz
        self.everyone = sorted(heard, key=lambda o: o.position)
        self.positions = np.array([o.position for o in self.everyone], dtype=np.int64)
        self.verdicts: dict[tuple[int, int], bool] = {}

    def __call__(self, a: _Onset) -> bool:
        """Is ``a`` another drum's bleed: an onset of another drum's mic up to ``bleed_window_ms`` before it (or 1 ms
        after) that is ``bleed_margin_db`` louder, or whose attack ``a``'s copies?"""
        key = (a.track, a.position)
        if key not in self.verdicts:
            s, rate = self.settings, self.rate
            lo, hi = np.searchsorted(self.positions, [a.position - round(s.bleed_window_ms / 1000 * rate),
                                                      a.position + round(rate / 1000)])
            rivals = [b for b in self.everyone[lo:hi] if b.role != a.role]
            louder = a.peak * 10 ** (s.bleed_margin_db / 20)
            self.verdicts[key] = any(b.peak >= louder or _is_copy(self.reader, a, b, rate, s) for b in rivals)
        return self.verdicts[key]


def _classic_pass(session: Session, scans: dict[int, OnsetScan], settings: DetectorSettings,
                  with_bleed_onsets: bool) -> tuple[list[Hit], dict[int, np.ndarray]]:
    """The hits from each mic's onsets: strengths, same-drum merging, the bleed test and the overheads' own hits
    (sorted by position); with ``with_bleed_onsets``, also each close mic's onset frames that the bleed test gives
    to another drum (else an empty dict)."""
    rate = session.sample_rate_hz
    ms = lambda v: round(v / 1000 * rate)  # noqa: E731
    attacks = {ti: scan.attacks() for ti, scan in sorted(scans.items()) if places_hits(session.tracks[ti].role)}
    close, distant = _strokes_heard(session, attacks, settings)
    bleed: dict[int, np.ndarray] = {}
    with SessionReader(session) as reader:
        is_bleed = _BleedTest(reader, close + distant, settings)
        kept = [a for a in close if not is_bleed(a)]

        hits = [Hit(o.position, o.role, o.track, round(o.strength, 6), round(o.peak, 6)) for o in kept]
        kept_positions = np.array(sorted(o.position for o in kept), dtype=np.int64)
        for o in distant:
            lo = np.searchsorted(kept_positions, o.position - ms(settings.overhead_explained_ms))
            hi = np.searchsorted(kept_positions, o.position + ms(2.0))
            if hi > lo or o.strength < settings.overhead_min_strength:
                continue
            hits.append(Hit(o.position, "cymbal", o.track, round(o.strength, 6), round(o.peak, 6)))
        if with_bleed_onsets:
            for ti, found in attacks.items():
                role = session.tracks[ti].role
                if role in CLOSE_ROLES:
                    bleed[ti] = np.array([f for f, (position, peak) in zip(scans[ti].onsets(), found)
                                          if is_bleed(_Onset(ti, role, position, peak))], dtype=np.int64)
    return sorted(hits, key=lambda h: (h.position, h.track)), bleed
