"""One session, end to end: read it, place the tempo grid, make the plan, render stems and write ``edits.json``.

Outputs go through :class:`session_io.output.OutputSet`, so they appear as a whole set or not at all, and no input
file is ever opened for writing.
"""
from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

from aligner.allocator import reuse_freed_memory
from aligner.config import AlignConfig
from aligner.detect import detect_hits
from aligner.events import Event, make_events
from aligner.interchange import aaf_links_stems, aaf_media_linkable, start_edit_aaf, write_edit_aaf, write_edit_edls
from aligner.neural import neural_hits
from aligner.report import LOUDNESS_FLAG_LU, stem_loudness, write_report
from aligner.plan import EditPlan
from aligner.planner import PlannerSettings, make_plan
from aligner.render import render_stems
from aligner.roles import assign_roles, gm_drum_note, parse_role_overrides
from aligner.threads import blas_on_one_thread
from grid import SessionGrid, TempoMap, grid_lines, parse_position
from grid.midi import write_drum_midi
from nbd_errors import NbdError, OutputWriteError, PlanValidationError
from session_io import Session, read_session
from session_io.audio import SessionReader
from session_io.output import MANAGED_OUTPUTS, OutputSet
from session_io.plan_json import read_plan, write_edits_json
from session_io.stems import PART_SUFFIX

log = logging.getLogger("nbd")

__all__ = ["SessionResult", "ProgressFactory", "place_grid", "make_placeholder_plan", "align", "events_table",
           "warnings_kept", "run_session"]

#: Makes a progress reporter: called with (label, total frames), returns a context manager whose value is a callable
#: taking the frames just done.
ProgressFactory = Callable[[str, int], ContextManager[Callable[[int], None]]]


@dataclass
class SessionResult:
    """What happened to one session (for the summary table and ``--json``)."""

    name: str
    path: Path
    out_dir: Path | None = None
    ok: bool = False
    error: str | None = None
    sample_rate_hz: int = 0
    length_samples: int = 0
    files: int = 0
    channels: int = 0
    plan_source: str = ""
    segments: int = 0
    events: int = 0
    events_moved: int = 0
    doubtful_events: int = 0
    clipped_samples: dict[str, int] = field(default_factory=dict)
    doubtful: list[str] = field(default_factory=list)  # "bar|beat|tick: why", for the summary
    edls: list[str] = field(default_factory=list)
    loudness_flags: list[str] = field(default_factory=list)
    aaf: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # logged while it ran; its report.html and edits.json list them

    def to_json(self) -> dict:
        """JSON-ready summary."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def place_grid(session: Session, tempo_map: TempoMap, config: AlignConfig) -> SessionGrid:
    """Put the tempo map on the session: MIDI time 0 at ``config.midi_offset``; by default at session sample 0, or at
    the composition's start for an AAF.

    Raises
    ------
    ValueError
        An offset that does not parse.
    """
    origin = session.metadata.get("midi_origin_samples", 0)  # an AAF's composition start
    if config.midi_offset is not None:
        origin = parse_position(config.midi_offset, session.sample_rate_hz, config.fps, session.start_samples)
    return SessionGrid(tempo_map, session.sample_rate_hz, origin)


def make_placeholder_plan(session: Session, plan_path: Path | None) -> EditPlan:
    """A plan not made from the audio: the identity, or a plan read from an ``edits.json`` file.

    Raises
    ------
    PlanValidationError
        The file's plan breaks a rule or does not cover this session's timeline.
    """
    if plan_path is None:
        return EditPlan.identity(session.length_samples)
    plan = read_plan(plan_path)
    try:
        plan.validate()
    except PlanValidationError as e:
        raise PlanValidationError(e.problems, plan_path) from None
    if plan.length_samples != session.length_samples:
        raise PlanValidationError(
            [f"plan covers {plan.length_samples} samples but session {session.name!r} is {session.length_samples}"],
            plan_path,
        )
    return plan


def align(session: Session, grid: SessionGrid, config: AlignConfig, progress: ProgressFactory | None = None,
          loudness: dict[str, float | None] | None = None) -> tuple[EditPlan, list[Event]]:
    """Detect hits on all mics (``config.detector``: classic or neural), group them into events and plan the edit.

    Parameters
    ----------
    session : Session
        With roles assigned.
    grid : SessionGrid
    config : AlignConfig
    progress : ProgressFactory, optional
    loudness : dict, optional
        Filled with each input file's integrated loudness (LUFS), measured while detecting.

    Returns
    -------
    (EditPlan, list of Event)
        The plan for every channel, and the events with their targets, confidence and flags.
    """
    total = session.length_samples * len(session.sources)
    settings = config.event_settings()

    def detect(advance=None):
        if config.detector == "neural":
            return neural_hits(session, grid, settings.division, settings.swing_pct, progress=advance,
                               loudness=loudness)
        return detect_hits(session, progress=advance, loudness=loudness)

    if progress is not None:
        passes = 2 if config.detector == "neural" else 1
        with progress(f"{session.name}: detecting", total * passes) as advance:
            hits = detect(advance)
    else:
        hits = detect()
    events = make_events(hits, grid, session.length_samples, settings)
    with SessionReader(session) as reader:
        plan = make_plan(session, events, reader, PlannerSettings(crossfade_ms=config.crossfade_ms))
    return plan, events


def events_table(session: Session, grid: SessionGrid, events: list[Event]) -> tuple[list[dict], list[dict]]:
    """The hits table and the doubtful events of ``edits.json``.

    Returns
    -------
    (hits, doubtful)
        One row per stroke (source sample, drum, mic, grid line as bar|beat|tick, shift in samples and ms,
        confidence, event number), and one row per doubtful event.
    """
    rate = session.sample_rate_hz
    hits, doubtful = [], []
    for number, e in enumerate(events, 1):
        line_bbt = str(grid.tempo_map.quarters2bbt(e.line.quarters))
        for h in e.strokes:
            hits.append({
                "event": number,
                "source_sample": h.position,
                "drum": h.drum,
                "mic": session.tracks[h.track].name,
                "line": line_bbt,
                "line_sample": e.line.sample,
                "shift_samples": e.shift,
                "shift_ms": round(e.shift / rate * 1000, 3),
                "confidence": e.confidence,
                "anchor": h is e.anchor,
                "grace": h in e.grace,
                "strength": h.strength,
            })
        if e.doubtful:
            doubtful.append({
                "event": number,
                "line": line_bbt,
                "line_sample": e.line.sample,
                "anchor_sample": e.anchor.position,
                "anchor_drum": e.anchor.drum,
                "target_sample": e.target,
                "off_line_pct_of_step": round(100 * (e.anchor.position - e.line.sample) / e.step_samples, 1),
                "confidence": e.confidence,
                "flags": list(e.flags),
            })
    return hits, doubtful


def write_hits_midi(path: Path, session: Session, grid: SessionGrid, plan: EditPlan, events: list[Event]) -> int:
    """``hits.mid``: one General MIDI drum note per detected stroke at its edited position, on the session's tempo
    map, and a marker at every doubtful event. Returns how many strokes fell before MIDI time 0 and were left out."""
    notes, markers = [], []
    for e in events:
        for h in e.strokes:
            dest = plan.map_source_to_dest(h.position)
            dest = h.position + e.shift if dest is None else dest
            velocity = max(1, min(127, round(127 * h.strength ** (2 / 3))))
            notes.append((grid.sample2quarters(dest), gm_drum_note(h.drum, session.tracks[h.track].name), velocity))
        if e.doubtful:
            why = "; ".join(e.flags) or f"confidence {e.confidence:.2f}"
            markers.append((grid.sample2quarters(e.target), f"nbd doubtful: {why}"))
    return write_drum_midi(path, grid.tempo_map, notes, markers)


def _refuse_overwriting_inputs(session: Session, out_dir: Path) -> None:
    out = out_dir.resolve()
    for source in session.sources:
        try:
            rel = source.path.resolve().relative_to(out)
        except ValueError:
            continue
        if rel.parts[0] in MANAGED_OUTPUTS or rel.parts[0].startswith((".partial-", ".old-")):
            raise OutputWriteError(f"output folder would replace the input file {source.path}; choose another -o",
                                   out_dir)


#: From this many clips (segments × channels), edit.aaf is written in a process of its own while the stems render
#: (see :mod:`session_io.aaf_process`): starting one costs about 0.4 s, the writer about 0.1 ms a clip.
AAF_BESIDE_CLIPS = 4000


def run_session(
    path: Path,
    tempo_map: TempoMap,
    config: AlignConfig,
    out_dir: Path | None,
    plan_path: Path | None = None,
    dry_run: bool = False,
    progress: ProgressFactory | None = None,
    name: str | None = None,
    warnings: list[str] | None = None,
) -> SessionResult:
    """Process one session.

    Parameters
    ----------
    path : Path
        Session folder or poly audio file.
    tempo_map : TempoMap
    config : AlignConfig
    out_dir : Path or None
        The session's own output folder (``OUT`` or ``OUT/<name>``); None only with ``dry_run``.
    plan_path : Path, optional
        An ``edits.json`` whose plan is applied instead of detecting one.
    dry_run : bool
        Read, check and plan, but write nothing.
    progress : ProgressFactory, optional
    name : str, optional
        Session name for messages; defaults to the folder or file name.
    warnings : list of str, optional
        Warnings given for this session before (reading its tempo map, :func:`warnings_kept`); those given while it
        runs are added, and the result, its ``report.html`` and its ``edits.json`` list them all.

    Returns
    -------
    SessionResult

    Raises
    ------
    NbdError
        Anything wrong with the inputs or the outputs, naming the file.
    """
    reuse_freed_memory()
    warnings = [] if warnings is None else warnings
    with (tempfile.TemporaryDirectory(prefix="nbd-") as workdir, blas_on_one_thread(),  # AAF tracks flattened here
          warnings_kept(warnings)):
        return _run_session(path, tempo_map, config, out_dir, plan_path, dry_run, progress, name, Path(workdir),
                            warnings)


@contextlib.contextmanager
def warnings_kept(into: list[str]):
    """Append to ``into`` the message of every warning the ``nbd`` logger gives while the block runs, whatever the
    terminal shows (``-q``): by morning an overnight batch's terminal is gone, so each session's report lists its
    own. Warnings logged with ``extra={"session_warning": False}`` (about the machine, with the same outputs) are
    left out."""

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "session_warning", True):
                into.append(record.getMessage())

    keep = _Keep(logging.WARNING)
    log.addHandler(keep)
    try:
        yield
    finally:
        log.removeHandler(keep)


def _run_session(path, tempo_map, config, out_dir, plan_path, dry_run, progress, name, workdir,
                 warnings: list[str]) -> SessionResult:
    started = time.monotonic()
    session = read_session(path, workdir=workdir, media_dirs=[Path(d) for d in config.media_dirs],
                           skip_missing=config.skip_missing)
    session = assign_roles(session, parse_role_overrides(config.mic_roles))
    result = SessionResult(name or session.name, Path(path), out_dir, sample_rate_hz=session.sample_rate_hz,
                           length_samples=session.length_samples, files=len(session.sources),
                           channels=session.channel_count, warnings=warnings)
    try:
        grid = place_grid(session, tempo_map, config)
        lines = grid_lines(grid, 0, session.length_samples, config.grid, config.swing_pct)
    except ValueError as e:
        raise NbdError(f"{e}", path) from None
    events: list[Event] = []
    input_loudness: dict[str, float | None] = {}  # measured while detecting; the report's "before" column
    if plan_path is not None or config.detector == "none":
        plan = make_placeholder_plan(session, plan_path)
        result.plan_source = str(plan_path) if plan_path is not None else "identity"
        result.events_moved = sum(1 for s in plan.segments if s.shift_samples != 0)
    else:
        plan, events = align(session, grid, config, progress, input_loudness)
        if not events:  # finished, but nothing edited: say so, or the outputs look like a done job
            log.warning("%s: the %s detector found no strokes: the stems are the session unchanged (silent mics, or "
                        "mics whose names say no drum: see --mic-role)", path, config.detector)
        result.plan_source = config.detector
        result.events = len(events)
        result.events_moved = sum(1 for e in events if e.shift != 0)
        result.doubtful_events = sum(1 for e in events if e.doubtful)
    result.segments = len(plan.segments)
    hits_rows, doubtful_rows = events_table(session, grid, events)
    result.doubtful = [
        f"{row['line']}: " + "; ".join(row["flags"] or [f"{row['off_line_pct_of_step']:+.0f} % of a step off its line, "
                                                        f"confidence {row['confidence']:.2f}"])
        for row in doubtful_rows
    ]
    if not dry_run:
        if out_dir is None:
            raise ValueError("out_dir is required unless dry_run")
        _refuse_overwriting_inputs(session, out_dir)
        total = sum(s.frames for s in session.sources)
        wav_media = aaf_media_linkable(session)
        if config.write_aaf and not wav_media:
            log.warning("%s: no edit.aaf: it links WAV media and this session has %s files", path,
                        sorted({src.container for src in session.sources}))
        aaf_beside = (config.write_aaf and wav_media and not aaf_links_stems(session, config.aaf_embed)
                      and len(plan.segments) * session.channel_count >= AAF_BESIDE_CLIPS)
        with OutputSet(out_dir) as outputs, contextlib.ExitStack() as beside:
            aaf_args = (outputs.partial / "edit.aaf", session, plan, events, outputs.partial / "stems",
                        out_dir / "stems")
            aaf_job = beside.enter_context(start_edit_aaf(*aaf_args)) if aaf_beside else None
            if progress is not None:
                with progress(f"{result.name}: rendering", total) as advance:
                    report = render_stems(session, plan, outputs.partial / "stems", advance, measure_loudness=True)
            else:
                report = render_stems(session, plan, outputs.partial / "stems", measure_loudness=True)
            result.clipped_samples = {k: v for k, v in report.clipped_samples.items() if v}
            if events:
                write_hits_midi(outputs.partial / "hits.mid", session, grid, plan, events)
            result.edls = [p.name for p in write_edit_edls(outputs.partial / "edl", session, plan, config.fps)]
            loudness = stem_loudness(session, outputs.partial / "stems", PART_SUFFIX, input_loudness,
                                     report.loudness_lufs)
            result.loudness_flags = [f"{row.name}: {row.change_lu:+.2f} LU" for row in loudness
                                     if row.change_lu is not None and abs(row.change_lu) > LOUDNESS_FLAG_LU]
            write_report(outputs.partial / "report.html", session, grid, plan, events, doubtful_rows, loudness,
                         report.clipped_samples, warnings)
            if aaf_job is not None:
                aaf_job.wait()
                result.aaf = True
            elif config.write_aaf and wav_media:
                write_edit_aaf(*aaf_args, embed=config.aaf_embed)
                result.aaf = True
            write_edits_json(outputs.partial / "edits.json", {
                "session": session.to_json(),
                "options": config.to_json(),
                "tempo_map": tempo_map.to_json(),
                "grid": {
                    "midi_origin_samples": grid.origin_samples,
                    "division": config.grid,
                    "swing_pct": config.swing_pct,
                    "lines_in_session": len(lines),
                },
                "plan": plan.to_json(),
                "hits": hits_rows,
                "doubtful_events": doubtful_rows,
                "render": {"clipped_samples": report.clipped_samples},
                "warnings": list(warnings),
            })
            outputs.commit()
    result.ok = True
    result.seconds = round(time.monotonic() - started, 3)
    return result
