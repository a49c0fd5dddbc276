"""The headline form, `nbd session.aaf --tempo-map song.mid`, on the example AAF (WAVs linked beside it)."""
import json
import runpy
import shutil
import sys

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
