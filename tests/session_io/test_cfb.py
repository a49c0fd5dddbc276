"""The compound file writer under edit.aaf, read back by olefile and by pyaaf2's compound file reader."""
import hashlib
import uuid

import olefile
import pytest

from session_io.cfb import Entry, write_compound_file


def _tree():
    blob = lambda n, seed: (hashlib.sha256(seed.encode()).digest() * (n // 32 + 1))[:n]  # noqa: E731
    many = [Entry(f"Item-{k:x}{{{k}}}", bytes([k % 256]) * 16, None, [Entry("properties", data=blob(40 + k, f"p{k}"))])
            for k in range(300)]  # deep enough sibling trees to be coloured and balanced
    return Entry("Root Entry", bytes(range(16)), None, [
        Entry("properties", data=blob(100, "a")),
        Entry("empty", data=b""),
        Entry("cutoff", data=blob(4096, "b")),  # the first size kept out of the mini stream
        Entry("big", data=blob(3 * 4096 + 17, "c")),
        Entry("Storage-1", bytes([7] * 16), None, [Entry("properties", data=blob(64, "d")),
                                                   Entry("Nested{0}", bytes(16), None, many)]),
    ])


def _walk(entry, path=""):
    for c in entry.children:
        yield f"{path}/{c.name}", c
        if c.data is None:
            yield from _walk(c, f"{path}/{c.name}")


def test_olefile_reads_every_storage_and_stream_back(tmp_path):
    path = tmp_path / "t.cfb"
    write_compound_file(path, _tree())
    ole = olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT)
    assert ole.parsing_issues == []
    for name, entry in _walk(_tree()):
        parts = name.strip("/").split("/")
        if entry.data is None:
            assert ole.get_type(parts) == olefile.STGTY_STORAGE and ole.getclsid(parts) == _clsid_str(entry.clsid)
        else:
            assert ole.openstream(parts).read() == entry.data, name
    assert len(ole.listdir(streams=True, storages=True)) == sum(1 for _ in _walk(_tree()))


def _clsid_str(b: bytes) -> str:
    """A CLSID as olefile shows it: the GUID's text, upper case; empty for none."""
    return str(uuid.UUID(bytes_le=b)).upper() if any(b) else ""


def test_pyaaf2s_reader_sees_the_same_tree_and_the_bytes_are_the_same_every_time(tmp_path):
    cfb = pytest.importorskip("aaf2.cfb")
    a, b = tmp_path / "a.cfb", tmp_path / "b.cfb"
    write_compound_file(a, _tree(), b"\x01" * 16)
    write_compound_file(b, _tree(), b"\x01" * 16)
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size % 4096 == 0
    with open(a, "rb") as f:
        storage = cfb.CompoundFileBinary(f, "rb")
        for name, entry in _walk(_tree()):
            found = storage.find(name)
            assert found is not None, name
            if entry.data is not None:
                assert bytes(found.open("r").read()) == entry.data, name


def test_children_made_on_demand_give_the_same_file(tmp_path):
    """A storage whose children are generated while the file is written (a long edit's clips) gives the bytes the
    same children as a list give, and each generated child exists only while it is written."""
    import gc
    import weakref

    listed = _tree()
    made_on_demand = _tree()
    nested = made_on_demand.child("Storage-1").child("Nested{0}")
    items, made = list(nested.children), []

    def generate():
        for item in items:
            copy = Entry(item.name, item.clsid, None, list(item.children))
            made.append(weakref.ref(copy))
            gc.collect()
            assert sum(r() is not None for r in made) <= 2  # this one, and the last until the writer drops it
            yield copy

    nested.children = generate
    write_compound_file(tmp_path / "a.cfb", listed)
    write_compound_file(tmp_path / "b.cfb", made_on_demand)
    assert (tmp_path / "a.cfb").read_bytes() == (tmp_path / "b.cfb").read_bytes()


def test_two_children_with_one_name_are_refused(tmp_path):
    root = Entry("Root Entry", children=[Entry("a", data=b"1"), Entry("A", data=b"2")])
    with pytest.raises(ValueError, match="same name"):
        write_compound_file(tmp_path / "x.cfb", root)


def test_a_file_over_457_mb_lists_its_fat_in_difat_sectors(tmp_path):
    """Past 109 FAT sectors (457 MB: an hour-long 12-mic edit.aaf) the header's list is continued in DIFAT sectors;
    both readers find the end of a stream that lies beyond what the header's list reaches."""
    size = 448 * 2**20  # 114 688 sectors: 112 FAT sectors
    data = bytearray(size)
    data[-16:] = b"the stream's end"
    data[:16] = b"the stream start"
    path = tmp_path / "big.cfb"
    write_compound_file(path, Entry("Root Entry", bytes(16), None, [Entry("a", data=b"small"), Entry("b", data=data)]))
    del data
    with open(path, "rb") as f:
        header = f.read(512)
    fat_sectors, difat_first, difat_count = (int.from_bytes(header[o:o + 4], "little") for o in (0x2C, 0x44, 0x48))
    assert fat_sectors > 109 and difat_count == 1 and difat_first != 0xFFFFFFFE
    ole = olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT)
    assert ole.parsing_issues == [] and ole.get_size("b") == size
    stream = ole.openstream("b")
    assert stream.read(16) == b"the stream start"
    stream.seek(size - 16)
    assert stream.read(16) == b"the stream's end" and ole.openstream("a").read() == b"small"
    ole.close()

    from aaf2.cfb import CompoundFileBinary

    with open(path, "rb") as f:
        cfb = CompoundFileBinary(f, "rb")
        s = cfb.open("/b", "r")
        s.seek(size - 16)
        assert s.read(16) == b"the stream's end"
