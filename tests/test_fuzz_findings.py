"""What bench/fuzz_readers.py found, kept as tests: every reader fails with nbd's own error."""
import shutil

import aaf2
import pytest

from aligner.synth import SynthConfig, synthesise, write_session
from nbd_errors import SessionReadError
from session_io.aaf import read_aaf
from session_io.aaf_writer import LinkedClip, LinkedTrack, write_linked_aaf


def test_embedded_essence_with_a_damaged_descriptor_is_a_session_error(tmp_path):
    # fuzz case 1210 (seed 1): a damaged embedded PCM descriptor (there: QuantizationBits gone) raised KeyError.
    # pyaaf2 will not save a descriptor missing that property, so this one says the essence has no channels.
    folder = write_session(synthesise(SynthConfig(bars=1, count_in_bars=0)), tmp_path / "s")
    wav = folder / "Kick In.wav"
    frames = __import__("soundfile").info(str(wav)).frames
    path = tmp_path / "embedded.aaf"
    write_linked_aaf(path, "x", 48000, [LinkedTrack("Kick In", wav, 0, (LinkedClip(0, 0, frames),))], embed=True)
    with aaf2.open(str(path), "rw") as f:
        for mob in f.content.sourcemobs():
            if mob.essence is not None:
                mob.descriptor["Channels"].value = 0
    with pytest.raises(SessionReadError, match="embedded media 'Kick In' is unreadable"):
        read_aaf(path, tmp_path / "work")
    shutil.rmtree(tmp_path / "s")
