"""Tempo maps, meters, grid lines and swing; the lowest layer of nbd (imports nothing else of nbd but its errors).

- :mod:`grid.tempo_map` — ``TempoMap``, ``TempoChange``, ``MeterChange``, ``BarBeatTick``: musical time ↔ seconds.
- :mod:`grid.session_grid` — ``SessionGrid`` (a map placed on a session at a sample rate), ``grid_lines``.
- :mod:`grid.midi` — ``read_tempo_map`` / ``write_tempo_map`` (Standard MIDI Files).
- :mod:`grid.positions` — ``parse_position`` for seconds, samples and timecode typed on the command line.
"""
from grid.midi import read_tempo_map, write_tempo_map
from grid.positions import FRAME_RATES, parse_position, timecode2seconds
from grid.session_grid import (
    DIVISIONS,
    GridLine,
    SessionGrid,
    division2quarters,
    grid_lines,
    line_samples,
    ms2samples,
    round_half_up,
    samples2seconds,
    seconds2samples,
)
from grid.tempo_map import (
    TICKS_PER_QUARTER_DISPLAY,
    BarBeatTick,
    MeterChange,
    TempoChange,
    TempoMap,
    bpm2us_per_quarter,
    us_per_quarter2bpm,
)

__all__ = [
    "BarBeatTick", "DIVISIONS", "FRAME_RATES", "GridLine", "MeterChange", "SessionGrid", "TICKS_PER_QUARTER_DISPLAY",
    "TempoChange", "TempoMap", "bpm2us_per_quarter", "division2quarters", "grid_lines", "line_samples", "ms2samples",
    "parse_position", "read_tempo_map", "round_half_up", "samples2seconds", "seconds2samples", "timecode2seconds",
    "us_per_quarter2bpm", "write_tempo_map",
]
