"""The edit as the DAW takes it back: an AAF of the plan's clips on every mic's track, and CMX 3600 lists.

One mono AAF track per channel of every input file, named after its mic ("OH L" / "OH R" for a stereo pair). Where
the inputs are WAV files, the clips link the **original** media at the plan's cut points, with its crossfades as
Audio Dissolves, so the engineer can still slide an edit in the DAW — for an AAF session too, where each of its
tracks was one plain clip of linked WAV media; otherwise (multi-clip, faded or embedded AAF tracks) each track is one
clip of its rendered stem. Clips of doubtful events say "REVIEW: …" in their comment. With ``--aaf-embed`` the rendered stems are embedded in the AAF instead.
"""
from __future__ import annotations

import bisect
from pathlib import Path

import soundfile as sf

from aligner.events import Event
from aligner.plan import EditPlan
from session_io.aaf_process import AafWriterProcess
from session_io.aaf_writer import LinkedClip, LinkedTrack, write_linked_aaf
from session_io.edl import EdlCut, EdlMic, write_edls
from session_io.session import Session
from session_io.stems import PART_SUFFIX, stem_file_name

__all__ = ["aaf_media_linkable", "aaf_links_stems", "aaf_tracks", "write_edit_aaf", "start_edit_aaf", "edl_cuts",
           "write_edit_edls"]

_LINKABLE = ("WAV", "WAVEX", "RF64")


def _review_notes(plan: EditPlan, events: list[Event]) -> dict[int, str]:
    """Segment index → "REVIEW: why" for the segments that play a doubtful event's anchor."""
    notes: dict[int, list[str]] = {}
    ends = [seg.dest_end_samples for seg in plan.segments]  # ascending in a valid plan
    for e in events:
        if not e.doubtful:
            continue
        i = bisect.bisect_right(ends, e.target)  # the first segment that plays past the target
        if i < len(ends) and plan.segments[i].dest_start_samples <= e.target:
            notes.setdefault(i, []).append("; ".join(e.flags) or f"confidence {e.confidence:.2f}")
    return {i: "REVIEW: " + " | ".join(v) for i, v in notes.items()}


def _plan_clips(plan: EditPlan, offset: int, frames: int, notes: dict[int, str]) -> tuple[LinkedClip, ...]:
    """The plan's segments as clips of one file placed at ``offset`` on the timeline, cut to the file's extent."""
    clips: list[LinkedClip] = []
    for i, seg in enumerate(plan.segments):
        lo = max(seg.source_start_samples, offset)
        hi = min(seg.source_end_samples, offset + frames)
        if hi <= lo:
            continue
        dest = seg.dest_start_samples + (lo - seg.source_start_samples)
        fade = seg.fade_in_samples if lo == seg.source_start_samples else 0
        name = f"{seg.label} — {notes[i]}" if i in notes else ""  # a comment only where there is one to read
        clip = LinkedClip(dest, lo - offset, hi - lo, name, fade, seg.fade_in_shape)
        if clips:
            overlap = clips[-1].dest_start_samples + clips[-1].length_samples - clip.dest_start_samples
            if overlap > 0 and overlap != clip.fade_in_samples:  # a neighbour was cut at the file's edge
                clip = LinkedClip(dest + overlap, clip.source_start_samples + overlap, clip.length_samples - overlap,
                                  name)
            elif overlap <= 0:
                clip = LinkedClip(clip.dest_start_samples, clip.source_start_samples, clip.length_samples, name)
        if clip.length_samples > 0:
            clips.append(clip)
    return tuple(clips)


def _media_kind(source, stems_only: bool) -> str:
    """What a source's AAF tracks play: "source" (its own WAV file, cut by the plan), "linked" (an AAF track's
    original media, cut by the plan) or "stem" (its rendered stem, one clip)."""
    if stems_only:
        return "stem"
    if source.container in _LINKABLE and "aaf_track" not in source.metadata:
        return "source"
    return "linked" if source.metadata.get("aaf_media") is not None else "stem"


def aaf_media_linkable(session: Session) -> bool:
    """Whether every input is a WAV file, the media an edit AAF links (otherwise no ``edit.aaf`` is written)."""
    return all(source.container in _LINKABLE for source in session.sources)


def aaf_links_stems(session: Session, embed: bool = False) -> bool:
    """Whether the edit AAF reads the rendered stems (so it can only be written after them)."""
    return any(_media_kind(source, embed) == "stem" for source in session.sources)


def aaf_tracks(session: Session, plan: EditPlan, events: list[Event], stems_partial: Path,
               stems_final: Path, stems_only: bool = False) -> list[LinkedTrack]:
    """The tracks of the edit AAF (see the module docstring); ``stems_only`` makes every track one stem clip."""
    notes = _review_notes(plan, events)
    tracks = []
    clips_by_extent: dict[tuple[int, int], tuple[LinkedClip, ...]] = {}  # files placed alike share one clip list
    for source, name, channel in _channel_names(session):
        kind = _media_kind(source, stems_only)
        if kind == "source":
            extent = (source.offset_samples, source.frames)
            if extent not in clips_by_extent:
                clips_by_extent[extent] = _plan_clips(plan, source.offset_samples, source.frames, notes)
            clips = clips_by_extent[extent]
            tracks.append(LinkedTrack(name, source.path, channel, clips))
        elif kind == "linked":  # an AAF track that was one plain clip: cut its original media
            linked = source.metadata["aaf_media"]
            media = linked[min(channel, len(linked) - 1)]
            path = Path(media["path"])
            frames = sf.info(str(path)).frames
            clips = _plan_clips(plan, -media["offset"], frames, notes)
            tracks.append(LinkedTrack(name, path, media["channel"], clips))
        else:
            stem = stem_file_name(source)
            clip = LinkedClip(source.offset_samples, 0, source.frames, "nbd stem")
            tracks.append(LinkedTrack(name, stems_partial / (stem + PART_SUFFIX), channel, (clip,),
                                      media_url=stems_final / stem))
    return tracks


def write_edit_aaf(path: Path, session: Session, plan: EditPlan, events: list[Event], stems_partial: Path,
                   stems_final: Path, embed: bool = False) -> None:
    """Write the edit AAF (composition named after the session, edit rate = sample rate, start timecode kept);
    with ``embed``, the rendered stems are embedded in it instead of media being linked."""
    write_linked_aaf(path, session.name, session.sample_rate_hz,
                     aaf_tracks(session, plan, events, stems_partial, stems_final, stems_only=embed),
                     start_timecode_samples=session.start_samples, length_samples=session.length_samples,
                     embed=embed)


def start_edit_aaf(path: Path, session: Session, plan: EditPlan, events: list[Event], stems_partial: Path,
                   stems_final: Path) -> AafWriterProcess:
    """Start writing the edit AAF of :func:`write_edit_aaf` (linked media) in a process of its own; the returned
    writer's ``wait()`` returns when it is written. For AAFs that do not read the stems (:func:`aaf_links_stems`)."""
    return AafWriterProcess(path, session.name, session.sample_rate_hz,
                            aaf_tracks(session, plan, events, stems_partial, stems_final),
                            start_timecode_samples=session.start_samples, length_samples=session.length_samples)


def _channel_names(session: Session):
    """(source, mic name per channel, channel) for every channel of every mic, in file order."""
    for si, source in enumerate(session.sources):
        for mic in session.tracks_of(si):
            for k, channel in enumerate(mic.channel_indices):
                name = mic.name if len(mic.channel_indices) == 1 else (
                    f"{mic.name} {'LR'[k]}" if len(mic.channel_indices) == 2 else f"{mic.name} {k + 1}")
                yield source, name, channel


def edl_cuts(plan: EditPlan) -> list[EdlCut]:
    """The plan as butt cuts for an EDL: each crossfade becomes a cut at its middle (samples)."""
    starts = [s.dest_start_samples + s.fade_in_samples // 2 for s in plan.segments]
    ends = starts[1:] + [plan.length_samples]
    return [EdlCut(a, b, a - s.shift_samples) for a, b, s in zip(starts, ends, plan.segments) if b > a]


def write_edit_edls(folder: Path, session: Session, plan: EditPlan, fps: str) -> list[Path]:
    """CMX 3600 reference lists of the edit (see :mod:`session_io.edl`); returns the files written."""
    mics = [EdlMic(name, stem_file_name(source), source.offset_samples, source.time_reference_samples or 0)
            for source, name, _ in _channel_names(session)]
    return write_edls(folder, session.name, session.sample_rate_hz, fps, session.start_samples, mics,
                      edl_cuts(plan))
