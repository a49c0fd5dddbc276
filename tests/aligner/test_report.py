"""The HTML report and the batch index: what a person opens in the morning."""
import re
from collections import Counter
from xml.etree import ElementTree

from click.testing import CliRunner

import cli
from aligner.report import LoudnessRow, write_index
from aligner.synth import SynthConfig, synthesise, write_session

SVG = "{http://www.w3.org/2000/svg}"


def test_report_shows_plots_doubtful_events_and_loudness(tmp_path):
    session = write_session(synthesise(SynthConfig(bars=3, tempo_change_bar=2, far_off_per_bar=2)), tmp_path / "s")
    result = CliRunner().invoke(cli.main, [str(session), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "report.html").read_text()
    doc = __import__("json").loads((tmp_path / "out" / "edits.json").read_text())
    # the plots are inline SVG that an XML parser reads: one dot per stroke before and after, per drum panel
    timing, bars = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, re.S)]
    dots = {p.find(f"{SVG}title").text: p.get("d").count("M") for p in timing.iter(f"{SVG}path")}
    per_drum = Counter(h["drum"] for h in doc["hits"])
    assert dots == {f"{d} {when}": n for d, n in per_drum.items() for when in ("before", "after")}
    bar_numbers = {int(h["line"].split("|")[0]) for h in doc["hits"]}
    assert len([r for r in bars.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == len(bar_numbers)
    for d in doc["doubtful_events"]:
        assert f"<td>{d['line']}</td>" in page
    assert page.count("<tr><td>") >= len(doc["doubtful_events"]) + 9  # + one loudness row per file
    assert "Kick In.wav" in page and "LUFS" in page
    index = (tmp_path / "out" / "index.html").read_text()
    assert "href='report.html'" in index and ">done<" in index


def test_loudness_change_is_after_minus_before():
    assert LoudnessRow("a.wav", -23.0, -22.4).change_lu == 0.6000000000000014 or \
        abs(LoudnessRow("a.wav", -23.0, -22.4).change_lu - 0.6) < 1e-9
    assert LoudnessRow("silent.wav", None, None).change_lu is None


def test_index_lists_failed_sessions_with_their_error(tmp_path):
    path = write_index(tmp_path, [
        {"name": "take1", "status": "done", "events_moved": 10, "doubtful": 1, "report": "take1/report.html"},
        {"name": "bad <1>", "status": "failed", "error": "kick.wav: sample rate 44100 Hz differs"},
    ])
    page = path.read_text()
    assert "href='take1/report.html'" in page
    assert "bad &lt;1&gt;" in page and "44100 Hz differs" in page and "class='flag'>failed" in page


def test_streamed_loudness_matches_pyloudnorm(tmp_path):
    import numpy as np
    import pyloudnorm
    import soundfile as sf

    from aligner.loudness import integrated_loudness

    rng = np.random.default_rng(3)
    t = np.arange(int(7.3 * 44100)) / 44100
    audio = np.stack([0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(t)), 0.1 * rng.standard_normal(len(t))], 1)
    audio[44100:88200] = 0  # a silent second, gated out
    sf.write(str(tmp_path / "a.wav"), audio, 44100, subtype="FLOAT")
    expected = pyloudnorm.Meter(44100).integrated_loudness(sf.read(str(tmp_path / "a.wav"))[0])
    # small blocks, so filter state and 100 ms steps cross block edges many times
    assert abs(integrated_loudness(tmp_path / "a.wav", block_frames=1000) - expected) < 0.01
    sf.write(str(tmp_path / "short.wav"), audio[:10000], 44100)
    assert integrated_loudness(tmp_path / "short.wav") is None


def test_loudness_measured_while_detecting_and_rendering_equals_reading_the_files(tmp_path):
    from aligner.detect import scan_mics
    from aligner.loudness import integrated_loudness
    from aligner.plan import EditPlan
    from aligner.render import render_stems
    from session_io import read_session
    from session_io.stems import PART_SUFFIX

    cfg = SynthConfig(seed=2, bars=2, tempo_change_bar=2)
    folder = write_session(synthesise(cfg), tmp_path / "s")
    session = read_session(folder)
    before: dict = {}
    scan_mics(session, 24, {}, loudness=before)
    report = render_stems(session, EditPlan.identity(session.length_samples), tmp_path / "stems",
                          block_frames=5000, measure_loudness=True)
    assert set(before) == set(report.loudness_lufs) == {s.path.name for s in session.sources}
    for source in session.sources:
        name = source.path.name
        assert before[name] is not None
        assert abs(before[name] - integrated_loudness(source.path)) <= 0.01
        assert abs(report.loudness_lufs[name] - integrated_loudness(tmp_path / "stems" / (name + PART_SUFFIX))) <= 0.01


def test_plot_ticks_are_round_steps_around_the_data():
    from aligner.svg_plots import nice_ticks

    assert nice_ticks(-87.0, 55.0, 5) == [-100.0, -50.0, 0.0, 50.0]
    assert nice_ticks(2.0, 4.9, 12) == [2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    assert nice_ticks(0.0, 0.0) == [0.0]
