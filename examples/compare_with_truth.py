"""Compare nbd's edit of a synthesised session with the session's truth.

    python examples/compare_with_truth.py SESSION_FOLDER OUT_FOLDER

Reads ``truth.json`` (written by the synthesiser) and ``edits.json`` (written by nbd), and prints how far every
true anchor lands from its grid line after the edit, and whether any stroke is played twice or not at all.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from aligner.synth import Stroke, truth_events
from session_io.plan_json import read_plan


def main(argv: list[str] | None = None) -> dict:
    """Print the comparison; returns its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("session", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    truth = json.loads((args.session / "truth.json").read_text())
    rate = truth["sample_rate_hz"]
    strokes = [Stroke(**{k: s[k] for k in ("drum", "velocity", "sample", "line_sample", "line_bbt", "kind")})
               for s in truth["strokes"]]
    plan = read_plan(args.out / "edits.json")
    anchors = truth_events(strokes)
    errors_ms = []
    for line, stroke in anchors.items():
        dest = plan.map_source_to_dest(stroke.sample)
        errors_ms.append(abs(dest - line) / rate * 1000 if dest is not None else float("inf"))
    before_ms = [abs(a.sample - line) / rate * 1000 for line, a in anchors.items()]
    twice = sum(1 for s in strokes if max(plan.times_played(p) for p in range(s.sample, s.sample + rate // 100)) > 1)
    within = sum(e <= 1.0 for e in errors_ms) / len(errors_ms)
    print(f"{len(anchors)} events: before the edit {sum(b <= 1.0 for b in before_ms) / len(before_ms):.0%} of anchors "
          f"were within 1 ms of their grid line (worst {max(before_ms):.1f} ms); after it {within:.0%}. "
          f"Strokes played twice: {twice}.")
    return {"events": len(anchors), "within_1ms": within, "played_twice": twice}


if __name__ == "__main__":
    main()
