"""Random drummers playing random grooves to a click: the performances the neural aligner is trained and tested on.

A groove is drawn per session (meter 4/4, 3/4 or 6/8; hats on quarters, 8ths or 16ths; kick and snare figures;
tom fills ending phrases, a crash after them; ghost notes on empty 16ths; flams; with the groove's ``tom_bars``, that
share of bars played on the toms, alone or over the kick). A drummer is drawn per session with
the timing measured on the Groove MIDI Dataset's drummers playing to a click: a bias of -18 to +24 ms, per-event
scatter with lag-1 correlation of about 0.35, a slow drift of about 9 ms, ghost notes and fills looser, limbs on one
line a few ms apart; with a ``double_rate``, double strokes (a second stroke of the snare, kick or hat 15-45 ms after
the first, as softly or softer, on the same line: the drags and diddles of the Groove MIDI Dataset's takes). Some
events are pushed 30-50 % of a step off their line, and some 50-70 % off toward a neighbouring line the groove
leaves empty, where the nearest line is the wrong one.

Truth: every stroke's sample, drum, velocity and the line it was meant for (:class:`aligner.synth.Stroke`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aligner.synth import Stroke
from grid import SessionGrid, grid_lines, line_samples, ms2samples

__all__ = ["Drummer", "random_drummer", "random_groove", "perform"]


@dataclass(frozen=True)
class Drummer:
    """How one drummer plays against a click (ms unless named otherwise)."""

    bias_ms: float = 0.0
    sigma_ms: float = 6.0
    lag1: float = 0.35
    drift_ms: float = 0.0
    drift_period_bars: float = 8.0
    limb_ms: float = 2.0
    loose: float = 1.5  # ghost notes and fills scatter this much more
    far_per_bar: float = 0.5  # events 30-50 % of a step off, on average per bar
    very_far_per_bar: float = 0.3  # events 50-70 % off toward an empty neighbouring line
    ghost_rate: float = 0.2
    flam_rate: float = 0.1
    double_rate: float = 0.0  # chance that a snare, kick or hat stroke is followed by a second one (a double)


def random_drummer(rng: np.random.Generator) -> Drummer:
    """A drummer with timing drawn from the ranges measured on real drummers."""
    return Drummer(
        bias_ms=float(rng.uniform(-18, 24)),
        sigma_ms=float(rng.uniform(2, 14)),
        lag1=float(rng.uniform(0.2, 0.5)),
        drift_ms=float(rng.uniform(0, 12)),
        drift_period_bars=float(rng.uniform(4, 16)),
        limb_ms=float(rng.uniform(0.5, 4)),
        far_per_bar=float(rng.uniform(0.2, 1.5)),
        very_far_per_bar=float(rng.uniform(0.1, 0.8)),
        ghost_rate=float(rng.uniform(0, 0.35)),
        flam_rate=float(rng.uniform(0, 0.25)),
    )


#: Steps (16ths) per beat that carries the backbeat, and the steps of the bar's main beats, per meter.
_METERS = {(4, 4): 16, (3, 4): 12, (6, 8): 12}


def random_groove(rng: np.random.Generator, meter: tuple[int, int]) -> dict:
    """A groove's fixed figures for a meter: which 16th steps of a bar each drum plays.

    Returns
    -------
    dict
        ``steps`` (16ths per bar), ``hihat``, ``kick``, ``snare`` (lists of steps), ``fill_every`` (bars per phrase).
    """
    steps = _METERS[meter]
    if meter == (6, 8):
        hat_every = int(rng.choice([1, 2, 2]))
        snare = [6]
        kick = [0] + [s for s in (4, 8, 10) if rng.random() < 0.35]
    elif meter == (3, 4):
        hat_every = int(rng.choice([1, 2, 2, 4]))
        snare = [4, 8] if rng.random() < 0.6 else [8]
        kick = [0] + [s for s in (6, 10, 2) if rng.random() < 0.3]
    else:
        hat_every = int(rng.choice([1, 2, 2, 2, 4]))
        snare = [4, 12] if rng.random() < 0.8 else [8]
        kick = [0] + [s for s in (8, 10, 6, 14, 3, 7, 11) if rng.random() < 0.3]
    return {"steps": steps, "hihat": list(range(0, steps, hat_every)), "kick": sorted(set(kick)),
            "snare": [s for s in snare if s not in kick or s == 8], "fill_every": int(rng.choice([2, 4, 4, 8]))}


def _bar(groove: dict, bar_in_phrase: int, after_fill: bool, rng: np.random.Generator
         ) -> list[tuple[int, str, int, str]]:
    """(step, drum, velocity, kind) of one bar of the groove."""
    steps = groove["steps"]
    if groove.get("tom_bars") and rng.random() < groove["tom_bars"]:
        # a bar on the toms, alone or over the kick (a tom groove, a fill after a stop): fills never show toms alone
        every = int(rng.choice([1, 2, 4]))
        toms = [str(rng.choice(["rack_tom", "floor_tom"]))] if rng.random() < 0.6 else ["rack_tom", "floor_tom"]
        hits = [(i, str(rng.choice(toms)), int(rng.integers(70, 125)), "normal") for i in range(0, steps, every)]
        if rng.random() < 0.5:
            hits += [(i, "kick", int(rng.integers(95, 127)), "normal") for i in groove["kick"] if i % every]
        return hits
    hits = [(i, "hihat", int(rng.integers(75, 100)) if i % 4 == 0 else int(rng.integers(55, 85)), "normal")
            for i in groove["hihat"]]
    hits += [(i, "kick", int(rng.integers(95, 127)), "normal") for i in groove["kick"]]
    hits += [(i, "snare", int(rng.integers(100, 127)), "normal") for i in groove["snare"]]
    if bar_in_phrase == groove["fill_every"] - 1 and rng.random() < 0.8:
        half = steps // 2
        hits = [h for h in hits if h[0] < half or h[1] == "kick" and h[0] == half]
        every = int(rng.choice([1, 2]))
        for i in range(half, steps, every):
            drum = str(rng.choice(["snare", "rack_tom", "floor_tom"]))
            hits.append((i, drum, int(rng.integers(85, 125)), "fill"))
    if after_fill:
        hits = [h for h in hits if not (h[0] == 0 and h[1] == "hihat")] + [(0, "crash", int(rng.integers(100, 127)),
                                                                             "normal")]
    used = {h[0] for h in hits}
    for i in range(steps):
        if i not in used and i % 2 == 1 and rng.random() < groove.get("ghost_rate", 0.2):
            hits.append((i, "snare", int(rng.integers(18, 42)), "ghost"))
    return hits


def perform(grid: SessionGrid, first_bar: int, bars: int, groove: dict, drummer: Drummer,
            rng: np.random.Generator, swing_pct: float = 0.0) -> list[Stroke]:
    """Play ``bars`` bars of ``groove`` from bar ``first_bar`` on ``grid`` (16th lines, ``swing_pct`` swing).

    Returns
    -------
    list of Stroke
        Sorted by sample; ``line_sample`` is the line each stroke was meant for.
    """
    rate = grid.sample_rate_hz
    start = grid.bbt2sample(first_bar)
    end = grid.bbt2sample(first_bar + bars)
    lines = grid_lines(grid, start - rate, end + rate, "1/16", swing_pct)
    by_pos = {(ln.bar, ln.index_in_bar): k for k, ln in enumerate(lines)}
    samples = line_samples(lines)
    groove = dict(groove, ghost_rate=drummer.ghost_rate)
    strokes: list[Stroke] = []
    previous = 0.0
    ms = rate / 1000
    for bar in range(first_bar, first_bar + bars):
        phrase_pos = (bar - first_bar) % groove["fill_every"]
        hits = _bar(groove, phrase_pos, phrase_pos == 0 and bar > first_bar, rng)
        indices = sorted({h[0] for h in hits if (bar, h[0]) in by_pos})
        far = {i for i in indices if rng.random() < drummer.far_per_bar / max(len(indices), 1)}
        # the sides (-1, +1) of each played step whose neighbouring step in the bar the groove leaves empty
        empty_sides = {i: [d for d in (-1, 1) if i + d not in indices and 0 <= i + d < groove["steps"]]
                       for i in indices}
        empty_neighbour = [i for i in indices if empty_sides[i]]
        chance = drummer.very_far_per_bar / max(len(empty_neighbour), 1)
        very_far = {i for i in empty_neighbour if rng.random() < chance}
        for index in indices:
            k = by_pos[(bar, index)]
            line = lines[k]
            # the gaps to the neighbouring lines (uneven when swung): offsets are shares of the gap they go into
            gap = {-1: float(samples[k] - samples[k - 1]), 1: float(samples[k + 1] - samples[k])}
            kinds = {h[3] for h in hits if h[0] == index}
            scatter = drummer.sigma_ms * (drummer.loose if kinds & {"ghost", "fill"} else 1.0)
            previous = drummer.lag1 * previous + math.sqrt(1 - drummer.lag1 ** 2) * rng.normal(0.0, scatter)
            drift = drummer.drift_ms * math.sin(2 * math.pi * float(line.quarters) / (4 * drummer.drift_period_bars))
            offset = (drummer.bias_ms + drift + previous) * ms
            # limbs spread around the event, but a stroke never crosses half a gap (nor, for a very far event, comes
            # back inside it): half a step off toward a line the groove plays, it could belong to either
            lo, hi = -0.48 * gap[-1], 0.48 * gap[1]
            if index in very_far:
                d = int(rng.choice(empty_sides[index]))
                offset = d * rng.uniform(0.5, 0.7) * gap[d]
                lo, hi = sorted((d * 0.52 * gap[d], d * 0.75 * gap[d]))
            elif index in far:
                d = int(rng.choice([-1, 1]))
                offset = d * rng.uniform(0.3, 0.5) * gap[d]
            bbt = str(grid.tempo_map.quarters2bbt(line.quarters))
            for _, drum, velocity, kind in (h for h in hits if h[0] == index):
                limb = rng.normal(0.0, drummer.limb_ms) * ms if kind != "ghost" else 0.0
                sample = int(round(line.sample + min(max(offset + limb, lo), hi)))
                kind = "normal" if kind == "fill" else kind
                if drum in ("snare", "rack_tom") and kind == "normal" and rng.random() < drummer.flam_rate:
                    grace = sample - ms2samples(int(rng.integers(15, 30)), rate)
                    strokes.append(Stroke(drum, int(rng.integers(30, 55)), grace, line.sample, bbt, "flam_grace"))
                strokes.append(Stroke(drum, velocity, sample, line.sample, bbt, kind))
                if drummer.double_rate and drum in _DOUBLES and rng.random() < drummer.double_rate:
                    second = _double(strokes[-1], gap, rate, rng)
                    strokes += [second] if second else []
    return sorted(strokes, key=lambda s: (s.sample, s.drum))


#: Drums a drummer plays double strokes on.
_DOUBLES = ("snare", "kick", "hihat")


def _double(first: Stroke, gap: dict[int, float], rate: int, rng: np.random.Generator) -> Stroke | None:
    """The second stroke of a double after ``first``: 15-45 ms later, as softly or softer (0.6-1.0 of its velocity; a
    snare below velocity 45 is a ghost note), on its line. None where either would lie 0.45 of a ``gap`` (samples to
    the lines before and after) or more from that line, nearer another (a first stroke played far off)."""
    after = ms2samples(float(rng.uniform(15, 45)), rate)
    velocity = max(5, int(round(first.velocity * rng.uniform(0.6, 1.0))))
    off = first.sample - first.line_sample
    if off <= -0.45 * gap[-1] or off + after >= 0.45 * gap[1]:
        return None
    kind = "ghost" if first.drum == "snare" and velocity < 45 else "normal"
    return Stroke(first.drum, velocity, first.sample + after, first.line_sample, first.line_bbt, kind)
