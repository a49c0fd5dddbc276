"""Writing stems: one output file per input file, same name, rate, channels, container and sample format.

A WAV input's BWF ``bext`` chunk carries over — its time reference and description — with a fresh UMID (derived from
the edit, so outputs stay deterministic) and nbd as originator, so a DAW places the stem where the original sat
without mistaking it for the original media.

A stem is written as ``<name>.part`` and keeps that name until its whole output set is committed
(:mod:`session_io.output`), so the only audio files under an output folder with their real names are finished stems.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from nbd_errors import OutputWriteError
from session_io.riff import broadcast_info_struct, new_umid
from session_io.session import AudioSource

__all__ = ["PART_SUFFIX", "StemWriter", "stem_file_name"]

PART_SUFFIX = ".part"
_RIFF_LIMIT_BYTES = 0xFFFFFFFF - (1 << 20)  # leave room for the header chunks


def stem_file_name(source: AudioSource) -> str:
    """File name of the stem of a source: the input file's own name."""
    return source.path.name


def _output_container(source: AudioSource) -> str:
    bytes_per_sample = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
    size = source.frames * source.channels * bytes_per_sample[source.subtype]
    if source.container in ("WAV", "WAVEX") and size > _RIFF_LIMIT_BYTES:
        return "RF64"  # a plain RIFF WAV cannot hold more than 4 GiB
    return source.container


class StemWriter:
    """Writes one stem block by block into ``directory/<name>.part``.

    Parameters
    ----------
    directory : Path
        Where the stem goes (the output set's partial folder).
    source : AudioSource
        The input the stem replaces: its format, channels and length are kept.
    edit_id : bytes
        Identifies the edit (a digest of the plan); seeds the stem's new UMID.
    """

    _SFC_SET_BROADCAST_INFO = 0x10F1

    def __init__(self, directory: Path, source: AudioSource, edit_id: bytes = b""):
        self.source = source
        self.edit_id = edit_id
        self.path = Path(directory) / (stem_file_name(source) + PART_SUFFIX)
        self.frames_written = 0
        self._file: sf.SoundFile | None = None

    def __enter__(self) -> "StemWriter":
        try:
            self._file = sf.SoundFile(
                str(self.path), "w", samplerate=self.source.sample_rate_hz, channels=self.source.channels,
                subtype=self.source.subtype, format=_output_container(self.source),
            )
        except Exception as e:
            raise OutputWriteError(f"cannot create stem ({e})", self.path) from None
        bext = self.source.metadata.get("bext")
        if bext is not None and self._file.format in ("WAV", "WAVEX", "RF64"):
            self._set_bext(bext)
        return self

    def _set_bext(self, bext: dict) -> None:
        """Hand libsndfile the stem's ``bext`` before any audio is written (soundfile has no API for it)."""
        seed = self.edit_id + self.source.path.name.encode() + bytes.fromhex(bext.get("umid", ""))
        info = broadcast_info_struct(
            bext["description"], "nbd", bext["originator_reference"], bext["origination_date"],
            bext["origination_time"], bext["time_reference_samples"], new_umid(seed))
        buffer = sf._ffi.new("char[]", info)
        if sf._snd.sf_command(self._file._file, self._SFC_SET_BROADCAST_INFO, buffer, len(info)) != 1:
            raise OutputWriteError("could not write the BWF bext chunk", self.path)

    def write(self, block: np.ndarray) -> None:
        """Append a block (frames, channels) in the source's processing dtype."""
        try:
            self._file.write(block)
        except (OSError, RuntimeError, AssertionError) as e:  # soundfile asserts on a short write (disk full)
            raise OutputWriteError(f"writing stopped after {self.frames_written} samples ({e or 'short write'})",
                                   self.path) from None
        self.frames_written += len(block)

    def __exit__(self, exc_type, *exc) -> None:
        try:
            self._file.close()
        except Exception as e:
            if exc_type is None:
                raise OutputWriteError(f"cannot finish stem ({e})", self.path) from None
        if exc_type is None:
            self._verify()

    def _verify(self) -> None:
        """Re-read the header: a full disk can leave a file shorter than what was written without an error."""
        try:
            frames = sf.info(str(self.path)).frames
        except Exception as e:
            raise OutputWriteError(f"stem unreadable after writing ({e})", self.path) from None
        if frames != self.source.frames or self.frames_written != self.source.frames:
            raise OutputWriteError(
                f"stem holds {frames} samples, {self.source.frames} expected (disk full?)", self.path
            )
