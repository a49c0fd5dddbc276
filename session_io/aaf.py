"""AAF sessions (Pro Tools, Media Composer, Premiere, Resolve exports): read the structure, find the media, and lay
each sound track out as one continuous channel.

Structure: the top-level composition's sound slots in order, named after their tracks. A slot's sequence holds source
clips, fillers, transitions (which overlap their neighbours: the next clip starts ``length`` earlier, and the
"Audio Dissolve" is a crossfade, or a fade where a filler is the neighbour) and operation groups (channel combiners
that make a stereo clip of two mono sources, clip gain and volume automation, pans, nested dissolves). A source
clip's start is counted in the edit rate of the slot that contains it (as LibAAF and the NLEs read it); the rest of
the chain (master mob, file source mob) adds its own starts. Edit rates convert to samples with exact fractions.

Media: **embedded** essence (WAVE or raw PCM inside the AAF) or **linked** files found from their locators, beside
the AAF, or in ``media_dirs``. Media that cannot be found is one error listing every missing file.

Each track is flattened — clips placed, gains and fades applied — into ``workdir/<track name>.wav`` at the session's
rate with the media's bit depth, and the session is those files laid end to end on one timeline: sample 0 is the
start of the earliest clip, and MIDI time 0 defaults to the composition's start.
"""
from __future__ import annotations

import io
import logging
import math
import re
import urllib.parse
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from aligner.plan import fade_gains
from nbd_errors import NbdError, SessionReadError, UnsupportedFormatError
from session_io.session import MAX_RATE_HZ, MIN_RATE_HZ, AudioSource, Session, Track, from_unit_scale, quantise

__all__ = ["MediaRef", "AafClip", "AafTrack", "AafComposition", "read_aaf_structure", "read_aaf"]

log = logging.getLogger("nbd")


@dataclass(frozen=True)
class MediaRef:
    """One channel of media a clip plays.

    Attributes
    ----------
    name : str
        The media's name as the editor saw it (its master mob, else its file source mob).
    mob_id : str
    channel : int
        Channel of the media file (0-based).
    sample_rate_hz : int or None
    offset_samples : int
        Where the clip's material starts in the media file, from the master and file mobs' own starts.
    locators : tuple of str
        Linked media: its URLs. Empty for embedded media.
    embedded : bool
    """

    name: str
    mob_id: str
    channel: int
    sample_rate_hz: int | None
    offset_samples: int
    locators: tuple[str, ...]
    embedded: bool


@dataclass
class AafClip:
    """A clip on a track: positions and lengths in session samples from the composition's start."""

    position_samples: int
    length_samples: int
    source_offset_samples: int
    media: tuple[MediaRef, ...]
    gain: float = 1.0
    automation: tuple[tuple[float, float], ...] = ()  # (time 0-1 over the clip, linear gain)
    fade_in: tuple[int, str] | None = None  # (samples, "equal_gain"|"equal_power")
    fade_out: tuple[int, str] | None = None
    name: str = ""


@dataclass
class AafTrack:
    """A sound track: its name (unique, from the slot), channels and clips in timeline order."""

    name: str
    slot_id: int
    edit_rate: Fraction
    clips: list[AafClip] = field(default_factory=list)
    length_samples: int = 0  # where the track's sequence ends, fillers included

    @property
    def channels(self) -> int:
        """Channels of its widest clip."""
        return max((len(c.media) for c in self.clips), default=1)


@dataclass
class AafComposition:
    """What an AAF holds that nbd uses."""

    name: str
    path: Path
    sample_rate_hz: int
    start_timecode_samples: int  # the composition's start timecode, as samples since midnight
    tracks: list[AafTrack]


# -- structure ---------------------------------------------------------------------------------------------------

def _rate(value) -> Fraction:
    return Fraction(value.numerator, value.denominator) if hasattr(value, "numerator") else Fraction(value)


def _to_samples(units: int, edit_rate: Fraction, sample_rate: int) -> int:
    return math.floor(Fraction(units) * sample_rate / edit_rate)


def _type(obj) -> str:
    return type(obj).__name__


def _curve(operation_group) -> str:
    """Crossfade shape of an Audio Dissolve: Avid's "Curve Type" 1 (and Premiere's power curves) → equal power."""
    for p in operation_group.parameters:
        if p.name == "Curve Type" and _type(p) == "ConstantValue" and p.value == 1:
            return "equal_power"
    op = operation_group.operation.name if operation_group.operation else ""
    return "equal_power" if "power" in op.lower() or "constant power" in op.lower() else "equal_gain"


def _gains(operation_group) -> tuple[float, tuple[tuple[float, float], ...]]:
    """Constant amplitude and volume automation points of a gain operation group."""
    gain, automation = 1.0, ()
    for p in operation_group.parameters:
        if _type(p) == "ConstantValue" and p.name in ("Amplitude", "") and hasattr(p.value, "numerator"):
            gain *= float(Fraction(p.value.numerator, p.value.denominator))
        elif _type(p) == "VaryingValue" and p.name in ("AvidControlClipRatio", "Amplitude", ""):
            automation = tuple((float(pt.time), float(pt.value)) for pt in p["PointList"].value)
    return gain, automation


def _descriptor_rate(descriptor) -> int | None:
    """Audio sample rate of a file descriptor: from a WAVE descriptor's stored header (its ``SampleRate`` property is
    often the project rate, not the file's), else from the PCM/AIFC properties."""
    import struct

    if descriptor is None:
        return None
    keys = descriptor.keys()
    if _type(descriptor) == "WAVEDescriptor" and "Summary" in keys:
        summary = bytes(descriptor["Summary"].value)
        at = summary.find(b"fmt ")
        if at >= 0 and len(summary) >= at + 16:
            return struct.unpack("<I", summary[at + 12:at + 16])[0]
    if "AudioSamplingRate" in keys:
        return int(_rate(descriptor["AudioSamplingRate"].value))
    if "SampleRate" in keys and _type(descriptor) in ("PCMDescriptor", "AIFCDescriptor", "WAVEDescriptor"):
        return int(_rate(descriptor["SampleRate"].value))
    return None


def _resolve_media(clip, sample_rate: int, channel_hint: int) -> tuple[MediaRef, int]:
    """Follow a composition clip down to the media it plays: (media, extra offset in media samples)."""
    offset = Fraction(0)
    mob, slot = clip.mob, clip.slot
    master_name = mob.name if mob is not None else ""
    for _ in range(8):
        if mob is None or slot is None:
            return MediaRef(master_name or "?", str(clip["SourceID"].value) if "SourceID" in clip.keys() else "?",
                            channel_hint, None, 0, (), False), 0
        if _type(mob) == "SourceMob" and _type(mob.descriptor) not in ("TapeDescriptor", "ImportDescriptor"):
            break
        segment = slot.segment
        if _type(segment) == "Sequence":
            segment = next((c for c in segment.components if _type(c) == "SourceClip"), None)
        if _type(segment) != "SourceClip":
            return MediaRef(master_name, str(mob.mob_id), channel_hint, None, 0, (), False), 0
        offset += Fraction(segment.start or 0) * sample_rate / _rate(slot.edit_rate)
        mob, slot, channel_hint = segment.mob, segment.slot, max(segment.slot_id - 1, 0) if segment.mob else 0
    descriptor = mob.descriptor
    rate = _descriptor_rate(descriptor)
    locators = ()
    if "Locator" in descriptor.keys():
        locators = tuple(loc["URLString"].value for loc in descriptor["Locator"].value if "URLString" in loc.keys())
    embedded = mob.essence is not None
    channel = channel_hint if _type(descriptor) in ("PCMDescriptor", "WAVEDescriptor", "AIFCDescriptor") else 0
    return MediaRef(master_name or mob.name or "", str(mob.mob_id), channel, rate, 0, locators, embedded), \
        math.floor(offset)


class _Walker:
    """Walks one slot's segment tree, collecting clips with positions in edit units."""

    def __init__(self, track: AafTrack, sample_rate: int):
        self.track = track
        self.rate = sample_rate
        self.pending_fade_in: tuple[int, str] | None = None
        self.last_was_clip = False

    def samples(self, units: int) -> int:
        return _to_samples(units, self.track.edit_rate, self.rate)

    def walk(self, segment, position: int, gain=1.0, automation=()) -> int:
        kind = _type(segment)
        if kind == "Sequence":
            for component in segment.components:
                position = self.walk(component, position, gain, automation)
            return position
        if kind == "Filler":
            self.last_was_clip = False
            return position + segment.length
        if kind == "Transition":
            shape = _curve(segment["OperationGroup"].value)
            length = self.samples(segment.length)
            if self.last_was_clip and self.track.clips:
                self.track.clips[-1].fade_out = (length, shape)
            self.pending_fade_in = (length, shape)
            self.last_was_clip = False
            return position - segment.length
        if kind == "SourceClip":
            self._clip([segment], position, segment.length, gain, automation)
            return position + segment.length
        if kind == "OperationGroup":
            name = segment.operation.name if segment.operation else ""
            inputs = list(segment.segments)
            if "Channel Combiner" in name:
                clips = [self._first_clip(s) for s in inputs]
                clips = [c for c in clips if c is not None]
                if clips:
                    self._clip(clips, position, segment.length, gain, automation)
                return position + segment.length
            g, a = _gains(segment)
            if inputs:
                self.walk(inputs[0], position, gain * g, a or automation)
            else:
                self.last_was_clip = False
            return position + segment.length
        if kind in ("NestedScope", "Selector", "EssenceGroup"):
            inner = segment["Slots"].value[-1] if kind == "NestedScope" else (
                segment["Selected"].value if kind == "Selector" else segment["Choices"].value[0])
            self.walk(inner, position, gain, automation)
            return position + segment.length
        self.last_was_clip = False
        return position + (segment.length or 0)

    @staticmethod
    def _first_clip(segment):
        if _type(segment) == "SourceClip":
            return segment
        if _type(segment) == "Sequence":
            return next((c for c in segment.components if _type(c) == "SourceClip"), None)
        if _type(segment) == "OperationGroup" and len(segment.segments):
            return _Walker._first_clip(segment.segments[0])
        return None

    def _clip(self, sources, position: int, length: int, gain: float, automation) -> None:
        media, extra = [], 0
        for i, source in enumerate(sources):
            ref, offset = _resolve_media(source, self.rate, i if len(sources) > 1 else 0)
            media.append(ref)
            extra = offset
        start = self.samples(position)
        clip = AafClip(
            position_samples=start,
            length_samples=self.samples(position + length) - start,
            source_offset_samples=_to_samples(sources[0].start or 0, self.track.edit_rate, self.rate) + extra,
            media=tuple(media), gain=gain, automation=tuple(automation),
            fade_in=self.pending_fade_in, name=media[0].name if media else "")
        self.pending_fade_in = None
        self.track.clips.append(clip)
        self.last_was_clip = True


def read_aaf_structure(path: str | Path) -> AafComposition:
    """Read an AAF's top-level composition: its sound tracks, clips, fades, gains and media references.

    Raises
    ------
    SessionReadError
        Not an AAF, corrupt, or without a composition holding sound.
    """
    import aaf2

    path = Path(path)
    try:
        f = aaf2.open(str(path), "r")
    except Exception as e:
        raise SessionReadError(f"not a readable AAF file ({type(e).__name__}: {e})", path) from None
    try:
        with f:
            compositions = list(f.content.toplevel()) or list(f.content.compositionmobs())
            if not compositions:
                raise SessionReadError("no composition in this AAF", path)
            comp = compositions[0]
            rates = [r for m in f.content.sourcemobs() if (r := _descriptor_rate(m.descriptor)) is not None]
            sample_rate = max(set(rates), key=rates.count) if rates else 48000
            start_tc = 0
            tracks: list[AafTrack] = []
            names: dict[str, int] = {}
            for slot in comp.slots:
                if _type(slot.segment) == "Timecode" or (_type(slot.segment) == "Sequence" and any(
                        _type(c) == "Timecode" for c in slot.segment.components)):
                    tc = slot.segment if _type(slot.segment) == "Timecode" else next(
                        c for c in slot.segment.components if _type(c) == "Timecode")
                    fps = tc.fps or 30
                    frames = tc.start or 0
                    # timecode counts nominal frames; real time runs at the slot's rate (29.97 for 30 NDF/DF)
                    start_tc = math.floor(Fraction(frames) * sample_rate / _rate(slot.edit_rate)) \
                        if abs(float(_rate(slot.edit_rate)) - fps) < 1 else frames * sample_rate // fps
                    continue
                if slot.media_kind != "Sound":
                    continue
                base = (slot.name or f"Audio {len(tracks) + 1}").strip() or f"Audio {len(tracks) + 1}"
                names[base.lower()] = names.get(base.lower(), 0) + 1
                name = base if names[base.lower()] == 1 else f"{base} {names[base.lower()]}"
                track = AafTrack(name, slot.slot_id, _rate(slot.edit_rate))
                walker = _Walker(track, sample_rate)
                track.length_samples = walker.samples(walker.walk(slot.segment, 0))
                if track.clips:
                    tracks.append(track)
            if not tracks:
                raise SessionReadError("the composition has no sound clips", path)
            return AafComposition(comp.name or path.stem, path, sample_rate, start_tc, tracks)
    except SessionReadError:
        raise
    except Exception as e:
        raise SessionReadError(f"cannot read the AAF's composition ({type(e).__name__}: {e})", path) from None


# -- media ---------------------------------------------------------------------------------------------------------

def _locator_path(url: str) -> Path:
    parsed = urllib.parse.urlparse(url)
    raw = urllib.parse.unquote(parsed.path if parsed.scheme in ("file", "") else url)
    if re.match(r"^/[A-Za-z]:", raw):
        raw = raw[1:]  # file:///C:/... on Windows
    return Path(raw.replace("\\", "/"))


def _find_media(ref: MediaRef, aaf_dir: Path, media_dirs: list[Path]) -> Path | None:
    for url in ref.locators:
        p = _locator_path(url)
        candidates = [p] if p.is_absolute() else [aaf_dir / p]
        candidates += [aaf_dir / p.name] + [d / p.name for d in media_dirs]
        for c in candidates:
            if c.is_file():
                return c
    for d in [aaf_dir, *media_dirs]:  # no usable locator: by media name
        for suffix in ("", ".wav", ".aif", ".aiff"):
            c = d / (ref.name + suffix)
            if ref.name and c.is_file():
                return c
    return None


def _embedded_audio(aaf_path: Path, mob_id: str) -> tuple[np.ndarray, int, str]:
    """Decode embedded essence: (samples float64 frames x channels, rate, subtype)."""
    import aaf2
    import soundfile as sf

    with aaf2.open(str(aaf_path), "r") as f:
        mob = next(m for m in f.content.sourcemobs() if str(m.mob_id) == mob_id)
        data = bytes(mob.essence.open("r").read())
        d = mob.descriptor
        if data[:4] in (b"RIFF", b"FORM"):
            info = sf.info(io.BytesIO(data))
            audio, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
            return audio, rate, info.subtype
        bits = int(d["QuantizationBits"].value)
        channels = int(d["Channels"].value)
        rate = int(_rate(d["SampleRate"].value))
        subtype = {16: "PCM_16", 24: "PCM_24", 32: "PCM_32"}.get(bits)
        if subtype is None:
            raise UnsupportedFormatError(f"embedded {bits}-bit PCM is not supported", aaf_path)
        raw = sf.read(io.BytesIO(data), samplerate=rate, channels=channels, subtype=subtype, format="RAW",
                      endian="LITTLE", dtype="float64", always_2d=True)[0]
        return raw, rate, subtype


# -- flattening ----------------------------------------------------------------------------------------------------

def _linked_media(track: AafTrack, found: dict, start: int) -> list[dict] | None:
    """Where a track is one plain clip of linked WAV media (no gain, no fades), per channel: the media file, its
    channel, and ``offset`` such that media sample = session sample + offset. None for any other track."""
    if len(track.clips) != 1:
        return None
    clip = track.clips[0]
    if clip.gain != 1.0 or clip.automation or clip.fade_in or clip.fade_out:
        return None
    media = []
    for ref in clip.media:
        where = found.get(ref.mob_id)
        if not isinstance(where, Path) or where.suffix.lower() not in (".wav", ".wave", ".bwf"):
            return None
        media.append({"path": str(where), "channel": ref.channel,
                      "offset": clip.source_offset_samples + ref.offset_samples - (clip.position_samples - start)})
    return media


def read_aaf(path: str | Path, workdir: Path, media_dirs: list[Path] | None = None,
             skip_missing: bool = False, check: bool = True) -> Session:
    """Read an AAF session and flatten each sound track into ``workdir/<track name>.wav``.

    Parameters
    ----------
    path : str or Path
    workdir : Path
        Where the flattened tracks go (a temporary folder owned by the caller; never next to the inputs).
    media_dirs : list of Path
        Extra folders to look for linked media in, after the AAF's own folder.
    skip_missing : bool
        Leave tracks whose media is missing silent (with a warning) instead of failing.

    Returns
    -------
    Session
        ``metadata["midi_origin_samples"]`` is where the composition starts on the session timeline;
        ``metadata["aaf"]`` keeps the composition's name, rate and start timecode.

    Raises
    ------
    SessionReadError
        Naming the AAF: corrupt, or media missing (every missing file listed), or media at another sample rate.
    """
    import soundfile as sf

    path = Path(path)
    media_dirs = [Path(d) for d in (media_dirs or [])]
    comp = read_aaf_structure(path)
    rate = comp.sample_rate_hz

    # resolve every media reference first, so one error lists everything missing
    found: dict[str, Path | str] = {}
    missing: dict[str, MediaRef] = {}
    for track in comp.tracks:
        for clip in track.clips:
            for ref in clip.media:
                if ref.mob_id in found or ref.mob_id in missing:
                    continue
                if ref.embedded:
                    found[ref.mob_id] = "embedded"
                elif (p := _find_media(ref, path.parent, media_dirs)) is not None:
                    found[ref.mob_id] = p
                else:
                    missing[ref.mob_id] = ref
    if missing and not skip_missing:
        names = sorted({(ref.locators[0] if ref.locators else ref.name) for ref in missing.values()})
        raise SessionReadError(f"{len(names)} media file(s) not found (searched beside the AAF"
                               f"{' and in ' + ', '.join(map(str, media_dirs)) if media_dirs else ''}; "
                               f"use --media-dir or --skip-missing): " + "; ".join(names), path)

    cache: dict[str, tuple[np.ndarray, int, str]] = {}

    def media_audio(ref: MediaRef):
        if ref.mob_id not in cache:
            where = found[ref.mob_id]
            if where == "embedded":
                try:
                    cache[ref.mob_id] = _embedded_audio(path, ref.mob_id)
                except NbdError:
                    raise
                except Exception as e:  # a damaged descriptor or essence stream
                    raise SessionReadError(f"embedded media {ref.name!r} is unreadable ({type(e).__name__}: {e})",
                                           path) from None
            else:
                try:
                    info = sf.info(str(where))
                    cache[ref.mob_id] = (sf.read(str(where), dtype="float64", always_2d=True)[0], info.samplerate,
                                         info.subtype)
                except Exception as e:
                    raise SessionReadError(f"linked media is not readable audio ({e})", where) from None
        audio, media_rate, _ = cache[ref.mob_id]
        if media_rate != rate:
            raise SessionReadError(f"media {ref.name!r} is {media_rate} Hz in a {rate} Hz composition; "
                                   "nbd does not resample: convert it first", path)
        return cache[ref.mob_id]

    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise SessionReadError(f"the composition's media is {rate} Hz, outside the {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz "
                               "nbd edits", path)
    start = min(c.position_samples for t in comp.tracks for c in t.clips)
    end = max(max(c.position_samples + c.length_samples for t in comp.tracks for c in t.clips),
              max(t.length_samples for t in comp.tracks))
    workdir.mkdir(parents=True, exist_ok=True)
    sources, tracks = [], []
    for ti, track in enumerate(comp.tracks):
        out = np.zeros((end - start, track.channels))
        subtype = "PCM_24"
        silent = []
        for clip in track.clips:
            if any(ref.mob_id in missing for ref in clip.media):
                silent.append(clip.name)
                continue
            lo = clip.position_samples - start
            piece = np.zeros((clip.length_samples, track.channels))
            for ch, ref in enumerate(clip.media):
                audio, _, subtype = media_audio(ref)
                src = audio[:, min(ref.channel, audio.shape[1] - 1)]
                a = clip.source_offset_samples + ref.offset_samples
                chunk = src[max(a, 0):max(a + clip.length_samples, 0)]
                piece[:len(chunk), ch if len(clip.media) > 1 else slice(None)] = chunk[:, None] if len(
                    clip.media) == 1 else chunk
            gain = np.full(clip.length_samples, clip.gain)
            if clip.automation:
                times = np.array([p[0] for p in clip.automation]) * clip.length_samples
                gain *= np.interp(np.arange(clip.length_samples), times, [p[1] for p in clip.automation])
            if clip.fade_in:
                n = min(clip.fade_in[0], clip.length_samples)
                gain[:n] *= fade_gains(clip.fade_in[1], n)[0]  # the renderer's own curves, to the bit
            if clip.fade_out:
                n = min(clip.fade_out[0], clip.length_samples)
                gain[clip.length_samples - n:] *= fade_gains(clip.fade_out[1], n)[1]
            out[lo:lo + clip.length_samples] += piece * gain[:, None]
        if silent:
            log.warning("%s: track %r left silent where its media is missing (%s)", path, track.name,
                        ", ".join(sorted(set(silent))))
        file_name = re.sub(r"[^\w\- .()]+", "_", track.name).strip() or f"Audio {ti + 1}"
        target = workdir / f"{file_name}.wav"
        if any(s.path == target for s in sources):  # two names that differ only in unsafe characters
            target = workdir / f"{file_name} ({ti + 1}).wav"
        levels, _clipped = quantise(from_unit_scale(out, subtype), subtype)
        sf.write(str(target), levels, rate, subtype=subtype)
        metadata = {"aaf_track": track.name}
        linked = _linked_media(track, found, start)
        if linked is not None:
            metadata["aaf_media"] = linked
        sources.append(AudioSource(target, rate, track.channels, end - start, "WAV", subtype, metadata=metadata))
        tracks.append(Track(track.name, ti, tuple(range(track.channels))))
    metadata = {"midi_origin_samples": -start,
                "aaf": {"composition": comp.name, "sample_rate_hz": rate,
                        "start_timecode_samples": comp.start_timecode_samples}}
    return Session(comp.name, path, rate, tuple(sources), tuple(tracks),
                   start_samples=comp.start_timecode_samples + start, metadata=metadata)

