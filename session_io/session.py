"""The session model: audio sources on one timeline and the mics they carry. No I/O here.

A *source* is one audio file (a mono mic, a stereo overhead pair, or a poly WAV holding every mic). A *track* is one
mic: a name and the channels of a source it lives in. Every source sits on the session timeline at
``offset_samples`` (from its BWF time reference, or 0); the timeline runs from sample 0 to ``length_samples``, the
end of the longest source. One edit plan is applied to the whole timeline, so every channel moves together.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["MIN_RATE_HZ", "MAX_RATE_HZ", "SUPPORTED_SUBTYPES", "AudioSource", "Track", "Session", "sample_domain",
           "quantise", "full_scale", "from_unit_scale"]

MIN_RATE_HZ = 44100
MAX_RATE_HZ = 192000

#: soundfile subtypes nbd edits → (dtype they are processed in, bits of resolution; None for floating point).
#: PCM is read as left-justified int32 so that copies outside fades are bit-exact whatever the depth.
SUPPORTED_SUBTYPES: dict[str, tuple[np.dtype, int | None]] = {
    "PCM_S8": (np.dtype(np.int32), 8),
    "PCM_U8": (np.dtype(np.int32), 8),
    "PCM_16": (np.dtype(np.int32), 16),
    "PCM_24": (np.dtype(np.int32), 24),
    "PCM_32": (np.dtype(np.int32), 32),
    "FLOAT": (np.dtype(np.float32), None),
    "DOUBLE": (np.dtype(np.float64), None),
}


def sample_domain(subtype: str) -> tuple[np.dtype, int | None]:
    """(dtype, bits) that audio of a soundfile subtype is read, edited and written in; bits is None for float."""
    return SUPPORTED_SUBTYPES[subtype]


def quantise(mix: np.ndarray, subtype: str) -> tuple[np.ndarray, int]:
    """Mixed float64 samples in a subtype's processing scale → that dtype at that resolution, without dither.

    Returns
    -------
    (samples, clipped)
        PCM is rounded half up to its bit depth and clipped at full scale (``clipped`` counts those samples);
        float keeps levels above full scale.
    """
    dtype, bits = sample_domain(subtype)
    if bits is None:
        return mix.astype(dtype), 0
    step = float(1 << (32 - bits))  # PCM is left-justified in int32
    levels = np.floor(mix / step + 0.5)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    clipped = int(np.count_nonzero((levels < lo) | (levels > hi)))
    return (np.clip(levels, lo, hi) * step).astype(dtype), clipped


def full_scale(subtype: str) -> float:
    """Full scale (±1.0) in a subtype's processing scale: 2**31 for PCM (left-justified in int32), 1.0 for float."""
    return 2147483648.0 if sample_domain(subtype)[1] is not None else 1.0


def from_unit_scale(audio: np.ndarray, subtype: str) -> np.ndarray:
    """float64 audio at full scale ±1.0 → the subtype's processing scale (int32 units for PCM)."""
    return audio * full_scale(subtype) if sample_domain(subtype)[1] is not None else audio


@dataclass(frozen=True)
class AudioSource:
    """One audio file of a session.

    Attributes
    ----------
    path : Path
    sample_rate_hz : int
    channels : int
    frames : int
        Length of the file in samples.
    container : str
        soundfile major format: ``WAV``, ``WAVEX``, ``RF64``, ``AIFF``, ``FLAC``…
    subtype : str
        soundfile subtype: ``PCM_24``, ``FLOAT``…
    offset_samples : int
        Timeline sample of the file's first sample.
    time_reference_samples : int or None
        BWF time reference (samples since midnight), if the file has one.
    metadata : dict
        Format-specific leftovers, kept for writers (``bext`` fields, iXML names).
    """

    path: Path
    sample_rate_hz: int
    channels: int
    frames: int
    container: str
    subtype: str
    offset_samples: int = 0
    time_reference_samples: int | None = None
    metadata: dict = field(default_factory=dict, compare=False)

    @property
    def end_samples(self) -> int:
        """Timeline sample just after the file's last sample."""
        return self.offset_samples + self.frames


@dataclass(frozen=True)
class Track:
    """One mic: its name and where its audio lives.

    Attributes
    ----------
    name : str
        From the file name (or the poly WAV's iXML track name); unique in the session.
    source_index : int
        Index into ``Session.sources``.
    channel_indices : tuple of int
        Channels of that source; two for a stereo source, which is edited as one.
    role : str or None
        Drum role (kick, snare, …) once known; the aligner fills it.
    """

    name: str
    source_index: int
    channel_indices: tuple[int, ...]
    role: str | None = None


@dataclass(frozen=True)
class Session:
    """Every source and mic of one drum recording, on one timeline at one sample rate.

    Attributes
    ----------
    name : str
        Used for output folder names.
    path : Path
        The folder or file it was read from.
    sample_rate_hz : int
    sources : tuple of AudioSource
    tracks : tuple of Track
    start_samples : int
        Clock time of timeline sample 0 in samples since midnight (the earliest BWF time reference), or 0.
    """

    name: str
    path: Path
    sample_rate_hz: int
    sources: tuple[AudioSource, ...]
    tracks: tuple[Track, ...]
    start_samples: int = 0
    metadata: dict = field(default_factory=dict, compare=False)

    @property
    def length_samples(self) -> int:
        """Timeline length: the end of the latest-ending source."""
        return max(s.end_samples for s in self.sources)

    @property
    def channel_count(self) -> int:
        """Channels over all sources."""
        return sum(s.channels for s in self.sources)

    def tracks_of(self, source_index: int) -> list[Track]:
        """The mics carried by one source."""
        return [t for t in self.tracks if t.source_index == source_index]

    def to_json(self) -> dict:
        """A JSON-ready description (paths, rates, offsets, mics) for edits.json."""
        return {
            "name": self.name,
            "path": str(self.path),
            "sample_rate_hz": self.sample_rate_hz,
            "length_samples": self.length_samples,
            "start_samples": self.start_samples,
            "sources": [
                {
                    "file": s.path.name,
                    "channels": s.channels,
                    "frames": s.frames,
                    "container": s.container,
                    "subtype": s.subtype,
                    "offset_samples": s.offset_samples,
                    "time_reference_samples": s.time_reference_samples,
                }
                for s in self.sources
            ],
            "tracks": [
                {"name": t.name, "file": self.sources[t.source_index].path.name, "channels": list(t.channel_indices),
                 "role": t.role}
                for t in self.tracks
            ],
        }
