"""Overnight batches: jobs, their tempo maps, a state file for resuming, and an executor that runs them.

A job is one session with its tempo and options. The state file ``OUT/.nbd-state.json`` records each session's
outcome with a key made of its inputs (every file's name, size and modification time) and its options; a re-run
skips sessions done with the same key, and redoes failed, changed or unfinished ones. A session is recorded as done
only once its output set is in place, so a killed run never leaves one that looks finished.

The executor interface is one method, ``run(fn, jobs)``, yielding results as jobs finish: :class:`LocalExecutor`
runs them in this process or in N worker processes; a cluster executor can implement the same method.
"""
from __future__ import annotations

import hashlib
import json
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from aligner.config import AlignConfig
from aligner.pipeline import SessionResult, run_session, warnings_kept
from grid import TempoMap, read_tempo_map
from nbd_errors import NbdError, TempoMapError

__all__ = ["TempoSpec", "Job", "find_tempo_map", "job_key", "run_job", "Executor", "LocalExecutor", "BatchState",
           "read_batch_file", "BATCH_OPTIONS"]

STATE_FILE = ".nbd-state.json"


@dataclass(frozen=True)
class TempoSpec:
    """Where a session's tempo comes from: a MIDI file, or a constant tempo and meter."""

    midi_path: str | None = None
    bpm: float | None = None
    numerator: int = 4
    denominator: int = 4

    def load(self) -> TempoMap:
        """The tempo map (raises :class:`TempoMapError` naming the MIDI file)."""
        if self.midi_path is not None:
            return read_tempo_map(self.midi_path)
        return TempoMap.constant(self.bpm, self.numerator, self.denominator)


@dataclass(frozen=True)
class Job:
    """One session to process; ``tempo`` None means: find the session's own tempo map."""

    name: str
    path: str
    out_dir: str | None
    config: AlignConfig
    tempo: TempoSpec | None = None
    plan_path: str | None = None
    dry_run: bool = False


def find_tempo_map(session_path: str | Path) -> Path:
    """A session's own tempo map: the only ``.mid`` inside a session folder, or ``NAME.mid`` beside ``NAME.aaf``.

    Raises
    ------
    TempoMapError
        None found, or several (naming them).
    """
    path = Path(session_path)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".mid", ".midi") and not p.name.startswith("."))
        if len(found) == 1:
            return found[0]
        if found:
            raise TempoMapError(f"several MIDI files in the session folder ({', '.join(p.name for p in found)}); "
                                "say which with --tempo-map or in the batch file", path)
        raise TempoMapError("no tempo map: no .mid file in the session folder and no --tempo-map or --bpm", path)
    for suffix in (".mid", ".midi", ".MID"):
        beside = path.with_suffix(suffix)
        if beside.is_file():
            return beside
    raise TempoMapError(f"no tempo map: no {path.stem}.mid beside it and no --tempo-map or --bpm", path)


def _files_of(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path] if path.exists() else []


def job_key(job: Job) -> str:
    """A digest of everything that decides a job's outputs: its input files (name, size, modification time), tempo
    source, plan file and options. Content is not read, so keying a night's sessions costs nothing."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        nbd_version = version("neural-beat-detective")
    except PackageNotFoundError:
        nbd_version = "dev"
    inputs = []
    for p in _files_of(Path(job.path)) + [Path(x) for x in (job.plan_path, job.tempo and job.tempo.midi_path) if x]:
        st = p.stat()
        inputs.append([str(p), st.st_size, st.st_mtime_ns])
    document = {"nbd": nbd_version, "inputs": inputs, "tempo": asdict(job.tempo) if job.tempo else None,
                "config": job.config.to_json(), "dry_run": job.dry_run}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def run_job(job: Job, progress=None) -> SessionResult:
    """Run one job, turning every error into a failed result (so a batch always goes on)."""
    out = Path(job.out_dir) if job.out_dir is not None else None
    warnings: list[str] = []  # the tempo map's too (no tempo event, no meter): the session's report lists them
    try:
        tempo = job.tempo or TempoSpec(midi_path=str(find_tempo_map(job.path)))
        with warnings_kept(warnings):
            tempo_map = tempo.load()
        return run_session(Path(job.path), tempo_map, job.config, out,
                           Path(job.plan_path) if job.plan_path else None, job.dry_run, progress, job.name, warnings)
    except NbdError as e:
        return SessionResult(job.name, Path(job.path), out, ok=False, error=str(e))
    except Exception as e:  # a bug: still one line, and the batch goes on
        detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        return SessionResult(job.name, Path(job.path), out, ok=False,
                             error=f"internal error: {type(e).__name__}: {e} ({detail})")


class Executor(Protocol):
    """Runs jobs; yields (job, result) as each finishes."""

    def run(self, fn: Callable[[Job], SessionResult], jobs: list[Job]) -> Iterator[tuple[Job, SessionResult]]:
        ...


@dataclass
class LocalExecutor:
    """``processes`` 1: one job after another in this process (with per-session progress); more: worker
    processes on this machine."""

    processes: int = 1
    progress: object = None  # a ProgressFactory for in-process runs

    def run(self, fn, jobs):
        if self.processes <= 1:
            for job in jobs:
                yield job, fn(job, self.progress)
            return
        with ProcessPoolExecutor(max_workers=self.processes) as pool:
            futures = {pool.submit(fn, job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()


@dataclass
class BatchState:
    """The state file of an output folder: session name → {status, key, summary}."""

    path: Path
    sessions: dict = field(default_factory=dict)

    @classmethod
    def load(cls, out_dir: Path) -> "BatchState":
        """Read ``out_dir/.nbd-state.json``; a missing or unreadable one is an empty state."""
        path = Path(out_dir) / STATE_FILE
        try:
            sessions = json.loads(path.read_text())["sessions"]
        except (OSError, ValueError, KeyError, TypeError):
            sessions = {}
        return cls(path, sessions)

    def is_done(self, job: Job, key: str) -> bool:
        """Done before with the same inputs and options, and its outputs still there."""
        entry = self.sessions.get(job.name, {})
        marker = Path(job.out_dir) / "edits.json" if job.out_dir else None
        return entry.get("status") == "done" and entry.get("key") == key and marker is not None and marker.exists()

    def record(self, job: Job, key: str, result: SessionResult) -> None:
        """Note a finished job and write the file atomically (aside, then renamed into place)."""
        self.sessions[job.name] = {"status": "done" if result.ok else "failed", "key": key, "path": job.path,
                                   "error": result.error, "events_moved": result.events_moved,
                                   "doubtful_events": result.doubtful_events, "seconds": result.seconds}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        aside = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        aside.write_text(json.dumps({"format": "nbd-state", "sessions": self.sessions}, indent=1, sort_keys=True))
        os.replace(aside, self.path)


#: Keys a batch file may set per session (or under [defaults]), and the AlignConfig fields they fill.
BATCH_OPTIONS = {
    "grid": "grid", "swing": "swing_pct", "strength": "strength_pct", "exclude_within": "exclude_within_pct",
    "bars": "bars", "exclude_bars": "exclude_bars", "ghosts": "ghosts", "crossfade_ms": "crossfade_ms",
    "mic_role": "mic_roles", "midi_offset": "midi_offset", "detector": "detector", "fps": "fps",
    "media_dir": "media_dirs", "skip_missing": "skip_missing", "aaf_embed": "aaf_embed",
}


def read_batch_file(path: str | Path) -> list[dict]:
    """Sessions of a TOML batch file: ``[[session]]`` tables with ``path`` and optional ``tempo_map``, ``bpm``,
    ``meter``, ``name`` and any key of :data:`BATCH_OPTIONS`; ``[defaults]`` applies to every session. Paths are
    relative to the batch file.

    Raises
    ------
    ValueError
        Not TOML, no sessions, an entry without a path, or an unknown key (naming it).
    """
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: not a readable batch file ({e})") from None
    defaults = data.get("defaults", {})
    entries = data.get("session", [])
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: no [[session]] entries")
    allowed = set(BATCH_OPTIONS) | {"path", "tempo_map", "bpm", "meter", "name"}
    result = []
    for i, entry in enumerate(entries, 1):
        merged = {**defaults, **entry}
        unknown = sorted(set(merged) - allowed)
        if unknown:
            raise ValueError(f"{path}: session {i}: unknown key(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(allowed))}")
        if "path" not in merged:
            raise ValueError(f"{path}: session {i} has no path")
        for key in ("path", "tempo_map"):
            if key in merged:
                merged[key] = str((path.parent / merged[key]).resolve())
        if "media_dir" in merged:
            dirs = merged["media_dir"] if isinstance(merged["media_dir"], list) else [merged["media_dir"]]
            merged["media_dir"] = [str((path.parent / d).resolve()) for d in dirs]
        result.append(merged)
    return result


def config_for(base: AlignConfig, entry: dict) -> AlignConfig:
    """``base`` with a batch entry's options applied (raises ValueError for a bad value)."""
    changes = {}
    for key, field_name in BATCH_OPTIONS.items():
        if key in entry:
            value = entry[key]
            if field_name in ("mic_roles", "media_dirs"):
                value = tuple(value if isinstance(value, list) else [value])
            elif field_name in ("bars", "exclude_bars") and isinstance(value, int):
                value = str(value)
            changes[field_name] = value
    return replace(base, **changes)


def plan_jobs(entries: Iterable[dict], base: AlignConfig, out: Path | None, tempo: TempoSpec | None,
              plan_path: str | None, dry_run: bool, single_output: bool) -> list[Job]:
    """Jobs for session entries (dicts with at least ``path``): unique names, output folders, tempo sources."""
    jobs, seen = [], {}
    entries = list(entries)
    for entry in entries:
        p = Path(entry["path"])
        base_name = entry.get("name") or ((p.stem if p.is_file() else p.name) or "session")
        seen[base_name] = seen.get(base_name, 0) + 1
        name = base_name if seen[base_name] == 1 else f"{base_name}-{seen[base_name]}"
        job_tempo = tempo
        if "tempo_map" in entry:
            job_tempo = TempoSpec(midi_path=entry["tempo_map"])
        elif "bpm" in entry:
            numerator, denominator = (int(x) for x in str(entry.get("meter", "4/4")).split("/"))
            job_tempo = TempoSpec(bpm=float(entry["bpm"]), numerator=numerator, denominator=denominator)
        session_out = None if out is None else (out if single_output else out / name)
        jobs.append(Job(name, str(p), None if session_out is None else str(session_out),
                        config_for(base, entry), job_tempo, plan_path, dry_run))
    return jobs
