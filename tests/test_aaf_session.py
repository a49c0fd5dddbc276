"""The headline form, `nbd session.aaf --tempo-map song.mid`, on the example AAF (WAVs linked beside it)."""
import json
import runpy
import shutil

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import cli
from aligner.synth import SynthConfig, synthesise, write_session
from tests.conftest import REPO, tree_hashes


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = write_session(synthesise(SynthConfig(bars=4, tempo_change_bar=3)), tmp_path_factory.mktemp("x") / "s")
    module = runpy.run_path(str(REPO / "examples" / "make_example_session.py"))
    module["write_example_aaf"](folder)
    return folder


def nbd(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def test_example_aaf_reads_back_in_opentimelineio(example):
    otio = pytest.importorskip("opentimelineio")
    timeline = otio.adapters.read_from_file(str(example / "example.aaf"), adapter_name="AAF")
    names = [t.name for t in timeline.tracks if t.kind == "Audio"]
    assert names == ["Floor Tom", "Hat", "Kick In", "Kick Out", "OH L", "OH R", "Rack Tom", "Room", "Snare Bottom",
                     "Snare Top"]
    frames = sf.info(str(example / "Kick In.wav")).frames
    clip = next(c for c in timeline.tracks[2] if isinstance(c, otio.schema.Clip))
    assert clip.source_range.duration.value == frames and clip.source_range.duration.rate == 48000


def test_aaf_and_folder_forms_make_the_same_edit(example, tmp_path):
    before = tree_hashes(example)
    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "folder").exit_code == 0
    result = nbd(example / "example.aaf", "--tempo-map", example / "song.mid", "-o", tmp_path / "aaf")
    assert result.exit_code == 0, result.output
    assert tree_hashes(example) == before  # neither the AAF nor its media are written to
    stems = sorted(p.name for p in (tmp_path / "aaf" / "stems").iterdir())
    assert stems == ["Floor Tom.wav", "Hat.wav", "Kick In.wav", "Kick Out.wav", "OH L.wav", "OH R.wav",
                     "Rack Tom.wav", "Room.wav", "Snare Bottom.wav", "Snare Top.wav"]
    read = lambda p: sf.read(str(p), dtype="int32", always_2d=True)[0]  # noqa: E731
    for name in ("Kick In.wav", "Snare Top.wav", "Room.wav"):
        assert np.array_equal(read(tmp_path / "aaf" / "stems" / name), read(tmp_path / "folder" / "stems" / name))
    oh = read(tmp_path / "folder" / "stems" / "OH.wav")
    assert np.array_equal(read(tmp_path / "aaf" / "stems" / "OH R.wav")[:, 0], oh[:, 1])
    assert sf.info(str(tmp_path / "aaf" / "stems" / "Kick In.wav")).subtype == "PCM_24"
    plan_folder = json.loads((tmp_path / "folder" / "edits.json").read_text())["plan"]
    plan_aaf = json.loads((tmp_path / "aaf" / "edits.json").read_text())["plan"]
    assert plan_folder == plan_aaf


def test_aaf_with_missing_media_fails_alone_listing_every_file(example, tmp_path):
    media = tmp_path / "media"
    shutil.copytree(example, media)
    module = runpy.run_path(str(REPO / "examples" / "make_example_session.py"))
    aaf = shutil.move(module["write_example_aaf"](media), tmp_path / "lost.aaf")
    shutil.rmtree(media)
    result = CliRunner().invoke(cli.main, [str(aaf), str(example), "--tempo-map", str(example / "song.mid"),
                                           "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if x.startswith("nbd: error:"))
    assert str(aaf) in line and "9 media file(s) not found" in line  # 9 WAV files behind 10 tracks
    assert (tmp_path / "out" / example.name / "edits.json").exists()  # the other session still ran
    assert not (tmp_path / "out" / "lost").exists()


def test_media_dir_finds_media_that_moved(example, tmp_path):
    media = tmp_path / "media"
    shutil.copytree(example, media)
    aaf_copy = tmp_path / "session.aaf"
    # rewrite the example AAF against the moved media, then move the media away again
    module = runpy.run_path(str(REPO / "examples" / "make_example_session.py"))
    module["write_example_aaf"](media)
    shutil.move(media / "example.aaf", aaf_copy)
    shutil.move(media, tmp_path / "renamed")
    result = CliRunner().invoke(cli.main, [str(aaf_copy), "--bpm", "120", "-o", str(tmp_path / "o1")])
    assert result.exit_code == 1
    assert "media file(s) not found" in result.output and "Kick%20In.wav" in result.output
    result = nbd(aaf_copy, "--bpm", "120", "-o", tmp_path / "o2", "--media-dir", tmp_path / "renamed")
    assert result.exit_code == 0, result.output
    result = nbd(aaf_copy, "--bpm", "120", "-o", tmp_path / "o3", "--skip-missing", "--detector", "none")
    assert result.exit_code == 0 and "left silent" in result.output


def test_edit_aaf_links_the_original_media_at_the_plans_cuts_and_reads_back_as_the_stems(example, tmp_path):
    from aligner.plan import EditPlan
    from session_io.aaf import read_aaf, read_aaf_structure

    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    doc = json.loads((out / "edits.json").read_text())
    plan = EditPlan.from_json(doc["plan"])
    comp = read_aaf_structure(out / "edit.aaf")
    assert [t.name for t in comp.tracks][:5] == ["Floor Tom", "Hat", "Kick In", "Kick Out", "OH L"]
    kick = next(t for t in comp.tracks if t.name == "Kick In")
    # one clip per plan segment, at the plan's positions, on the original file
    assert [(c.position_samples, c.source_offset_samples) for c in kick.clips] == \
        [(s.dest_start_samples, s.source_start_samples) for s in plan.segments]
    assert all(c.media[0].locators[0].endswith("Kick%20In.wav") for c in kick.clips)
    assert [c.fade_in[0] if c.fade_in else 0 for c in kick.clips] == [s.fade_in_samples for s in plan.segments]
    # each crossfade is an object of its own (the writer copies one per shape): its dissolve spans the crossfade
    import aaf2

    with aaf2.open(str(out / "edit.aaf"), "r") as f:
        top = next(f.content.toplevel())
        sound = [s for s in top.slots if s.media_kind.lower() == "sound"]
        assert len(sound) == len(comp.tracks)
        for slot in sound:
            transitions = [c for c in slot.segment.components if isinstance(c, aaf2.components.Transition)]
            assert [t.length for t in transitions] == [t["OperationGroup"].value.length for t in transitions]
            assert [t.length for t in transitions] == [s.fade_in_samples for s in plan.segments if s.fade_in_samples]
    # read back by nbd's own reader, the AAF renders to the stems nbd wrote, sample for sample
    session = read_aaf(out / "edit.aaf", tmp_path / "flat")
    read = lambda p: sf.read(str(p), dtype="int32", always_2d=True)[0]  # noqa: E731
    for source, track in zip(session.sources, session.tracks):
        stem_name, channel = (("OH.wav", "LR".index(track.name[-1])) if track.name.startswith("OH ")
                              else (f"{track.name}.wav", 0))
        assert np.array_equal(read(source.path)[:, 0], read(out / "stems" / stem_name)[:, channel]), track.name


def test_edit_aaf_reads_in_opentimelineio_at_the_plans_positions(example, tmp_path):
    otio = pytest.importorskip("opentimelineio")
    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out").exit_code == 0
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    from session_io.aaf import read_aaf_structure

    timeline = otio.adapters.read_from_file(str(tmp_path / "out" / "edit.aaf"), adapter_name="AAF")
    # OpenTimelineIO names tracks with transitions after their sequence; they come in slot order
    index = [t.name for t in read_aaf_structure(tmp_path / "out" / "edit.aaf").tracks].index("Snare Top")
    track = [t for t in timeline.tracks if t.kind == "Audio"][index]
    clips = [c for c in track if isinstance(c, otio.schema.Clip)]
    assert len(clips) == len(doc["plan"]["segments"])
    for clip, seg in zip(clips, doc["plan"]["segments"]):
        assert clip.source_range.start_time.value == seg["source_start_samples"]
        assert clip.source_range.start_time.rate == 48000
    transitions = [t for t in track if isinstance(t, otio.schema.Transition)]
    assert len(transitions) == sum(1 for s in doc["plan"]["segments"] if s["fade_in_samples"])


def test_doubtful_events_are_marked_for_review_in_the_edit_aaf(example, tmp_path):
    import aaf2

    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out").exit_code == 0
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    with aaf2.open(str(tmp_path / "out" / "edit.aaf"), "r") as f:
        comp = next(f.content.toplevel())
        slot = next(s for s in comp.slots if s.name == "Kick In")
        notes = [c["UserComments"].value[0].value for c in slot.segment.components
                 if type(c).__name__ == "SourceClip" and "UserComments" in c.keys()]
    assert sum("REVIEW" in n for n in notes) >= min(1, len(doc["doubtful_events"]))


def test_edit_aaf_of_an_aaf_session_cuts_its_original_linked_media(example, tmp_path):
    from session_io.aaf import read_aaf, read_aaf_structure

    result = nbd(example / "example.aaf", "--tempo-map", example / "song.mid", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    comp = read_aaf_structure(tmp_path / "out" / "edit.aaf")
    kick = next(t for t in comp.tracks if t.name == "Kick In")
    assert len(kick.clips) > 10  # the plan's cuts, not one stem clip
    assert all(c.media[0].locators[0].endswith("/Kick%20In.wav") for c in kick.clips)
    oh = next(t for t in comp.tracks if t.name == "OH R")
    assert oh.clips[0].media[0].channel == 1  # the right channel of the original stereo file
    session = read_aaf(tmp_path / "out" / "edit.aaf", tmp_path / "flat")
    i = [t.name for t in session.tracks].index("Kick In")
    flat = sf.read(str(session.sources[i].path), dtype="int32")[0]
    assert np.array_equal(flat, sf.read(str(tmp_path / "out" / "stems" / "Kick In.wav"), dtype="int32")[0])


def test_aaf_embed_carries_the_stems_inside_the_aaf(example, tmp_path):
    from session_io.aaf import read_aaf

    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out", "--aaf-embed")
    assert result.exit_code == 0, result.output
    moved = tmp_path / "elsewhere" / "edit.aaf"
    moved.parent.mkdir()
    shutil.copy(tmp_path / "out" / "edit.aaf", moved)  # no media beside it: everything is inside
    session = read_aaf(moved, tmp_path / "flat")
    for source, track in zip(session.sources, session.tracks):
        if track.name in ("Kick In", "Snare Top"):
            stem = sf.read(str(tmp_path / "out" / "stems" / f"{track.name}.wav"), dtype="int32")[0]
            assert np.array_equal(sf.read(str(source.path), dtype="int32")[0], stem)
