"""The nbd command end to end on generated sessions: outputs, exit codes, error lines, inputs untouched."""
import json
import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import cli
from aligner.config import AlignConfig
from aligner.plan import EditPlan, Segment
from aligner.synth import SynthConfig, synthesise, write_session
from tests.conftest import tree_hashes
from tests.helpers import noise, write_audio


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A small synthesised session (4 bars, 10 channels)."""
    folder = tmp_path_factory.mktemp("ex") / "take1"
    write_session(synthesise(SynthConfig(bars=4, tempo_change_bar=3)), folder)
    return folder


def nbd(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def _audio(path):
    return sf.read(str(path), dtype="int32", always_2d=True)[0]


def test_one_session_writes_stems_and_edits_json_and_leaves_inputs_alone(example, tmp_path):
    before = tree_hashes(example)
    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    stems = sorted(p.name for p in (tmp_path / "out" / "stems").iterdir())
    assert stems == sorted(p.name for p in example.glob("*.wav"))
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    assert doc["session"]["sample_rate_hz"] == 48000
    assert doc["plan"]["segments"][0]["dest_start_samples"] == 0
    assert doc["tempo_map"]["tempos"][1]["bpm"] == 100
    # the neural detector is the default (it beats the classic one on the benchmark's held-out real hits)
    assert doc["options"]["detector"] == "neural" and "neural detector:" in result.output
    assert tree_hashes(example) == before
    # the only wav files under OUT are finished stems
    assert all(p.parent.name == "stems" for p in (tmp_path / "out").rglob("*.wav"))


def test_a_plan_moves_every_mic_by_the_same_samples(example, tmp_path):
    length = sf.info(str(example / "Kick In.wav")).frames
    plan = EditPlan(length, (
        Segment(0, 96_064, 0, fade_out_samples=64),
        Segment(95_971, 200_035, 96_000, 64, 64),  # 29 samples later, until output sample 200 064
        Segment(200_123, length + 123, 200_000, 64, 0),  # 123 samples earlier, to the end
    )).validate()
    (tmp_path / "plan.json").write_text(json.dumps({"plan": plan.to_json()}))
    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out", "--plan", tmp_path / "plan.json")
    assert result.exit_code == 0, result.output
    for wav in example.glob("*.wav"):
        src, out = _audio(wav), _audio(tmp_path / "out" / "stems" / wav.name)
        assert out.shape == src.shape
        for seg in plan.segments:
            lo = seg.dest_start_samples + seg.fade_in_samples
            hi = min(seg.dest_end_samples - seg.fade_out_samples, length + seg.shift_samples)
            assert np.array_equal(out[lo:hi], src[lo - seg.shift_samples:hi - seg.shift_samples]), wav.name
    assert "2 of 3 segments moved" in result.output


def test_same_inputs_and_options_give_byte_identical_outputs(example, tmp_path):
    for out in ("a", "b"):
        assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / out).exit_code == 0
    assert tree_hashes(tmp_path / "a") == tree_hashes(tmp_path / "b")


def test_several_sessions_go_to_their_own_folders_and_a_bad_one_fails_alone(example, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    write_audio(bad / "kick.wav", noise(1000), rate=48000)
    write_audio(bad / "snare.wav", noise(1000), rate=44100)
    twin = tmp_path / "other" / "take1"
    shutil.copytree(example, twin)
    result = nbd(example, bad, twin, "--tempo-map", example / "song.mid", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert f"nbd: error: {bad / 'snare.wav'}: sample rate 44100 Hz differs from 48000 Hz" in result.output
    assert (tmp_path / "out" / "take1" / "edits.json").exists()
    assert (tmp_path / "out" / "take1-2" / "edits.json").exists()  # same name made unique
    assert not (tmp_path / "out" / "bad").exists()
    assert "2 of 3 sessions done, 1 failed" in result.output


def test_a_crash_mid_render_keeps_the_earlier_good_outputs(example, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert nbd(example, "--bpm", 120, "-o", out).exit_code == 0
    good = tree_hashes(out)

    from session_io.stems import StemWriter
    calls = {"n": 0}
    real_write = StemWriter.write

    def dying_write(self, block):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        real_write(self, block)

    monkeypatch.setattr(StemWriter, "write", dying_write)
    result = CliRunner().invoke(cli.main, [str(example), "--tempo-map", str(example / "song.mid"), "-o", str(out)])
    assert result.exit_code == 1
    assert tree_hashes(out) == good  # the earlier set, whole; no partial folder left
    assert not any(p.name.startswith(".partial") for p in out.iterdir())


def test_output_folder_that_would_replace_inputs_is_refused(example, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(example, out / "stems")
    before = tree_hashes(out)
    result = nbd(out / "stems", "--bpm", 120, "-o", out)
    assert result.exit_code == 1 and "would replace the input file" in result.output
    assert tree_hashes(out) == before


def test_dry_run_writes_nothing(example, tmp_path):
    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0 and "dry run" in result.output
    assert not (tmp_path / "out").exists()


def test_json_summary(example, tmp_path):
    result = nbd(example, "--bpm", 100, "--meter", "3/4", "--start", "0.25s", "-o", tmp_path / "out", "--json")
    summary = json.loads(result.output)
    assert summary[0]["ok"] and summary[0]["channels"] == 10
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    assert doc["grid"]["midi_origin_samples"] == 12000
    assert doc["tempo_map"]["meters"][0]["meter"] == "3/4"


@pytest.mark.parametrize("args, message", [
    (["--bpm", "120"], "-o OUT"),
    (["-o", "x", "--bpm", "120", "--tempo-map", "a.mid"], "not both"),
    (["-o", "x", "--bpm", "120", "--midi-offset", "1s"], "--midi-offset goes with a tempo map"),
    (["-o", "x", "--bpm", "120", "--grid", "1/5"], "1/5"),
    (["-o", "x", "--bpm", "120", "--swing", "30", "--grid", "1/8t"], "straight grids"),
    (["-o", "x", "--bpm", "120", "--meter", "4/3"], "not a meter"),
])
def test_usage_errors_exit_2(example, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "-o x" is relative: never inside the repository
    result = CliRunner().invoke(cli.main, [str(example), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_smpte_tempo_map_fails_with_exit_1_naming_the_file(example, tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack())
    mid.save(tmp_path / "smpte.mid")
    data = bytearray((tmp_path / "smpte.mid").read_bytes())
    data[12:14] = (0xE728).to_bytes(2, "big")  # -25 fps, 40 ticks per frame
    (tmp_path / "smpte.mid").write_bytes(bytes(data))
    result = nbd(example, "--tempo-map", tmp_path / "smpte.mid", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{tmp_path / 'smpte.mid'}: SMPTE-timed MIDI file" in result.output


@pytest.mark.parametrize("detector", ["classic", "neural"])
def test_a_session_with_no_strokes_finishes_with_a_warning_not_as_a_silent_done_job(tmp_path, detector):
    (tmp_path / "silent").mkdir()
    for name in ("Kick", "Snare"):
        write_audio(tmp_path / "silent" / f"{name}.wav", np.zeros((48000 * 2, 1)))
    result = nbd(tmp_path / "silent", "--bpm", "120", "--detector", detector, "-o", tmp_path / "out")
    assert result.exit_code == 0
    assert f"{tmp_path / 'silent'}: the {detector} detector found no strokes" in result.output
    assert np.array_equal(_audio(tmp_path / "out" / "stems" / "Kick.wav"), _audio(tmp_path / "silent" / "Kick.wav"))


def test_a_sessions_warnings_are_in_its_report_edits_json_and_the_index_even_when_quiet(example, tmp_path):
    # an overnight batch's terminal is gone by morning: what was warned about must be in the outputs
    odd = tmp_path / "odd" / "take2"
    shutil.copytree(example, odd)
    frames = sf.info(str(next(odd.glob("*.wav")))).frames
    write_audio(odd / "Mystery.wav", noise(frames, level=0.01))
    result = nbd(example, odd, "--tempo-map", example / "song.mid", "-q", "-o", tmp_path / "out")
    assert result.exit_code == 0 and "Mystery" not in result.output  # -q: nothing on the terminal
    doc = json.loads((tmp_path / "out" / "take2" / "edits.json").read_text())
    assert [w for w in doc["warnings"] if "'Mystery' has no recognised role" in w]
    report = (tmp_path / "out" / "take2" / "report.html").read_text()
    assert "<h2>Warnings</h2>" in report and "Mystery" in report
    assert "<h2>Warnings</h2>" not in (tmp_path / "out" / "take1" / "report.html").read_text()
    index = (tmp_path / "out" / "index.html").read_text()
    rows = {name: row for name, row in re.findall(r"<tr><td>(take\d)</td>(.*?)</tr>", index)}
    assert re.search(r"<td class='num flag'>1</td>", rows["take2"]) and "<td class='num'>0</td>" in rows["take1"]
    loud = nbd(example, odd, "--tempo-map", example / "song.mid", "-o", tmp_path / "again")  # not quiet: summary
    assert "1 warning, listed in its report.html and edits.json" in loud.output
    table = {line.split()[0]: line.split() for line in loud.output.splitlines() if line.startswith("take")}
    assert table["take2"][4] == "1" and table["take1"][4] == "0"  # the warnings column


def test_a_tempo_maps_warnings_are_in_each_sessions_edits_json(example, tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))  # no time signature
    mid.save(tmp_path / "no-meter.mid")
    result = nbd(example, "--tempo-map", tmp_path / "no-meter.mid", "-o", tmp_path / "out")
    assert result.exit_code == 0
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    assert doc["warnings"] == [f"{tmp_path / 'no-meter.mid'}: no time signature; assuming 4/4 (the MIDI default)"]


def test_bad_midi_offset_fails_the_session(example, tmp_path):
    result = nbd(example, "--tempo-map", example / "song.mid", "--midi-offset", "soon", "-o", tmp_path / "o")
    assert result.exit_code == 1 and "not a position" in result.output


def test_cli_defaults_agree_with_align_config():
    params = {p.name: p.default for p in cli.main.params}
    config = {f.name: f.default for f in fields(AlignConfig)}
    assert params["grid_division"] == config["grid"]
    assert params["swing_pct"] == config["swing_pct"]
    assert params["fps"] == config["fps"]


def test_installed_nbd_command_runs(example, tmp_path):
    exe = Path(sys.executable).with_name("nbd")
    if not exe.exists():
        pytest.skip(f"nbd entry point not installed beside {sys.executable}")
    proc = subprocess.run([str(exe), str(example), "--bpm", "120", "-o", str(tmp_path / "out"), "-q"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "edits.json").exists()
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("detector", ["classic", "neural"])
def test_a_run_writes_the_hits_table_and_lists_doubtful_events(example, tmp_path, detector):
    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out", "--detector", detector)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    truth = json.loads((example / "truth.json").read_text())
    hits = doc["hits"]
    assert len(hits) >= 0.9 * len(truth["strokes"])
    row = hits[0]
    assert set(row) >= {"source_sample", "line", "shift_samples", "shift_ms", "confidence", "drum", "mic"}
    assert row["shift_ms"] == round(row["shift_samples"] / 48000 * 1000, 3)
    assert all(h["line"].count("|") == 2 for h in hits)
    for d in doc["doubtful_events"]:
        assert f"doubtful {d['line']}" in result.output or "more doubtful events" in result.output
    # every anchor lands on its target: the plan in edits.json maps it there
    plan = EditPlan.from_json(doc["plan"])
    flagged = {d["event"] for d in doc["doubtful_events"] if d["flags"]}
    for h in hits:
        if h["anchor"] and h["event"] not in flagged:
            assert plan.map_source_to_dest(h["source_sample"]) == h["source_sample"] + h["shift_samples"]


def test_strength_bars_and_mic_role_options_reach_the_plan(example, tmp_path):
    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out", "--strength", "50",
                 "--exclude-bars", "1-3", "--mic-role", "Room=other", "--ghosts", "ride")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    assert doc["options"]["strength_pct"] == 50 and doc["options"]["mic_roles"] == ["Room=other"]
    for h in doc["hits"]:
        if int(h["line"].split("|")[0]) <= 3:
            assert h["shift_samples"] == 0
    assert [t["role"] for t in doc["session"]["tracks"] if t["name"] == "Room"] == ["other"]


def test_edit_aaf_written_in_its_own_process_is_the_same_file(example, tmp_path, monkeypatch):
    """Long sessions write edit.aaf in a process beside the rendering: same bytes as writing it in line."""
    import aligner.pipeline

    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "inline").exit_code == 0
    monkeypatch.setattr(aligner.pipeline, "AAF_BESIDE_CLIPS", 0)
    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "beside").exit_code == 0
    assert (tmp_path / "beside" / "edit.aaf").stat().st_size > 0
    assert tree_hashes(tmp_path / "beside") == tree_hashes(tmp_path / "inline")


def test_edit_aaf_process_that_fails_is_written_in_line(example, tmp_path, monkeypatch):
    import aligner.pipeline
    import session_io.aaf_process

    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "inline").exit_code == 0
    monkeypatch.setattr(aligner.pipeline, "AAF_BESIDE_CLIPS", 0)
    for executable, out in ((shutil.which("false"), "fails"), (str(tmp_path / "no-such-python"), "cannot-start")):
        monkeypatch.setattr(session_io.aaf_process.sys, "executable", executable)
        result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / out)
        assert result.exit_code == 0
        assert "edit.aaf: the process writing it failed" in result.output
        assert tree_hashes(tmp_path / out) == tree_hashes(tmp_path / "inline")


def test_a_script_without_a_main_guard_runs_nbd_once(example, tmp_path):
    """The AAF's process is a fresh interpreter: it never re-runs the calling script (as a spawned child would)."""
    script = tmp_path / "batch.py"
    script.write_text(
        "import sys\nimport aligner.pipeline, cli\naligner.pipeline.AAF_BESIDE_CLIPS = 0\n"
        f"sys.argv = ['nbd', {str(example)!r}, '--bpm', '120', '-q', '-o', {str(tmp_path / 'out')!r}]\n"
        "open(sys.argv[-1] + '.runs', 'a').write('run\\n')\ncli.main()\n")
    done = subprocess.run([sys.executable, str(script)], cwd=str(Path(cli.__file__).parent), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.runs").read_text() == "run\n"
    assert (tmp_path / "out" / "edit.aaf").stat().st_size > 0


def test_a_crash_mid_render_while_edit_aaf_is_written_beside_keeps_the_earlier_outputs(example, tmp_path,
                                                                                        monkeypatch):
    import aligner.pipeline
    from session_io.stems import StemWriter

    out = tmp_path / "out"
    assert nbd(example, "--bpm", 120, "-o", out).exit_code == 0
    good = tree_hashes(out)
    monkeypatch.setattr(aligner.pipeline, "AAF_BESIDE_CLIPS", 0)

    def dying_write(self, block):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(StemWriter, "write", dying_write)
    result = CliRunner().invoke(cli.main, [str(example), "--tempo-map", str(example / "song.mid"), "-o", str(out)])
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert tree_hashes(out) == good
    assert not any(p.name.startswith(".partial") for p in out.iterdir())


def test_output_does_not_depend_on_the_number_of_threads(example, tmp_path, monkeypatch):
    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "many").exit_code == 0
    import aligner.threads

    monkeypatch.setattr(aligner.threads.os, "cpu_count", lambda: 1)
    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "one").exit_code == 0
    assert tree_hashes(tmp_path / "many") == tree_hashes(tmp_path / "one")


def test_bad_bar_range_is_a_usage_error(example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, [str(example), "-o", "x", "--bpm", "120", "--bars", "9-5"])
    assert result.exit_code == 2 and "ends before it starts" in result.output


def test_hits_mid_reads_back_with_one_note_per_hit_at_its_edited_position(example, tmp_path):
    assert nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out").exit_code == 0
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    midi = mido.MidiFile(tmp_path / "out" / "hits.mid")
    assert midi.type == 1 and midi.ticks_per_beat == 960
    notes, markers, tick = [], [], 0
    for msg in midi.tracks[1]:
        tick += msg.time
        if msg.type == "note_on":
            notes.append((tick, msg.note, msg.channel))
    tick = 0
    for msg in midi.tracks[0]:
        tick += msg.time
        if msg.type == "marker":
            markers.append(msg.text)
    assert len(notes) == len(doc["hits"])
    assert all(channel == 9 for _, _, channel in notes)  # GM drums
    assert {36, 38, 42} <= {note for _, note, _ in notes}
    assert len(markers) == len(doc["doubtful_events"])
    # a conformed anchor sits on its grid line: line bar|beat|tick → tick in the file (4/4, 960 PPQ, beats = quarters)
    anchors = [h for h in doc["hits"] if h["anchor"] and h["source_sample"] + h["shift_samples"] == h["line_sample"]]
    ticks = {t for t, _, _ in notes}
    for h in anchors[:20]:
        bar, beat, sub = map(int, h["line"].split("|"))
        assert ((bar - 1) * 4 + (beat - 1)) * 960 + sub in ticks


def test_edls_of_the_session_read_back_at_the_plans_cuts(example, tmp_path):
    otio = pytest.importorskip("opentimelineio")
    pytest.importorskip("otio_cmx3600_adapter")
    from aligner.interchange import edl_cuts

    result = nbd(example, "--tempo-map", example / "song.mid", "-o", tmp_path / "out", "--fps", "25")
    assert result.exit_code == 0 and "EDL(s) in edl/" in result.output
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    cuts = edl_cuts(EditPlan.from_json(doc["plan"]))
    # every cut rounded to its nearest frame at 25 fps; stretches shorter than a frame vanish
    frames = [(round(c.record_in * 25 / 48000), round(c.record_out * 25 / 48000)) for c in cuts]
    expected = [a for a, b in frames if b > a]
    edls = sorted((tmp_path / "out" / "edl").glob("*.edl"))
    assert [p.name for p in edls] == ["take1 mics_1-4.edl", "take1 mics_5-8.edl", "take1 mics_9-10.edl"]
    timeline = otio.adapters.read_from_file(str(edls[0]), adapter_name="cmx_3600", rate=25)
    for track in timeline.tracks:
        starts = [c.range_in_parent().start_time.value for c in track if isinstance(c, otio.schema.Clip)]
        assert starts == expected
