"""The ``nbd`` command: conform multitrack drum sessions to a tempo grid.

    nbd SESSION... --tempo-map song.mid -o OUT

Parses options, calls the library, prints a summary. Every ``NbdError`` becomes one line on stderr naming the file
and the problem; the other sessions still run. Exit codes: 0 every session done, 1 a session failed, 2 usage.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from dataclasses import fields
from pathlib import Path

import click

from aligner.config import DETECTORS, GHOST_MODES, AlignConfig
from grid import DIVISIONS, FRAME_RATES
from nbd_errors import NbdError

__all__ = ["main", "CONFIG_DEFAULTS"]

log = logging.getLogger("nbd")

#: The CLI's defaults, taken from AlignConfig so they cannot drift apart.
CONFIG_DEFAULTS = {f.name: f.default for f in fields(AlignConfig)}


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"nbd: {record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    handler.setLevel(logging.ERROR if quiet else logging.NOTSET)  # quiet on the terminal; reports keep warnings
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO if verbose else logging.WARNING)


def _parse_meter(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) not in (1, 2, 4, 8, 16, 32, 64):
        raise click.BadParameter(f"{text!r} is not a meter like 4/4, 6/8 or 7/8", param_hint="--meter")
    return int(m.group(1)), int(m.group(2))


def _progress_factory(enabled: bool):
    """Progress bars on stderr when it is a terminal; nothing otherwise."""
    @contextlib.contextmanager
    def factory(label: str, total: int):
        if not enabled:
            yield lambda n: None
            return
        with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True) as bar:
            yield bar.update
    return factory


def _format_duration(samples: int, rate: int) -> str:
    seconds = samples / rate if rate else 0
    return f"{int(seconds // 60)}:{seconds % 60:06.3f}"


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.argument("sessions", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder. One session: OUT/stems, OUT/edits.json …; several or --batch: OUT/<session name>/.")
@click.option("--batch", "batch_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A TOML file of sessions ([[session]] path = …, tempo_map, bars, strength, …; [defaults]).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Sessions processed at once, each in its own process.")
@click.option("--force", is_flag=True, help="Redo sessions already done with the same inputs and options.")
@click.option("--tempo-map", type=click.Path(path_type=Path, dir_okay=False),
              help="MIDI file with the song's tempo and meter changes, for every session given. Without it (or "
                   "--bpm), each session's own: the only .mid in its folder, or NAME.mid beside NAME.aaf.")
@click.option("--bpm", type=click.FloatRange(min=1, max=999), help="Constant tempo in quarter notes per minute, "
              "instead of a tempo map.")
@click.option("--meter", default="4/4", show_default=True, help="Meter with --bpm.")
@click.option("--start", help="With --bpm: where bar 1 starts (seconds, 72000smp, or HH:MM:SS:FF).")
@click.option("--midi-offset", help="With a tempo map: where MIDI time 0 sits in the session (seconds, 72000smp or "
              "HH:MM:SS:FF; timecode is clock time against the session's start).  [default: session start]")
@click.option("--grid", "grid_division", type=click.Choice(list(DIVISIONS)), default=CONFIG_DEFAULTS["grid"],
              show_default=True, help="Grid the hits are conformed to.")
@click.option("--swing", "swing_pct", type=click.FloatRange(0, 100), default=CONFIG_DEFAULTS["swing_pct"],
              show_default=True, help="Swing in percent: 0 straight, 100 triplet feel.")
@click.option("--fps", type=click.Choice(list(FRAME_RATES)), default=CONFIG_DEFAULTS["fps"], show_default=True,
              help="Frame rate of timecode positions.")
@click.option("--detector", type=click.Choice(DETECTORS), default=CONFIG_DEFAULTS["detector"], show_default=True,
              help="How hits are found: neural (the shipped model: strokes and their grid lines from all mics and "
                   "the grid), classic signal processing (about half the time, less accurate), or none (re-render "
                   "with the identity plan).")
@click.option("--strength", "strength_pct", type=click.FloatRange(0, 100), default=CONFIG_DEFAULTS["strength_pct"],
              show_default=True, help="How far events move toward their grid line, in percent.")
@click.option("--exclude-within", "exclude_within_pct", type=click.FloatRange(0, 100),
              default=CONFIG_DEFAULTS["exclude_within_pct"], show_default=True,
              help="Leave events closer to their line than this percentage of a grid step alone.")
@click.option("--bars", help="Conform only these bars, e.g. 5-68 or 5-68,73-80 (count-ins, rubato intros, endings).")
@click.option("--exclude-bars", help="Never conform these bars, e.g. 1-4.")
@click.option("--ghosts", type=click.Choice(GHOST_MODES), default=CONFIG_DEFAULTS["ghosts"], show_default=True,
              help="Ghost notes alone on a line: conform them, or let them ride with the event before.")
@click.option("--crossfade-ms", type=click.FloatRange(0.1, 50), default=CONFIG_DEFAULTS["crossfade_ms"],
              show_default=True, help="Crossfade length at each cut.")
@click.option("--mic-role", "mic_roles", multiple=True, metavar='"NAME=ROLE"',
              help="Set a mic's role when its name does not tell (kick, snare, tom, hihat, ride, crash, overhead, "
                   "room, other); repeatable.")
@click.option("--media-dir", "media_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="AAF sessions: another folder to look for linked media in (repeatable).")
@click.option("--skip-missing", is_flag=True, help="AAF sessions: leave tracks silent where their media is missing, "
              "and say so, instead of failing.")
@click.option("--aaf-embed", is_flag=True, help="Embed the rendered stems in edit.aaf instead of linking media.")
@click.option("--no-aaf", is_flag=True, help="Skip edit.aaf (the slowest output: about 2 ms per clip).")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Apply the edit plan of this edits.json instead of detecting one.")
@click.option("--dry-run", is_flag=True, help="Read, check and plan, but write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("-v", "--verbose", is_flag=True, help="More detail; tracebacks for internal errors.")
@click.version_option(package_name="neural-beat-detective", prog_name="nbd")
def main(sessions, out, batch_file, jobs, force, tempo_map, bpm, meter, start, midi_offset, grid_division, swing_pct,
         fps, detector, strength_pct, exclude_within_pct, bars, exclude_bars, ghosts, crossfade_ms, mic_roles,
         media_dirs, skip_missing, aaf_embed, no_aaf, plan_path, dry_run, as_json, quiet, verbose):
    """Conform the drum SESSIONS (AAF files, folders of mic files, or poly WAVs) to a tempo grid with one edit plan
    per session, applied identically to every mic."""
    _setup_logging(quiet, verbose)
    if not sessions and batch_file is None:
        raise click.UsageError("give one or more SESSIONS, or --batch jobs.toml")
    if out is None and not dry_run:
        raise click.UsageError("give an output folder with -o OUT (or --dry-run)")
    if tempo_map is not None and bpm is not None:
        raise click.UsageError("give the tempo as --tempo-map song.mid or as --bpm N, not both")
    if start is not None and bpm is None:
        raise click.UsageError("--start goes with --bpm; with a tempo map use --midi-offset")
    if midi_offset is not None and bpm is not None:
        raise click.UsageError("--midi-offset goes with a tempo map; with --bpm use --start")
    try:
        config = AlignConfig(grid=grid_division, swing_pct=swing_pct, fps=fps,
                             midi_offset=start if bpm is not None else midi_offset, detector=detector,
                             strength_pct=strength_pct, exclude_within_pct=exclude_within_pct, bars=bars,
                             exclude_bars=exclude_bars, ghosts=ghosts, crossfade_ms=crossfade_ms,
                             mic_roles=tuple(mic_roles), media_dirs=tuple(str(d) for d in media_dirs),
                             skip_missing=skip_missing, aaf_embed=aaf_embed, write_aaf=not no_aaf)
    except ValueError as e:
        raise click.UsageError(str(e))

    from aligner.batch import BatchState, LocalExecutor, TempoSpec, job_key, plan_jobs, read_batch_file, run_job

    tempo = None
    if tempo_map is not None:
        tempo = TempoSpec(midi_path=str(tempo_map))
    elif bpm is not None:
        numerator, denominator = _parse_meter(meter)
        tempo = TempoSpec(bpm=bpm, numerator=numerator, denominator=denominator)
    if tempo is not None:
        try:
            tempo.load()  # a bad tempo map fails the run at once, not once per session
        except NbdError as e:
            click.echo(f"nbd: error: {e}", err=True)
            sys.exit(1)
    entries = [{"path": str(p)} for p in sessions]
    if batch_file is not None:
        try:
            entries += read_batch_file(batch_file)
        except ValueError as e:
            raise click.UsageError(str(e))
    try:
        all_jobs = plan_jobs(entries, config, out, tempo, str(plan_path) if plan_path else None, dry_run,
                             single_output=len(entries) == 1 and batch_file is None)
    except ValueError as e:
        raise click.UsageError(str(e))

    from aligner.pipeline import SessionResult

    interactive = not quiet and not as_json and sys.stderr.isatty()
    state = BatchState.load(out) if out is not None and not dry_run else None
    results: dict[str, SessionResult] = {}
    todo, keys = [], {}
    for job in all_jobs:
        try:
            keys[job.name] = job_key(job)
        except OSError:
            keys[job.name] = ""
        if state is not None and not force and state.is_done(job, keys[job.name]):
            results[job.name] = SessionResult(job.name, Path(job.path), Path(job.out_dir), ok=True,
                                              plan_source="skipped")
        else:
            todo.append(job)
    executor = LocalExecutor(jobs, _progress_factory(interactive and jobs == 1))
    batch_bar = (click.progressbar(length=len(todo), label="batch", file=sys.stderr)
                 if interactive and len(all_jobs) > 1 else contextlib.nullcontext())
    with batch_bar as bar:
        for done, (job, result) in enumerate(executor.run(run_job, todo), 1):
            results[job.name] = result
            if state is not None:
                try:
                    state.record(job, keys[job.name], result)
                except OSError as e:  # the outputs' own error already says why; resuming just cannot be noted
                    click.echo(f"nbd: warning: cannot note {job.name} in {state.path} ({e.strerror or e})", err=True)
            if not result.ok:
                click.echo(f"nbd: error: {result.error}", err=True)
            if bar is not None:
                bar.update(1)
    ordered = [results[job.name] for job in all_jobs]
    if out is not None and not dry_run:
        _write_index(out, all_jobs, ordered)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in ordered], indent=2))
    elif not quiet:
        _print_summary(ordered, dry_run, verbose)
    sys.exit(0 if all(r.ok for r in ordered) else 1)


def _write_index(out: Path, jobs, results) -> None:
    """OUT/index.html: every session of this run with its status and a link to its report."""
    from aligner.report import write_index

    rows = []
    for job, r in zip(jobs, results):
        report = Path(job.out_dir) / "report.html"
        rows.append({"name": r.name, "status": "skipped" if r.plan_source == "skipped" else "done" if r.ok else "failed",
                     "events_moved": r.events_moved if r.ok else "", "doubtful": r.doubtful_events if r.ok else "",
                     "warnings": len(r.warnings) if r.ok and r.plan_source != "skipped" else "",
                     "report": os.path.relpath(report, out) if report.exists() else None, "error": r.error})
    try:
        write_index(out, rows)
    except OSError as e:
        click.echo(f"nbd: warning: could not write {out / 'index.html'} ({e})", err=True)


def _print_summary(results, dry_run: bool, verbose: bool) -> None:
    for r in results:
        if r.plan_source == "skipped":
            click.echo(f"skipped {r.name}: done before with the same inputs and options (--force redoes it)")
            continue
        if not r.ok:
            click.echo(f"FAILED  {r.name}: {r.error}")
            continue
        what = "checked (dry run)" if dry_run else (
            f"-> {r.out_dir}: report.html, stems/, edits.json, {'edit.aaf (exact), ' if r.aaf else ''}hits.mid, "
            f"{len(r.edls)} EDL(s) in edl/ (frame-rounded reference)")
        clipped = sum(r.clipped_samples.values())
        if r.plan_source == "identity":
            edits = "identity plan, nothing moved"
        elif r.plan_source in DETECTORS:
            edits = f"{r.plan_source} detector: {r.events} events, {r.events_moved} moved, {r.doubtful_events} doubtful"
        else:
            edits = f"plan from {r.plan_source}: {r.events_moved} of {r.segments} segments moved"
        click.echo(
            f"ok      {r.name}: {r.files} files, {r.channels} channels, {r.sample_rate_hz} Hz, "
            f"{_format_duration(r.length_samples, r.sample_rate_hz)}; {edits}"
            + (f", {clipped} samples clipped" if clipped else "") + f"; {what}"
        )
        for flag in r.loudness_flags:
            click.echo(f"        loudness changed over 0.5 LU: {flag}")
        if r.warnings:  # given while it ran, long scrolled away in a batch
            click.echo(f"        {len(r.warnings)} warning{'s' if len(r.warnings) > 1 else ''}, listed in its "
                       "report.html and edits.json")
        shown = r.doubtful if verbose else r.doubtful[:10]
        for line in shown:
            click.echo(f"        doubtful {line}")
        if len(r.doubtful) > len(shown):
            click.echo(f"        … {len(r.doubtful) - len(shown)} more doubtful events in edits.json (-v lists all)")
    if len(results) > 1:
        width = max(len("session"), *(len(r.name) for r in results))
        click.echo("")
        click.echo(f"{'session':<{width}}  {'status':<8}  {'events moved':>12}  {'doubtful':>8}  {'warnings':>8}  "
                   f"{'time':>8}")
        for r in results:
            status = "skipped" if r.plan_source == "skipped" else "done" if r.ok else "FAILED"
            done = r.ok and status == "done"
            moved = f"{r.events_moved}" if done else "-"
            doubtful = f"{r.doubtful_events}" if done else "-"
            warned = f"{len(r.warnings)}" if done else "-"
            took = f"{r.seconds:.1f} s" if status == "done" else "-"
            click.echo(f"{r.name:<{width}}  {status:<8}  {moved:>12}  {doubtful:>8}  {warned:>8}  {took:>8}")
    failed = sum(1 for r in results if not r.ok)
    if len(results) > 1 or failed:
        click.echo(f"{len(results) - failed} of {len(results)} sessions done, {failed} failed")


if __name__ == "__main__":
    main()
