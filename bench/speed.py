"""Speed and memory of nbd on a long 12-mic session, against a plain soundfile read + write of the same files.

    python bench/speed.py [--minutes 3 10] [--keep DIR]

For each length, a 12-mic, 48 kHz / 24-bit session is made by repeating a 30-second synthesised performance (at a
constant 120 BPM, so the repeats stay on the grid). Then, each in its own process so that peak memory (max RSS) is
measured per run:

- baseline: read every file and write it again with soundfile, block by block;
- nbd --detector none: read, check and render with the identity plan;
- nbd --detector classic --no-aaf: detect, plan, render, report, EDLs, hits.mid;
- nbd --detector classic with every output, edit.aaf included;
- nbd --detector neural (the default since 2026-12-04) with every output.

Each case runs ``--runs`` times (with ``--force``: a re-run would otherwise skip the session as done), the five
cases taking turns so that the machine's slow spells fall on all of them; the table shows the fastest run and the
largest peak memory.

Goals (issue 3, set for the classic aligner): nbd at most 3x the baseline's time on 3 minutes; peak memory at most
1.5 GB and flat in length. The neural detector, the default since it beat the classic one on the held-out real hits,
takes about twice the classic path's time (issue 4).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aligner.synth import DEFAULT_MICS, MicSpec, SynthConfig, near_drum, synthesise  # noqa: E402

RATE = 48000
TILE_BARS = 15  # 15 bars of 4/4 at 120 BPM = 30 s exactly


#: Twelve mono mics: the default kit's seven close mics, a crash mic, and overheads and rooms as mono files.
BENCH_MICS = DEFAULT_MICS[:7] + (
    MicSpec("Crash", near_drum("crash", dz=0.15), "crash", file="Crash.wav"),
    MicSpec("OH L", (-0.5, 0.1, 1.8), file="OH L.wav"),
    MicSpec("OH R", (0.5, 0.1, 1.8), file="OH R.wav"),
    MicSpec("Room L", (-1.0, 3.5, 1.6), file="Room L.wav"),
    MicSpec("Room R", (1.0, 3.5, 1.6), file="Room R.wav"),
)


def make_session(folder: Path, minutes: float) -> Path:
    """Write a ``minutes``-long 12-mic session into ``folder`` by repeating a 30 s performance."""
    cfg = SynthConfig(seed=7, sample_rate_hz=RATE, bars=TILE_BARS, tempo_bpm=(120.0, 120.0), tempo_change_bar=2,
                      count_in_bars=0, tail_s=0.0, far_off_per_bar=1, mics=BENCH_MICS)
    tile = synthesise(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    frames = round(minutes * 60 * RATE)
    for name, audio in tile.audio.items():
        with sf.SoundFile(str(folder / name), "w", RATE, audio.shape[1], "PCM_24") as f:
            written = 0
            while written < frames:
                block = audio[: frames - written]
                f.write(block)
                written += len(block)
    return folder


def _best_of(runs: int, cmds: list[list[str]]) -> list[tuple[float, float]]:
    """Per command, the fastest of ``runs`` runs (the others paid for a cold cache or a busy machine) and the largest
    peak. The commands take turns, so a slow spell of the machine falls on all of them alike."""
    results: list[list[tuple[float, float]]] = [[] for _ in cmds]
    for _ in range(runs):
        for k, cmd in enumerate(cmds):
            results[k].append(_run(cmd))
    return [(min(r[0] for r in rs), max(r[1] for r in rs)) for rs in results]


def _run(cmd: list[str]) -> tuple[float, float]:
    """Run a command; (wall seconds, peak RSS in MB of that process)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err}")
    return wall, usage.ru_maxrss / 1024


_BASELINE = """
import sys, soundfile as sf
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
for p in sorted(src.glob('*.wav')):
    info = sf.info(str(p))
    with sf.SoundFile(str(dst / p.name), 'w', info.samplerate, info.channels, info.subtype) as out:
        for block in sf.blocks(str(p), blocksize=65536, dtype='int32', always_2d=True):
            out.write(block)
"""


def main(argv: list[str] | None = None) -> list[dict]:
    """Print the table; returns its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    parser.add_argument("--runs", type=int, default=3, help="time each case this many times, keep the fastest")
    parser.add_argument("--keep", type=Path, help="make the sessions here and keep them")
    parser.add_argument("--make", nargs=2, metavar=("FOLDER", "MINUTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make:
        make_session(Path(args.make[0]), float(args.make[1]))
        return []
    nbd = str(Path(sys.executable).with_name("nbd"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for minutes in args.minutes:
            session = root / f"session_{minutes:g}min"
            # made in its own process: a child's peak memory would otherwise start from this one's
            subprocess.run([sys.executable, __file__, "--make", str(session), str(minutes)], check=True)
            size_mb = sum(p.stat().st_size for p in session.glob("*.wav")) / 1e6
            cases = [
                [sys.executable, "-c", _BASELINE, str(session), str(root / f"copy_{minutes:g}")],
                [nbd, str(session), "--bpm", "120", "--detector", "none", "-q", "--force",
                 "-o", str(root / f"none_{minutes:g}")],
                [nbd, str(session), "--bpm", "120", "--detector", "classic", "-q", "--no-aaf", "--force",
                 "-o", str(root / f"out_{minutes:g}")],
                [nbd, str(session), "--bpm", "120", "--detector", "classic", "-q", "--force",
                 "-o", str(root / f"aaf_{minutes:g}")],
                [nbd, str(session), "--bpm", "120", "--detector", "neural", "-q", "--force",
                 "-o", str(root / f"neural_{minutes:g}")],
            ]
            (base_t, base_m), (none_t, none_m), (full_t, full_m), (aaf_t, aaf_m), (nn_t, nn_m) = \
                _best_of(args.runs, cases)
            rows.append({"minutes": minutes, "size_mb": size_mb, "baseline_s": base_t, "baseline_mb": base_m,
                         "render_s": none_t, "render_mb": none_m, "nbd_s": full_t, "nbd_mb": full_m,
                         "aaf_s": aaf_t, "aaf_mb": aaf_m, "neural_s": nn_t, "neural_mb": nn_m})
            print(f"  {minutes:g} min done", file=sys.stderr)
    print(f"\n{'session':<30}{'case':<30}{'wall s':>8}{'x baseline':>12}{'peak MB':>10}")
    for r in rows:
        name = f"{r['minutes']:g} min, 12 mics ({r['size_mb']:.0f} MB)"
        for case, t, m in (("soundfile read + write", r["baseline_s"], r["baseline_mb"]),
                           ("nbd --detector none", r["render_s"], r["render_mb"]),
                           ("nbd classic, --no-aaf", r["nbd_s"], r["nbd_mb"]),
                           ("nbd classic, all outputs", r["aaf_s"], r["aaf_mb"]),
                           ("nbd neural, all outputs", r["neural_s"], r["neural_mb"])):
            print(f"{name:<30}{case:<30}{t:>8.1f}{t / r['baseline_s']:>12.2f}{m:>10.0f}")
    return rows


if __name__ == "__main__":
    main()
