"""Overnight batches: batch files, own tempo maps, parallel runs, resume, and inputs never touched."""
import json
import shutil

import pytest
from click.testing import CliRunner

import cli
from aligner.synth import SynthConfig, synthesise, write_session
from tests.conftest import tree_hashes
from tests.helpers import noise, write_audio


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    """Two good takes (each with its own song.mid) and a bad one (mismatched rates)."""
    root = tmp_path_factory.mktemp("takes")
    for seed in (1, 2):
        write_session(synthesise(SynthConfig(seed=seed, bars=3, tempo_change_bar=2)), root / f"take{seed}")
    (root / "bad").mkdir()
    write_audio(root / "bad" / "kick.wav", noise(4800), rate=48000)
    write_audio(root / "bad" / "snare.wav", noise(4800), rate=44100)
    shutil.copy(root / "take1" / "song.mid", root / "bad" / "song.mid")
    return root


def nbd(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def _batch(root, tmp_path):
    path = tmp_path / "jobs.toml"
    path.write_text(f"""
[defaults]
grid = "1/16"

[[session]]
path = "{root / 'take1'}"
bars = "2-3"

[[session]]
path = "{root / 'bad'}"

[[session]]
path = "{root / 'take2'}"
strength = 50
""")
    return path


def test_batch_runs_every_session_in_parallel_and_reports_a_table(takes, tmp_path):
    before = tree_hashes(takes)
    result = nbd("--batch", _batch(takes, tmp_path), "-o", tmp_path / "out", "-j", "2")
    assert result.exit_code == 1  # one session failed, the others were done
    assert (tmp_path / "out" / "take1" / "edits.json").exists() and (tmp_path / "out" / "take2" / "edits.json").exists()
    assert not (tmp_path / "out" / "bad").exists()
    assert "bad.wav" not in result.output and "snare.wav: sample rate 44100 Hz differs" in result.output
    table = result.output[result.output.index("session "):]
    assert "take1" in table and "FAILED" in table and "events moved" in table
    options = json.loads((tmp_path / "out" / "take2" / "edits.json").read_text())["options"]
    assert options["strength_pct"] == 50 and options["grid"] == "1/16"
    take1 = json.loads((tmp_path / "out" / "take1" / "edits.json").read_text())
    assert take1["options"]["bars"] == "2-3"
    assert all(h["shift_samples"] == 0 for h in take1["hits"] if h["line"].startswith("1|"))
    state = json.loads((tmp_path / "out" / ".nbd-state.json").read_text())["sessions"]
    assert {k: v["status"] for k, v in state.items()} == {"take1": "done", "take2": "done", "bad": "failed"}
    assert tree_hashes(takes) == before


def test_a_rerun_skips_done_sessions_and_redoes_failed_and_changed_ones(takes, tmp_path):
    work = tmp_path / "takes"
    shutil.copytree(takes, work)
    batch = _batch(work, tmp_path)
    assert nbd("--batch", batch, "-o", tmp_path / "out").exit_code == 1
    done = tree_hashes(tmp_path / "out")
    stem = tmp_path / "out" / "take1" / "stems" / "Kick In.wav"
    mtime = stem.stat().st_mtime_ns

    result = nbd("--batch", batch, "-o", tmp_path / "out")
    assert result.exit_code == 1 and "skipped take1" in result.output and "skipped take2" in result.output
    assert stem.stat().st_mtime_ns == mtime and tree_hashes(tmp_path / "out") == done

    (work / "bad" / "snare.wav").unlink()  # fix the bad session
    write_audio(work / "take2" / "Room.wav", noise(1000, seed=9))  # change an input of take2
    result = nbd("--batch", batch, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "skipped take1" in result.output and "skipped take2" not in result.output
    assert (tmp_path / "out" / "bad" / "edits.json").exists()

    result = nbd("--batch", batch, "-o", tmp_path / "out", "--force")
    assert result.exit_code == 0 and "skipped" not in result.output


def test_an_interrupted_run_is_finished_by_the_next_one(takes, tmp_path, monkeypatch):
    from session_io.stems import StemWriter

    before = tree_hashes(takes)
    real_write = StemWriter.write
    calls = {"n": 0}

    def killed(self, block):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the operator's ^C, mid-stem
        real_write(self, block)

    monkeypatch.setattr(StemWriter, "write", killed)
    result = CliRunner().invoke(cli.main, [str(takes / "take1"), str(takes / "take2"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Aborted" in result.output  # click's answer to ^C
    monkeypatch.setattr(StemWriter, "write", real_write)
    # nothing that looks finished, and the inputs as they were
    assert not list((tmp_path / "out").rglob("*.wav")) and not list((tmp_path / "out").rglob("edits.json"))
    assert tree_hashes(takes) == before
    # a kill -9 would also leave a partial folder: the next run removes it
    stale = tmp_path / "out" / "take2" / ".partial-deadbeef" / "stems"
    stale.mkdir(parents=True)
    (stale / "Kick In.wav.part").write_bytes(b"half")
    result = nbd(takes / "take1", takes / "take2", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out" / "take2" / ".partial-deadbeef").exists()
    assert "2 of 2 sessions done" in result.output


def test_own_tempo_map_none_or_several_is_that_sessions_error(takes, tmp_path):
    two = tmp_path / "two"
    shutil.copytree(takes / "take1", two)
    shutil.copy(two / "song.mid", two / "click.mid")
    none = tmp_path / "none"
    shutil.copytree(takes / "take2", none)
    (none / "song.mid").unlink()
    result = nbd(two, none, takes / "take1", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "several MIDI files in the session folder (click.mid, song.mid)" in result.output
    assert "no tempo map: no .mid file in the session folder" in result.output
    assert (tmp_path / "out" / "take1" / "edits.json").exists()


def test_aaf_takes_the_midi_file_beside_it(tmp_path):
    import runpy

    from tests.conftest import REPO

    session = write_session(synthesise(SynthConfig(bars=2, tempo_change_bar=2)), tmp_path / "s")
    aaf = runpy.run_path(str(REPO / "examples" / "make_example_session.py"))["write_example_aaf"](session)
    shutil.copy(session / "song.mid", aaf.with_suffix(".mid"))
    result = nbd(aaf, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_bad_batch_files_are_usage_errors(tmp_path):
    bad = tmp_path / "jobs.toml"
    bad.write_text("[[session]]\npath = 'x'\nstrenght = 50\n")
    result = CliRunner().invoke(cli.main, ["--batch", str(bad), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown key(s) strenght" in result.output
    bad.write_text("this is not toml [")
    result = CliRunner().invoke(cli.main, ["--batch", str(bad), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a readable batch file" in result.output


def test_a_killed_batch_resumes_where_it_stopped(takes, tmp_path):
    """kill -9 in the middle of a batch, then run the same command again."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    exe = Path(sys.executable).with_name("nbd")
    if not exe.exists():
        pytest.skip(f"nbd entry point not installed beside {sys.executable}")
    before = tree_hashes(takes)
    out = tmp_path / "out"
    cmd = [str(exe), str(takes / "take1"), str(takes / "take2"), "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / ".nbd-state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and "take1" in state.read_text():
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # what is there is either a finished set or nothing that looks finished
    for session in ("take1", "take2"):
        folder = out / session
        if (folder / "edits.json").exists():
            assert (folder / "stems" / "Kick In.wav").exists()
        else:
            assert not list(folder.glob("stems/*.wav")) if folder.exists() else True
    result = subprocess.run([str(exe), str(takes / "take1"), str(takes / "take2"), "-o", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "skipped take1" in result.stdout
    assert (out / "take2" / "edits.json").exists()
    assert not any(p.name.startswith(".partial") for p in out.rglob("*"))
    assert tree_hashes(takes) == before
    os.sync()


def test_unwritable_output_folder_fails_every_session_with_one_line(takes, tmp_path):
    blocker = tmp_path / "disk"
    blocker.write_text("a file where a folder should be: nothing can be created below it")
    result = CliRunner().invoke(cli.main, [str(takes / "take1"), str(takes / "take2"), "-o", str(blocker / "out")])
    assert result.exit_code == 1
    assert f"nbd: error: {blocker / 'out' / 'take1'}: cannot create output folder" in result.output
    assert "0 of 2 sessions done, 2 failed" in result.output
