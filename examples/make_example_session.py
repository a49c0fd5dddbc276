"""Make the bundled example session: 10 drum mics (9 files) with bleed and distance delays, a tempo change, early
and late hits, its tempo map as ``song.mid`` and the truth of every stroke as ``truth.json``.

    python examples/make_example_session.py examples/build/session [--seed N]

Nothing outside the repository is needed; the same seed gives the same files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from aligner.synth import SynthConfig, synthesise, write_session


def main(argv: list[str] | None = None) -> Path:
    """Write the example session into the folder given on the command line; returns that folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = write_session(synthesise(SynthConfig(seed=args.seed)), args.folder)
    print(f"example session written to {folder}/ (audio, song.mid, truth.json)")
    return folder


if __name__ == "__main__":
    main()
