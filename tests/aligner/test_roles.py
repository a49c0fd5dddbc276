"""Mic roles from names, and overrides."""
import pytest

from aligner.roles import assign_roles, parse_role_overrides, role_from_name
from nbd_errors import NbdError
from session_io import read_session
from tests.helpers import noise, write_audio


@pytest.mark.parametrize("name, role", [
    ("Kick In", "kick"), ("KICK OUT", "kick"), ("Kik Sub", "kick"), ("BD", "kick"), ("KdrumL", "kick"),
    ("Snare Top", "snare"), ("SN btm", "snare"), ("Snare_bottom", "snare"),
    ("Hat", "hihat"), ("HH", "hihat"), ("Hihat", "hihat"),
    ("Tom 1", "tom"), ("Rack", "tom"), ("Floor Tom", "tom"), ("FT", "tom"),
    ("OH L", "overhead"), ("OHR", "overhead"), ("Overheads", "overhead"),
    ("Room", "room"), ("AmbL", "room"), ("RideL", "ride"), ("Crash", "crash"), ("Trig", "kick"),
    ("Mic 3", "other"), ("Vox", "other"),
])
def test_role_from_name(name, role):
    assert role_from_name(name) == role


def test_overrides_win_and_unknown_names_warn(tmp_path, caplog):
    write_audio(tmp_path / "Mic 3.wav", noise(100))
    write_audio(tmp_path / "Mic 4.wav", noise(100))
    session = assign_roles(read_session(tmp_path), parse_role_overrides(["mic 3=snare"]))
    assert [t.role for t in session.tracks] == ["snare", "other"]
    assert "Mic 4" in caplog.text and "no recognised role" in caplog.text


def test_a_session_with_no_drum_names_gets_one_warning_that_says_what_each_detector_does(tmp_path, caplog):
    for k in range(1, 4):
        write_audio(tmp_path / f"Audio {k}.wav", noise(100))
    session = assign_roles(read_session(tmp_path))
    assert [t.role for t in session.tracks] == ["other"] * 3
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert "no mic is named" in warnings[0] and "Audio 1, Audio 2, Audio 3" in warnings[0]
    assert "classic detector finds no hits" in warnings[0] and "--mic-role" in warnings[0]


def test_override_for_a_missing_track_is_an_error(tmp_path):
    write_audio(tmp_path / "Kick.wav", noise(100))
    with pytest.raises(NbdError, match="names no track"):
        assign_roles(read_session(tmp_path), {"snare": "snare"})


@pytest.mark.parametrize("text", ["snare", "=snare", "Mic 3=cowbell"])
def test_bad_overrides(text):
    with pytest.raises(ValueError):
        parse_role_overrides([text])


def test_trigger_tracks_are_told_apart_from_kick_mics():
    from aligner.roles import is_trigger

    assert [is_trigger(n) for n in ("Trigger", "Kick Trig", "kick_trg", "Kick In", "Kick Sub", "Trigonometry")] == \
        [True, True, True, False, False, False]
    assert role_from_name("Kick Trig") == "kick"  # still the kick's role: it may find strokes
