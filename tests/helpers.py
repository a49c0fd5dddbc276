"""Small generated inputs for tests: noise files of any format, with or without a BWF time reference, and
sessions of the synthesiser's default kit playing a groove."""
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


def groove_session(tmp_path, parts, bars=8, bpm=100, rate=48000):
    """A session of the synthesiser's default kit playing ``parts`` (drum, velocity, 16th of the bar, ms late) every
    bar from bar 2 on, ``bars`` bars at ``bpm`` on a constant tempo, written to ``tmp_path / "s"`` and read back with
    roles; returns (session, grid, strokes), strokes sorted by sample."""
    from aligner.roles import assign_roles
    from aligner.synth import Stroke, SynthConfig, render_strokes, write_session
    from grid import SessionGrid, TempoMap
    from session_io import read_session

    tempo = TempoMap.constant(bpm)
    grid = SessionGrid(tempo, rate, 0)
    step = rate * 15 // bpm
    strokes = []
    for bar in range(2, 2 + bars):
        for drum, velocity, sixteenth, late_ms in parts:
            line = grid.bbt2sample(bar) + sixteenth * step
            strokes.append(Stroke(drum, velocity, line + late_ms * rate // 1000, line, ""))
    strokes.sort(key=lambda s: s.sample)
    syn = render_strokes(SynthConfig(sample_rate_hz=rate), tempo, 0, strokes, grid.bbt2sample(bars + 3))
    return assign_roles(read_session(write_session(syn, tmp_path / "s"))), grid, strokes
