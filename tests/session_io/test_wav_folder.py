"""Reading session folders and poly WAVs: names, channels, timeline placement, and every bad-input case."""
import numpy as np
import pytest
import soundfile as sf

from nbd_errors import SessionReadError, UnsupportedFormatError
from session_io import read_session
from session_io.audio import SourceReader
from session_io.riff import insert_chunk
from tests.helpers import noise, write_audio


def test_folder_of_mono_and_stereo_files_one_mic_per_file(tmp_path):
    write_audio(tmp_path / "Kick In.wav", noise(1000))
    write_audio(tmp_path / "OH.wav", noise(1000, 2))
    write_audio(tmp_path / "Snare Top.aiff", noise(1000), format="AIFF")
    write_audio(tmp_path / "Room.flac", noise(1000), subtype="PCM_16")
    for junk in ("song.mid", "notes.txt", "truth.json", "._Kick In.wav", ".DS_Store"):
        (tmp_path / junk).write_bytes(b"not audio")
    (tmp_path / "Bounced Files").mkdir()
    s = read_session(tmp_path)
    assert [t.name for t in s.tracks] == ["Kick In", "OH", "Room", "Snare Top"]
    oh = s.tracks[1]
    assert oh.channel_indices == (0, 1)  # the stereo file is one two-channel mic
    assert s.channel_count == 5 and s.sample_rate_hz == 48000 and s.length_samples == 1000


def test_natural_order_puts_tom_2_before_tom_10(tmp_path):
    for name in ("Tom 10", "Tom 2", "Tom 1"):
        write_audio(tmp_path / f"{name}.wav", noise(100))
    assert [t.name for t in read_session(tmp_path).tracks] == ["Tom 1", "Tom 2", "Tom 10"]


def test_single_poly_wav_makes_one_mic_per_channel(tmp_path):
    write_audio(tmp_path / "take.wav", noise(500, 4))
    s = read_session(tmp_path)
    assert [t.name for t in s.tracks] == ["take 1", "take 2", "take 3", "take 4"]
    assert [t.channel_indices for t in s.tracks] == [(0,), (1,), (2,), (3,)]
    assert read_session(tmp_path / "take.wav").tracks == s.tracks  # the file given directly


def test_poly_wav_takes_names_from_ixml(tmp_path):
    path = write_audio(tmp_path / "take.wav", noise(500, 2))
    ixml = ("<BWFXML><TRACK_LIST><TRACK_COUNT>2</TRACK_COUNT>"
            "<TRACK><CHANNEL_INDEX>1</CHANNEL_INDEX><INTERLEAVE_INDEX>1</INTERLEAVE_INDEX><NAME>KICK</NAME></TRACK>"
            "<TRACK><CHANNEL_INDEX>2</CHANNEL_INDEX><INTERLEAVE_INDEX>2</INTERLEAVE_INDEX><NAME>SNARE</NAME></TRACK>"
            "</TRACK_LIST></BWFXML>")
    insert_chunk(path, "iXML", ixml.encode())
    assert [t.name for t in read_session(path).tracks] == ["KICK", "SNARE"]


def test_all_silent_track_is_valid(tmp_path):
    write_audio(tmp_path / "a.wav", np.zeros((800, 1)))
    write_audio(tmp_path / "b.wav", noise(800))
    assert len(read_session(tmp_path).tracks) == 2


def test_files_of_different_lengths_share_one_timeline_from_zero(tmp_path):
    write_audio(tmp_path / "long.wav", noise(1000, seed=1))
    write_audio(tmp_path / "short.wav", noise(600, seed=2))
    s = read_session(tmp_path)
    assert s.length_samples == 1000
    short = s.sources[1]
    assert (short.offset_samples, short.frames) == (0, 600)
    with SourceReader(short) as r:
        block = r.read(500, 700)  # past its end: silence
    assert block[100:].tolist() == [[0]] * 100 and block[:100].any()


def test_bwf_time_references_place_files_shifted_at_the_head(tmp_path):
    day = 3600 * 48000  # 01:00:00:00 as samples since midnight
    write_audio(tmp_path / "a.wav", noise(1000, seed=1), time_reference=day)
    write_audio(tmp_path / "b.wav", noise(1000, seed=2), time_reference=day + 250)
    s = read_session(tmp_path)
    assert s.start_samples == day
    assert [src.offset_samples for src in s.sources] == [0, 250]
    assert s.length_samples == 1250
    with SourceReader(s.sources[1]) as r:
        shifted = r.read(250, 260)
    assert np.array_equal(shifted, sf.read(str(tmp_path / "b.wav"), dtype="int32", always_2d=True)[0][:10])


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_every_supported_sample_format_reads(tmp_path, subtype):
    write_audio(tmp_path / "a.wav", noise(100), subtype=subtype)
    assert read_session(tmp_path).sources[0].subtype == subtype


@pytest.mark.parametrize("rate", [44100, 96000, 192000])
def test_rates_from_44k1_to_192k(tmp_path, rate):
    write_audio(tmp_path / "a.wav", noise(100), rate=rate)
    assert read_session(tmp_path).sample_rate_hz == rate


# --- bad input: one error naming the file and the cause ---------------------------------------------------------

def _expect_error(path, session, fragment, error=SessionReadError):
    with pytest.raises(error) as err:
        read_session(session)
    message = str(err.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message


def test_mismatched_sample_rates(tmp_path):
    write_audio(tmp_path / "a.wav", noise(100), rate=48000)
    bad = write_audio(tmp_path / "b.wav", noise(100), rate=44100)
    _expect_error(bad, tmp_path, "44100 Hz differs from 48000 Hz of a.wav")


def test_rate_below_44k1_is_refused(tmp_path):
    bad = write_audio(tmp_path / "a.wav", noise(100), rate=22050)
    _expect_error(bad, tmp_path, "outside the 44100-192000 Hz")


def test_truncated_wav(tmp_path):
    good = write_audio(tmp_path / "a.wav", noise(1000))
    bad = tmp_path / "b.wav"
    bad.write_bytes(good.read_bytes()[:1500])
    _expect_error(bad, tmp_path, "truncated")


def test_truncated_aiff(tmp_path):
    good = write_audio(tmp_path / "a.aiff", noise(1000), format="AIFF")
    good.write_bytes(good.read_bytes()[:1500])
    _expect_error(good, tmp_path, "truncated")


def test_truncated_flac(tmp_path):
    good = write_audio(tmp_path / "a.flac", noise(20000))
    good.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _expect_error(good, tmp_path, "")


def test_zero_byte_file(tmp_path):
    bad = tmp_path / "a.wav"
    bad.write_bytes(b"")
    _expect_error(bad, tmp_path, "empty file")


def test_file_with_no_samples(tmp_path):
    bad = write_audio(tmp_path / "a.wav", np.zeros((0, 1)))
    _expect_error(bad, tmp_path, "0 samples")


def test_wrong_header(tmp_path):
    bad = tmp_path / "a.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00JUNKnot a wave file at all")
    _expect_error(bad, tmp_path, "not a readable audio file")


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinite")])
def test_nan_and_inf_samples_name_their_position(tmp_path, value, word):
    data = noise(5000)
    data[4321, 0] = value
    bad = write_audio(tmp_path / "a.wav", data, subtype="FLOAT")
    _expect_error(bad, tmp_path, f"{word} sample value at sample 4321")


def test_unsupported_sample_format(tmp_path):
    bad = write_audio(tmp_path / "a.wav", noise(100), subtype="ULAW")
    _expect_error(bad, tmp_path, "ULAW", UnsupportedFormatError)


def test_folder_without_audio(tmp_path):
    (tmp_path / "song.mid").write_bytes(b"MThd")
    _expect_error(tmp_path, tmp_path, "no audio files")


def test_missing_session_path(tmp_path):
    _expect_error(tmp_path / "nope", tmp_path / "nope", "no such file")
