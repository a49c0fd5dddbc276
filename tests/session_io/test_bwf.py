"""BWF bext on stems: the time reference and description carry over, the UMID is new, and files without bext
stay without; RF64 for stems that outgrow RIFF."""
import os

import numpy as np
import pytest
import soundfile as sf

from aligner.plan import EditPlan
from aligner.render import render_stems
from session_io import read_session
from session_io.riff import bext_payload, insert_chunk, read_bext
from session_io.session import AudioSource
from session_io.stems import _output_container
from tests.helpers import noise, write_audio

DAY = 3600 * 48000  # 01:00:00:00 in samples since midnight


def _render(folder, out, plan=None):
    session = read_session(folder)
    render_stems(session, plan or EditPlan.identity(session.length_samples), out)
    return session


def test_stems_keep_time_reference_and_description_with_a_new_umid(tmp_path):
    (tmp_path / "in").mkdir()
    src = write_audio(tmp_path / "in" / "kick.wav", noise(2000))
    insert_chunk(src, "bext", bext_payload(DAY + 480, description="Kick In, take 3", umid=b"\x06" * 32))
    write_audio(tmp_path / "in" / "snare.wav", noise(2000), time_reference=DAY)
    _render(tmp_path / "in", tmp_path / "out")
    original = read_bext(src)
    stem = read_bext(tmp_path / "out" / "kick.wav.part")
    assert stem.time_reference_samples == DAY + 480
    assert stem.description == "Kick In, take 3"
    assert stem.originator == "nbd"
    assert stem.umid[:12] == bytes.fromhex("060A2B340101010501010D20")  # a SMPTE basic UMID
    assert stem.umid != original.umid
    # the stem still reads as audio at the same position: a DAW places it where the original sat
    assert sf.info(str(tmp_path / "out" / "kick.wav.part")).frames == 2000


def test_same_edit_gives_the_same_umid_another_edit_another(tmp_path):
    (tmp_path / "in").mkdir()
    write_audio(tmp_path / "in" / "kick.wav", noise(2000), time_reference=DAY)
    write_audio(tmp_path / "in" / "snare.wav", noise(2000), time_reference=DAY)
    session = _render(tmp_path / "in", tmp_path / "a")
    _render(tmp_path / "in", tmp_path / "b")
    moved = EditPlan.from_json({"length_samples": 2000, "segments": [
        {"source_start_samples": 0, "source_end_samples": 1000, "dest_start_samples": 0, "fade_out_samples": 10},
        {"source_start_samples": 995, "source_end_samples": 2005, "dest_start_samples": 990,
         "fade_in_samples": 10}]})  # 5 samples earlier from 995 on
    moved.validate()
    render_stems(session, moved, tmp_path / "c")
    umid = lambda d: read_bext(tmp_path / d / "kick.wav.part").umid  # noqa: E731
    assert umid("a") == umid("b") != umid("c")
    assert read_bext(tmp_path / "a" / "kick.wav.part").umid != read_bext(tmp_path / "a" / "snare.wav.part").umid


def test_files_without_bext_give_stems_without_bext(tmp_path):
    (tmp_path / "in").mkdir()
    write_audio(tmp_path / "in" / "kick.wav", noise(500))
    _render(tmp_path / "in", tmp_path / "out")
    assert read_bext(tmp_path / "out" / "kick.wav.part") is None


def test_rf64_input_keeps_its_bext_and_container(tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "poly.wav"
    sf.write(str(path), noise(3000, 4), 48000, subtype="PCM_24", format="RF64")
    with sf.SoundFile(str(path)) as f:
        assert f.format == "RF64"
    session = read_session(tmp_path / "in")
    render_stems(session, EditPlan.identity(session.length_samples), tmp_path / "out")
    with sf.SoundFile(str(tmp_path / "out" / "poly.wav.part")) as f:
        assert (f.format, f.frames, f.channels) == ("RF64", 3000, 4)


def test_a_wav_stem_over_4_gib_is_written_as_rf64():
    big = AudioSource(path=__import__("pathlib").Path("poly.wav"), sample_rate_hz=48000, channels=16,
                      frames=40 * 60 * 48000, container="WAV", subtype="PCM_24")  # 40 min x 16 ch x 3 B = 5.5 GB
    assert _output_container(big) == "RF64"
    small = AudioSource(path=big.path, sample_rate_hz=48000, channels=16, frames=10 * 60 * 48000,
                        container="WAV", subtype="PCM_24")
    assert _output_container(small) == "WAV"


@pytest.mark.skipif(os.environ.get("NBD_SLOW") != "1", reason="writes over 8 GB; run with NBD_SLOW=1")
def test_a_real_poly_wav_over_4_gib_renders_to_rf64(tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "poly.wav"
    frames = 23 * 60 * 48000  # 23 min x 16 ch x 4 B (PCM_32) = 4.2 GB
    block = (np.random.default_rng(0).integers(-2**20, 2**20, (48000, 16)) << 8).astype(np.int32)
    with sf.SoundFile(str(path), "w", 48000, 16, "PCM_32", format="RF64") as f:
        for _ in range(frames // 48000):
            f.write(block)
    insert_rf64 = read_bext(path)
    assert insert_rf64 is None
    session = read_session(tmp_path / "in", check=False)
    render_stems(session, EditPlan.identity(session.length_samples), tmp_path / "out")
    with sf.SoundFile(str(tmp_path / "out" / "poly.wav.part")) as f:
        assert (f.format, f.frames) == ("RF64", frames)
