"""The all-or-nothing output set: a crash keeps the earlier outputs; a commit replaces all of them at once."""
import pytest

from nbd_errors import OutputWriteError
from session_io.output import OutputSet


def _write_set(directory, tag, names=("kick.wav", "snare.wav")):
    with OutputSet(directory) as outputs:
        stems = outputs.partial / "stems"
        stems.mkdir()
        for name in names:
            (stems / (name + ".part")).write_text(tag)
        (outputs.partial / "edits.json").write_text(tag)
        outputs.commit()


def test_commit_puts_the_set_in_place_and_strips_part_suffixes(tmp_path):
    _write_set(tmp_path, "one")
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["kick.wav", "snare.wav"]
    assert (tmp_path / "edits.json").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_new_set_replaces_every_old_stem_even_ones_it_does_not_write(tmp_path):
    _write_set(tmp_path, "one", ("kick.wav", "old tom.wav"))
    _write_set(tmp_path, "two", ("kick.wav",))
    assert [p.name for p in (tmp_path / "stems").iterdir()] == ["kick.wav"]
    assert (tmp_path / "stems" / "kick.wav").read_text() == "two"


def test_a_crash_before_commit_keeps_the_earlier_outputs_and_leaves_no_wav(tmp_path):
    _write_set(tmp_path, "good")
    with pytest.raises(RuntimeError):
        with OutputSet(tmp_path) as outputs:
            (outputs.partial / "stems").mkdir()
            (outputs.partial / "stems" / "kick.wav.part").write_text("half")
            raise RuntimeError("killed mid-render")
    assert (tmp_path / "stems" / "kick.wav").read_text() == "good"
    assert (tmp_path / "edits.json").read_text() == "good"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.wav")) == ["stems/kick.wav", "stems/snare.wav"]


def test_a_partial_folder_left_by_a_killed_run_is_removed_next_time(tmp_path):
    stale = tmp_path / ".partial-deadbeef" / "stems"
    stale.mkdir(parents=True)
    (stale / "kick.wav.part").write_text("half")
    _write_set(tmp_path, "new")
    assert not (tmp_path / ".partial-deadbeef").exists()


def test_unwritable_output_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OutputWriteError, match="cannot create output folder"):
        with OutputSet(blocker / "out"):
            pass
