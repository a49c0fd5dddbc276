"""Fuzz nbd's readers: mutated WAV, AIFF, FLAC, MIDI and AAF files must fail with nbd's own error, never anything else.

    python bench/fuzz_readers.py [--cases 2000] [--seed 0] [--keep DIR]

Each case takes a small valid file and mutates it (flipped bytes, truncation, a chunk size set to a wild value, a
block of bytes repeated or zeroed), then reads it the way ``nbd`` does. A reader may accept the file or raise
``NbdError``; any other exception is a finding, printed and (with ``--keep``) saved. Findings become tests in
``tests/test_fuzz_findings.py``.
"""
from __future__ import annotations

import argparse
import random
import struct
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grid import read_tempo_map, write_tempo_map  # noqa: E402
from grid.tempo_map import TempoMap  # noqa: E402
from nbd_errors import NbdError  # noqa: E402
from session_io import read_session  # noqa: E402
from session_io.riff import bext_payload, insert_chunk  # noqa: E402


def seeds(folder: Path) -> dict[str, bytes]:
    """Small valid files of every kind nbd reads."""
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.5, 0.5, (2000, 2))
    out = {}
    for name, fmt, subtype in (("a.wav", "WAV", "PCM_24"), ("b.wav", "WAV", "FLOAT"), ("c.aiff", "AIFF", "PCM_16"),
                               ("d.flac", "FLAC", "PCM_16")):
        path = folder / name
        sf.write(str(path), audio, 48000, subtype=subtype, format=fmt)
        if name == "a.wav":
            insert_chunk(path, "bext", bext_payload(48000 * 3600, "seed"))
        out[name] = path.read_bytes()
    write_tempo_map(folder / "song.mid", TempoMap.from_changes([(0, 500000), (8, 600000)], [(0, 4, 4), (4, 3, 4)]))
    out["song.mid"] = (folder / "song.mid").read_bytes()
    aaf = REPO.parent / "shared" / "realdata" / "aaf" / "libaaf" / "PR_WAV_Internal.aaf"
    if aaf.exists():
        out["e.aaf"] = aaf.read_bytes()
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random mutation of a file's bytes."""
    b = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and b:  # flip some bytes
        for _ in range(rng.randint(1, 16)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1:  # truncate
        b = b[: rng.randrange(len(b) + 1)]
    elif kind == 2 and len(b) > 8:  # a wild 32-bit size somewhere in the header
        at = rng.randrange(min(len(b) - 4, 512))
        b[at:at + 4] = struct.pack("<I", rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)]))
    elif kind == 3 and b:  # zero a block
        at = rng.randrange(len(b))
        b[at:at + rng.randint(1, 256)] = bytes(min(256, len(b) - at))
    elif kind == 4 and b:  # repeat a block
        at = rng.randrange(len(b))
        b[at:at] = b[at:at + rng.randint(1, 64)] * rng.randint(1, 4)
    else:  # append garbage
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(b)


def read_like_nbd(path: Path, workdir: Path) -> None:
    """Read a file as nbd would: MIDI as a tempo map, anything else as a session."""
    if path.suffix == ".mid":
        read_tempo_map(path)
    else:
        read_session(path, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer; returns the number of findings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="save findings here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    findings = 0
    counts = {"accepted": 0, "NbdError": 0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "seeds").mkdir()
        originals = seeds(tmp / "seeds")
        names = sorted(originals)
        for case in range(args.cases):
            name = names[case % len(names)]
            data = mutate(originals[name], rng)
            folder = tmp / f"case{case}"
            folder.mkdir()
            path = folder / name
            path.write_bytes(data)
            try:
                read_like_nbd(path, folder / "work")
                counts["accepted"] += 1
            except NbdError:
                counts["NbdError"] += 1
            except Exception as e:  # a finding
                findings += 1
                print(f"FINDING case {case} ({name}): {type(e).__name__}: {e}")
                print("".join(traceback.format_exc().splitlines(True)[-4:]))
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    (args.keep / f"case{case}_{name}").write_bytes(data)
            finally:
                for p in sorted(folder.rglob("*"), reverse=True):
                    p.unlink() if p.is_file() else p.rmdir()
                folder.rmdir()
    print(f"{args.cases} cases: {counts['accepted']} accepted, {counts['NbdError']} refused with NbdError, "
          f"{findings} findings")
    return findings


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
