"""Tempo maps from and to Standard MIDI Files; the only module that imports mido.

Reading takes every ``set_tempo`` and ``time_signature`` from every track of a type 0 or type 1 file, at any PPQ.
Several tempo (or meter) events at one tick: the last in file order wins (track 0 before track 1). No tempo event at
all means 120 BPM, no time signature 4/4, per the MIDI specification, each with a warning. SMPTE-timed and type 2
files are refused with a :class:`~nbd_errors.TempoMapError` naming the file.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

from grid.tempo_map import TempoMap
from nbd_errors import TempoMapError

__all__ = ["read_tempo_map", "write_tempo_map", "write_drum_midi"]

log = logging.getLogger("nbd")


def _read_header(path: Path) -> tuple[int, int]:
    """(format type, division) from a MIDI file's MThd chunk, checked before mido parses the rest."""
    try:
        with open(path, "rb") as f:
            head = f.read(14)
    except FileNotFoundError:
        raise TempoMapError("tempo map file not found", path) from None
    except OSError as e:
        raise TempoMapError(f"cannot read tempo map ({e.strerror or e})", path) from None
    if len(head) < 14 or head[:4] != b"MThd":
        raise TempoMapError("not a MIDI file (no MThd header)", path)
    fmt = int.from_bytes(head[8:10], "big")
    division = int.from_bytes(head[12:14], "big")
    return fmt, division


def read_tempo_map(path: str | Path) -> TempoMap:
    """Read the tempo map of a Standard MIDI File.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    TempoMap
        Positions in quarter notes from MIDI time 0.

    Raises
    ------
    TempoMapError
        Not MIDI, unreadable or corrupt, type 2, SMPTE-timed, or zero ticks per quarter.
    """
    path = Path(path)
    fmt, division = _read_header(path)
    if division & 0x8000:
        fps = 256 - (division >> 8)
        raise TempoMapError(
            f"SMPTE-timed MIDI file ({fps} fps, {division & 0xFF} ticks per frame) has no bars or beats; "
            "export the tempo map with ticks per quarter note (PPQ)",
            path,
        )
    if fmt == 2:
        raise TempoMapError("MIDI type 2 (independent sequences) has no single tempo map; use type 0 or 1", path)
    if fmt not in (0, 1):
        raise TempoMapError(f"unknown MIDI file type {fmt}", path)
    if division == 0:
        raise TempoMapError("MIDI header gives 0 ticks per quarter note", path)

    import mido  # only here: nothing else in nbd needs it

    try:
        midi = mido.MidiFile(path)
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError… on corrupt data
        raise TempoMapError(f"corrupt MIDI file ({type(e).__name__}: {e})", path) from None

    ppq = midi.ticks_per_beat
    tempos: list[tuple[int, int]] = []
    meters: list[tuple[int, int, int]] = []
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                meters.append((tick, msg.numerator, msg.denominator))
    # Stable sort: events at one tick keep file order, so the last one in the file wins in from_changes.
    tempos.sort(key=lambda e: e[0])
    meters.sort(key=lambda e: e[0])
    if not tempos:
        log.warning("%s: no tempo event; assuming 120 BPM (the MIDI default)", path)
    elif tempos[0][0] != 0:
        log.warning("%s: first tempo event at tick %d; 120 BPM (the MIDI default) until then", path, tempos[0][0])
    if not meters:
        log.warning("%s: no time signature; assuming 4/4 (the MIDI default)", path)
    return TempoMap.from_changes(
        [(Fraction(t, ppq), us) for t, us in tempos],
        [(Fraction(t, ppq), n, d) for t, n, d in meters],
    )


def write_tempo_map(path: str | Path, tempo_map: TempoMap, ticks_per_quarter: int = 960) -> None:
    """Write a tempo map as a type 1 MIDI file with one conductor track.

    Parameters
    ----------
    path : str or Path
    tempo_map : TempoMap
        Every change must sit on a whole tick and every tempo be a whole number of µs per quarter (what MIDI can
        hold); anything else raises ``ValueError`` rather than being rounded.
    ticks_per_quarter : int
    """
    import mido

    events: list[tuple[int, int, mido.MetaMessage]] = []
    for order, m in enumerate(tempo_map.meters):
        events.append((_whole_ticks(m.position_quarters, ticks_per_quarter), order,
                       mido.MetaMessage("time_signature", numerator=m.numerator, denominator=m.denominator, time=0)))
    for order, t in enumerate(tempo_map.tempos):
        if t.us_per_quarter.denominator != 1:
            raise ValueError(f"tempo {t.bpm} BPM is not a whole number of µs per quarter; MIDI cannot hold it")
        events.append((_whole_ticks(t.position_quarters, ticks_per_quarter), len(tempo_map.meters) + order,
                       mido.MetaMessage("set_tempo", tempo=int(t.us_per_quarter), time=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_quarter)
    midi.tracks.append(track)
    midi.save(path)


def _conductor_events(tempo_map: TempoMap, ticks_per_quarter: int) -> list[tuple[int, int, "object"]]:
    import mido

    events = []
    for m in tempo_map.meters:
        events.append((round(m.position_quarters * ticks_per_quarter), 0,
                       mido.MetaMessage("time_signature", numerator=m.numerator, denominator=m.denominator, time=0)))
    for t in tempo_map.tempos:
        events.append((round(t.position_quarters * ticks_per_quarter), 1,
                       mido.MetaMessage("set_tempo", tempo=round(t.us_per_quarter), time=0)))
    return events


def _track(events: list[tuple[int, int, "object"]]):
    import mido

    track = mido.MidiTrack()
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_drum_midi(path: str | Path, tempo_map: TempoMap, notes: list[tuple[Fraction, int, int]],
                    markers: list[tuple[Fraction, str]] = (), ticks_per_quarter: int = 960) -> int:
    """Write drum hits as a type 1 MIDI file on a tempo map: a conductor track (tempo, meter, markers) and one drum
    track on channel 10.

    Parameters
    ----------
    path : str or Path
    tempo_map : TempoMap
    notes : list of (position in quarters from MIDI time 0, General MIDI drum note, velocity 1-127)
    markers : list of (position in quarters, text)
    ticks_per_quarter : int
        Positions are rounded to the nearest tick (at 960 PPQ and 120 BPM a tick is 0.52 ms).

    Returns
    -------
    int
        How many notes were left out because they fall before MIDI time 0.
    """
    import mido

    conductor = _conductor_events(tempo_map, ticks_per_quarter)
    for position, text in markers:
        if position >= 0:
            conductor.append((round(position * ticks_per_quarter), 2, mido.MetaMessage("marker", text=text, time=0)))
    drums = [(0, 0, mido.MetaMessage("track_name", name="nbd hits", time=0))]
    dropped = 0
    length = max(1, ticks_per_quarter // 8)  # a 32nd note: drum notes are one-shots
    for position, note, velocity in notes:
        if position < 0:
            dropped += 1
            continue
        tick = round(position * ticks_per_quarter)
        drums.append((tick, 2, mido.Message("note_on", channel=9, note=note, velocity=velocity, time=0)))
        drums.append((tick + length, 1, mido.Message("note_off", channel=9, note=note, velocity=0, time=0)))
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_quarter)
    midi.tracks.extend([_track(conductor), _track(drums)])
    midi.save(path)
    return dropped


def _whole_ticks(quarters: Fraction, ticks_per_quarter: int) -> int:
    ticks = quarters * ticks_per_quarter
    if ticks.denominator != 1:
        raise ValueError(f"position {quarters} quarters is not a whole tick at {ticks_per_quarter} PPQ")
    return int(ticks)
