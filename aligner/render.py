"""Rendering an edit plan: the same cuts, moves and fade gains on every channel, block by block.

The output timeline is split once into *pieces*: stretches where one segment plays at unity gain (copied bit for bit
in the file's own sample format) and fades, where one or two segments are mixed in float64 with gains that depend only
on the plan — never on the channel — and rounded back to the file's resolution. No dither is added. PCM results that
exceed full scale are clipped and counted; float files keep levels above 0 dBFS.
"""
from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from aligner.loudness import LoudnessMeter
from aligner.plan import EditPlan, fade_gains
from aligner.threads import locked, map_in_threads
from nbd_errors import PlanValidationError
from session_io.audio import BLOCK_FRAMES, SourceReader
from session_io.session import Session, full_scale, quantise, sample_domain
from session_io.stems import StemWriter

__all__ = ["RenderReport", "render_source", "render_stems"]


@dataclass(frozen=True)
class _Part:
    segment: int
    gain: str | None  # None: unity; "in" or "out": that segment's fade curve


@dataclass(frozen=True)
class _Piece:
    dest_start: int
    dest_end: int
    parts: tuple[_Part, ...]


def _pieces(plan: EditPlan) -> list[_Piece]:
    """Split the output timeline into unity stretches and fades (the plan must be valid)."""
    pieces: list[_Piece] = []
    last = len(plan.segments) - 1
    for k, s in enumerate(plan.segments):
        body_start = s.dest_start_samples + s.fade_in_samples
        body_end = s.dest_end_samples - s.fade_out_samples
        if s.fade_in_samples:
            parts = (_Part(k, "in"),) if k == 0 else (_Part(k - 1, "out"), _Part(k, "in"))
            pieces.append(_Piece(s.dest_start_samples, body_start, parts))
        if body_end > body_start:
            pieces.append(_Piece(body_start, body_end, (_Part(k, None),)))
        if s.fade_out_samples and k == last:
            pieces.append(_Piece(body_end, s.dest_end_samples, (_Part(k, "out"),)))
    return pieces


def _span_reader(reader: SourceReader, jobs, segments, block_frames: int):
    """A read function for one block: one file read covering every piece when they lie close together in the
    source (the usual case: moves are milliseconds), else a read per piece."""
    ranges = [(lo - segments[p.segment].shift_samples, hi - segments[p.segment].shift_samples)
              for lo, hi, parts in jobs for p in parts]
    if not ranges:
        return reader.read
    span_lo, span_hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if span_hi - span_lo > 2 * block_frames:
        return reader.read
    span = reader.read(span_lo, span_hi)
    return lambda start, stop: span[start - span_lo:stop - span_lo]


@dataclass
class RenderReport:
    """What rendering did: clipped samples per stem file name (PCM only), frames written per stem, and each stem's
    integrated loudness in LUFS when it was measured (None: silent or too short)."""

    clipped_samples: dict[str, int] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    loudness_lufs: dict[str, float | None] = field(default_factory=dict)


def render_source(
    session: Session,
    plan: EditPlan,
    source_index: int,
    reader: SourceReader,
    block_frames: int = BLOCK_FRAMES,
    clipped: list[int] | None = None,
) -> Iterator[np.ndarray]:
    """Render one source file through the plan, block by block.

    Parameters
    ----------
    session : Session
    plan : EditPlan
        Valid, and as long as the session timeline.
    source_index : int
        Which of ``session.sources``.
    reader : SourceReader
        Open reader of that source.
    block_frames : int
        Output frames per block; the result does not depend on it.
    clipped : list of int, optional
        A one-element counter that clipped PCM samples are added to.

    Yields
    ------
    np.ndarray
        (frames, channels) blocks in the source's processing dtype, together exactly ``source.frames`` long: the
        stem covers the same stretch of the timeline as its input.
    """
    source = session.sources[source_index]
    dtype = sample_domain(source.subtype)[0]
    pieces = _pieces(plan)
    starts = [p.dest_start for p in pieces]
    segments = plan.segments
    for block_start in range(source.offset_samples, source.end_samples, block_frames):
        block_end = min(block_start + block_frames, source.end_samples)
        out = np.empty((block_end - block_start, source.channels), dtype=dtype)
        first = max(bisect.bisect_right(starts, block_start) - 1, 0)
        last = bisect.bisect_left(starts, block_end)
        jobs = []  # (output range, parts) of the pieces in this block
        for piece in pieces[first:last]:
            lo, hi = max(block_start, piece.dest_start), min(block_end, piece.dest_end)
            if hi > lo:
                jobs.append((lo, hi, piece.parts))
        read = _span_reader(reader, jobs, segments, block_frames)
        for lo, hi, parts in jobs:
            if parts[0].gain is None:
                shift = segments[parts[0].segment].shift_samples
                out[lo - block_start:hi - block_start] = read(lo - shift, hi - shift)
                continue
            mix = np.zeros((hi - lo, source.channels), dtype=np.float64)
            for part in parts:
                seg = segments[part.segment]
                audio = read(lo - seg.shift_samples, hi - seg.shift_samples).astype(np.float64)
                if part.gain == "in":
                    gains = fade_gains(seg.fade_in_shape, seg.fade_in_samples)[0]
                    offset = lo - seg.dest_start_samples
                else:
                    gains = fade_gains(seg.fade_out_shape, seg.fade_out_samples)[1]
                    offset = lo - (seg.dest_end_samples - seg.fade_out_samples)
                mix += audio * gains[offset:offset + hi - lo, None]
            samples, n_clipped = quantise(mix, source.subtype)
            out[lo - block_start:hi - block_start] = samples
            if clipped is not None:
                clipped[0] += n_clipped
        yield out


def render_stems(
    session: Session,
    plan: EditPlan,
    stems_dir: Path,
    progress: Callable[[int], None] | None = None,
    block_frames: int = BLOCK_FRAMES,
    measure_loudness: bool = False,
) -> RenderReport:
    """Render every source of a session through one plan into ``stems_dir``.

    Parameters
    ----------
    session : Session
    plan : EditPlan
        Validated here; its length must equal the session's timeline length.
    stems_dir : Path
        Created if missing; stems are written with a ``.part`` suffix (see :mod:`session_io.output`).
    progress : callable, optional
        Called with the number of frames (summed over sources) just written.
    block_frames : int
    measure_loudness : bool
        Measure each stem's integrated loudness from the blocks as they are written (no second read).

    Returns
    -------
    RenderReport
    """
    plan.validate()
    if plan.length_samples != session.length_samples:
        raise PlanValidationError(
            [f"plan covers {plan.length_samples} samples but the session timeline is {session.length_samples}"]
        )
    stems_dir.mkdir(parents=True, exist_ok=True)
    progress = locked(progress)
    edit_id = hashlib.sha256(json.dumps(plan.to_json(), sort_keys=True).encode()).digest()

    def render_one(index: int) -> tuple[int, int, float | None]:
        source = session.sources[index]
        clipped = [0]
        meter = LoudnessMeter(session.sample_rate_hz, source.channels, source.frames) if measure_loudness else None
        to_unit = np.float32(1.0 / full_scale(source.subtype))  # the meter wants ±1.0 (a power of two: exact)
        with SourceReader(source) as reader, StemWriter(stems_dir, source, edit_id) as writer:
            for block in render_source(session, plan, index, reader, block_frames, clipped):
                writer.write(block)
                if meter is not None:
                    meter.add(block.astype(np.float32) * to_unit)
                if progress is not None:
                    progress(len(block))
        return clipped[0], writer.frames_written, meter.value() if meter is not None else None

    report = RenderReport()
    results = map_in_threads(render_one, range(len(session.sources)))
    for source, (clipped, frames, lufs) in zip(session.sources, results):
        report.clipped_samples[source.path.name] = clipped
        report.frames[source.path.name] = frames
        if measure_loudness:
            report.loudness_lufs[source.path.name] = lufs
    return report
