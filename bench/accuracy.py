"""Accuracy of nbd's aligner against a librosa onset-detection + nearest-line baseline, on sessions with known truth.

    python bench/accuracy.py [--quick]

Sessions (fixed, so runs compare):
- synthetic: the session synthesiser (10 mics, tempo change, flams, ghosts, 2-3 events per bar 30-45 % of a step off),
  seeds 100-103;
- real hits: MuldjordKit's 16-mic hits played with Groove MIDI Dataset timing (20 s of each take), when
  ``../shared/realdata`` is present.

Columns: detection F-measure per drum class at ±5 and ±25 ms (mir_eval; the baseline has no classes, so only its
"all" column), share of true anchors within 1 ms of their line after conforming, strokes whose first 10 ms are played
twice or not at all, and the largest change of any inter-mic offset at the anchors (cross-correlation of every mic
against the anchor's mic, before and after, on the rendered stems).

Needs the ``bench`` extra (mir_eval, librosa): ``pip install -e .[bench]``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

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
from grid import SessionGrid  # noqa: E402
from session_io import read_session  # noqa: E402
from session_io.audio import SessionReader  # noqa: E402

REALDATA = REPO.parent / "shared" / "realdata"
CLASSES = ("kick", "snare", "tom", "hihat", "cymbal")
GMD_TAKES = (
    "drummer1/session1/1_funk_80_beat_4-4.mid",
    "drummer7/session1/1_rock_86_beat_4-4.mid",
    "drummer7/session1/17_hiphop_100_beat_4-4.mid",
    "drummer8/session1/10_neworleans-funk_82_beat_4-4.mid",
)


@dataclass
class Scores:
    """Sums over sessions, turned into the table's figures by :meth:`row`."""

    f5: dict = field(default_factory=lambda: {c: [] for c in CLASSES + ("all",)})
    f25: dict = field(default_factory=lambda: {c: [] for c in CLASSES + ("all",)})
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


def librosa_hits(session) -> list[Hit]:
    """The baseline: librosa's onset detector (with backtracking) on the sum of every mic."""
    import librosa

    with SessionReader(session) as reader:
        mix = reader.read_all(0, session.length_samples).sum(axis=1)
    onsets = librosa.onset.onset_detect(y=mix.astype(np.float32), sr=session.sample_rate_hz, units="samples",
                                        backtrack=True)
    return [Hit(int(p), "other", 0, 1.0, 1.0) for p in onsets]


def classic_hits(session) -> list[Hit]:
    """nbd's classic detector."""
    return detect_hits(session)


METHODS = {"nbd classic": classic_hits, "librosa + nearest line": librosa_hits}


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


def evaluate(syn: SynthSession, folder: Path, method: str, scores: Scores) -> None:
    """Run one method on one session and add its figures to ``scores``."""
    session = assign_roles(read_session(folder))
    rate = session.sample_rate_hz
    grid = SessionGrid(syn.tempo_map, rate, syn.origin_samples)
    started = time.monotonic()
    hits = METHODS[method](session)
    events = make_events(hits, grid, session.length_samples, AlignConfig().event_settings())
    with SessionReader(session) as reader:
        plan = make_plan(session, events, reader)
    scores.seconds += time.monotonic() - started

    for cls in CLASSES + ("all",):
        ref = [s.sample for s in syn.strokes if cls == "all" or DRUM_CLASS[s.drum] == cls]
        est = [h.position for h in hits if cls == "all" or h.drum == cls]
        if method != "nbd classic" and cls != "all":
            continue
        for store, window in ((scores.f5, 0.005), (scores.f25, 0.025)):
            value = f_measure(ref, est, rate, window)
            if value is not None:
                store[cls].append((value, len(ref)))

    anchors = truth_events(syn.strokes)
    tolerance = round(0.001 * rate)
    for line, stroke in anchors.items():
        dest = plan.map_source_to_dest(stroke.sample)
        scores.anchors += 1
        scores.anchors_ok += dest is not None and abs(dest - line) <= tolerance
    step = max(1, round(0.0005 * rate))
    for stroke in syn.strokes:
        played = [plan.times_played(p) for p in range(stroke.sample, stroke.sample + round(0.01 * rate), step)]
        scores.twice += max(played) > 1
        scores.dropped += min(played) < 1
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


def sessions(quick: bool, tmp: Path):
    """Yield (group, name, SynthSession, folder) for every benchmark session."""
    seeds = (100, 101) if quick else (100, 101, 102, 103)
    for seed in seeds:
        syn = synthesise(SynthConfig(seed=seed, bars=8, far_off_per_bar=2))
        yield "synthetic", f"seed {seed}", syn, write_session(syn, tmp / f"synth{seed}")
    kit = REALDATA / "drums" / "muldjordkit"
    if not kit.exists():
        print(f"(real-hit sessions skipped: {kit} not present)")
        return
    from aligner.realkit import session_from_gmd

    for take in GMD_TAKES[: 2 if quick else None]:
        syn = session_from_gmd(REALDATA / "midi" / "gmd" / take, kit, duration_s=20.0)
        yield "real hits", take, syn, write_session(syn, tmp / Path(take).stem)


def main(argv: list[str] | None = None) -> dict:
    """Print the tables; returns the scores by (group, method)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two sessions per group")
    args = parser.parse_args(argv)
    results: dict[tuple[str, str], Scores] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for group, name, syn, folder in sessions(args.quick, Path(tmp)):
            for method in METHODS:
                evaluate(syn, folder, method, results.setdefault((group, method), Scores()))
            print(f"  evaluated {group}: {name}", file=sys.stderr)

    print("\nDetection F-measure (stroke-weighted over sessions)")
    head = "".join(f"{c:>8}" for c in CLASSES + ("all",))
    print(f"{'sessions':<11}{'method':<24}{'window':>7}{head}")
    for (group, method), s in results.items():
        for label, store in (("±5 ms", s.f5), ("±25 ms", s.f25)):
            print(f"{group:<11}{method:<24}{label:>7}" + "".join(f"{_mean(store[c]):>8}" for c in CLASSES + ("all",)))

    print("\nConforming (goals: anchors within 1 ms >= 95 % for classic; 0 played twice; 0 samples offset change)")
    print(f"{'sessions':<11}{'method':<24}{'anchors<=1ms':>13}{'played twice':>14}{'dropped':>9}"
          f"{'max mic offset change':>23}{'time s':>8}")
    for (group, method), s in results.items():
        share = s.anchors_ok / s.anchors if s.anchors else 0.0
        print(f"{group:<11}{method:<24}{share:>12.1%} {s.twice:>13} {s.dropped:>8} {s.max_offset_change:>15} samples"
              f"{s.seconds:>8.1f}")
    return results


if __name__ == "__main__":
    main()
