"""Sessions built from real recordings: MuldjordKit's 16-mic drum hits played with the timing of real drummers.

MuldjordKit (Lars Muldjord / DrumGizmo, CC-BY 4.0) recorded every hit on 16 mics at once, so its bleed and arrival
delays are the real ones. The Groove MIDI Dataset (Google LLC, CC-BY 4.0) holds drummers' performances to a click.
Placing each MIDI note's hit on all 16 mics gives a multi-mic session with real sound and real timing, whose truth is
known: a stroke sits where its attack starts in its close mic (the first sample above 10 % of that mic's peak).

Two of its eight hits (:data:`TRAINING_HITS`, a kick and a snare) may be heard in training; the benchmark and the
tests play the other six. Both sets live in ``../shared/realdata/``; nothing here is shipped with nbd.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from aligner.events import NO_FLAMS
from aligner.synth import Stroke, SynthConfig, SynthSession
from grid import SessionGrid, TempoMap, grid_lines, line_samples

__all__ = ["MULDJORD_MICS", "GM_DRUMS", "TRAINING_HITS", "RealKit", "load_muldjordkit", "read_gmd_notes",
           "gmd_strokes", "session_from_gmd"]

#: The 16 mics of MuldjordKit, in the order files are written.
MULDJORD_MICS = ("KdrumL", "KdrumR", "Snare_top", "Snare_bottom", "Hihat", "Tom1", "Tom2", "Tom3", "Tom4",
                 "RideL", "RideR", "OHL", "OHR", "AmbL", "AmbR", "Trigger")

#: Hit folders per drum: (folder, the MIDI velocity it stands for), softest first.
_LAYERS = {
    "kick": (("KdrumL_12", 70), ("KdrumL_25", 120)),
    "snare": (("Snare_5", 35), ("Snare_30", 85), ("Snare_53", 120)),
    "floor_tom": (("Tom4_10", 110),),
    "hihat": (("HihatClosed_20", 100),),
    "crash": (("CrashL_7", 120),),
}
#: The hits training may hear (``python -m aligner.train --real-share``), kick and snare on all 16 mics: the neural
#: model learns from them what a real kit's bleed sounds like in the other drums' mics. The benchmark, the
#: validation sessions and the tests play the other hits only.
TRAINING_HITS = frozenset({"KdrumL_12", "Snare_30"})

#: Snare notes softer than this are ghost notes (the synthesiser plays its ghosts at 20-40).
GHOST_VELOCITY = 45

#: The mic whose attack defines a stroke's position.
_CLOSE = {"kick": ("KdrumL",), "snare": ("Snare_top",), "floor_tom": ("Tom4",), "hihat": ("Hihat",),
          "crash": ("OHL", "OHR")}

#: General MIDI drum notes (with the Roland TD-11 variants GMD uses) → drum; rides have no MuldjordKit hit here.
GM_DRUMS = {35: "kick", 36: "kick", 37: "snare", 38: "snare", 40: "snare", 22: "hihat", 26: "hihat", 42: "hihat",
            44: "hihat", 46: "hihat", 41: "floor_tom", 43: "floor_tom", 45: "floor_tom", 47: "floor_tom",
            48: "floor_tom", 50: "floor_tom", 58: "floor_tom", 49: "crash", 52: "crash", 55: "crash", 57: "crash"}


@dataclass(frozen=True)
class _Layer:
    audio: np.ndarray  # (frames, 16) float32
    attack: int  # sample of the attack start in the close mic
    velocity: int


@dataclass(frozen=True)
class RealKit:
    """The loaded hits: per drum, its velocity layers."""

    rate: int
    layers: dict[str, tuple[_Layer, ...]]


@lru_cache(maxsize=4)
def load_muldjordkit(folder: str, training: bool = False) -> RealKit:
    """Load the hits of ``drums/muldjordkit/`` (16 FLACs each) and find each attack in its close mic: the
    :data:`TRAINING_HITS` when ``training``, else all the others (drums without a hit left out)."""
    import soundfile as sf

    root = Path(folder)
    layers: dict[str, tuple[_Layer, ...]] = {}
    rate = 0
    for drum, entries in _LAYERS.items():
        loaded = []
        for hit, velocity in entries:
            if (hit in TRAINING_HITS) != training:
                continue
            number, name = hit.split("_")[-1], "_".join(hit.split("_")[:-1])
            chans = []
            for mic in MULDJORD_MICS:
                data, rate = sf.read(str(root / hit / f"{number}-{name}-{mic}.flac"), dtype="float32")
                chans.append(data)
            audio = np.stack(chans, axis=1)
            attack = min(_attack(audio[:, MULDJORD_MICS.index(m)]) for m in _CLOSE[drum])
            loaded.append(_Layer(audio, attack, velocity))
        if loaded:
            layers[drum] = tuple(loaded)
    return RealKit(rate, layers)


def _attack(x: np.ndarray) -> int:
    magnitude = np.abs(x)
    return int(np.flatnonzero(magnitude > 0.1 * magnitude.max())[0])


def read_gmd_notes(path: str | Path) -> tuple[TempoMap, list[tuple[float, int, int]]]:
    """Tempo map and (seconds from MIDI time 0, GM note, velocity) of every note-on of a GMD take."""
    import mido

    from grid import read_tempo_map

    tempo_map = read_tempo_map(path)
    midi = mido.MidiFile(path)
    notes = []
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                seconds = float(tempo_map.quarters2seconds(Fraction(tick, midi.ticks_per_beat)))
                notes.append((seconds, msg.note, msg.velocity))
    return tempo_map, sorted(notes)


def session_from_gmd(midi_path: str | Path, kit_folder: str | Path, duration_s: float = 20.0,
                     lead_in_s: float = 0.5, division: str = "1/16", skip_s: float = 0.0,
                     training: bool = False) -> SynthSession:
    """A 16-mic session: ``duration_s`` of a GMD take from ``skip_s`` on, played on MuldjordKit's hits that training
    never hears, or with ``training`` on its :data:`TRAINING_HITS` (only the notes of their drums).

    Truth lines are each note's nearest ``division`` line (GMD drummers played to this click); snare notes below
    :data:`GHOST_VELOCITY` are ghost notes, played on the kit's ghost hit where it has one, and other notes on its
    louder hits.

    Returns
    -------
    SynthSession
        Audio per mic file (``KdrumL.wav`` …), strokes with truth; MIDI time ``skip_s`` sits at ``lead_in_s``.
    """
    kit = load_muldjordkit(str(kit_folder), training)
    rate = kit.rate
    origin = round(lead_in_s * rate)
    length = origin + round(duration_s * rate)
    tempo_map, strokes = gmd_strokes(midi_path, rate, origin, length, division, skip_s)
    strokes = [st for st in strokes if st.drum in kit.layers]
    audio = np.zeros((length + 6 * rate, len(MULDJORD_MICS)), dtype=np.float64)
    for stroke in strokes:
        # a ghost note plays a ghost layer and any other stroke a louder one, where the kit has both: a normal
        # stroke on a ghost layer (the held-out snare at 35 played for a note at 70) sounds like the ghost it is not
        layers = kit.layers[stroke.drum]
        fitting = [lay for lay in layers if (lay.velocity < GHOST_VELOCITY) == (stroke.kind == "ghost")] or layers
        layer = min(fitting, key=lambda lay: abs(lay.velocity - stroke.velocity))
        gain = min(1.25, stroke.velocity / layer.velocity)
        start = stroke.sample - layer.attack
        lo = max(0, -start)
        audio[start + lo:start + len(layer.audio)] += gain * layer.audio[lo:]
    audio = audio[:length]
    audio *= 10 ** (-3 / 20) / max(np.abs(audio).max(), 1e-9)
    files = {f"{mic}.wav": audio[:, [i]] for i, mic in enumerate(MULDJORD_MICS)}
    config = SynthConfig(sample_rate_hz=rate, mics=(), bars=0)
    return SynthSession(config, tempo_map, origin - round(skip_s * rate), files, strokes)


def gmd_strokes(midi_path: str | Path, rate: int, origin: int, length: int, division: str = "1/16",
                skip_s: float = 0.0) -> tuple[TempoMap, list[Stroke]]:
    """The strokes of a GMD take that fall in ``[0, length)`` once MIDI time ``skip_s`` sits at sample ``origin``.

    Each note's line is its nearest ``division`` line (GMD drummers played to this click); snare notes below
    :data:`GHOST_VELOCITY` are ghost notes; notes of drums not in :data:`GM_DRUMS` are left out.

    Returns
    -------
    (TempoMap, list of Stroke)
        The take's tempo map (MIDI time 0 at ``origin - skip_s``) and its strokes sorted by sample.
    """
    tempo_map, notes = read_gmd_notes(midi_path)
    zero = origin - round(skip_s * rate)
    grid = SessionGrid(tempo_map, rate, zero)
    lines = grid_lines(grid, 0, length + rate, division)
    samples = line_samples(lines)
    strokes = []
    for seconds, note, velocity in notes:
        drum = GM_DRUMS.get(note)
        position = zero + round(seconds * rate)
        if drum is None or not 0 <= position < length:
            continue
        i = int(np.argmin(np.abs(samples - position)))
        bbt = str(tempo_map.quarters2bbt(lines[i].quarters))
        kind = "ghost" if drum == "snare" and velocity < GHOST_VELOCITY else "normal"
        strokes.append(Stroke(drum, velocity, position, int(samples[i]), bbt, kind))
    strokes.sort(key=lambda s: (s.sample, s.drum))
    return tempo_map, _mark_flam_graces(strokes, samples, rate)


def _mark_flam_graces(strokes: list[Stroke], lines: np.ndarray, rate: int) -> list[Stroke]:
    """A softer stroke followed on its line by a louder one of the same drum within the flam window (the smaller of
    35 ms and 0.3 of the grid step, nbd's convention) is that stroke's grace note: not the event's anchor. Kicks
    have no grace notes (:data:`aligner.events.NO_FLAMS`)."""
    marked = list(strokes)
    for i, st in enumerate(strokes):
        if st.drum in NO_FLAMS:
            continue
        k = int(np.searchsorted(lines, st.line_sample))
        step = float(lines[min(k + 1, len(lines) - 1)] - lines[max(k - 1, 0)]) / 2
        window = min(0.035 * rate, 0.3 * step)
        for later in strokes[i + 1:]:
            if later.sample - st.sample > window:
                break
            if later.drum == st.drum and later.line_sample == st.line_sample and later.velocity > st.velocity:
                marked[i] = Stroke(st.drum, st.velocity, st.sample, st.line_sample, st.line_bbt, "flam_grace")
                break
    return marked
