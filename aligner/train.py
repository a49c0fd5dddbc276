"""Train the neural aligner on generated sessions and write its weights (safetensors, no pickle).

    python -m aligner.train --out aligner/weights/nbd-neural.safetensors          # the shipped model
    python -m aligner.train --out /tmp/tcn.safetensors --trunk transformer --no-grid --steps 500
    python -m aligner.train --out /tmp/gpu.safetensors --device cuda     # the optimisation on a GPU

Everything follows from ``--seed``: the training sessions (seeds ``seed * 100000 + i``, below the benchmark's
held-out seeds), the initial weights and the batches. Results are bit-identical for one seed on one machine and
thread count; other thread counts may differ in the last bits of float sums, and a GPU's weights differ from the
CPU's (on the validation sessions, as much as another seed does).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import torch

from aligner.model import CLASSES, AlignerNet, ModelConfig, save_weights

__all__ = ["TrainSettings", "build_dataset", "train", "main"]

#: A stroke's frame is rare among frames: its loss counts this much more than an empty frame's.
_ONSET_POS_WEIGHT = 4.0
#: Strokes off toward another line are rare: their line loss counts this much more.
_LINE_WEIGHTS = (6.0, 1.0, 6.0)


@dataclass(frozen=True)
class TrainSettings:
    """Budget and optimiser settings (see :func:`main` for the command-line names)."""

    seed: int = 0
    sessions: int = 320
    steps: int = 3000
    batch: int = 8
    crop_frames: int = 2000
    lr: float = 2e-3
    workers: int = 2
    minutes: float | None = None  # a budget of CPU time (summed over threads); ``steps`` still caps it
    tom_bars: float = 0.0  # share of generated groove bars played on the toms (random_session's tom_bars)
    real_share: float = 0.0  # share of sessions on MuldjordKit's training hits (random_session's real_share)
    doubles: float = 0.0  # the most a generated drummer's chance of a double stroke may be (random_session's doubles)
    device: str = "cpu"  # where the optimisation runs ("cuda" for a GPU); the data is always built on the CPU


def _example(job: tuple[int, float, float, float]):
    from aligner.training_data import random_session, session_example

    seed, tom_bars, real_share, doubles = job
    torch.set_num_threads(1)
    syn, swing = random_session(seed, tom_bars=tom_bars, real_share=real_share, doubles=doubles)
    return session_example(syn, swing)


def build_dataset(seeds: list[int], workers: int = 2, log=print, tom_bars: float = 0.0,
                  real_share: float = 0.0, doubles: float = 0.0) -> list:
    """Generate the sessions of ``seeds`` (in ``workers`` processes; ``tom_bars``, ``real_share`` and ``doubles`` as
    in :func:`aligner.training_data.random_session`) and return their :class:`Example`s in order."""
    started = time.monotonic()
    jobs = [(seed, tom_bars, real_share, doubles) for seed in seeds]
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            examples = pool.map(_example, jobs, chunksize=4)
    else:
        examples = [_example(job) for job in jobs]
    frames = sum(e.mics.shape[1] for e in examples)
    log(f"data: {len(examples)} sessions, {frames * 0.005 / 3600:.2f} h of audio, "
        f"{sum(e.mics.nbytes for e in examples) / 1e6:.0f} MB of features, {time.monotonic() - started:.0f} s")
    return examples


def _batch(examples: list, picks: list[int], crop: int, rng: np.random.Generator):
    """Stack random crops of the picked examples, padding mics (masked) and frames (targets ignored)."""
    m = max(examples[i].mics.shape[0] for i in picks)
    f = examples[picks[0]].mics.shape[2]
    g = examples[picks[0]].grid.shape[1]
    r = examples[picks[0]].roles.shape[1]
    b = len(picks)
    mics = np.zeros((b, m, crop, f), dtype=np.float32)
    roles = np.zeros((b, m, r), dtype=np.float32)
    mask = np.zeros((b, m), dtype=bool)
    grid = np.zeros((b, crop, g), dtype=np.float32)
    onsets = np.zeros((b, len(CLASSES), crop), dtype=np.float32)
    lines = np.full((b, crop), -1, dtype=np.int64)
    valid = np.zeros((b, crop), dtype=np.float32)
    for k, i in enumerate(picks):
        e = examples[i]
        t = e.mics.shape[1]
        start = int(rng.integers(0, max(1, t - crop + 1)))
        n = min(crop, t - start)
        order = rng.permutation(e.mics.shape[0])  # any mic order
        mics[k, :len(order), :n] = e.mics[order, start:start + n]
        roles[k, :len(order)] = e.roles[order]
        mask[k, :len(order)] = True
        grid[k, :n] = e.grid[start:start + n]
        onsets[k, :, :n] = e.onsets[:, start:start + n]
        lines[k, :n] = e.lines[start:start + n]
        valid[k, :n] = 1.0
    as_t = torch.from_numpy
    return as_t(mics), as_t(roles), as_t(mask), as_t(grid), as_t(onsets), as_t(lines), as_t(valid)


def _loss(model: AlignerNet, batch) -> tuple[torch.Tensor, float, float]:
    mics, roles, mask, grid, onsets, lines, valid = batch
    onset_logits, line_logits = model(mics, roles, mask, grid)
    weight = (1.0 + (_ONSET_POS_WEIGHT - 1.0) * (onsets > 0)) * valid[:, None, :]
    onset_loss = torch.nn.functional.binary_cross_entropy_with_logits(onset_logits, onsets, weight=weight,
                                                                      reduction="sum") / weight.sum()
    line_loss = torch.nn.functional.cross_entropy(line_logits, lines,
                                                  weight=torch.tensor(_LINE_WEIGHTS, device=lines.device),
                                                  ignore_index=-1) if (lines >= 0).any() else onset_loss * 0
    return onset_loss + 0.5 * line_loss, float(onset_loss.detach()), float(line_loss.detach())


def train(config: ModelConfig, settings: TrainSettings, examples: list | None = None, log=print) -> AlignerNet:
    """Train a model from ``settings.seed``.

    Parameters
    ----------
    config : ModelConfig
    settings : TrainSettings
    examples : list of Example, optional
        Training data already built (the ablation shares one set between variants); built from the seed if None.

    Returns
    -------
    AlignerNet
        In eval mode.
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    if examples is None:
        seeds = [settings.seed * 100_000 + i for i in range(settings.sessions)]
        examples = build_dataset(seeds, settings.workers, log, settings.tom_bars, settings.real_share,
                                 settings.doubles)
    model = AlignerNet(config).to(settings.device)
    params = sum(p.numel() for p in model.parameters())
    log(f"model: {config.trunk}, grid {'on' if config.use_grid else 'off'}, {params} parameters")
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-4)
    started = time.monotonic()
    cpu_started = time.process_time()  # a CPU-time budget: fair between variants even on a busy machine
    budget = settings.minutes * 60 if settings.minutes else None
    steps = settings.steps
    model.train()
    running = []
    for step in range(steps):
        progress = step / steps
        if budget is not None:
            progress = max(progress, (time.process_time() - cpu_started) / budget)
            if progress >= 1.0:
                log(f"CPU budget reached after {step} steps, {time.monotonic() - started:.0f} s")
                break
        lr = settings.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for group in optimiser.param_groups:
            group["lr"] = lr
        picks = [int(i) for i in rng.integers(0, len(examples), settings.batch)]
        batch = [t.to(settings.device) for t in _batch(examples, picks, settings.crop_frames, rng)]
        loss, onset_loss, line_loss = _loss(model, batch)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        running.append((onset_loss, line_loss))
        if (step + 1) % 100 == 0:
            o, li = np.mean(running, axis=0)
            running = []
            log(f"step {step + 1}: onset loss {o:.4f}, line loss {li:.4f}, lr {lr:.2e}, "
                f"{time.monotonic() - started:.0f} s")
    model.eval()
    return model.cpu()


def main(argv: list[str] | None = None) -> int:
    """The training command; returns the exit code."""
    parser = argparse.ArgumentParser(description="Train nbd's neural aligner on generated sessions.")
    parser.add_argument("--out", required=True, help="weights file to write (.safetensors)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=320, help="generated training sessions of about 20 s")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop the optimisation after this much CPU time (all threads), in minutes")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="processes generating the sessions")
    parser.add_argument("--device", default="cpu",
                        help="torch device for the optimisation, e.g. cuda (the shipped weights were made on the CPU)")
    parser.add_argument("--trunk", choices=("tcn", "transformer"), default="tcn")
    parser.add_argument("--no-grid", action="store_true", help="hide the grid from the model (ablation)")
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--tom-bars", type=float, default=0.0,
                        help="share of generated groove bars played on the toms alone or over the kick (experiment; "
                             "the shipped weights use 0)")
    parser.add_argument("--real-share", type=float, default=0.0,
                        help="share of sessions that are a training take's kicks and snares on MuldjordKit's "
                             "training hits (the shipped weights use 0.15; needs ../shared/realdata, without it "
                             "every session is generated)")
    parser.add_argument("--doubles", type=float, default=0.0,
                        help="the most a generated drummer's chance of a double stroke (snare, kick or hat again "
                             "15-45 ms later) may be (the shipped weights use 0: their drags come from GMD takes)")
    args = parser.parse_args(argv)
    layers = args.layers or (10 if args.trunk == "tcn" else 3)
    config = ModelConfig(channels=args.channels, trunk=args.trunk, layers=layers, use_grid=not args.no_grid)
    settings = TrainSettings(args.seed, args.sessions, args.steps, args.batch, workers=args.workers,
                             minutes=args.minutes, tom_bars=args.tom_bars, real_share=args.real_share,
                             doubles=args.doubles, device=args.device)
    started = time.monotonic()
    model = train(config, settings, log=lambda m: print(m, file=sys.stderr, flush=True))
    info = {"seed": args.seed, "sessions": args.sessions, "steps": args.steps, "batch": args.batch,
            "train_minutes": round((time.monotonic() - started) / 60, 1), "torch": torch.__version__,
            "command": "python -m aligner.train " + " ".join(argv if argv is not None else sys.argv[1:])}
    print(save_weights(model, args.out, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
