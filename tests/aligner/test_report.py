"""The HTML report and the batch index: what a person opens in the morning."""
import base64
import re

from click.testing import CliRunner

import cli
from aligner.report import LoudnessRow, write_index
from aligner.synth import SynthConfig, synthesise, write_session


def test_report_shows_plots_doubtful_events_and_loudness(tmp_path):
    session = write_session(synthesise(SynthConfig(bars=3, tempo_change_bar=2, far_off_per_bar=2)), tmp_path / "s")
    result = CliRunner().invoke(cli.main, [str(session), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "report.html").read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 2 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    doc = __import__("json").loads((tmp_path / "out" / "edits.json").read_text())
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
