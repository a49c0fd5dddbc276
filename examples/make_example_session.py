"""Make the bundled example session: 10 drum mics (9 files) with bleed and distance delays, a tempo change, early
and late hits, its tempo map as ``song.mid``, the truth of every stroke as ``truth.json``, and ``example.aaf``: the
same session as a DAW would export it (one track per mic, the WAVs linked beside it, starting at 01:00:00:00).

    python examples/make_example_session.py examples/build/session [--seed N]

Nothing outside the repository is needed; the same seed gives the same files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import soundfile as sf

from aligner.synth import SynthConfig, synthesise, write_session
from session_io.aaf_writer import LinkedClip, LinkedTrack, write_linked_aaf


def write_example_aaf(folder: Path) -> Path:
    """``folder/example.aaf``: one mono track per mic (a stereo file gives an L and an R track), each one clip of
    its WAV file from the start, on a composition at 01:00:00:00."""
    tracks = []
    rate = 48000
    for wav in sorted(folder.glob("*.wav")):
        info = sf.info(str(wav))
        rate = info.samplerate
        for channel in range(info.channels):
            name = wav.stem if info.channels == 1 else f"{wav.stem} {'LR'[channel] if info.channels == 2 else channel + 1}"
            tracks.append(LinkedTrack(name, wav, channel, (LinkedClip(0, 0, info.frames, wav.stem),)))
    path = folder / "example.aaf"
    write_linked_aaf(path, "example", rate, tracks, start_timecode_samples=3600 * rate)
    return path


def main(argv: list[str] | None = None) -> Path:
    """Write the example session into the folder given on the command line; returns that folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = write_session(synthesise(SynthConfig(seed=args.seed)), args.folder)
    write_example_aaf(folder)
    print(f"example session written to {folder}/ (audio, song.mid, truth.json, example.aaf)")
    return folder


if __name__ == "__main__":
    main()
