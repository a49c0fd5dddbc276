"""The session synthesiser: multi-mic drum recordings with known truth, for tests, the demo and (later) training.

A performance (grooves, ghost notes, flams, a fill, a crash) is played on a tempo map with a tempo change, with
human timing: a per-event offset, a few early and late events 30-45 % of a grid step off, and limbs on one line a
few milliseconds apart. Each stroke sounds in every mic: delayed by the mic's distance, attenuated as bleed in the
mics of other drums, polarity-flipped in the snare bottom mic, with a noise floor and early reflections in the room.

Truth is every stroke's attack start in its own close mic (the sample an editor lines up), its drum, velocity and
grid line. Everything is deterministic from the seed.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from aligner.roles import ANCHOR_PRIORITY
from grid import SessionGrid, TempoMap, bpm2us_per_quarter, grid_lines, ms2samples

__all__ = ["DRUMS", "DRUM_CLASS", "near_drum", "MicSpec", "Stroke", "SynthConfig", "SynthSession", "DEFAULT_MICS",
           "synthesise", "render_strokes", "truth_events", "write_session"]

SPEED_OF_SOUND_M_S = 343.0

#: Drum positions in metres (x: left-right from the drummer, y: front-back, z: height).
DRUMS: dict[str, tuple[float, float, float]] = {
    "kick": (0.0, 0.3, 0.3),
    "snare": (-0.3, 0.0, 0.6),
    "hihat": (-0.6, 0.1, 0.85),
    "rack_tom": (0.1, 0.2, 0.8),
    "floor_tom": (0.55, -0.1, 0.5),
    "crash": (-0.5, 0.5, 1.3),
}


#: The detector's drum class of each synthesised drum (a crash has no close mic: the overheads hear it).
DRUM_CLASS = {"kick": "kick", "snare": "snare", "hihat": "hihat", "rack_tom": "tom", "floor_tom": "tom",
              "crash": "cymbal"}


@dataclass(frozen=True)
class MicSpec:
    """One mic (or one side of a stereo pair): where it is, what it is for, and how it is wired."""

    name: str
    position_m: tuple[float, float, float]
    close_to: str | None = None  # the drum it is the close mic of; None for overheads and rooms
    polarity: int = 1
    bleed_db: float = -14.0  # extra attenuation of other drums in a directional close mic
    file: str = ""  # file it is written to; two mics with one file make a stereo file
    channel: int = 0
    highpass_hz: float = 0.0  # one-pole filters standing for the mic's and preamp's colour; 0 = none
    lowpass_hz: float = 0.0


def near_drum(drum: str, dx: float = 0.0, dy: float = 0.0, dz: float = 0.08) -> tuple[float, float, float]:
    """A mic position in metres: the drum's position moved by (dx, dy, dz) — by default 8 cm above it."""
    x, y, z = DRUMS[drum]
    return (x + dx, y + dy, z + dz)


#: A typical 10-channel kit: 9 files, the overheads one stereo file.
DEFAULT_MICS: tuple[MicSpec, ...] = (
    MicSpec("Kick In", near_drum("kick", dy=-0.1, dz=0.0), "kick", file="Kick In.wav"),
    MicSpec("Kick Out", near_drum("kick", dy=0.35, dz=0.0), "kick", file="Kick Out.wav"),
    MicSpec("Snare Top", near_drum("snare", dy=0.08, dz=0.06), "snare", file="Snare Top.wav"),
    MicSpec("Snare Bottom", near_drum("snare", dz=-0.2), "snare", polarity=-1, file="Snare Bottom.wav"),
    MicSpec("Hat", near_drum("hihat", dz=0.1), "hihat", file="Hat.wav"),
    MicSpec("Rack Tom", near_drum("rack_tom"), "rack_tom", file="Rack Tom.wav"),
    MicSpec("Floor Tom", near_drum("floor_tom"), "floor_tom", file="Floor Tom.wav"),
    MicSpec("OH L", (-0.5, 0.1, 1.8), file="OH.wav", channel=0),
    MicSpec("OH R", (0.5, 0.1, 1.8), file="OH.wav", channel=1),
    MicSpec("Room", (0.0, 3.5, 1.6), file="Room.wav"),
)


@dataclass(frozen=True)
class Stroke:
    """One drum stroke of the truth.

    Attributes
    ----------
    drum : str
    velocity : int
        1-127.
    sample : int
        Attack start in the drum's close mic (session samples); for a drum without a close mic, in the nearest mic.
    line_sample : int
        The grid line it belongs to (session samples).
    line_bbt : str
        That line as bar|beat|tick.
    kind : str
        ``normal``, ``ghost`` or ``flam_grace``.
    """

    drum: str
    velocity: int
    sample: int
    line_sample: int
    line_bbt: str
    kind: str = "normal"

    @property
    def offset_samples(self) -> int:
        """How far the stroke is from its line (positive = late)."""
        return self.sample - self.line_sample


@dataclass(frozen=True)
class SynthConfig:
    """Everything that shapes a synthetic session. Times in ms are converted at ``sample_rate_hz``."""

    seed: int = 0
    sample_rate_hz: int = 48000
    bars: int = 8
    tempo_bpm: tuple[float, float] = (120.0, 100.0)  # before and from ``tempo_change_bar``
    tempo_change_bar: int = 6
    count_in_bars: int = 1  # bars of silence before the drums come in
    origin_samples: int = 0  # session sample where MIDI time 0 (bar 1) sits
    tail_s: float = 2.0
    timing_sigma_ms: float = 6.0
    limb_spread_ms: float = 2.0
    far_off_per_bar: int = 1  # events moved 30-45 % of a 16th step off
    ghost_rate: float = 0.25
    flam_rate: float = 0.2
    subtype: str = "PCM_24"
    mics: tuple[MicSpec, ...] = DEFAULT_MICS
    kit_variety: float = 0.0  # 0 = the reference kit; 1 = pitches and decays vary by up to about ±40 %, hats and
    # snares change colour, and drums are played from recorded one-shots in ``oneshots`` about half of the time
    oneshots: str = ""  # a folder of one-shot recordings (Sonic Pi's CC0 drum samples), used when it exists
    noise_db: float = -80.0  # noise floor, dBFS RMS


@dataclass
class SynthSession:
    """A synthesised session in memory: audio per file (frames x channels, float64), truth and tempo map."""

    config: SynthConfig
    tempo_map: TempoMap
    origin_samples: int
    audio: dict[str, np.ndarray]
    strokes: list[Stroke]
    mic_delays_samples: dict[str, dict[str, int]] = field(default_factory=dict)


# -- drum sounds -----------------------------------------------------------------------------------------------

def _highpass(x: np.ndarray, times: int = 2) -> np.ndarray:
    for _ in range(times):
        x = np.diff(x, prepend=0.0)
    return x


def _drum_sound(drum: str, velocity: int, rate: int, rng: np.random.Generator,
                pitch: float = 1.0, decay: float = 1.0, colour: int = 0) -> np.ndarray:
    """A mono one-shot whose first sample is its attack start.

    Decay times follow the real MuldjordKit hits (close mics, loud strokes): kick about -25 dB and snare about
    -23 dB 100 ms after the peak, floor tom -11 dB, closed hat -21 dB, crash -6 dB. ``pitch`` and ``decay`` scale the
    drum's tuning and decay times; ``colour`` (0-2) makes hats and cymbals darker and kicks and snares click less.
    """
    amp = (velocity / 127.0) ** 1.5
    def t_of(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * rate * max(decay, 1.0))) / rate
    if drum == "kick":
        t = t_of(0.5)
        freq = pitch * (48 + 110 * np.exp(-t / 0.03))
        body = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t / (0.05 * decay))
        click = _highpass(rng.standard_normal(len(t))) * np.exp(-t / 0.002) * 0.3 / (1 + colour)
        sound = body + click
    elif drum == "snare":
        t = t_of(0.4)
        tone = np.sin(2 * np.pi * 185 * pitch * t) * np.exp(-t / (0.04 * decay))
        wires = _highpass(rng.standard_normal(len(t)), 1) * np.exp(-t / (0.045 * decay)) * 0.5
        stick = _highpass(rng.standard_normal(len(t))) * np.exp(-t / 0.001) * 0.4 / (1 + colour)
        sound = 0.7 * tone + wires + stick
    elif drum == "hihat":
        t = t_of(0.15)
        sound = _highpass(rng.standard_normal(len(t)), 3 - colour) * np.exp(-t / (0.03 * decay)) * 0.25
    elif drum in ("rack_tom", "floor_tom"):
        t = t_of(0.6)
        f0 = pitch * (150 if drum == "rack_tom" else 95)
        freq = f0 * (1 + 0.3 * np.exp(-t / 0.05))
        stick = _highpass(rng.standard_normal(len(t))) * np.exp(-t / 0.0015) * 0.25
        sound = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t / (0.12 * decay)) + stick
    elif drum == "crash":
        t = t_of(2.5)
        sound = _highpass(rng.standard_normal(len(t)), 2 - min(colour, 1)) * np.exp(-t / (0.9 * decay)) * 0.2
    else:
        raise ValueError(f"unknown drum {drum!r}")
    sound[:4] *= np.linspace(0.25, 1.0, 4)  # a sharp but not instantaneous attack
    tail = min(len(sound), int(0.02 * rate))
    sound[-tail:] *= np.linspace(1.0, 0.0, tail)  # no click where the one-shot ends
    return amp * sound


# -- performance -----------------------------------------------------------------------------------------------

def _pattern(bar: int, bars: int) -> list[tuple[int, str, int, str]]:
    """(16th index in the bar, drum, velocity, kind) of one 4/4 bar; every fourth bar ends with a tom fill."""
    hits = [(i, "hihat", 90 if i % 4 == 0 else 70, "normal") for i in range(0, 16, 2)]
    hits += [(0, "kick", 115, "normal"), (8, "kick", 110, "normal"), (10, "kick", 100, "normal")]
    hits += [(4, "snare", 118, "normal"), (12, "snare", 120, "normal")]
    if bar % 4 == 0 and bar < bars:
        hits = [h for h in hits if h[0] < 8 or h[1] == "kick" and h[0] == 8]
        hits += [(10, "rack_tom", 110, "normal"), (12, "rack_tom", 105, "normal"),
                 (14, "floor_tom", 115, "normal"), (15, "floor_tom", 110, "normal")]
    if bar % 4 == 1 and bar > 1:
        hits = [h for h in hits if not (h[0] == 0 and h[1] == "hihat")] + [(0, "crash", 120, "normal")]
    return hits


def _perform(cfg: SynthConfig, grid: SessionGrid, rng: np.random.Generator) -> list[Stroke]:
    rate = cfg.sample_rate_hz
    first = 1 + cfg.count_in_bars
    start = grid.bbt2sample(first)
    end = grid.bbt2sample(first + cfg.bars)
    lines = grid_lines(grid, start, end, "1/16")
    by_pos = {(ln.bar, ln.index_in_bar): ln for ln in lines}
    strokes: list[Stroke] = []
    sigma = cfg.timing_sigma_ms
    for bar in range(first, first + cfg.bars):
        hits = _pattern(bar - cfg.count_in_bars, cfg.bars)
        indices = sorted({h[0] for h in hits})
        # ghost notes on empty 16ths, alone on their line
        empty = [i for i in range(16) if i not in indices and i % 2 == 1]
        ghosts = [i for i in empty if rng.random() < cfg.ghost_rate]
        hits += [(i, "snare", int(rng.integers(20, 40)), "ghost") for i in ghosts]
        far = set(rng.choice(sorted({h[0] for h in hits}), size=min(cfg.far_off_per_bar, len(hits)), replace=False))
        for index in sorted({h[0] for h in hits}):
            line = by_pos[(bar, index)]
            step = grid.quarters2samples_exact(line.quarters + line.step_quarters) - grid.quarters2samples_exact(line.quarters)
            if index in far:
                event_offset = float(rng.choice([-1, 1]) * rng.uniform(0.30, 0.45)) * float(step)
            else:
                event_offset = rng.normal(0.0, sigma) * rate / 1000
            for _, drum, velocity, kind in (h for h in hits if h[0] == index):
                limb = rng.normal(0.0, cfg.limb_spread_ms) * rate / 1000 if kind != "ghost" else 0.0
                sample = int(round(line.sample + event_offset + limb))
                bbt = str(grid.tempo_map.quarters2bbt(line.quarters))
                if drum == "snare" and kind == "normal" and rng.random() < cfg.flam_rate:
                    grace = sample - ms2samples(int(rng.integers(15, 30)), rate)
                    strokes.append(Stroke("snare", int(rng.integers(30, 55)), grace, line.sample, bbt, "flam_grace"))
                strokes.append(Stroke(drum, velocity, sample, line.sample, bbt, kind))
    return sorted(strokes, key=lambda s: (s.sample, s.drum))


# -- mics ------------------------------------------------------------------------------------------------------

def _distance(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return math.dist(a, b)


def _close_mic(drum: str, mics: tuple[MicSpec, ...]) -> MicSpec:
    close = [m for m in mics if m.close_to == drum]
    return close[0] if close else min(mics, key=lambda m: _distance(m.position_m, DRUMS[drum]))


def synthesise(cfg: SynthConfig = SynthConfig()) -> SynthSession:
    """Make a session in memory.

    Returns
    -------
    SynthSession
        Audio per file name, peak-normalised per file to -6 dBFS, and the truth.
    """
    rng = np.random.default_rng(cfg.seed)
    rate = cfg.sample_rate_hz
    a, b = cfg.tempo_bpm
    tempo_map = TempoMap.from_changes(
        [(0, bpm2us_per_quarter(a)), (4 * (cfg.tempo_change_bar - 1), bpm2us_per_quarter(b))], [(0, 4, 4)]
    )
    for t in tempo_map.tempos:
        if t.us_per_quarter.denominator != 1:
            raise ValueError(f"tempo {t.bpm} BPM is not a whole number of µs per quarter; MIDI could not carry it")
    origin = cfg.origin_samples
    grid = SessionGrid(tempo_map, rate, origin)
    strokes = _perform(cfg, grid, rng)
    length = grid.bbt2sample(1 + cfg.count_in_bars + cfg.bars) + round(cfg.tail_s * rate)
    return render_strokes(cfg, tempo_map, origin, strokes, length)


def _one_pole(x: np.ndarray, cutoff_hz: float, rate: int, highpass: bool) -> np.ndarray:
    """A one-pole low- or high-pass filter (6 dB/octave), zero state at the start."""
    import scipy.signal

    a = math.exp(-2 * math.pi * cutoff_hz / rate)
    low = scipy.signal.lfilter([1 - a], [1, -a], x)
    return x - low if highpass else low


def render_strokes(cfg: SynthConfig, tempo_map: TempoMap, origin: int, strokes: list[Stroke],
                   length: int) -> SynthSession:
    """Play ``strokes`` on the synthesised kit into every mic of ``cfg.mics``.

    Parameters
    ----------
    cfg : SynthConfig
        Mics, sample rate, seed (for the sounds and noise), kit variety and noise floor.
    tempo_map : TempoMap
    origin : int
        Session sample of MIDI time 0.
    strokes : list of Stroke
        The truth: each stroke's attack start in its close mic (session samples).
    length : int
        Session length in samples.

    Returns
    -------
    SynthSession
        Audio per file name, peak-normalised per file to -6 dBFS.
    """
    rate = cfg.sample_rate_hz
    delays = {
        m.name: {d: round(_distance(m.position_m, pos) / SPEED_OF_SOUND_M_S * rate) for d, pos in DRUMS.items()}
        for m in cfg.mics
    }
    channels = {m.name: np.zeros(length) for m in cfg.mics}
    sound_rng = np.random.default_rng(cfg.seed + 1)
    shape = {d: (1.0, 1.0, 0) for d in DRUMS}
    recorded: dict[str, np.ndarray] = {}
    if cfg.kit_variety:
        kit_rng = np.random.default_rng(cfg.seed + 3)
        spread = 0.4 * cfg.kit_variety
        shape = {d: (float(np.exp(kit_rng.uniform(-spread, spread))), float(np.exp(kit_rng.uniform(-spread, spread))),
                     int(kit_rng.integers(0, 3))) for d in DRUMS}
        recorded = _recorded_kit(cfg.oneshots, rate, kit_rng, 0.5 * cfg.kit_variety)
    for stroke in strokes:
        if stroke.drum in recorded:
            sound = recorded[stroke.drum] * (stroke.velocity / 127.0) ** 1.5
        else:
            sound = _drum_sound(stroke.drum, stroke.velocity, rate, sound_rng, *shape[stroke.drum])
        close = _close_mic(stroke.drum, cfg.mics)
        emitted = stroke.sample - delays[close.name][stroke.drum]  # the truth is the attack in the close mic
        for mic in cfg.mics:
            dist = _distance(mic.position_m, DRUMS[stroke.drum])
            gain = mic.polarity * min(1.0, 0.1 / max(dist, 0.05))
            if mic.close_to is not None and mic.close_to != stroke.drum:
                gain *= 10 ** (mic.bleed_db / 20)
            at = emitted + delays[mic.name][stroke.drum]
            piece = sound[max(-at, 0): max(length - at, 0)]
            at = max(at, 0)
            channels[mic.name][at:at + len(piece)] += gain * piece
    _room_reflections(channels, cfg, rate)
    for mic in cfg.mics:
        if mic.highpass_hz:
            channels[mic.name] = _one_pole(channels[mic.name], mic.highpass_hz, rate, highpass=True)
        if mic.lowpass_hz:
            channels[mic.name] = _one_pole(channels[mic.name], mic.lowpass_hz, rate, highpass=False)
    noise_rng = np.random.default_rng(cfg.seed + 2)
    audio: dict[str, np.ndarray] = {}
    for file in dict.fromkeys(m.file for m in cfg.mics):
        mics = sorted((m for m in cfg.mics if m.file == file), key=lambda m: m.channel)
        data = np.stack([channels[m.name] for m in mics], axis=1)
        peak = np.max(np.abs(data))
        data *= (10 ** (-6 / 20)) / peak if peak > 0 else 1.0
        data += noise_rng.normal(0.0, 10 ** (cfg.noise_db / 20), data.shape)
        audio[file] = data
    return SynthSession(cfg, tempo_map, origin, audio, strokes, delays)


#: Sonic Pi one-shots that can stand for each drum.
ONESHOTS = {
    "kick": ("drum_bass_hard", "drum_bass_soft", "drum_heavy_kick"),
    "snare": ("drum_snare_hard", "drum_snare_soft"),
    "hihat": ("drum_cymbal_closed", "drum_cymbal_pedal"),
    "rack_tom": ("drum_tom_hi_hard", "drum_tom_mid_hard"),
    "floor_tom": ("drum_tom_lo_hard", "drum_tom_mid_hard"),
    "crash": ("drum_cymbal_hard", "drum_cymbal_open"),
}


#: Peak level of a recorded one-shot at full velocity, as the synthesised drums sound at the same distance.
_ONESHOT_LEVEL = {"kick": 1.0, "snare": 0.8, "hihat": 0.3, "rack_tom": 0.8, "floor_tom": 0.8, "crash": 0.4}


def _recorded_kit(folder: str, rate: int, rng: np.random.Generator, share: float) -> dict[str, np.ndarray]:
    """For about ``share`` of the drums, a one-shot from ``folder`` (mono, at ``rate``, retuned by up to ±15 %, its
    first sample the first one above 10 % of its peak, peak 1); {} when the folder does not exist."""
    import soundfile as sf

    picks = {d: (rng.random() < share, str(rng.choice(names)), float(np.exp(rng.uniform(-0.15, 0.15))))
             for d, names in ONESHOTS.items()}
    root = Path(folder) if folder else None
    if root is None or not root.is_dir():
        return {}
    kit = {}
    for drum, (use, name, tune) in picks.items():
        path = root / f"{name}.flac"
        if not use or not path.exists():
            continue
        data, file_rate = sf.read(str(path), always_2d=True)
        x = data.mean(axis=1)
        # resample by linear interpolation: to the session's rate and retuned at once
        n = int(len(x) * rate / file_rate / tune)
        x = np.interp(np.arange(n) * (file_rate * tune / rate), np.arange(len(x)), x)
        start = int(np.flatnonzero(np.abs(x) > 0.1 * np.abs(x).max())[0])
        x = x[start:] / np.abs(x).max() * _ONESHOT_LEVEL[drum]
        tail = min(len(x), int(0.02 * rate))
        x[-tail:] *= np.linspace(1.0, 0.0, tail)
        kit[drum] = x
    return kit


def _room_reflections(channels: dict[str, np.ndarray], cfg: SynthConfig, rate: int) -> None:
    """A few early reflections and a short diffuse tail in mics without a close drum."""
    for mic in cfg.mics:
        if mic.close_to is not None:
            continue
        dry = channels[mic.name].copy()
        for delay_ms, gain in ((7.0, 0.45), (13.0, 0.3), (23.0, 0.2), (37.0, 0.12)):
            d = ms2samples(delay_ms if mic.name == "Room" else delay_ms / 2, rate)
            channels[mic.name][d:] += gain * dry[:-d]


def truth_events(strokes: list[Stroke]) -> dict[int, Stroke]:
    """The anchor of every true event, by grid line sample, by the editor's convention (kick = snare, then toms,
    hats, cymbals; earliest on ties; never a flam's grace note; a ghost note only when alone)."""
    by_line: dict[int, list[Stroke]] = {}
    for st in strokes:
        by_line.setdefault(st.line_sample, []).append(st)
    anchors = {}
    for line, group in by_line.items():
        candidates = [st for st in group if st.kind != "flam_grace"] or group
        solid = [st for st in candidates if st.kind != "ghost"] or candidates
        anchors[line] = min(solid, key=lambda st: (ANCHOR_PRIORITY[DRUM_CLASS[st.drum]], st.sample))
    return dict(sorted(anchors.items()))


def write_session(session: SynthSession, folder: str | Path) -> Path:
    """Write a synthesised session: one audio file per mic file, ``song.mid`` (the tempo map) and ``truth.json``.

    Parameters
    ----------
    session : SynthSession
    folder : str or Path
        Created if missing; existing files of the same names are replaced.

    Returns
    -------
    Path
        The folder.
    """
    import soundfile as sf

    from grid.midi import write_tempo_map

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = session.config
    for file, data in session.audio.items():
        sf.write(str(folder / file), data, cfg.sample_rate_hz, subtype=cfg.subtype)
    write_tempo_map(folder / "song.mid", session.tempo_map)
    truth = {
        "sample_rate_hz": cfg.sample_rate_hz,
        "midi_origin_samples": session.origin_samples,
        "tempo_map": session.tempo_map.to_json(),
        "config": {k: v for k, v in asdict(cfg).items() if k != "mics"},
        "mics": [asdict(m) for m in cfg.mics],
        "mic_delays_samples": session.mic_delays_samples,
        "strokes": [asdict(s) | {"offset_samples": s.offset_samples} for s in session.strokes],
        "events": [{"line_sample": line, "anchor_sample": a.sample, "anchor_drum": a.drum, "line_bbt": a.line_bbt}
                   for line, a in truth_events(session.strokes).items()],
    }
    (folder / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return folder
