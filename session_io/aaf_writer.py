"""Writing AAF: nbd's edit as a composition whose mono sound tracks play clips of linked WAV files (or of media
embedded in the file), crossfades as Media Composer's "Audio Dissolve".

pyaaf2 makes the file's objects — dictionary, the media's mobs, the composition and its tracks — and, on each track,
one clip, one crossfade per shape and one filler as templates. The track's thousands of clips are those templates'
property bytes with their lengths, offsets and comments set, and :mod:`session_io.cfb` lays the whole tree out as
the compound file: pyaaf2 spends most of its time on the compound file's bookkeeping of each new object, and the
objects are the same either way (the tests compare every storage and stream with pyaaf2's own writing). Embedded
media is written by pyaaf2 alone.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from nbd_errors import SessionReadError
from session_io.cfb import Entry, write_compound_file

__all__ = ["LinkedClip", "LinkedTrack", "write_linked_aaf"]


@dataclass(frozen=True)
class LinkedClip:
    """A clip of linked media on a written track: all in samples (the composition's edit rate is the sample rate).

    A clip with a fade-in overlaps the clip before it by that many samples: they are written with an
    "Audio Dissolve" transition between them (Media Composer's form; ``Curve Type`` 1 for equal power).
    """

    dest_start_samples: int
    source_start_samples: int
    length_samples: int
    name: str = ""  # written as the clip's "nbd" comment (what it is; "REVIEW: …" on doubtful events)
    fade_in_samples: int = 0
    fade_in_shape: str = "equal_power"


@dataclass(frozen=True)
class LinkedTrack:
    """A mono track of a written AAF: one channel of one WAV file, as clips.

    ``media`` is read for the file's header; ``media_url`` (default: ``media``) is where the AAF says it lives, for
    media written elsewhere first and moved into place later.
    """

    name: str
    media: Path
    channel: int
    clips: tuple[LinkedClip, ...]
    media_url: Path | None = None


def _wave_summary(path: Path) -> bytes:
    """The WAV file's header up to and including the data chunk's header, as a WAVEDescriptor's Summary."""
    from session_io.riff import list_chunks

    _, chunks = list_chunks(path)
    data = next((c for c in chunks if c.id == "data"), None)
    if data is None:
        raise SessionReadError("not a WAV file with audio", path)
    with open(path, "rb") as f:
        return f.read(data.offset)


#: Fixed instead of "now", so the same edit gives the same bytes (the DAW reads its dates from the media anyway).
_FIXED_TIME = __import__("datetime").datetime(2000, 1, 1)


def _make_deterministic(f, seed: str) -> None:
    """Replace pyaaf2's random identification and timestamps with ones derived from ``seed``."""
    import hashlib
    import uuid

    ident = f.header["IdentificationList"].value[-1]
    ident["ProductName"].value = "nbd"
    ident["CompanyName"].value = "nbd"
    ident["Date"].value = _FIXED_TIME
    ident["GenerationAUID"].value = uuid.UUID(bytes=hashlib.sha256(("generation " + seed).encode()).digest()[:16])
    f.header["LastModified"].value = _FIXED_TIME


def _mob(f, kind: str, name: str, seed: str):
    """A new mob with a MobID and dates derived from ``seed`` and its name (deterministic, unique per name)."""
    import hashlib
    import uuid

    from aaf2.mobid import UniqueMobID

    mob = getattr(f.create, kind)(name)
    mob_id = UniqueMobID()
    mob_id.material = uuid.UUID(bytes=hashlib.sha256(f"{seed}/{kind}/{name}".encode()).digest()[:16])
    mob.mob_id = mob_id
    mob["CreationTime"].value = _FIXED_TIME
    mob["LastModified"].value = _FIXED_TIME
    return mob


def _dissolve_defs(f):
    """Media Composer's "Audio Dissolve" operation and its "Curve Type" parameter, registered in the file."""
    dissolve = f.create.OperationDef("0c3bea41-fc05-11d2-8a29-0050040ef7d2", "Audio Dissolve")
    dissolve.media_kind = "sound"
    dissolve["NumberInputs"].value = 2
    f.dictionary.register_def(dissolve)
    curve = f.create.ParameterDef("8134fc48-3bd6-4904-9520-7a6360cc7127", "Curve Type", "",
                                  f.dictionary.lookup_typedef("aafInt32"))
    f.dictionary.register_def(curve)
    dissolve["ParametersDefined"].append(curve)
    return dissolve, curve


def _embedded_master(f, track: LinkedTrack, seed: str):
    """A master mob over the track's channel of its media, embedded in the AAF as PCM essence."""
    import tempfile

    import soundfile as sf

    info = sf.info(str(track.media))
    subtype = info.subtype if info.subtype in ("PCM_16", "PCM_24", "PCM_32") else "PCM_24"
    with tempfile.TemporaryDirectory(prefix="nbd-embed-") as tmp:
        mono = Path(tmp) / "channel.wav"
        with sf.SoundFile(str(mono), "w", info.samplerate, 1, subtype) as out:
            for block in sf.blocks(str(track.media), blocksize=1 << 16, dtype="int32", always_2d=True):
                out.write(block[:, track.channel])
        file_mob = _mob(f, "SourceMob", f"{track.name}.PHYS", seed)
        f.content.mobs.append(file_mob)
        file_mob.import_audio_essence(str(mono), edit_rate=info.samplerate)
    master = _mob(f, "MasterMob", track.name, seed)
    f.content.mobs.append(master)
    master_slot = master.create_empty_sequence_slot(info.samplerate, slot_id=1, media_kind="sound")
    master_slot.segment.components.append(file_mob.create_source_clip(1, 0, info.frames))
    return master




def _timeline(track: LinkedTrack, length_samples: int) -> Iterator[tuple]:
    """A track's components in order — ``("fade", samples, shape)``, ``("gap", samples)``, ``("clip", LinkedClip)`` —
    made as they are asked for (a long edit's tracks are written one component at a time)."""
    position = 0
    for clip in _in_order(track):
        overlap = position - clip.dest_start_samples
        if overlap > 0 and overlap == clip.fade_in_samples:
            yield "fade", overlap, clip.fade_in_shape
        elif overlap > 0:
            raise ValueError(f"track {track.name!r}: clips overlap by {overlap} samples without a crossfade")
        elif clip.dest_start_samples > position:
            yield "gap", clip.dest_start_samples - position
        yield "clip", clip
        position = clip.dest_start_samples + clip.length_samples
    if length_samples > position:
        yield "gap", length_samples - position


def _timeline_extent(track: LinkedTrack, length_samples: int) -> tuple[int, int]:
    """How many components :func:`_timeline` makes, and the track's length (samples: every component's length, less
    the crossfades' overlaps)."""
    count = sum(1 for _ in _timeline(track, length_samples))
    last = _in_order(track)[-1] if track.clips else None
    return count, max(last.dest_start_samples + last.length_samples if last else 0, length_samples)


def _in_order(track: LinkedTrack) -> list[LinkedClip]:
    """The track's clips by destination."""
    return sorted(track.clips, key=lambda c: c.dest_start_samples)


@dataclass(frozen=True)
class _Templates:
    """Where a track's template components sit in the skeleton file, and the property ids to set in copies."""

    sequence: str  # the track's sequence storage, as a path from the root
    index: str  # the sequence's Components vector: its elements are "<index>{<key hex>}"
    comment: str  # the commented clip's TaggedValue storage
    group: str  # a crossfade's OperationGroup storage
    length_pid: int
    start_pid: int
    value_pid: int
    value_prefix: bytes  # a comment's Value before its text (byte order and type of the indirect value)


#: Template keys in each track's skeleton sequence.
_CLIP_COMMENTED, _CLIP, _FADE_POWER, _FADE_GAIN, _GAP = range(5)


def _write_with_pyaaf2(path: Path, name: str, sample_rate_hz: int, tracks: list[LinkedTrack],
                       start_timecode_samples: int, timecode_fps: int, length_samples: int, embed: bool,
                       templates: bool) -> list[_Templates]:
    """Write the AAF with pyaaf2; with ``templates``, each track holds only its templates (returned per track)
    instead of its clips."""
    import aaf2
    import soundfile as sf

    seed = f"{name}/{sample_rate_hz}"
    layouts: list[_Templates] = []
    with aaf2.open(str(path), "w") as f:
        _make_deterministic(f, seed)
        masters: dict[object, object] = {}
        for track in tracks:
            if embed:
                masters[track] = _embedded_master(f, track, seed)
                continue
            if track.media in masters:
                continue
            info = sf.info(str(track.media))
            file_mob = _mob(f, "SourceMob", (track.media_url or track.media).name, seed)
            descriptor = f.create.WAVEDescriptor()
            descriptor["SampleRate"].value = info.samplerate
            descriptor["Length"].value = info.frames
            descriptor["Summary"].value = _wave_summary(track.media)
            descriptor["ContainerFormat"].value = f.dictionary.lookup_containerdef("AAF")
            locator = f.create.NetworkLocator()
            locator["URLString"].value = (track.media_url or track.media).resolve().as_uri()
            descriptor["Locator"].append(locator)
            file_mob.descriptor = descriptor
            f.content.mobs.append(file_mob)
            master = _mob(f, "MasterMob", (track.media_url or track.media).stem, seed)
            f.content.mobs.append(master)
            for channel in range(info.channels):
                slot = file_mob.create_empty_slot(edit_rate=info.samplerate, media_kind="sound", slot_id=channel + 1)
                slot.segment.length = info.frames
                master_slot = master.create_empty_sequence_slot(info.samplerate, slot_id=channel + 1,
                                                                media_kind="sound")
                master_slot.segment.components.append(file_mob.create_source_clip(channel + 1, 0, info.frames))
            masters[track.media] = master
        dissolve, curve = _dissolve_defs(f)
        dissolves = {}  # one crossfade per shape, copied for each fade: pyaaf2's constructors look up definitions

        def crossfade(shape: str, length: int):
            if shape not in dissolves:
                group = f.create.OperationGroup(dissolve, 1, media_kind="sound")
                if shape == "equal_power":  # linear is the dissolve's default: no parameter needed
                    group["Parameters"].value = [f.create.ConstantValue(curve, 1)]
                dissolves[shape] = f.create.Transition(media_kind="sound", length=1)
                dissolves[shape]["OperationGroup"].value = group
                dissolves[shape]["CutPoint"].value = 0
            transition = dissolves[shape].copy()
            transition["Length"].value = length
            transition["OperationGroup"].value["Length"].value = length
            return transition

        comp = _mob(f, "CompositionMob", name, seed)
        comp.usage = "Usage_TopLevel"
        f.content.mobs.append(comp)
        for track in tracks:
            slot = comp.create_empty_sequence_slot(sample_rate_hz, media_kind="sound")
            slot.name = track.name
            master, slot_id = (masters[track], 1) if embed else (masters[track.media], track.channel + 1)
            clip_template = master.create_source_clip(slot_id, 0, 1)  # copied: see crossfade()
            if templates:
                commented = clip_template.copy()
                commented["UserComments"].value = [f.create.TaggedValue("nbd", "x")]
                parts = [commented, clip_template.copy(), crossfade("equal_power", 1), crossfade("equal_gain", 1),
                         f.create.Filler("sound", 1)]
                slot.segment["Components"].value = parts
                value = commented["UserComments"].value[0]["Value"]
                layouts.append(_Templates(
                    slot.segment.dir.path(), slot.segment["Components"].index_name,
                    commented["UserComments"].value[0].dir.name, parts[_FADE_POWER]["OperationGroup"].value.dir.name,
                    clip_template["Length"].pid, clip_template["StartTime"].pid, value.pid,
                    bytes(value.data[:-len(_utf16("x"))])))
                continue
            components = []  # assigned once at the end: pyaaf2 re-attaches the whole vector on every append
            for item in _timeline(track, length_samples):
                if item[0] == "fade":
                    components.append(crossfade(item[2], item[1]))
                elif item[0] == "gap":
                    components.append(f.create.Filler("sound", item[1]))
                else:
                    clip = item[1]
                    source = clip_template.copy()
                    source["StartTime"].value = clip.source_start_samples
                    source["Length"].value = clip.length_samples
                    if clip.name:  # SourceClips carry no name: the note goes in the clip's comments
                        source["UserComments"].value = [f.create.TaggedValue("nbd", clip.name)]
                    components.append(source)
            slot.segment["Components"].value = components
            slot.segment.length = _timeline_extent(track, length_samples)[1]
        length = max([length_samples] + [c.dest_start_samples + c.length_samples for t in tracks for c in t.clips])
        tc_slot = comp.create_timeline_slot(timecode_fps)
        tc_slot.segment = f.create.Timecode(timecode_fps, drop=False,
                                            length=max(1, length * timecode_fps // sample_rate_hz))
        tc_slot.segment.start = start_timecode_samples * timecode_fps // sample_rate_hz
    return layouts


def _utf16(text: str) -> bytes:
    """A string property's bytes: UTF-16LE with its terminating zero."""
    return (text + "\0").encode("utf-16-le")


def _read_tree(path: Path) -> tuple[Entry, bytes]:
    """Every storage and stream of an AAF file, and its header's CLSID (AAF's signature)."""
    import aaf2

    def tree(d) -> Entry:
        clsid = bytes(d.data[80:96])  # the directory entry's CLSID field: an AAF object's class
        if d.dir_id == 0 or d.isdir():
            return Entry(d.name, clsid, None, [tree(c) for c in d.listdir()])
        return Entry(d.name, clsid, bytes(d.open("r").read()))

    with aaf2.open(str(path), "r") as f:
        root = tree(f.cfb.find("/"))
    with open(path, "rb") as f:
        return root, f.read(24)[8:]


def _set_properties(data: bytes, values: dict[int, bytes]) -> bytes:
    """An object's "properties" stream with the values of some property ids replaced."""
    layout = _property_layout(data)
    if all(pid in layout and len(value) == layout[pid][1] for pid, value in values.items()):
        out = bytearray(data)  # same sizes (lengths, positions): the values overwrite in place
        for pid, value in values.items():
            offset, size = layout[pid]
            out[offset:offset + size] = value
        return bytes(out)
    count = struct.unpack_from("<H", data, 2)[0]
    heads = [struct.unpack_from("<HHH", data, 4 + 6 * k) for k in range(count)]
    position = 4 + 6 * count
    out_heads, out_values = [data[:4]], []
    for pid, form, size in heads:
        value = values.get(pid, data[position:position + size])
        position += size
        out_heads.append(struct.pack("<HHH", pid, form, len(value)))
        out_values.append(value)
    return b"".join(out_heads + out_values)


@functools.lru_cache(maxsize=256)
def _property_layout(data: bytes) -> dict[int, tuple[int, int]]:
    """Property id -> (offset, size) of its value in a "properties" stream (templates' streams recur for every clip:
    parsed once)."""
    count = struct.unpack_from("<H", data, 2)[0]
    layout, position = {}, 4 + 6 * count
    for k in range(count):
        pid, _, size = struct.unpack_from("<HHH", data, 4 + 6 * k)
        layout[pid] = (position, size)
        position += size
    return layout


def _with(entry: Entry, values: dict[int, bytes], child: str | None = None) -> Entry:
    """A copy of an object's storage with some property values replaced — its own, or with ``child`` those of the
    object stored in that child storage; everything else is shared with ``entry``."""
    children = []
    for c in entry.children:
        if child is None and c.name == "properties":
            c = Entry(c.name, c.clsid, _set_properties(c.data, values))
        elif c.name == child:
            c = _with(c, values)
        children.append(c)
    return Entry(entry.name, entry.clsid, None, children)


def _fill_sequence(root: Entry, t: _Templates, track: LinkedTrack, length_samples: int) -> None:
    """Replace a track's template components in the skeleton tree by its clips, crossfades and fillers (made while
    the file is written: see :class:`session_io.cfb.Entry`)."""
    sequence = root
    for name in t.sequence.strip("/").split("/"):
        sequence = sequence.child(name)
    template = {k: sequence.child(f"{t.index}{{{k:x}}}") for k in range(_GAP + 1)}
    q = lambda v: struct.pack("<q", v)  # noqa: E731  (an aafInt64 / aafLength value)
    n, end = _timeline_extent(track, length_samples)

    def components():
        for number, item in enumerate(_timeline(track, length_samples)):
            if item[0] == "fade":
                base = template[_FADE_POWER if item[2] == "equal_power" else _FADE_GAIN]
                e = _with(_with(base, {t.length_pid: q(item[1])}), {t.length_pid: q(item[1])}, child=t.group)
            elif item[0] == "gap":
                e = _with(template[_GAP], {t.length_pid: q(item[1])})
            else:
                clip = item[1]
                e = _with(template[_CLIP_COMMENTED if clip.name else _CLIP],
                          {t.length_pid: q(clip.length_samples), t.start_pid: q(clip.source_start_samples)})
                if clip.name:
                    e = _with(e, {t.value_pid: t.value_prefix + _utf16(clip.name)}, child=t.comment)
            e.name = f"{t.index}{{{number:x}}}"
            yield e

    index = Entry(f"{t.index} index", data=struct.pack(f"<III{n}I", n, n, 0xFFFFFFFF, *range(n)))
    kept = [c for c in sequence.children if not c.name.startswith(t.index + "{") and c.name != index.name]
    sequence.children = lambda: itertools.chain(kept, components(), [index])
    props = sequence.child("properties")
    props.data = _set_properties(props.data, {t.length_pid: q(end)})


def write_linked_aaf(path: str | Path, name: str, sample_rate_hz: int, tracks: list[LinkedTrack],
                     start_timecode_samples: int = 0, timecode_fps: int = 30, length_samples: int = 0,
                     embed: bool = False) -> None:
    """Write an AAF whose sound tracks play clips of WAV files linked beside it (absolute ``file://`` locators;
    readers that miss them look beside the AAF by file name).

    Parameters
    ----------
    path : str or Path
    name : str
        Composition name.
    sample_rate_hz : int
        Also the tracks' edit rate, so every position is a whole sample.
    tracks : list of LinkedTrack
    start_timecode_samples : int
        The composition's start as samples since midnight (its timecode slot, at ``timecode_fps``).
    length_samples : int
        Every track is filled with silence up to this length (the session's), so readers see its full extent.
    embed : bool
        Embed each track's channel of its media in the AAF (PCM essence) instead of linking the files.
    """
    path = Path(path)
    args = (name, sample_rate_hz, tracks, start_timecode_samples, timecode_fps, length_samples, embed)
    if embed:
        _write_with_pyaaf2(path, *args, templates=False)
        return
    with _cyclic_gc_paused(), tempfile.TemporaryDirectory(prefix="nbd-aaf-") as tmp:
        skeleton = Path(tmp) / "skeleton.aaf"
        layouts = _write_with_pyaaf2(skeleton, *args, templates=True)
        root, header_clsid = _read_tree(skeleton)
        for track, layout in zip(tracks, layouts):
            _fill_sequence(root, layout, track, length_samples)
        write_compound_file(path, root, header_clsid)


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Python's cycle collector off while the entry tree is built and written: with over 100 000 live entries, each
    collection walks them all, and they came due often enough to take 0.4 of the 0.8 s of writing a 3-minute
    session's compound file. The tree holds no cycles; anything that does is collected when this ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
