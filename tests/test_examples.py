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
