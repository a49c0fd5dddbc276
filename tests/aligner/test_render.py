"""Rendering one plan on every channel: bit-exact outside fades, identical gains inside, lengths kept."""
import numpy as np
import pytest
import soundfile as sf

from aligner.plan import EditPlan, Segment, fade_gains
from aligner.render import render_stems
from session_io import read_session
from tests.helpers import noise, write_audio

RATE = 48000


def _read_int(path):
    return sf.read(str(path), dtype="int32", always_2d=True)[0]


def _stems(out):
    return {p.name[: -len(".part")]: p for p in out.glob("*.part")}


def _session(tmp_path, length=20000):
    """Kick In, an overhead pair 62 samples later at half level, the snare bottom an inverted copy, a shorter room.

    Written from integers so that the relations between mics hold exactly in the files.
    """
    kick = (noise(length, seed=1) * (1 << 23)).astype(np.int32) << 8  # 24-bit, left-justified
    folder = tmp_path / "session"
    folder.mkdir()
    sf.write(str(folder / "Kick In.wav"), kick, RATE, subtype="PCM_24")
    oh = np.zeros((length, 2), dtype=np.int32)
    oh[62:, 0] = (kick[:-62, 0] >> 9) << 8
    oh[62:, 1] = (kick[:-62, 0] >> 10) << 8
    sf.write(str(folder / "OH.wav"), oh, RATE, subtype="PCM_24")
    sf.write(str(folder / "Snare Bottom.wav"), -kick, RATE, subtype="PCM_24")
    write_audio(folder / "Room.wav", noise(length - 3000, seed=4), subtype="FLOAT")
    write_audio(folder / "Hat.wav", noise(length, seed=5), subtype="PCM_16")
    return read_session(folder)


def _moving_plan(length):
    """An event at 4964 moved 37 samples later, one at 11964 moved 120 earlier; 64-sample crossfades."""
    return EditPlan(length, (
        Segment(0, 4964, 0, fade_out_samples=64),
        Segment(4863, 11927, 4900, fade_in_samples=64, fade_out_samples=64, fade_out_shape="equal_gain"),
        Segment(12020, 12020 + length - 11900, 11900, fade_in_samples=64, fade_in_shape="equal_gain"),
    )).validate()


def test_identity_plan_gives_stems_equal_to_their_inputs(tmp_path):
    s = _session(tmp_path)
    out = tmp_path / "stems"
    render_stems(s, EditPlan.identity(s.length_samples), out)
    for src in s.sources:
        stem = _stems(out)[src.path.name]
        info = sf.info(str(stem))
        assert (info.subtype, info.channels, info.frames) == (src.subtype, src.channels, src.frames)
        dtype = "float32" if src.subtype == "FLOAT" else "int32"
        assert np.array_equal(sf.read(str(stem), dtype=dtype)[0], sf.read(str(src.path), dtype=dtype)[0])


def test_moves_are_identical_on_every_channel_and_bit_exact_outside_fades(tmp_path):
    s = _session(tmp_path)
    n = s.length_samples
    plan = _moving_plan(n)
    out = tmp_path / "stems"
    render_stems(s, plan, out)
    stems = _stems(out)
    for src in s.sources:
        if src.subtype == "FLOAT":
            continue
        inp, res = _read_int(src.path), _read_int(stems[src.path.name])
        assert len(res) == len(inp)  # output length = input length
        for seg in plan.segments:
            lo = seg.dest_start_samples + seg.fade_in_samples
            hi = min(seg.dest_end_samples - seg.fade_out_samples, src.frames + seg.shift_samples)
            src_lo = lo - seg.shift_samples
            # outside fades: a copy of the source, moved by the segment's shift (a null test)
            assert np.array_equal(res[lo:hi], inp[src_lo:src_lo + hi - lo]), (src.path.name, seg)


def test_inter_mic_offsets_and_polarity_survive_the_edit(tmp_path):
    s = _session(tmp_path)
    plan = _moving_plan(s.length_samples)
    out = tmp_path / "stems"
    render_stems(s, plan, out)
    stems = _stems(out)
    kick = _read_int(stems["Kick In.wav"])[:, 0].astype(np.int64)
    snare_bottom = _read_int(stems["Snare Bottom.wav"])[:, 0].astype(np.int64)
    oh = _read_int(stems["OH.wav"]).astype(np.int64)
    # the inverted copy stays inverted everywhere, fades included (same gains on every channel), to 1 LSB of rounding
    assert np.max(np.abs(kick + snare_bottom)) <= 256
    # the overhead stays 62 samples behind the kick inside every segment body, at every hit
    for seg in plan.segments:
        lo = seg.dest_start_samples + seg.fade_in_samples + 62
        hi = min(seg.dest_end_samples - seg.fade_out_samples, len(kick) + seg.shift_samples)
        assert np.array_equal(oh[lo:hi, 0], ((kick[lo - 62:hi - 62] >> 9) << 8))


def test_fade_samples_are_the_gain_weighted_mix(tmp_path):
    s = _session(tmp_path)
    plan = _moving_plan(s.length_samples)
    out = tmp_path / "stems"
    render_stems(s, plan, out)
    inp = _read_int(s.path / "Kick In.wav")[:, 0].astype(np.float64)
    res = _read_int(_stems(out)["Kick In.wav"])[:, 0]
    a, b = plan.segments[0], plan.segments[1]
    g_in, g_out = fade_gains("equal_power", 64)
    start = b.dest_start_samples
    mix = inp[start - a.shift_samples:start - a.shift_samples + 64] * g_out \
        + inp[start - b.shift_samples:start - b.shift_samples + 64] * g_in
    expected = np.floor(mix / 256 + 0.5) * 256
    assert np.array_equal(res[start:start + 64], expected.astype(np.int32))


def test_result_does_not_depend_on_block_size(tmp_path):
    s = _session(tmp_path)
    plan = _moving_plan(s.length_samples)
    render_stems(s, plan, tmp_path / "a", block_frames=999)
    render_stems(s, plan, tmp_path / "b")
    for name in _stems(tmp_path / "a"):
        assert (tmp_path / "a" / (name + ".part")).read_bytes() == (tmp_path / "b" / (name + ".part")).read_bytes()


def test_pcm_overs_are_clipped_and_counted_float_keeps_them(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    loud = np.full((1000, 1), 0.99)
    write_audio(folder / "a.wav", loud, subtype="PCM_16")
    write_audio(folder / "b.wav", loud, subtype="FLOAT")
    s = read_session(folder)
    # equal-power crossfade of identical material peaks at 0.99 * 1.414 in the middle
    plan = EditPlan(1000, (Segment(0, 600, 0, fade_out_samples=100), Segment(400, 900, 500, fade_in_samples=100)))
    report = render_stems(s, plan, tmp_path / "stems")
    assert report.clipped_samples["a.wav"] > 0
    assert report.clipped_samples["b.wav"] == 0
    floats = sf.read(str(tmp_path / "stems" / "b.wav.part"), dtype="float32")[0]
    assert floats.max() > 1.3


def test_plan_of_the_wrong_length_is_refused(tmp_path):
    s = _session(tmp_path)
    from nbd_errors import PlanValidationError

    with pytest.raises(PlanValidationError, match="session timeline is"):
        render_stems(s, EditPlan.identity(s.length_samples - 1), tmp_path / "stems")
