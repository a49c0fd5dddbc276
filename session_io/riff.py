"""RIFF/RF64 and AIFF chunk walking: truncation checks, BWF ``bext`` and iXML track names.

libsndfile quietly shortens a WAV or AIFF whose audio chunk runs past the end of the file, and it has no API for the
``bext`` and ``iXML`` chunks, so nbd reads the chunk list itself. Only the chunk headers and the small metadata
chunks are read, never the audio.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

__all__ = [
    "Chunk", "BextInfo", "list_chunks", "audio_chunk_shortfall", "read_bext", "read_ixml_track_names", "bext_payload",
    "insert_chunk", "new_umid", "broadcast_info_struct",
]


@dataclass(frozen=True)
class Chunk:
    """One chunk: its four-character id, where its payload starts (bytes), and its declared and present sizes."""

    id: str
    offset: int
    declared_size: int
    present_size: int


@dataclass(frozen=True)
class BextInfo:
    """The fields of a Broadcast WAVE ``bext`` chunk that nbd uses.

    ``time_reference_samples`` is the file's first sample in samples since midnight, at the file's rate.
    """

    description: str
    originator: str
    originator_reference: str
    origination_date: str
    origination_time: str
    time_reference_samples: int
    version: int
    umid: bytes
    raw: bytes


def list_chunks(path: str | Path) -> tuple[str, list[Chunk]]:
    """The container kind (``"RIFF"``, ``"RF64"``, ``"BW64"``, ``"FORM"`` or ``""``) and its top-level chunks.

    Returns an empty list for files that are not RIFF or AIFF (FLAC, for one). A chunk cut short by the end of the
    file is listed with ``present_size < declared_size`` and ends the walk.
    """
    path = Path(path)
    size = path.stat().st_size
    chunks: list[Chunk] = []
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12:
            return "", []
        kind = head[:4].decode("latin-1")
        if kind in ("RIFF", "RF64", "BW64") and head[8:12] == b"WAVE":
            endian = "<"
        elif kind == "FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            endian = ">"
        else:
            return "", []
        ds64_data_size = None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid_raw, csize = struct.unpack(endian + "4sI", f.read(8))
            cid = cid_raw.decode("latin-1")
            if cid == "ds64" and csize >= 28:
                ds64 = f.read(28)
                if len(ds64) == 28:
                    ds64_data_size = struct.unpack("<Q", ds64[8:16])[0]
            if cid == "data" and csize == 0xFFFFFFFF and ds64_data_size is not None:
                csize = ds64_data_size  # RF64: the real size lives in ds64
            present = min(csize, size - pos - 8)
            chunks.append(Chunk(cid, pos + 8, csize, present))
            if present < csize:
                break
            pos += 8 + csize + (csize & 1)  # chunks are padded to even sizes
    return kind, chunks


def audio_chunk_shortfall(path: str | Path) -> tuple[int, int] | None:
    """``(declared, present)`` bytes of the audio chunk (``data`` or ``SSND``) when the file cuts it short, else None.

    A WAV written by a recorder that stopped before fixing its header declares 0 or 0xFFFFFFFF bytes; those are
    not reported (libsndfile reads them to the end of the file).
    """
    _, chunks = list_chunks(path)
    for c in chunks:
        if c.id in ("data", "SSND") and c.present_size < c.declared_size and c.declared_size not in (0, 0xFFFFFFFF):
            return c.declared_size, c.present_size
    return None


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def read_bext(path: str | Path) -> BextInfo | None:
    """The ``bext`` chunk of a WAV file, or None if it has none (or it is too short to hold a time reference)."""
    _, chunks = list_chunks(path)
    for c in chunks:
        if c.id == "bext" and c.present_size >= 346:
            with open(path, "rb") as f:
                f.seek(c.offset)
                raw = f.read(c.present_size)
            low, high = struct.unpack("<II", raw[338:346])
            version = struct.unpack("<H", raw[346:348])[0] if len(raw) >= 348 else 0
            return BextInfo(
                description=_text(raw[0:256]),
                originator=_text(raw[256:288]),
                originator_reference=_text(raw[288:320]),
                origination_date=_text(raw[320:330]),
                origination_time=_text(raw[330:338]),
                time_reference_samples=(high << 32) | low,
                version=version,
                umid=raw[348:412] if len(raw) >= 412 else b"",
                raw=raw,
            )
    return None


def read_ixml_track_names(path: str | Path) -> dict[int, str]:
    """Track names from a poly WAV's ``iXML`` chunk (``TRACK_LIST``), by 0-based channel index; empty if none."""
    _, chunks = list_chunks(path)
    for c in chunks:
        if c.id == "iXML" and c.present_size == c.declared_size:
            with open(path, "rb") as f:
                f.seek(c.offset)
                raw = f.read(c.present_size)
            try:
                root = ElementTree.fromstring(raw.rstrip(b"\x00").decode("utf-8", "replace"))
            except ElementTree.ParseError:
                return {}
            names: dict[int, str] = {}
            for track in root.iter("TRACK"):
                index = track.findtext("INTERLEAVE_INDEX") or track.findtext("CHANNEL_INDEX")
                name = (track.findtext("NAME") or "").strip()
                if index and re.fullmatch(r"\d+", index.strip()) and name:
                    names[int(index) - 1] = name
            return names
    return {}


def bext_payload(time_reference_samples: int, description: str = "", originator: str = "nbd",
                 originator_reference: str = "", umid: bytes = b"") -> bytes:
    """A version-1 ``bext`` chunk payload (602 bytes) carrying a time reference in samples since midnight."""
    def field(text: str, size: int) -> bytes:
        return text.encode("latin-1", "replace")[:size].ljust(size, b"\x00")

    payload = (
        field(description, 256) + field(originator, 32) + field(originator_reference, 32)
        + field("", 10) + field("", 8)
        + struct.pack("<II", time_reference_samples & 0xFFFFFFFF, time_reference_samples >> 32)
        + struct.pack("<H", 1) + umid[:64].ljust(64, b"\x00") + b"\x00" * 190
    )
    return payload


def insert_chunk(path: str | Path, chunk_id: str, payload: bytes) -> None:
    """Insert a chunk right after the ``WAVE`` id of a RIFF file nbd wrote (before ``fmt``), fixing the RIFF size.

    For outputs only: it rewrites the file in place.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF WAVE file")
    chunk = chunk_id.encode("latin-1") + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")
    body = data[12:]
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunk) + len(body)) + b"WAVE" + chunk + body)


#: SMPTE 330M universal label of a basic UMID (12 bytes), then its length byte (0x13: 19 more bytes follow).
_UMID_LABEL = bytes.fromhex("060A2B340101010501010D20") + b"\x13"


def new_umid(seed: bytes) -> bytes:
    """A 64-byte field holding a basic (32-byte) SMPTE UMID whose material number comes from ``seed``.

    The same seed gives the same UMID (outputs stay byte-identical run to run); a different seed — another plan,
    another file — gives another, so no DAW mistakes an edited stem for its original media.
    """
    import hashlib

    material = hashlib.sha256(b"nbd stem " + seed).digest()[:16]
    return (_UMID_LABEL + b"\x00\x00\x00" + material).ljust(64, b"\x00")


def broadcast_info_struct(description: str, originator: str, originator_reference: str, origination_date: str,
                          origination_time: str, time_reference_samples: int, umid: bytes) -> bytes:
    """libsndfile's ``SF_BROADCAST_INFO`` struct (864 bytes, C layout), for ``SFC_SET_BROADCAST_INFO``.

    libsndfile then writes the ``bext`` chunk itself, before the audio, as it creates the file.
    """
    def text(value: str, size: int) -> bytes:
        return value.encode("latin-1", "replace")[:size].ljust(size, b"\x00")

    return (
        text(description, 256) + text(originator, 32) + text(originator_reference, 32)
        + text(origination_date, 10) + text(origination_time, 8)
        + b"\x00\x00"  # C alignment of the next uint32
        + struct.pack("<II", time_reference_samples & 0xFFFFFFFF, time_reference_samples >> 32)
        + struct.pack("<h", 1) + umid[:64].ljust(64, b"\x00")
        + b"\x00" * 10  # loudness fields: not measured here
        + b"\x00" * 180 + struct.pack("<I", 0) + b"\x00" * 256
    )
