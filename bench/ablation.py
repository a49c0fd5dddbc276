"""The founding hypothesis, tested: a transformer against a temporal convolutional network, each with and without
the grid as input, trained on the same data, seeds and time budget.

    python bench/ablation.py [--minutes 15] [--seeds 0 1] [--jobs 2] [--sessions 320] [--keep DIR]

For every seed, one training set is generated (as ``python -m aligner.train`` does) and all four variants train on
it for the same budget of CPU time (summed over threads, so a busy machine does not favour one) with the same batch
order. Each model is then scored on the benchmark's held-out
sessions (``bench/accuracy.py``: generated sessions from held-out seeds, and MuldjordKit real hits played with held-out
GMD takes when ``../shared/realdata`` is present) without rendering stems. Printed per variant: parameters,
real-time factor of inference on one thread (seconds of audio per second of compute, 12 mics), F-measure at ±5 ms,
line assignment overall and for strokes 30-50 % and 50-70 % of a step off, anchors within 1 ms; as the mean over
seeds with the range (min-max) beside it, so a difference can be told from noise.

Needs the ``bench`` extra (mir_eval, librosa).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import accuracy  # noqa: E402
from aligner.features import GRID_FEATURES, MIC_FEATURES, MODEL_ROLES  # noqa: E402
from aligner.model import ModelConfig, load_weights, save_weights  # noqa: E402
from aligner.train import TrainSettings, build_dataset, train  # noqa: E402

VARIANTS = {
    "TCN + grid": ModelConfig(trunk="tcn", layers=10, use_grid=True),
    "TCN without grid": ModelConfig(trunk="tcn", layers=10, use_grid=False),
    "transformer + grid": ModelConfig(trunk="transformer", layers=3, use_grid=True),
    "transformer without grid": ModelConfig(trunk="transformer", layers=3, use_grid=False),
}


def real_time_factor(model, seconds: float = 60.0, mics: int = 12) -> float:
    """Seconds of audio the model gets through per second of compute on one thread (features not included)."""
    import torch

    frames = int(seconds / 0.005)
    x = torch.randn(1, mics, frames, MIC_FEATURES)
    roles = torch.zeros(1, mics, len(MODEL_ROLES))
    mask = torch.ones(1, mics, dtype=torch.bool)
    grid = torch.randn(1, frames, GRID_FEATURES)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            model(x[:, :, :400], roles, mask, grid[:, :400])  # warm-up
            started = time.perf_counter()
            model(x, roles, mask, grid)
            return seconds / (time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)


def score(weights: Path, eval_sessions: list) -> dict:
    """The accuracy figures of one model on the held-out sessions."""
    accuracy.WEIGHTS = str(weights)
    s = accuracy.Scores()
    for _group, _name, syn, folder, swing in eval_sessions:
        accuracy.evaluate(syn, folder, "nbd neural", s, swing, render=False)
    f5 = s.f5["all"]
    return {
        "F5": sum(v * n for v, n in f5) / max(1, sum(n for _, n in f5)),
        "lines": s.lines_ok["all"] / max(1, s.lines["all"]),
        "lines 30-50%": s.lines_ok["30-50%"] / max(1, s.lines["30-50%"]),
        "lines 50-70%": s.lines_ok["50-70%"] / max(1, s.lines["50-70%"]),
        "anchors<=1ms": s.anchors_ok / max(1, s.anchors),
    }


def run_seeds(seeds: list[int], variants: list[str], minutes: float, sessions: int, workers: int, out: Path,
              log) -> dict[int, dict[str, dict]]:
    """Train every variant on each seed's training set and score it (the held-out sessions are made once); returns
    the figures by seed and variant (no RTF)."""
    results: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        eval_sessions = list(accuracy.sessions(False, Path(tmp), {"generated", "real hits"}))
        for seed in seeds:
            examples = build_dataset([seed * 100_000 + i for i in range(sessions)], workers, log)
            for name in variants:
                settings = TrainSettings(seed=seed, steps=10 ** 9, minutes=minutes)
                model = train(VARIANTS[name], settings, examples, log)
                path = save_weights(model, out / weights_name(name, seed),
                                    {"variant": name, "seed": seed, "minutes": minutes})
                figures = score(path, eval_sessions)
                figures["params"] = sum(p.numel() for p in model.parameters())
                results.setdefault(seed, {})[name] = figures
                log(f"{name}, seed {seed}: {figures}")
    return results


def weights_name(variant: str, seed: int) -> str:
    """File name of one trained variant."""
    return f"{variant.replace(' ', '_').replace('+', 'with')}-seed{seed}.safetensors"


def main(argv: list[str] | None = None) -> dict:
    """Train, score and print the table; returns the figures by variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="CPU minutes of training per variant and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sessions", type=int, default=320)
    parser.add_argument("--workers", type=int, default=2, help="processes generating training data")
    parser.add_argument("--jobs", type=int, default=1,
                        help="seeds trained at once, one process each (training runs on one thread)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--keep", type=Path, help="keep the trained weights here")
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)  # a --jobs child writes its figures here
    args = parser.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    variants = [v.strip() for v in args.variants.split(",")]
    results: dict[str, list[dict]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        if args.json:  # a child of --jobs: one seed, figures to a file
            figures = run_seeds(args.seeds, variants, args.minutes, args.sessions, args.workers, out, log)
            args.json.write_text(json.dumps(figures))
            return figures
        per_seed = _train_seeds(args, variants, out, Path(tmp), log)
        for seed in args.seeds:
            for name in variants:
                figures = per_seed[seed][name]
                # measured after all training, so a parallel job does not slow it down
                figures["rtf"] = real_time_factor(load_weights(out / weights_name(name, seed))[0])
                results[name].append(figures)
    print(f"\nAblation: {args.minutes:g} CPU-minutes of training per variant and seed, seeds {args.seeds}, "
          f"{args.sessions} training sessions; mean over seeds [min-max]")
    keys = ("F5", "lines", "lines 30-50%", "lines 50-70%", "anchors<=1ms")
    print(f"{'variant':<26}{'params':>8}{'RTF':>8}" + "".join(f"{k:>22}" for k in keys))
    for name, rows in results.items():
        if not rows:
            continue
        cells = []
        for k in keys:
            v = np.array([r[k] for r in rows])
            cells.append(f"{v.mean():.3f} [{v.min():.3f}-{v.max():.3f}]")
        print(f"{name:<26}{rows[0]['params']:>8}{np.mean([r['rtf'] for r in rows]):>8.0f}"
              + "".join(f"{c:>22}" for c in cells))
    return results


def _train_seeds(args, variants: list[str], out: Path, tmp: Path, log) -> dict[int, dict[str, dict]]:
    """Each seed's figures by variant: in this process, or with ``--jobs N`` in N child processes at once."""
    if args.jobs <= 1:
        return run_seeds(args.seeds, variants, args.minutes, args.sessions, args.workers, out, log)
    children = []
    for i, seed in enumerate(args.seeds):
        if len(children) >= args.jobs:
            _wait(children.pop(0))
        cmd = [sys.executable, __file__, "--seeds", str(seed), "--minutes", str(args.minutes),
               "--sessions", str(args.sessions), "--workers", "1", "--variants", ",".join(variants),
               "--keep", str(out), "--json", str(tmp / f"seed{seed}.json")]
        children.append(subprocess.Popen(cmd))
    for child in children:
        _wait(child)
    per_seed = {}
    for seed in args.seeds:
        per_seed.update({int(k): v for k, v in json.loads((tmp / f"seed{seed}.json").read_text()).items()})
    return per_seed


def _wait(child: subprocess.Popen) -> None:
    if child.wait() != 0:
        raise SystemExit(f"ablation: a training job failed (exit {child.returncode}): {' '.join(child.args)}")


if __name__ == "__main__":
    main()
