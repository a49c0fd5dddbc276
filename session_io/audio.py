"""Audio file access: probing headers, checking the whole file, and reading timeline blocks.

All reads return audio in the source's processing dtype (left-justified int32 for PCM, float32/float64 for float),
shaped (frames, channels), so that what is copied unchanged is copied bit for bit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from nbd_errors import SessionReadError, UnsupportedFormatError
from session_io.pcm import PcmWindowReader
from session_io.riff import audio_chunk_shortfall, read_bext
from session_io.session import SUPPORTED_SUBTYPES, AudioSource, sample_domain

__all__ = ["probe", "check_audio", "SourceReader", "SessionReader", "BLOCK_FRAMES"]

#: Frames per block for streaming reads and writes: memory stays flat whatever the song length.
BLOCK_FRAMES = 1 << 16


def probe(path: str | Path) -> AudioSource:
    """Read an audio file's header and check that nbd can edit it.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    AudioSource
        With ``offset_samples`` 0; the session reader places it.

    Raises
    ------
    SessionReadError
        Unreadable, empty (0 samples) or truncated (the header promises more audio than the file holds).
    UnsupportedFormatError
        A sample format other than PCM 8/16/24/32-bit or 32/64-bit float.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise SessionReadError("empty file (0 bytes)", path)
        info = sf.info(str(path))
    except SessionReadError:
        raise
    except FileNotFoundError:
        raise SessionReadError("file not found", path) from None
    except PermissionError:
        raise SessionReadError("permission denied", path) from None
    except Exception as e:  # libsndfile's own message says what is wrong with the header
        detail = str(e).split(":", 1)[-1].strip() or type(e).__name__
        raise SessionReadError(f"not a readable audio file ({detail})", path) from None
    if info.subtype not in SUPPORTED_SUBTYPES:
        raise UnsupportedFormatError(
            f"sample format {info.subtype} ({info.subtype_info}) is not supported; use PCM 16/24/32-bit or 32-bit float",
            path,
        )
    if info.frames <= 0:
        raise SessionReadError("no audio in the file (0 samples)", path)
    shortfall = audio_chunk_shortfall(path)
    if shortfall is not None:
        declared, present = shortfall
        raise SessionReadError(
            f"truncated: the header promises {declared} bytes of audio but the file holds {present}", path
        )
    bext = read_bext(path) if info.format in ("WAV", "WAVEX", "RF64") else None
    metadata = {}
    if bext is not None:
        metadata["bext"] = {
            "description": bext.description,
            "originator": bext.originator,
            "originator_reference": bext.originator_reference,
            "origination_date": bext.origination_date,
            "origination_time": bext.origination_time,
            "time_reference_samples": bext.time_reference_samples,
            "umid": bext.umid.hex(),
        }
    return AudioSource(
        path=path,
        sample_rate_hz=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        container=info.format,
        subtype=info.subtype,
        time_reference_samples=bext.time_reference_samples if bext is not None else None,
        metadata=metadata,
    )


def check_audio(source: AudioSource) -> None:
    """Decode a whole file once to prove it is sound: every sample present, no NaN or infinity.

    PCM WAV and AIFF are exempt (their headers were checked by :func:`probe`, and integers cannot be NaN); FLAC and
    float files are decoded block by block.

    Raises
    ------
    SessionReadError
        Decoding fails or stops early, or a sample is NaN or infinite (with its position in samples).
    """
    is_float = sample_domain(source.subtype)[1] is None
    if not is_float and source.container in ("WAV", "WAVEX", "RF64", "AIFF", "W64"):
        return
    dtype = sample_domain(source.subtype)[0]
    done = 0
    try:
        with sf.SoundFile(str(source.path)) as f:
            while done < source.frames:
                block = f.read(min(BLOCK_FRAMES, source.frames - done), dtype=dtype.name, always_2d=True)
                if len(block) == 0:
                    break
                if is_float and not np.isfinite(block).all():
                    bad = int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
                    kind = "NaN" if np.isnan(block[bad]).any() else "infinite"
                    raise SessionReadError(f"{kind} sample value at sample {done + bad}", source.path)
                done += len(block)
    except SessionReadError:
        raise
    except Exception as e:
        raise SessionReadError(f"corrupt audio at about sample {done} ({str(e).strip() or type(e).__name__})",
                               source.path) from None
    if done < source.frames:
        raise SessionReadError(f"truncated: the header says {source.frames} samples but only {done} could be read",
                               source.path)


class SourceReader:
    """Reads any timeline range of one source, as silence where the file has no audio.

    Samples come in the source's processing dtype (bit-exact, for rendering) unless ``dtype`` asks for another
    (``float32`` for analysis, scaled to [-1, 1)). Use as a context manager; the file stays open between reads so
    that block-by-block rendering seeks cheaply.
    """

    def __init__(self, source: AudioSource, dtype: np.dtype | None = None):
        self.source = source
        self.dtype = np.dtype(dtype) if dtype is not None else sample_domain(source.subtype)[0]
        self._file: sf.SoundFile | None = None
        self._direct: PcmWindowReader | None = None  # plain WAV files read without libsndfile

    def __enter__(self) -> "SourceReader":
        try:
            self._file = sf.SoundFile(str(self.source.path))
        except Exception as e:
            raise SessionReadError(f"cannot open for reading ({e})", self.source.path) from None
        if self.dtype in (np.float32, sample_domain(self.source.subtype)[0]):
            self._direct = PcmWindowReader.open(self.source, scaled=self.dtype == np.float32)
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._direct is not None:
            self._direct.close()
            self._direct = None

    def read(self, start: int, stop: int) -> np.ndarray:
        """Timeline samples ``[start, stop)`` as an array (stop - start, channels), zero outside the file."""
        if self._file is None:
            raise RuntimeError("SourceReader used outside its with-block")
        n = stop - start
        out = np.zeros((max(n, 0), self.source.channels), dtype=self.dtype)
        lo = max(start - self.source.offset_samples, 0)
        hi = min(stop - self.source.offset_samples, self.source.frames)
        if hi > lo:
            if self._direct is not None:
                try:
                    data = self._direct.read(lo, hi)
                except OSError as e:
                    raise SessionReadError(f"cannot read samples {lo} to {hi} ({e})", self.source.path) from None
            else:
                self._file.seek(lo)
                data = self._file.read(hi - lo, dtype=self.dtype.name, always_2d=True)
            if len(data) != hi - lo:
                raise SessionReadError(f"could read only {len(data)} of {hi - lo} samples at sample {lo}",
                                       self.source.path)
            begin = lo + self.source.offset_samples - start
            out[begin:begin + len(data)] = data
        return out


class SessionReader:
    """Random access to every mic of a session as float32 in [-1, 1), for analysis (never for rendering).

    Use as a context manager; it keeps one open reader per source.
    """

    #: Analysis reads cluster around onsets and cuts: each source keeps its last aligned chunk of this many frames.
    CHUNK_FRAMES = 1 << 12
    #: :meth:`read_all` serves ranges from blocks of this many frames of every channel, the last ``ALL_BLOCKS`` kept:
    #: the planner reads thousands of short ranges of all mics, forward with some looking back.
    ALL_FRAMES = 1 << 13
    ALL_BLOCKS = 16

    def __init__(self, session):
        self.session = session
        self._readers = [SourceReader(s, np.float32) for s in session.sources]
        self._chunks: list[tuple[int, np.ndarray] | None] = [None] * len(session.sources)
        self._blocks: dict[int, np.ndarray] = {}  # block number → (ALL_FRAMES, channels), least recently used first

    def __enter__(self) -> "SessionReader":
        for r in self._readers:
            r.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for r in self._readers:
            r.__exit__(*exc)
        self._blocks.clear()

    def _read(self, source_index: int, start: int, stop: int) -> np.ndarray:
        """Samples of one source, served from its cached chunk when the range falls inside it."""
        half = self.CHUNK_FRAMES // 2
        if stop - start > half:
            return self._readers[source_index].read(start, stop)
        chunk = self._chunks[source_index]
        if chunk is None or not (chunk[0] <= start and stop <= chunk[0] + len(chunk[1])):
            base = (start // half) * half  # chunks start every half chunk, so a short range always fits in one
            chunk = (base, self._readers[source_index].read(base, base + self.CHUNK_FRAMES))
            self._chunks[source_index] = chunk
        return chunk[1][start - chunk[0]:stop - chunk[0]]

    def read_track(self, track_index: int, start: int, stop: int) -> np.ndarray:
        """Timeline samples ``[start, stop)`` of one mic: (frames, its channels), float32, silence outside files."""
        track = self.session.tracks[track_index]
        return self._read(track.source_index, start, stop)[:, list(track.channel_indices)]

    def _block(self, number: int) -> np.ndarray:
        """Frames ``[number, number + 1) * ALL_FRAMES`` of every channel, read-only."""
        block = self._blocks.pop(number, None)
        if block is None:
            lo = number * self.ALL_FRAMES
            block = np.concatenate([r.read(lo, lo + self.ALL_FRAMES) for r in self._readers], axis=1)
            block.setflags(write=False)
            if len(self._blocks) >= self.ALL_BLOCKS:
                del self._blocks[next(iter(self._blocks))]
        self._blocks[number] = block
        return block

    def read_all(self, start: int, stop: int) -> np.ndarray:
        """Timeline samples ``[start, stop)`` of every channel of every source side by side: (frames, channels),
        float32, read-only (it may be a view of the reader's cache)."""
        first, last = start // self.ALL_FRAMES, (max(stop, start + 1) - 1) // self.ALL_FRAMES
        if last - first >= self.ALL_BLOCKS // 2:  # a long range: straight from the files
            out = np.concatenate([r.read(start, stop) for r in self._readers], axis=1)
            out.setflags(write=False)
            return out
        offset = start - first * self.ALL_FRAMES
        if first == last:
            return self._block(first)[offset:offset + stop - start]
        out = np.concatenate([self._block(n) for n in range(first, last + 1)])[offset:offset + stop - start]
        out.setflags(write=False)
        return out
