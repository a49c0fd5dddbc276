"""Every script in examples/ runs."""
import runpy
import sys

from tests.conftest import REPO


def test_make_example_session_writes_a_readable_session(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["make_example_session.py", str(tmp_path / "s")])
    runpy.run_path(str(REPO / "examples" / "make_example_session.py"), run_name="__main__")
    from session_io import read_session

    assert len(read_session(tmp_path / "s").tracks) == 9
    assert (tmp_path / "s" / "song.mid").exists() and (tmp_path / "s" / "truth.json").exists()


def test_compare_with_truth_reports_the_demo_edit(tmp_path, monkeypatch, capsys):
    from click.testing import CliRunner

    import cli
    from aligner.synth import SynthConfig, synthesise, write_session

    session = write_session(synthesise(SynthConfig(bars=4, tempo_change_bar=3)), tmp_path / "s")
    assert CliRunner().invoke(cli.main, [str(session), "--tempo-map", str(session / "song.mid"),
                                         "-o", str(tmp_path / "out")]).exit_code == 0
    monkeypatch.setattr(sys, "argv", ["compare_with_truth.py", str(session), str(tmp_path / "out")])
    runpy.run_path(str(REPO / "examples" / "compare_with_truth.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Strokes played twice: 0." in out
    after = int(out.split("after it ")[1].split("%")[0])
    assert after >= 90
