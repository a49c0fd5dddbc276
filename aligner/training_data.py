"""The neural aligner's data set: random sessions from the synthesiser, with their features and per-frame targets.

Every session is drawn from its seed alone: a kit (synthesis with per-kit pitch, decay and colour; about half of the
drums played from Sonic Pi's CC0 one-shots when ``../shared/realdata/drums/sonic-pi/`` is present), 2 to 16 mics
in a random geometry (distance delays, bleed, polarity flips, mic filters, rooms, noise floor; mono and stereo files), a rate
of 44.1 to 96 kHz, a meter (4/4, 3/4, 6/8), a tempo map with or without a change, straight or swung 16ths, and a
performance — a random groove and drummer (:mod:`aligner.performance`; with ``tom_bars``, some bars on the toms), or,
for a share of sessions when
``../shared/realdata/midi/gmd/`` is present, a real drummer's take from the Groove MIDI Dataset other than the ones
held out for the benchmark (:data:`HELD_OUT_GMD_TAKES`).

Seeds below :data:`TEST_SEED_BASE` are for training and validation; the benchmark draws its held-out synthetic
sessions from seeds at and above it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from aligner.features import band_features, grid_features, hop_samples, role_vector
from aligner.model import CLASSES, LINE_SHIFTS
from aligner.performance import perform, random_drummer, random_groove
from aligner.roles import role_from_name
from aligner.synth import DRUM_CLASS, MicSpec, SynthConfig, SynthSession, near_drum, render_strokes
from grid import SessionGrid, TempoMap, grid_lines, line_samples

__all__ = ["REALDATA", "GMD_FOLDER", "ONESHOTS_FOLDER", "HELD_OUT_GMD_TAKES", "TEST_SEED_BASE",
           "VALIDATION_SEED_BASE", "Example", "random_mics", "random_session", "real_kit_session",
           "session_example", "targets", "training_takes"]

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
GMD_FOLDER = REALDATA / "midi" / "gmd"
ONESHOTS_FOLDER = REALDATA / "drums" / "sonic-pi" / "oneshots"
#: GMD takes the benchmark plays on MuldjordKit's real hits: never used in training.
HELD_OUT_GMD_TAKES = (
    "drummer1/session1/1_funk_80_beat_4-4.mid",
    "drummer7/session1/1_rock_86_beat_4-4.mid",
    "drummer7/session1/17_hiphop_100_beat_4-4.mid",
    "drummer8/session1/10_neworleans-funk_82_beat_4-4.mid",
)
TEST_SEED_BASE = 1_000_000
#: Seeds from here (below TEST_SEED_BASE) are for choosing decoding settings; training uses ``seed * 100_000 + i``
#: for its own seed, so only a training seed of 5 would reach them.
VALIDATION_SEED_BASE = 500_000
_RATES = (44100, 48000, 88200, 96000)
_RATE_WEIGHTS = (0.35, 0.45, 0.1, 0.1)


@dataclass
class Example:
    """One session as the model sees it, with its targets (frames T, mics M)."""

    mics: np.ndarray  # (M, T, MIC_FEATURES) float16
    roles: np.ndarray  # (M, len(MODEL_ROLES)) float32
    grid: np.ndarray  # (T, GRID_FEATURES) float16
    onsets: np.ndarray  # (len(CLASSES), T) float16, 1 at a stroke's frame, 0.5 beside it
    lines: np.ndarray  # (T,) int8: index into LINE_SHIFTS at stroke frames, -1 elsewhere


def random_mics(rng: np.random.Generator) -> tuple[MicSpec, ...]:
    """2 to 16 mics: kick and snare close mics always, the rest by chance, in a jittered geometry."""
    def jitter(p: tuple[float, float, float], amount: float = 0.05) -> tuple[float, float, float]:
        return tuple(float(v + rng.uniform(-amount, amount)) for v in p)

    def close(name: str, drum: str, **kw) -> MicSpec:
        return MicSpec(name, jitter(near_drum(drum, **kw), 0.03), drum, polarity=-1 if rng.random() < 0.1 else 1,
                       bleed_db=float(rng.uniform(-30, -3)), file=f"{name}.wav",
                       highpass_hz=float(rng.choice([0, 40, 80])), lowpass_hz=float(rng.choice([0, 0, 8000, 14000])))

    mics = [close(str(rng.choice(["Kick In", "Kick", "BD", "Kik In"])), "kick", dy=-0.1, dz=0.0)]
    if rng.random() < 0.5:
        mics.append(close(str(rng.choice(["Kick Out", "Kick Sub", "BD Out"])), "kick", dy=0.35, dz=0.0))
    mics.append(close(str(rng.choice(["Snare Top", "Snare", "SN Top", "Sn"])), "snare", dy=0.08, dz=0.06))
    if rng.random() < 0.5:
        bottom = close(str(rng.choice(["Snare Bottom", "SN Btm", "Snare Bot"])), "snare", dz=-0.2)
        mics.append(MicSpec(**{**bottom.__dict__, "polarity": -bottom.polarity}))
    if rng.random() < 0.7:
        mics.append(close(str(rng.choice(["Hat", "Hihat", "HH"])), "hihat", dz=0.1))
    if rng.random() < 0.7:
        mics.append(close(str(rng.choice(["Rack Tom", "Tom 1", "Rack"])), "rack_tom"))
    if rng.random() < 0.7:
        mics.append(close(str(rng.choice(["Floor Tom", "FT", "Tom 3"])), "floor_tom"))
    if rng.random() < 0.25:
        mics.append(close(str(rng.choice(["Ride", "Crash"])), "crash", dz=-0.1))
    if rng.random() < 0.15:
        mics.append(MicSpec("Trigger", near_drum("kick"), "kick", bleed_db=-60.0, file="Trigger.wav"))
    distant = []
    for k in range(int(rng.choice([0, 0, 0, 1, 2]))):  # mics of toms nobody plays in this take: bleed only
        distant.append(MicSpec(f"Tom {k + 4}", jitter((0.3 + 0.3 * k, 0.0, 0.7), 0.1), file=f"Tom {k + 4}.wav"))
    overheads = int(rng.choice([0, 1, 2, 2, 2]))
    if overheads == 1:
        distant.append(MicSpec("OH", jitter((0.0, 0.1, 1.7), 0.2), file="OH.wav"))
    elif overheads == 2:
        stereo = rng.random() < 0.5
        for side, x in (("L", -0.5), ("R", 0.5)):
            distant.append(MicSpec(f"OH {side}", jitter((x, 0.1, 1.8), 0.2),
                                   file="OH.wav" if stereo else f"OH {side}.wav", channel=int(stereo and side == "R")))
    rooms = int(rng.choice([0, 0, 1, 2]))
    for k in range(rooms):
        distant.append(MicSpec(f"Room {k + 1}", jitter((-1.0 + 2.0 * k, 3.0, 1.6), 0.8), file=f"Room {k + 1}.wav"))
    if rng.random() < 0.1:
        distant.append(MicSpec("Mic 9", jitter((0.0, 1.0, 1.0), 0.5), file="Mic 9.wav"))  # an unnamed mic
    return tuple(mics + distant)


def _tempo_map(rng: np.random.Generator, meter: tuple[int, int], bars: int) -> TempoMap:
    bpm = float(rng.uniform(60, 170)) if meter != (6, 8) else float(rng.uniform(50, 120))
    changes = [(0, int(round(60e6 / bpm)))]
    if rng.random() < 0.4:
        at = int(rng.integers(2, max(3, bars)))
        changes.append((int(meter[0] * 4 / meter[1] * (at - 1)), int(round(60e6 / (bpm * rng.uniform(0.8, 1.25))))))
    return TempoMap.from_changes(changes, [(0, meter[0], meter[1])])


def random_session(seed: int, duration_s: float = 20.0, gmd_share: float = 0.3,
                   tom_bars: float = 0.0, real_share: float = 0.0, doubles: float = 0.0) -> tuple[SynthSession, float]:
    """A random session of about ``duration_s`` seconds, drawn from ``seed`` alone; ``tom_bars`` is the chance that
    a bar of a generated groove is played on the toms alone or over the kick (``python -m aligner.train
    --tom-bars``), ``real_share`` the chance that the session is a training take's kicks and snares on
    MuldjordKit's training hits (:func:`real_kit_session`; ``--real-share``), ``doubles`` the most a generated
    drummer's chance of a double stroke may be (:class:`aligner.performance.Drummer`; ``--doubles``). With all 0,
    the defaults, it draws exactly the sessions it drew before those options existed.

    Returns
    -------
    (SynthSession, float)
        The session and the swing (percent) its 16th lines are played with.
    """
    rng = np.random.default_rng(seed)
    if real_share and rng.random() < real_share and (REALDATA / "drums" / "muldjordkit").exists() \
            and training_takes():
        return real_kit_session(rng, duration_s), 0.0
    rate = int(rng.choice(_RATES, p=_RATE_WEIGHTS))
    cfg = SynthConfig(seed=seed, sample_rate_hz=rate, mics=random_mics(rng), kit_variety=1.0,
                      noise_db=float(rng.uniform(-95, -60)), oneshots=str(ONESHOTS_FOLDER))
    takes = training_takes()
    origin = int(rng.integers(0, rate // 2))
    if takes and rng.random() < gmd_share:
        from aligner.realkit import gmd_strokes

        take = takes[int(rng.integers(len(takes)))]
        length = origin + round(duration_s * rate)
        skip_s = float(rng.uniform(0, 20))
        tempo_map, strokes = gmd_strokes(take, rate, origin, length, skip_s=skip_s)
        return render_strokes(cfg, tempo_map, origin - round(skip_s * rate), strokes, length), 0.0
    meter = [(4, 4), (4, 4), (4, 4), (3, 4), (6, 8)][int(rng.integers(5))]
    swing = float(rng.uniform(20, 70)) if meter == (4, 4) and rng.random() < 0.2 else 0.0
    bars_guess = 12
    tempo_map = _tempo_map(rng, meter, bars_guess)
    grid = SessionGrid(tempo_map, rate, origin)
    bars = 1
    while grid.bbt2sample(2 + bars) < origin + duration_s * rate and bars < 64:
        bars += 1
    groove = random_groove(rng, meter)
    groove["tom_bars"] = tom_bars
    drummer = random_drummer(rng)
    if doubles:
        drummer = replace(drummer, double_rate=float(rng.uniform(0, doubles)))
    strokes = perform(grid, 2, bars, groove, drummer, rng, swing)
    length = grid.bbt2sample(2 + bars) + round(1.0 * rate)
    return render_strokes(cfg, tempo_map, origin, strokes, length), swing


def real_kit_session(rng: np.random.Generator, duration_s: float = 20.0) -> SynthSession:
    """``duration_s`` of a random training take's kicks and snares on MuldjordKit's training hits, from a random
    point of the take, on a random subset of its 16 mics (each kept with a chance of 3 in 4; the kick and snare-top
    mics always): real bleed of a real kick and snare in real hat, tom, ride and trigger mics, which the model must
    learn to hear as no stroke of theirs."""
    from aligner.realkit import MULDJORD_MICS, session_from_gmd

    takes = training_takes()
    take = takes[int(rng.integers(len(takes)))]
    syn = session_from_gmd(take, REALDATA / "drums" / "muldjordkit", duration_s,
                           lead_in_s=float(rng.uniform(0.0, 0.5)), skip_s=float(rng.uniform(0.0, 20.0)),
                           training=True)
    keep = [m for m in MULDJORD_MICS if m in ("KdrumL", "Snare_top") or rng.random() < 0.75]
    syn.audio = {f"{m}.wav": syn.audio[f"{m}.wav"] for m in keep}
    return syn


def training_takes() -> list[Path]:
    """The GMD takes training may draw timing from (all but :data:`HELD_OUT_GMD_TAKES`); empty without the data."""
    if not GMD_FOLDER.exists():
        return []
    held = {GMD_FOLDER / t for t in HELD_OUT_GMD_TAKES}
    return sorted(p for p in GMD_FOLDER.rglob("*.mid") if p not in held)


def targets(strokes, grid: SessionGrid, frames: int, hop: int, swing_pct: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame targets of a session's truth.

    Returns
    -------
    (onsets, lines)
        ``onsets`` (len(CLASSES), frames) float32: 1 at each stroke's frame (``sample // hop``), 0.5 at the frames
        beside it; ``lines`` (frames,) int8: at each stroke's frame and its neighbours, the index in
        :data:`LINE_SHIFTS` of its line relative to the nearest 16th line (-1 where there is none or it is further).
    """
    onsets = np.zeros((len(CLASSES), frames), dtype=np.float32)
    lines = np.full(frames, -1, dtype=np.int8)
    rate = grid.sample_rate_hz
    grid_l = grid_lines(grid, -4 * rate, frames * hop + 4 * rate, "1/16", swing_pct)
    samples = line_samples(grid_l)
    for st in strokes:
        f = st.sample // hop
        if not 0 <= f < frames:
            continue
        c = CLASSES.index(DRUM_CLASS[st.drum])
        for d, v in ((-1, 0.5), (1, 0.5), (0, 1.0)):
            if 0 <= f + d < frames:
                onsets[c, f + d] = max(onsets[c, f + d], v)
        nearest = int(np.argmin(np.abs(samples - st.sample)))
        true = int(np.argmin(np.abs(samples - st.line_sample)))
        shift = true - nearest
        if shift in LINE_SHIFTS:
            for d in (-1, 0, 1):
                if 0 <= f + d < frames:
                    lines[f + d] = LINE_SHIFTS.index(shift)
    return onsets, lines


def session_example(syn: SynthSession, swing_pct: float) -> Example:
    """Features and targets of a synthesised session (mics as the session reader would see them: one per file)."""
    rate = syn.config.sample_rate_hz
    hop = hop_samples(rate)
    names = list(syn.audio)
    feats = [band_features(syn.audio[n].astype(np.float32), rate) for n in names]
    frames = feats[0].shape[0]
    roles = np.stack([role_vector(role_from_name(Path(n).stem)) for n in names])
    grid = SessionGrid(syn.tempo_map, rate, syn.origin_samples)
    onsets, lines = targets(syn.strokes, grid, frames, hop, swing_pct)
    return Example(np.stack(feats).astype(np.float16), roles, grid_features(grid, frames, hop, swing_pct)
                   .astype(np.float16), onsets.astype(np.float16), lines)

