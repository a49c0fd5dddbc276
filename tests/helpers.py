"""Small generated inputs for tests: noise files of any format, with or without a BWF time reference."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from session_io.riff import bext_payload, insert_chunk


def noise(frames: int, channels: int = 1, seed: int = 0, level: float = 0.25) -> np.ndarray:
    """Deterministic white noise (frames, channels) in float64."""
    return np.random.default_rng(seed).uniform(-level, level, (frames, channels))


def write_audio(path: Path, data: np.ndarray, rate: int = 48000, subtype: str = "PCM_24",
                time_reference: int | None = None, format: str | None = None) -> Path:
    """Write audio (float64, frames x channels) and optionally a bext time reference (WAV only)."""
    sf.write(str(path), data, rate, subtype=subtype, format=format)
    if time_reference is not None:
        insert_chunk(path, "bext", bext_payload(time_reference, description="test take"))
    return path
