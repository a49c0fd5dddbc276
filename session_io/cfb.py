"""A compound file writer (Microsoft's CFB, version 4: 4096-byte sectors): the container an AAF file is.

pyaaf2 builds its compound file one directory entry at a time, keeping its sibling trees balanced as it goes; an
edit of 16 000 clips is 130 000 entries and most of the time of writing ``edit.aaf``. This writer walks a tree of
storages and streams once: streams under 4096 bytes go straight into the mini stream (spooled to a temporary file),
the rest into sectors of their own, each storage's children become a balanced red-black tree in the format's name
order. A storage's children may be generated as the walk reaches them, so a long edit's clips never all exist at
once; what is kept per entry is its name and a few numbers. Directory entries carry no timestamps, so the same tree
gives the same bytes.

    root = Entry("Root Entry", clsid, children=[Entry("properties", data=b"..."), ...])
    write_compound_file("out.aaf", root, header_clsid)
"""
from __future__ import annotations

import shutil
import struct
import sys
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

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
    """A storage (``data`` None, with ``children``) or a stream (``data``) of a compound file.

    ``children`` is a list, or a function returning an iterable of them: a storage with a hundred thousand children
    can make them as the writer reaches them, so they never all sit in memory at once.
    """

    name: str
    clsid: bytes = bytes(16)
    data: bytes | None = None
    children: list["Entry"] | Callable[[], Iterable["Entry"]] = field(default_factory=list)

    def child(self, name: str) -> "Entry":
        """The child called ``name`` (KeyError if there is none)."""
        for c in self.children() if callable(self.children) else self.children:
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


def _link_siblings(parent: int, kids: list[int], names: list[str], shapes: dict, left: array, right: array,
                   child: array, color: array) -> None:
    """Link a storage's children (ids, in their given order) as its red-black sibling tree."""
    key = tuple(names[k] for k in kids)
    shape = shapes.get(key)
    if shape is None:  # storages made from one template share their children's names: worked out once
        if len({name.upper() for name in key}) != len(key):
            raise ValueError(f"{names[parent]}: two children with the same name")
        order = sorted(range(len(key)), key=lambda j: _order(key[j]))
        shape = shapes[key] = (order, *_sibling_tree(len(order)))
    order, root_at, nodes = shape
    ids = [kids[j] for j in order]
    child[parent] = ids[root_at]
    for at, lo, hi, colour in nodes:
        node = ids[at]
        left[node] = ids[lo] if lo >= 0 else _NONE
        right[node] = ids[hi] if hi >= 0 else _NONE
        color[node] = colour


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


def _directory(names: list[str], clsids: list[bytes], ids: range, kinds: array, color: array, left: array,
               right: array, child: array, start: array, size: array) -> bytes:
    """The 128-byte directory entries of ``ids`` (past the last entry: unused ones)."""
    table = np.zeros(len(ids), dtype=_DIRECTORY_ENTRY)
    table["left"] = table["right"] = table["child"] = _NONE
    used = range(ids.start, min(ids.stop, len(names)))
    if len(used):
        encoded = [("Root Entry" if i == 0 else names[i]).encode("utf-16-le") for i in used]
        if max(map(len, encoded)) > 62:
            raise ValueError(f"entry name over 31 characters: {max(encoded, key=len).decode('utf-16-le')!r}")
        k = len(used)
        table["name"][:k] = encoded  # zero-padded: the terminator included
        table["name_bytes"][:k] = [len(name) + 2 for name in encoded]
        kind = np.frombuffer(kinds, dtype=np.uint8)[used.start:used.stop]
        table["kind"][:k] = kind
        table["color"][:k] = np.frombuffer(color, dtype=np.uint8)[used.start:used.stop]
        for field_name, numbers in (("left", left), ("right", right), ("child", child)):
            table[field_name][:k] = np.frombuffer(numbers, dtype=np.uint32)[used.start:used.stop]
        table["clsid"][:k] = np.frombuffer(b"".join(clsids[i] for i in used), dtype="V16")
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
    # One pass over the tree: per entry its name, class and numbers (in arrays: an hour-long edit is millions of
    # entries); small streams go straight into the mini stream (a temporary file), big ones are kept to write first.
    names: list[str] = []
    clsids: list[bytes] = []
    kinds, color = array("B"), array("B")
    left, right, child, start = array("I"), array("I"), array("I"), array("I")
    size = array("Q")
    big: list[tuple[int, bytes]] = []
    mini = tempfile.TemporaryFile(dir=Path(path).parent)  # beside the output: the disk that must hold it anyway
    mini_len = 0
    mini_fat = array("I")
    shapes: dict[tuple[str, ...], tuple[list[int], int, list]] = {}  # children's names -> order and tree

    def visit(entry: Entry, kind: int) -> int:  # ids in depth-first order, a storage before its children
        nonlocal mini_len
        me = len(names)
        names.append(sys.intern(entry.name))  # the same names recur under every track: one string each
        clsids.append(entry.clsid)
        kinds.append(kind)
        color.append(_BLACK)
        left.append(_NONE)
        right.append(_NONE)
        child.append(_NONE)
        start.append(_END)
        size.append(0)
        if kind == _STREAM:
            data = entry.data
            size[me] = len(data)
            if len(data) >= _MINI_CUTOFF:
                big.append((me, data))
            elif data:
                first, count = mini_len // _MINI_SECTOR, -(-len(data) // _MINI_SECTOR)
                start[me] = first
                mini.write(data)
                mini.write(bytes(-len(data) % _MINI_SECTOR))
                mini_len += count * _MINI_SECTOR
                mini_fat.extend(range(first + 1, first + count))
                mini_fat.append(_END)
            return me
        kids = [visit(c, _STREAM if c.data is not None else _STORAGE)
                for c in (entry.children() if callable(entry.children) else entry.children)]
        if kids:
            _link_siblings(me, kids, names, shapes, left, right, child, color)
        return me

    try:
        visit(root, _ROOT)
    except BaseException:
        mini.close()  # on success the writing below closes it
        raise
    n = len(names)

    # sector layout: big streams, the mini stream, the mini FAT, the directory, the FAT, the DIFAT
    sector = 0
    for i, data in big:
        start[i] = sector
        sector += -(-len(data) // _SECTOR)
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
    for i, data in big:
        _chain(fat, start[i], -(-len(data) // _SECTOR))
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
    with open(path, "wb") as f, mini:
        f.write(header)
        for _, data in big:
            f.write(data)
            f.write(bytes(-len(data) % _SECTOR))
        mini.seek(0)
        shutil.copyfileobj(mini, f, 1 << 20)
        f.write(bytes(-mini_len % _SECTOR))
        mf = _little_endian(mini_fat)
        f.write(mf + b"\xff" * (minifat_sectors * _SECTOR - len(mf)))
        for first in range(0, dir_sectors * _SECTOR // 128, _DIRECTORY_CHUNK):  # the directory, in chunks
            f.write(_directory(names, clsids, range(first, min(first + _DIRECTORY_CHUNK, dir_sectors * _SECTOR // 128)),
                               kinds, color, left, right, child, start, size))
        f.write(_little_endian(fat))
        f.write(difat)
