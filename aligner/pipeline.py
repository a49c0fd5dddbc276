"""One session, end to end: read it, place the tempo grid, make the plan, render stems and write ``edits.json``.

Outputs go through :class:`session_io.output.OutputSet`, so they appear as a whole set or not at all, and no input
file is ever opened for writing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

from aligner.config import AlignConfig
from aligner.plan import EditPlan
from aligner.render import render_stems
from grid import SessionGrid, TempoMap, grid_lines, parse_position
from nbd_errors import NbdError, OutputWriteError, PlanValidationError
from session_io import Session, read_session
from session_io.output import MANAGED_OUTPUTS, OutputSet
from session_io.plan_json import read_plan, write_edits_json

__all__ = ["SessionResult", "ProgressFactory", "place_grid", "make_placeholder_plan", "run_session"]

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
    segments: int = 0
    events_moved: int = 0
    doubtful_events: int = 0
    clipped_samples: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        """JSON-ready summary."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def place_grid(session: Session, tempo_map: TempoMap, config: AlignConfig) -> SessionGrid:
    """Put the tempo map on the session: MIDI time 0 at ``config.midi_offset`` (default session sample 0).

    Raises
    ------
    ValueError
        An offset that does not parse.
    """
    origin = 0
    if config.midi_offset is not None:
        origin = parse_position(config.midi_offset, session.sample_rate_hz, config.fps, session.start_samples)
    return SessionGrid(tempo_map, session.sample_rate_hz, origin)


def make_placeholder_plan(session: Session, plan_path: Path | None) -> EditPlan:
    """The plan until a detector makes one: the identity, or a plan read from an ``edits.json`` file.

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


def run_session(
    path: Path,
    tempo_map: TempoMap,
    config: AlignConfig,
    out_dir: Path | None,
    plan_path: Path | None = None,
    dry_run: bool = False,
    progress: ProgressFactory | None = None,
    name: str | None = None,
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
        An ``edits.json`` whose plan is applied instead of the identity.
    dry_run : bool
        Read, check and plan, but write nothing.
    progress : ProgressFactory, optional
    name : str, optional
        Session name for messages; defaults to the folder or file name.

    Returns
    -------
    SessionResult

    Raises
    ------
    NbdError
        Anything wrong with the inputs or the outputs, naming the file.
    """
    started = time.monotonic()
    session = read_session(path)
    result = SessionResult(name or session.name, Path(path), out_dir, sample_rate_hz=session.sample_rate_hz,
                           length_samples=session.length_samples, files=len(session.sources),
                           channels=session.channel_count)
    try:
        grid = place_grid(session, tempo_map, config)
        lines = grid_lines(grid, 0, session.length_samples, config.grid, config.swing_pct)
    except ValueError as e:
        raise NbdError(f"{e}", path) from None
    plan = make_placeholder_plan(session, plan_path)
    result.segments = len(plan.segments)
    result.events_moved = sum(1 for s in plan.segments if s.shift_samples != 0)
    if not dry_run:
        if out_dir is None:
            raise ValueError("out_dir is required unless dry_run")
        _refuse_overwriting_inputs(session, out_dir)
        total = sum(s.frames for s in session.sources)
        with OutputSet(out_dir) as outputs:
            if progress is not None:
                with progress(f"{result.name}: rendering", total) as advance:
                    report = render_stems(session, plan, outputs.partial / "stems", advance)
            else:
                report = render_stems(session, plan, outputs.partial / "stems")
            result.clipped_samples = {k: v for k, v in report.clipped_samples.items() if v}
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
                "hits": [],
                "doubtful_events": [],
                "render": {"clipped_samples": report.clipped_samples},
            })
            outputs.commit()
    result.ok = True
    result.seconds = round(time.monotonic() - started, 3)
    return result
