"""edit.aaf's writer: the file it lays out holds exactly what pyaaf2 writes for the same edit, object for object."""
from pathlib import Path

import aaf2
import numpy as np
import soundfile as sf

from session_io.aaf import read_aaf_structure
from session_io.aaf_writer import LinkedClip, LinkedTrack, _write_with_pyaaf2, write_linked_aaf


def _dump(path: Path) -> dict[str, bytes]:
    """Every storage (its CLSID) and stream (its bytes) of an AAF file, by path."""
    out = {}
    with aaf2.open(str(path), "r") as f:
        def walk(d, prefix):
            for c in d.listdir():
                name = f"{prefix}/{c.name}"
                if c.isdir():
                    out[name] = bytes(c.data[80:96])
                    walk(c, name)
                else:
                    out[name] = bytes(c.open("r").read())
        walk(f.cfb.find("/"), "")
    return out


def _tracks(tmp_path: Path) -> list[LinkedTrack]:
    stereo = tmp_path / "OH.wav"
    mono = tmp_path / "Kick In.wav"
    sf.write(str(stereo), np.zeros((48000, 2)), 48000, subtype="PCM_24")
    sf.write(str(mono), np.zeros((48000, 1)), 48000, subtype="PCM_24")
    clips = (LinkedClip(0, 0, 1000, "first"),
             LinkedClip(900, 1100, 2000, fade_in_samples=100, fade_in_shape="equal_power"),
             LinkedClip(3500, 3400, 500, "REVIEW: a doubtful event \u2014 check it"),  # a gap before it
             LinkedClip(3950, 3900, 4000, fade_in_samples=50, fade_in_shape="equal_gain"))
    return [LinkedTrack("Kick In", mono, 0, clips), LinkedTrack("OH L", stereo, 0, clips),
            LinkedTrack("OH R", stereo, 1, clips[:2])]


def test_the_written_file_equals_pyaaf2s_writing_storage_for_storage(tmp_path):
    tracks = _tracks(tmp_path)
    fast, reference = tmp_path / "fast.aaf", tmp_path / "pyaaf2.aaf"
    write_linked_aaf(fast, "song", 48000, tracks, start_timecode_samples=48000 * 3600, length_samples=9000)
    _write_with_pyaaf2(reference, "song", 48000, tracks, 48000 * 3600, 30, 9000, False, templates=False)
    a, b = _dump(fast), _dump(reference)
    assert a == b, sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:5]


def test_tracks_read_back_with_their_clips_fades_comments_and_length(tmp_path):
    tracks = _tracks(tmp_path)
    path = tmp_path / "edit.aaf"
    write_linked_aaf(path, "song", 48000, tracks, length_samples=9000)
    comp = read_aaf_structure(path)
    kick = comp.tracks[0]
    assert [(c.position_samples, c.source_offset_samples, c.length_samples) for c in kick.clips] == \
        [(0, 0, 1000), (900, 1100, 2000), (3500, 3400, 500), (3950, 3900, 4000)]
    assert [c.fade_in for c in kick.clips][1:4:2] == [(100, "equal_power"), (50, "equal_gain")]
    with aaf2.open(str(path), "r") as f:
        top = next(f.content.toplevel())
        sound = [s for s in top.slots if s.media_kind.lower() == "sound"]
        comments = [[tv.value for tv in c["UserComments"].value] for c in sound[0].segment.components
                    if "UserComments" in c]
        assert comments == [["first"], ["REVIEW: a doubtful event \u2014 check it"]]
        # a sequence is as long as its components, less the crossfades' overlaps
        assert [s.segment.length for s in sound] == [9000, 9000, 9000]
        assert [c.slot_id for c in sound[2].segment.components if isinstance(c, aaf2.components.SourceClip)] == [2, 2]
