"""A compound file writer (Microsoft's CFB, version 4: 4096-byte sectors): the container an AAF file is.

pyaaf2 builds its compound file one directory entry at a time, keeping its sibling trees balanced as it goes; an
edit of 16 000 clips is 130 000 entries and most of the time of writing ``edit.aaf``. This writer lays out a
finished tree of storages and streams in one pass: streams under 4096 bytes in the mini stream, the rest in
sectors of their own, each storage's children as a balanced red-black tree in the format's name order. Directory
entries carry no timestamps, so the same tree gives the same bytes.

    root = Entry("Root Entry", clsid, children=[Entry("properties", data=b"..."), ...])
    write_compound_file("out.aaf", root, header_clsid)
"""
from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Entry", "write_compound_file"]

_SECTOR = 4096
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096
_FREE, _END, _FAT, _DIFAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC
_PER_SECTOR = _SECTOR // 4  # sector numbers in one FAT or DIFAT sector
_NONE = 0xFFFFFFFF
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_RED, _BLACK = 0, 1
_HEADER_FAT_SECTORS = 109  # the header's own list of FAT sectors (files up to 457 MB); DIFAT sectors list more
_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")


@dataclass
class Entry:
    """A storage (``data`` None, with ``children``) or a stream (``data``) of a compound file."""

    name: str
    clsid: bytes = bytes(16)
    data: bytes | None = None
    children: list["Entry"] = field(default_factory=list)

    def child(self, name: str) -> "Entry":
        """The child called ``name`` (KeyError if there is none)."""
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}: no entry {name!r}")


def _order(name: str) -> tuple[int, str]:
    """The format's order of sibling names: shorter first, then case-insensitively."""
    return len(name), name.upper()


def _sibling_tree(count: int) -> tuple[int, list[tuple[int, int, int, int]]]:
    """The balanced binary tree of ``count`` siblings sorted by name, coloured as a valid red-black tree: the root's
    position and (position, left, right, colour) per sibling, positions into the sorted list (-1: none). Middle splits
    put every leaf on the last two levels: nodes on an incomplete last level are red, all others black, so every path
    from the root passes the same number of black nodes."""
    nodes: list[tuple[int, int, int, int]] = []

    def build(lo: int, hi: int, d: int) -> int:
        if lo >= hi:
            return -1
        mid = (lo + hi) // 2
        nodes.append((mid, build(lo, mid, d + 1), build(mid + 1, hi, d + 1), d))
        return mid

    root = build(0, count, 0)
    deepest = max(d for *_, d in nodes)
    perfect = count == 2 ** (deepest + 1) - 1
    return root, [(m, lo, hi, _RED if d == deepest and not perfect else _BLACK) for m, lo, hi, d in nodes]


def _chain(fat: array, first: int, count: int) -> None:
    """Mark ``count`` consecutive sectors from ``first`` as one chain in ``fat``."""
    for k in range(first, first + count - 1):
        fat[k] = k + 1
    if count:
        fat[first + count - 1] = _END


def _little_endian(numbers: array) -> bytes:
    """An array of sector numbers as the file stores them (little-endian 32-bit)."""
    if sys.byteorder == "big":
        numbers = array(numbers.typecode, numbers)
        numbers.byteswap()
    return numbers.tobytes()


_DIRECTORY_CHUNK = 32768  # directory entries packed at once (4 MB)
_DIRECTORY_ENTRY = np.dtype([
    ("name", "S64"), ("name_bytes", "<u2"), ("kind", "u1"), ("color", "u1"), ("left", "<u4"), ("right", "<u4"),
    ("child", "<u4"), ("clsid", "V16"), ("state", "<u4"), ("created", "<u8"), ("modified", "<u8"), ("start", "<u4"),
    ("size", "<u8")])


def _directory(entries: list[Entry], ids: range, kinds: array, color: array, left: array, right: array,
               child: array, start: array, size: array) -> bytes:
    """The 128-byte directory entries of ``ids`` (past the last entry: unused ones)."""
    table = np.zeros(len(ids), dtype=_DIRECTORY_ENTRY)
    table["left"] = table["right"] = table["child"] = _NONE
    used = range(ids.start, min(ids.stop, len(entries)))
    if len(used):
        names = [("Root Entry" if i == 0 else entries[i].name).encode("utf-16-le") for i in used]
        if max(map(len, names)) > 62:
            raise ValueError(f"entry name over 31 characters: {max(names, key=len).decode('utf-16-le')!r}")
        k = len(used)
        table["name"][:k] = names  # zero-padded: the terminator included
        table["name_bytes"][:k] = [len(name) + 2 for name in names]
        kind = np.frombuffer(kinds, dtype=np.uint8)[used.start:used.stop]
        table["kind"][:k] = kind
        table["color"][:k] = np.frombuffer(color, dtype=np.uint8)[used.start:used.stop]
        for field_name, numbers in (("left", left), ("right", right), ("child", child)):
            table[field_name][:k] = np.frombuffer(numbers, dtype=np.uint32)[used.start:used.stop]
        table["clsid"][:k] = np.frombuffer(b"".join(entries[i].clsid for i in used), dtype="V16")
        not_storage = kind != _STORAGE
        table["start"][:k] = np.where(not_storage, np.frombuffer(start, dtype=np.uint32)[used.start:used.stop], 0)
        table["size"][:k] = np.where(not_storage, np.frombuffer(size, dtype=np.uint64)[used.start:used.stop], 0)
    return table.tobytes()


def write_compound_file(path: str | Path, root: Entry, header_clsid: bytes = bytes(16)) -> None:
    """Write ``root`` (the root storage; its name is written as "Root Entry") and everything under it as a compound
    file at ``path``.

    Parameters
    ----------
    path : str or Path
    root : Entry
        A storage; children names are unique within their storage and at most 31 characters.
    header_clsid : bytes
        16 bytes written in the header's CLSID field (AAF puts its signature there; plain CFB leaves zeros).
    """
    # per-entry numbers in arrays, not lists: an hour-long edit is millions of entries
    entries: list[Entry] = []
    kinds = array("B")
    parent_children: list[list[int]] = []
    stack = [(root, None)]
    while stack:  # ids in depth-first order; the root is 0
        entry, parent = stack.pop()
        me = len(entries)
        entries.append(entry)
        kinds.append(_ROOT if parent is None else (_STREAM if entry.data is not None else _STORAGE))
        parent_children.append([])
        if parent is not None:
            parent_children[parent].append(me)
        if entry.data is None:
            for c in reversed(entry.children):
                stack.append((c, me))
    n = len(entries)
    left, right, child = array("I", [_NONE]) * n, array("I", [_NONE]) * n, array("I", [_NONE]) * n
    color = array("B", [_BLACK]) * n
    shapes: dict[tuple[str, ...], tuple[list[int], int, list]] = {}  # children's names -> order and tree
    for i in range(n):
        kids = parent_children[i]
        if not kids:
            continue
        names = tuple(entries[k].name for k in kids)
        shape = shapes.get(names)
        if shape is None:  # storages made from one template share their children's names: worked out once
            if len({name.upper() for name in names}) != len(names):
                raise ValueError(f"{entries[i].name}: two children with the same name")
            order = sorted(range(len(names)), key=lambda j: _order(names[j]))
            shape = shapes[names] = (order, *_sibling_tree(len(order)))
        order, root_at, nodes = shape
        ids = [kids[j] for j in order]
        child[i] = ids[root_at]
        for at, lo, hi, colour in nodes:
            node = ids[at]
            left[node] = ids[lo] if lo >= 0 else _NONE
            right[node] = ids[hi] if hi >= 0 else _NONE
            color[node] = colour

    # sector layout: big streams, the mini stream, the mini FAT, the directory, the FAT, the DIFAT
    start = array("I", [_END]) * n
    size = array("Q", [0]) * n
    big: list[int] = []
    small: list[int] = []  # streams in the mini stream, in order: written straight from their entries
    mini_len = 0
    mini_fat = array("I")
    sector = 0
    for i, e in enumerate(entries):
        if kinds[i] != _STREAM:
            continue
        size[i] = len(e.data)
        if size[i] >= _MINI_CUTOFF:
            start[i] = sector
            sector += -(-size[i] // _SECTOR)
            big.append(i)
        elif size[i]:
            first = mini_len // _MINI_SECTOR
            count = -(-size[i] // _MINI_SECTOR)
            start[i] = first
            small.append(i)
            mini_len += count * _MINI_SECTOR
            mini_fat.extend(range(first + 1, first + count))
            mini_fat.append(_END)
    mini_first, mini_sectors = sector, -(-mini_len // _SECTOR)
    sector += mini_sectors
    minifat_first, minifat_sectors = sector, -(-len(mini_fat) * 4 // _SECTOR)
    sector += minifat_sectors
    dir_first, dir_sectors = sector, -(-n * 128 // _SECTOR)
    sector += dir_sectors
    fat_sectors, difat_sectors = 1, 0
    while fat_sectors * _PER_SECTOR < sector + fat_sectors + difat_sectors:
        fat_sectors += 1
        # the header lists 109 FAT sectors; DIFAT sectors list the rest, 1023 each (files over 457 MB)
        difat_sectors = -(-max(0, fat_sectors - _HEADER_FAT_SECTORS) // (_PER_SECTOR - 1))
    fat_first = sector
    difat_first = fat_first + fat_sectors
    total = difat_first + difat_sectors

    fat = array("I", [_FREE]) * (fat_sectors * _PER_SECTOR)
    for i in big:
        _chain(fat, start[i], -(-size[i] // _SECTOR))
    _chain(fat, mini_first, mini_sectors)
    _chain(fat, minifat_first, minifat_sectors)
    _chain(fat, dir_first, dir_sectors)
    for k in range(fat_first, difat_first):
        fat[k] = _FAT
    for k in range(difat_first, total):
        fat[k] = _DIFAT
    start[0], size[0] = (mini_first, mini_len) if mini_len else (_END, 0)

    header = bytearray(_SECTOR)
    fat_list = [fat_first + k for k in range(fat_sectors)]
    in_header = fat_list[:_HEADER_FAT_SECTORS] + [_FREE] * (_HEADER_FAT_SECTORS - len(fat_list))
    struct.pack_into("<8s16sHHHHH6sIIIIIIIII109I", header, 0, _SIGNATURE, header_clsid, 0x3E, 4, 0xFFFE, 12, 6,
                     bytes(6), dir_sectors, fat_sectors, dir_first, 0, _MINI_CUTOFF,
                     minifat_first if minifat_sectors else _END, minifat_sectors,
                     difat_first if difat_sectors else _END, difat_sectors, *in_header)
    difat = bytearray()
    rest = fat_list[_HEADER_FAT_SECTORS:]
    for k in range(difat_sectors):  # each: 1023 FAT sector numbers, then the next DIFAT sector's
        part = rest[k * (_PER_SECTOR - 1):(k + 1) * (_PER_SECTOR - 1)]
        part += [_FREE] * (_PER_SECTOR - 1 - len(part))
        difat += struct.pack(f"<{_PER_SECTOR}I", *part, difat_first + k + 1 if k + 1 < difat_sectors else _END)
    with open(path, "wb") as f:
        f.write(header)
        for i in big:
            data = entries[i].data
            f.write(data)
            f.write(bytes(-len(data) % _SECTOR))
        for i in small:
            data = entries[i].data
            f.write(data)
            f.write(bytes(-len(data) % _MINI_SECTOR))
        f.write(bytes(-mini_len % _SECTOR))
        mf = _little_endian(mini_fat)
        f.write(mf + b"\xff" * (minifat_sectors * _SECTOR - len(mf)))
        for first in range(0, dir_sectors * _SECTOR // 128, _DIRECTORY_CHUNK):  # the directory, in chunks
            f.write(_directory(entries, range(first, min(first + _DIRECTORY_CHUNK, dir_sectors * _SECTOR // 128)),
                               kinds, color, left, right, child, start, size))
        f.write(_little_endian(fat))
        f.write(difat)
