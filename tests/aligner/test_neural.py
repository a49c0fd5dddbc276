"""The neural aligner: what it hears (features, grid), the network's contract, the shipped weights file, and what the
shipped model does on sessions it never heard in training."""
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from aligner import features
from aligner.config import AlignConfig
from aligner.detect import Hit
from aligner.events import EventSettings, make_events
from aligner.features import band_features, grid_features, hop_samples, session_features
from aligner.model import CLASSES, AlignerNet, ModelConfig
from aligner.neural import WEIGHTS, NeuralSettings, load_model, neural_hits, predict
from aligner.pipeline import align
from aligner.roles import assign_roles
from aligner.synth import SynthConfig, synthesise, truth_events, write_session
from aligner.training_data import TEST_SEED_BASE, random_session, targets
from grid import SessionGrid, TempoMap, grid_lines, line_samples
from session_io import read_session
from tests.helpers import groove_session


def test_a_click_shows_as_a_rise_in_its_own_frame():
    rate = 48000
    hop = hop_samples(rate)
    x = np.zeros((rate, 1), dtype=np.float32)
    at = 100 * hop + 37
    x[at:at + 200, 0] = np.random.default_rng(0).standard_normal(200)
    f = band_features(x, rate)
    assert f.shape == (-(-rate // hop), features.MIC_FEATURES)
    rise = f[:, features.N_BANDS:].sum(axis=1)
    # the 21 ms window reaches the click up to two frames early; the model learns where the attack really is
    assert at // hop - 2 <= int(np.argmax(rise)) <= at // hop
    assert f[:, :features.N_BANDS].max() == 0.0  # levels are relative to the mic's loudest band-frame


def test_streamed_session_features_equal_in_memory_features(tmp_path, monkeypatch):
    syn = synthesise(SynthConfig(seed=3, bars=2, sample_rate_hz=44100))
    folder = write_session(syn, tmp_path / "s")
    session = assign_roles(read_session(folder))
    monkeypatch.setattr(features, "_BLOCK_FRAMES", 333)  # many blocks, joins everywhere
    streamed = session_features(session)
    for ti, track in enumerate(session.tracks):
        data, _ = __import__("soundfile").read(str(session.sources[track.source_index].path), dtype="float32",
                                               always_2d=True)
        whole = band_features(data[:, list(track.channel_indices)], 44100)
        np.testing.assert_allclose(streamed[ti], whole, atol=1e-5)
    # the model reads them a window at a time: windows joined are the whole, bit for bit
    frames = streamed.shape[1]
    cuts = [0, 1, 250, 251, 777, frames]
    joined = np.concatenate([streamed[:, a:b] for a, b in zip(cuts, cuts[1:])], axis=1)
    assert np.array_equal(joined, np.stack([streamed[ti] for ti in range(len(session.tracks))]))


def test_level_rises_worked_out_around_a_stroke_equal_the_whole_envelopes(tmp_path):
    # the neural detector works out a mic's level rise from the samples around each stroke instead of holding the
    # session's envelope: any window, at the session's start and end too, gives what the whole envelope gives
    from aligner.detect import DetectorSettings, level_rise, slope_peaks
    from aligner.neural import _Rises
    from session_io.audio import SessionReader

    syn = synthesise(SynthConfig(seed=4, bars=2, sample_rate_hz=44100))
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    hop, hold = DetectorSettings().frames(44100)
    with SessionReader(session) as reader:
        for ti in range(len(session.tracks)):
            audio = reader.read_track(ti, 0, session.length_samples)
            audio = np.concatenate([audio, np.zeros(((-len(audio)) % hop, audio.shape[1]), dtype=np.float32)])
            whole = level_rise(20 * np.log10(slope_peaks(audio, hop).max(axis=1) + np.float32(1e-12)), hold)
            rises = _Rises(reader, ti, hop, hold)
            assert len(rises) == len(whole)
            n = len(whole)
            for lo, hi in ((hold + 2, hold + 40), (n // 3, n // 3 + 25), (n - 30, n - 1), (0, n)):
                np.testing.assert_array_equal(rises[lo:hi], whole[lo:hi], err_msg=f"{ti} {lo}:{hi}")


def test_grid_features_are_a_metronome():
    tm = TempoMap.from_changes([(0, 500000)], [(0, 3, 4)])
    grid = SessionGrid(tm, 48000, 0)
    hop = hop_samples(48000)
    g = grid_features(grid, 2000, hop)
    lines = grid_lines(grid, 0, 2000 * hop, "1/16")
    for line in lines[:40]:
        f = line.sample // hop
        step_phase = np.arctan2(g[f, 0], g[f, 1]) / (2 * np.pi) % 1.0
        assert step_phase < 0.25 or step_phase > 0.95  # the frame's centre sits just after its line
        if line.index_in_bar == 0:
            bar_phase = np.arctan2(g[f, 4], g[f, 5]) / (2 * np.pi) % 1.0
            assert bar_phase < 0.03 or bar_phase > 0.97
    assert np.allclose(g[:, 6], np.log2(0.125 / 0.125))  # a 16th at 120 BPM is 125 ms


def test_targets_mark_each_stroke_frame_and_its_line_choice():
    syn, swing = random_session(TEST_SEED_BASE + 5)
    rate = syn.config.sample_rate_hz
    hop = hop_samples(rate)
    grid = SessionGrid(syn.tempo_map, rate, syn.origin_samples)
    frames = -(-max(len(a) for a in syn.audio.values()) // hop)
    onsets, lines = targets(syn.strokes, grid, frames, hop, swing)
    lines_s = line_samples(grid_lines(grid, -4 * rate, frames * hop, "1/16", swing))
    for st in syn.strokes:
        assert onsets[:, st.sample // hop].max() == 1.0
        nearest = lines_s[np.argmin(np.abs(lines_s - st.sample))]
        if nearest != st.line_sample and abs(np.searchsorted(lines_s, st.line_sample)
                                             - np.searchsorted(lines_s, nearest)) == 1:
            assert lines[st.sample // hop] in (0, 2)


def test_far_off_events_lean_toward_lines_the_groove_leaves_empty():
    very_far = 0
    for seed in range(TEST_SEED_BASE + 10, TEST_SEED_BASE + 16):
        syn, swing = random_session(seed, gmd_share=0.0)
        rate = syn.config.sample_rate_hz
        grid = SessionGrid(syn.tempo_map, rate, syn.origin_samples)
        lines_s = line_samples(grid_lines(grid, 0, max(len(a) for a in syn.audio.values()), "1/16", swing))
        used = {st.line_sample for st in syn.strokes}
        for st in syn.strokes:
            nearest = lines_s[np.argmin(np.abs(lines_s - st.sample))]
            if st.kind != "flam_grace" and nearest != st.line_sample:
                assert nearest not in used  # nearer a line nobody plays: the nearest line is the wrong one
                very_far += 1
    assert very_far > 5


def test_training_drummers_play_double_strokes_on_the_first_strokes_line():
    # python -m aligner.train --doubles 0.3 (not in the shipped weights' recipe): a snare, kick or hat played again
    # 15-45 ms later, as softly or softer, belonging to the first stroke's line, which stays its nearest line
    def doubles(syn, swing) -> int:
        rate = syn.config.sample_rate_hz
        grid = SessionGrid(syn.tempo_map, rate, syn.origin_samples)
        lines_s = line_samples(grid_lines(grid, 0, max(len(a) for a in syn.audio.values()), "1/16", swing))
        on_line: dict[tuple, list] = {}
        for st in syn.strokes:
            if st.kind != "flam_grace":
                on_line.setdefault((st.drum, st.line_sample), []).append(st)
        found = 0
        for (drum, line), strokes in on_line.items():
            if len(strokes) < 2:
                continue
            first, second = strokes
            assert drum in ("snare", "kick", "hihat") and second.velocity <= first.velocity
            assert 0.015 * rate - 1 <= second.sample - first.sample <= 0.045 * rate + 1
            assert lines_s[np.argmin(np.abs(lines_s - second.sample))] == line
            found += 1
        return found

    assert sum(doubles(*random_session(seed, gmd_share=0.0)) for seed in range(6)) == 0
    assert sum(doubles(*random_session(seed, gmd_share=0.0, doubles=0.5)) for seed in range(6)) >= 20


def test_training_grooves_put_toms_on_their_own():
    # python -m aligner.train --tom-bars 0.1 (an experiment: see the README's model card)
    tom_bars = [random_session(seed, gmd_share=0.0, tom_bars=0.1)[0] for seed in range(8)]
    plain = [random_session(seed, gmd_share=0.0)[0] for seed in range(8)]

    def lone_tom_beats(syn):  # beats with a tom and no snare, hat or cymbal
        beats: dict[str, set] = {}
        for st in syn.strokes:
            beats.setdefault(st.line_bbt.rsplit("|", 1)[0], set()).add(st.drum)
        return sum(1 for drums in beats.values() if drums & {"rack_tom", "floor_tom"}
                   and not drums & {"snare", "hihat", "crash", "ride"})

    # fills leave some beats to the toms too (11 in these sessions); tom bars add many more (48)
    assert sum(lone_tom_beats(s) for s in tom_bars) >= 2 * sum(lone_tom_beats(s) for s in plain) + 10


def test_the_model_hears_any_number_of_mics_in_any_order():
    torch.manual_seed(0)
    model = AlignerNet(ModelConfig(channels=16, mic_channels=8, layers=3)).eval()
    mics = torch.randn(1, 4, 300, features.MIC_FEATURES)
    roles = torch.eye(len(features.MODEL_ROLES))[[0, 1, 6, 7]][None]
    grid = torch.randn(1, 300, features.GRID_FEATURES)
    mask = torch.ones(1, 4, dtype=torch.bool)
    with torch.no_grad():
        o, li = model(mics, roles, mask, grid)
        order = [2, 0, 3, 1]
        o2, l2 = model(mics[:, order], roles[:, order], mask, grid)
        padded = torch.cat([mics, torch.randn(1, 2, 300, features.MIC_FEATURES)], dim=1)
        o3, _ = model(padded, torch.cat([roles, roles[:, :2]], dim=1),
                      torch.tensor([[True] * 4 + [False] * 2]), grid)
    assert o.shape == (1, len(CLASSES), 300) and li.shape == (1, 3, 300)
    torch.testing.assert_close(o, o2, atol=1e-5, rtol=0)
    torch.testing.assert_close(l2, li, atol=1e-5, rtol=0)
    torch.testing.assert_close(o3, o, atol=1e-5, rtol=0)  # a padding mic changes nothing


def test_shipped_weights_are_small_safetensors_without_pickle():
    data = WEIGHTS.read_bytes()
    assert len(data) < 3_000_000
    header_len = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + header_len])
    assert set(header["__metadata__"]) >= {"config", "info"}
    assert all(v["dtype"] == "F32" for k, v in header.items() if k != "__metadata__")
    assert b"\x80\x04" not in data[:8 + header_len]  # no pickle protocol marker in the header
    model, info = load_model(str(WEIGHTS))
    assert "python -m aligner.train" in info["command"]
    assert sum(p.numel() for p in model.parameters()) < 500_000


def test_windowed_inference_equals_one_pass_and_ignores_thread_count():
    model, _ = load_model(str(WEIGHTS))
    rng = np.random.default_rng(0)
    t = 3000
    mics = (rng.standard_normal((3, t, features.MIC_FEATURES)) * 0.3).astype(np.float32)
    roles = np.stack([features.role_vector(r) for r in ("kick", "snare", "overhead")])
    grid = rng.standard_normal((t, features.GRID_FEATURES)).astype(np.float32)
    whole = predict(model, mics, roles, grid, NeuralSettings(window_frames=t))
    windowed = predict(model, mics, roles, grid, NeuralSettings(window_frames=700))
    np.testing.assert_allclose(windowed[0], whole[0], atol=1e-5)
    np.testing.assert_allclose(windowed[1], whole[1], atol=1e-5)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = predict(model, mics, roles, grid)
        torch.set_num_threads(1)
        one = predict(model, mics, roles, grid)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(two[0], one[0]) and np.array_equal(two[1], one[1])


def test_a_line_shift_moves_a_stroke_to_the_neighbouring_line():
    tm = TempoMap.from_changes([(0, 500000)], [(0, 4, 4)])
    grid = SessionGrid(tm, 48000, 0)
    step = 6000  # a 16th at 120 BPM
    played = 4 * step + round(0.6 * step)  # 60 % late from the 8th at 4 steps: nearest is the empty 16th at 5
    hits = [Hit(0, "kick", 0, 1.0, 0.5), Hit(played, "hihat", 1, 1.0, 0.5, line_shift=-1),
            Hit(8 * step, "snare", 2, 1.0, 0.5)]
    events = make_events(hits, grid, 48000 * 4, EventSettings())
    assert [e.line.sample for e in events] == [0, 4 * step, 8 * step]
    hits[1] = Hit(played, "hihat", 1, 1.0, 0.5)  # the classic detector's choice: the nearest line
    assert [e.line.sample for e in make_events(hits, grid, 48000 * 4, EventSettings())] == [0, 5 * step, 8 * step]


@pytest.fixture(scope="module")
def neural_aligned(tmp_path_factory):
    """The shipped model on the synthesiser's reference session (its kit and groove are not in the training set)."""
    syn = synthesise(SynthConfig(seed=101, bars=8, far_off_per_bar=2))
    folder = write_session(syn, tmp_path_factory.mktemp("n") / "session")
    session = assign_roles(read_session(folder))
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    plan, events = align(session, grid, AlignConfig(detector="neural"))
    return syn, session, grid, plan, events


def test_neural_anchors_land_on_their_lines_and_no_stroke_plays_twice(neural_aligned):
    syn, _, _, plan, events = neural_aligned
    anchors = truth_events(syn.strokes)
    within = [abs((plan.map_source_to_dest(a.sample) or -10**9) - line) <= 48 for line, a in anchors.items()]
    assert np.mean(within) >= 0.95, f"{sum(within)} of {len(within)}"
    for st in syn.strokes:
        assert {plan.times_played(p) for p in range(st.sample, st.sample + 480, 16)} == {1}, st
    for e in events:
        if e.conform and not e.flags:
            assert plan.map_source_to_dest(e.anchor.position) == e.target


def test_neural_strokes_sit_on_the_sample_of_their_attack(neural_aligned):
    syn, session, grid, _, events = neural_aligned
    found = np.array(sorted(h.position for e in events for h in e.strokes))
    exact = [np.min(np.abs(found - st.sample)) <= 24 for st in syn.strokes if st.kind == "normal"]
    assert np.mean(exact) >= 0.97, f"{sum(exact)} of {len(exact)} within 0.5 ms"


def test_neural_detection_is_deterministic(neural_aligned):
    syn, session, grid, _, _ = neural_aligned
    before = torch.get_num_threads()
    a = neural_hits(session, grid)
    torch.set_num_threads(1)
    try:
        b = neural_hits(session, grid)
    finally:
        torch.set_num_threads(before)
    assert a == b


def test_training_runs_from_a_seed_and_its_weights_read_back(tmp_path):
    from aligner.model import load_weights, save_weights
    from aligner.train import TrainSettings, build_dataset, train

    examples = build_dataset([7, 8], workers=1, log=lambda m: None)
    settings = TrainSettings(seed=3, steps=3, batch=2, crop_frames=400)
    config = ModelConfig(channels=16, mic_channels=8, layers=4)
    model = train(config, settings, examples, log=lambda m: None)
    again = train(config, settings, examples, log=lambda m: None)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name  # one seed, one result
    path = save_weights(model, tmp_path / "m.safetensors", {"seed": 3})
    loaded, info = load_weights(path)
    assert info == {"seed": 3} and loaded.config == config
    e = examples[0]
    mics, roles = e.mics[:, :500].astype(np.float32), e.roles
    grid = e.grid[:500].astype(np.float32)
    np.testing.assert_array_equal(predict(model, mics, roles, grid)[0], predict(loaded, mics, roles, grid)[0])


def test_a_held_out_generated_session_aligns_end_to_end(tmp_path):
    # this session once made the planner close a segment shorter than its two crossfades (cut at the earliest
    # allowed point, filler from elsewhere): the plan must always be valid
    syn, swing = random_session(TEST_SEED_BASE + 5)
    folder = write_session(syn, tmp_path / "s")
    session = assign_roles(read_session(folder))
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    plan, events = align(session, grid, AlignConfig(detector="neural", swing_pct=round(swing, 3)))
    assert plan.validate() is plan and len(events) > 20


def test_nbd_detector_neural_writes_a_whole_output_set(tmp_path):
    from click.testing import CliRunner

    import cli

    folder = write_session(synthesise(SynthConfig(seed=4, bars=3, tempo_change_bar=2)), tmp_path / "s")
    result = CliRunner().invoke(cli.main, [str(folder), "--detector", "neural", "--no-aaf",
                                           "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "out" / "edits.json").read_text())
    assert doc["options"]["detector"] == "neural"
    assert len(doc["hits"]) > 30 and any(h["shift_samples"] != 0 for h in doc["hits"])
    assert len(list((tmp_path / "out" / "stems").glob("*.wav"))) == len(list(folder.glob("*.wav")))


def test_a_hat_without_a_hat_mic_sits_on_its_first_arrival_in_a_close_mic(tmp_path):
    # without a hat mic the hat reaches the snare mic ~2 ms before the overheads; an editor lines up the first arrival.
    # A hat within 10 ms of another drum is found but not held to 1 ms: the other drum's attack, the first arrival in
    # every close mic there, lies in the window the refinement searches, and that drum anchors the event.
    mics = tuple(m for m in SynthConfig().mics if m.close_to != "hihat")
    syn = synthesise(SynthConfig(seed=102, bars=4, mics=mics))
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    hits = neural_hits(session, SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples))
    hats = [h.position for h in hits if h.drum == "hihat"]
    truth = [st.sample for st in syn.strokes if st.drum == "hihat"]
    others = np.array([st.sample for st in syn.strokes if st.drum != "hihat"])
    window = 240  # 5 ms
    alone = [t for t in truth if np.min(np.abs(others - t)) > 2 * window]
    with_others = [t for t in truth if t not in alone]
    errors = [min(abs(p - t) for p in hats) for t in alone]
    assert len(alone) >= 10 and np.mean(np.array(errors) <= 48) >= 0.9, errors  # within 1 ms
    found = [t for t in with_others if min(abs(p - t) for p in hats) <= window]
    assert len(found) >= len(with_others) // 2, (len(found), len(with_others))



def test_strokes_of_a_drum_without_its_own_mic_go_on_the_timeline_of_the_mic_that_hears_it_first(monkeypatch):
    # A hat without a hat mic: the snare mic (track 0) hears it 30 samples before the kick mic (track 1), which places
    # most strokes (the snare mic is masked by snares, or its level does not rise clearly). The lags come from the
    # sound (aligner.arrival, stubbed here); every stroke goes on the snare mic's timeline, its level as heard.
    import aligner.neural as neural
    from types import SimpleNamespace

    reader = SimpleNamespace(session=SimpleNamespace(sample_rate_hz=48000))
    clear = [(f, [(1000 * f, 0, 0.5, 12.0), (1000 * f + 30, 1, 0.2, 12.0)]) for f in range(4)]
    masked = [(f, [(1000 * f + 90, 0, 0.9, 2.0), (1000 * f + 30, 1, 0.2, 12.0)]) for f in range(4, 10)]
    strokes = clear + masked
    lone = [True] * 4 + [False] * 6  # the snare strikes with the masked ones
    chosen = [(f, neural._earliest_clear(candidates, 48)) for f, candidates in strokes]
    assert [best[1] for _, best in chosen] == [0] * 4 + [1] * 6
    measured = []
    heard_first = -30

    def lags(reader, most, mics, spots, rate):
        measured.append((most, mics, spots))
        return {1: 0, 0: heard_first}

    monkeypatch.setattr(neural, "arrival_lags", lags)
    placed = neural._in_one_mic(reader, strokes, chosen, lone, NeuralSettings())
    assert measured == [(1, [0, 1], [1000 * f + 30 for f in range(4)])]  # the lone strokes, as the kick mic hears them
    assert [best[0] for _, best in placed] == [1000 * f for f in range(10)]
    assert placed[-1][1][1:] == (1, 0.2, 12.0)
    # too few strokes with no other drum near to measure on, or a lag the attacks found in the mics contradict (the
    # correlation followed another drum's sound): the strokes stay as heard
    assert neural._in_one_mic(reader, strokes, chosen, [True] * 3 + [False] * 7, NeuralSettings()) == chosen
    heard_first = -130
    assert neural._in_one_mic(reader, strokes, chosen, lone, NeuralSettings()) == chosen


def test_hats_without_a_hat_mic_sit_on_their_arrival_in_the_mic_that_hears_them_first(tmp_path):
    # Validation seed 500036 has no hat mic: the snare top mic hears the hat first (1.0 ms from it, bleed -24 dB),
    # a rack tom mic with bleed -4 dB 1.1 ms later, clearly every time, and places most hats. Of the 91 hats, 89 are
    # found within 5 ms; on the rack tom mic's timeline 2 were within 1 ms of their truth (their nearest mic), 85 now.
    hats, placed = _hats_within_1_ms(tmp_path, 36)
    assert hats == 91 and placed >= 85


def _hats_within_1_ms(tmp_path, k: int) -> tuple[int, int]:
    """Validation session ``k``'s hats, and how many of them the neural detector places within 1 ms."""
    syn, swing, session, grid = _validation_session(tmp_path, k)
    hats = [st for st in syn.strokes if st.drum == "hihat"]
    return len(hats), len(_found(neural_hits(session, grid, "1/16", swing), hats, "hihat",
                                 syn.config.sample_rate_hz // 1000))


REAL_KIT = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "drums" / "muldjordkit"


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_real_floor_toms_swelling_body_is_not_a_second_stroke(tmp_path):
    # MuldjordKit's floor tom swells 20-30 ms after its attack; the model hears a second stroke there, which would
    # become an event of its own. The level-rise check keeps one stroke per real stroke.
    from aligner.realkit import session_from_gmd
    from aligner.training_data import GMD_FOLDER

    syn = session_from_gmd(GMD_FOLDER / "drummer7/session1/17_hiphop_100_beat_4-4.mid", REAL_KIT, duration_s=8.0)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    hits = neural_hits(session, SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples))
    toms = [h.position for h in hits if h.drum == "tom"]
    truth = [st.sample for st in syn.strokes if st.drum == "floor_tom"]
    extra = [p for p in toms if not any(abs(p - t) <= 220 for t in truth)]  # 5 ms at 44.1 kHz
    assert len(truth) >= 5 and len(extra) <= 1, (truth, toms)


def _real_kit_take(tmp_path, take: str, skip_s: float):
    """20 s of a GMD take (``take`` under the GMD folder) from ``skip_s`` on, played on MuldjordKit's held-out hits,
    written and read back: (syn, session, grid)."""
    from aligner.realkit import session_from_gmd
    from aligner.training_data import GMD_FOLDER

    syn = session_from_gmd(GMD_FOLDER / take, REAL_KIT, duration_s=20.0, skip_s=skip_s)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    return syn, session, SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)


def _rock_prog_from_40_s(tmp_path):
    """A validation take (the decoding was chosen on these) on MuldjordKit's held-out hits, from 40 s on for 20 s: a
    floor tom groove under hats. (syn, session, grid)."""
    return _real_kit_take(tmp_path, "drummer1/session2/111_rock-prog_110_beat_5-4.mid", 40.0)


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_real_floor_tom_is_placed_by_its_own_mic_not_by_a_rack_tom_mic_hearing_the_hat_before_it(tmp_path,
                                                                                                    monkeypatch):
    # A floor tom groove under hats (a validation take of MuldjordKit's hits, from 40 s on). A rack tom mic, 30 dB
    # below the floor tom's own, rises most where the hat 6 ms before the floor tom arrives in it, and was
    # the earliest tom mic hearing "an attack": 7 floor toms were placed there, up to 6 ms early. Only mics within
    # 20 dB of the loudest place a tom now: all are placed by the floor tom's mic, 65 of 78 within 1 ms (62 before).
    import aligner.neural

    syn, session, grid = _rock_prog_from_40_s(tmp_path)
    truth = [st for st in syn.strokes if "tom" in st.drum]
    floor_mic = next(i for i, t in enumerate(session.tracks) if t.name == "Tom4")

    def placed() -> tuple[set[int], int]:
        toms = [h for h in neural_hits(session, grid) if h.drum == "tom"]
        return {h.track for h in toms}, len(_found(toms, truth, "floor_tom", session.sample_rate_hz // 1000))

    assert {st.drum for st in truth} == {"floor_tom"} and len(truth) == 78
    mics, within_1_ms = placed()
    assert mics == {floor_mic} and within_1_ms >= 65
    monkeypatch.setattr(aligner.neural, "_STRUCK_DRUM_DB", aligner.neural._AUDIBLE_DB)
    mics, within_1_ms = placed()
    assert len(mics) > 1 and within_1_ms <= 62


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_real_floor_tom_well_after_a_hat_is_rescued_though_the_model_hears_a_kick(tmp_path):
    # The same take: 6 floor toms 8-20 ms after a hat. The model hears them as kicks (tom 0.0), and the classic
    # detector finds them in the floor tom's mic, but a classic tom was not rescued where the model had any stroke
    # before it: the hat might be its source. Bleed arrives within the classic bleed window (8 ms), and louder than
    # the usual bleed it is no bleed: all 6 are found now (1 before), and 65 of the 78 floor toms are placed within
    # 1 ms (56 before), with no more false toms.
    syn, session, grid = _rock_prog_from_40_s(tmp_path)
    rate = session.sample_rate_hz
    truth = [st for st in syn.strokes if st.drum == "floor_tom"]
    after_hat = [st for st in truth if any(0.008 * rate < st.sample - o.sample < 0.02 * rate
                                           for o in syn.strokes if o.drum == "hihat")]

    def found(settings: NeuralSettings) -> tuple[int, int, int]:
        toms = [h for h in neural_hits(session, grid, settings=settings) if h.drum == "tom"]
        within_5_ms = _found(toms, truth, "floor_tom", rate // 200)
        within_1_ms = _found(toms, truth, "floor_tom", rate // 1000)
        return len(_found(toms, after_hat, "floor_tom", rate // 200)), len(within_1_ms), len(toms) - len(within_5_ms)

    assert len(after_hat) == 6
    now, before = found(NeuralSettings()), found(NeuralSettings(rescue_source_ms=1e9, rescue_by_level=False))
    assert now[:2] == (6, 65) and before[:2] == (1, 56) and now[2] <= before[2] + 1, (now, before)


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_loud_hat_the_model_hears_as_a_cymbal_too_is_no_cymbal(tmp_path):
    # The rock-prog take from 40 s on has no crash: the model hears 5 of its hats (on downbeats, where crashes go)
    # as a cymbal as well as a hat. Where the classic detector has the hat and no cymbal, the cymbal goes: 1 is
    # left, and all 47 hats are still found.
    syn, session, grid = _rock_prog_from_40_s(tmp_path)
    window = session.sample_rate_hz // 200
    hats = [st for st in syn.strokes if st.drum == "hihat"]

    def found(settings: NeuralSettings) -> tuple[int, int]:
        hits = neural_hits(session, grid, settings=settings)
        return sum(h.drum == "cymbal" for h in hits), len(_found(hits, hats, "hihat", window))

    assert not any(st.drum == "crash" for st in syn.strokes)
    (cymbals, hats_found), (cymbals_before, hats_before) = found(NeuralSettings()), \
        found(NeuralSettings(hat_cymbal_ms=0.0))
    assert (cymbals, cymbals_before) == (1, 5) and hats_found == hats_before == len(hats) == 47


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_crash_is_placed_by_the_overheads_not_early_in_a_ride_mic(tmp_path, monkeypatch):
    # A validation take on MuldjordKit's held-out hits, 40-60 s in: 4 crashes, each just after a kick. The kit has
    # ride mics but no crash mic; the ride mics, the cymbal class's own, hear a crash late and rise first where the
    # kick before it arrives. With the overheads placing cymbals too, 3 of the 4 are placed within 1 ms (1 before).
    import aligner.neural
    syn, session, grid = _real_kit_take(tmp_path, "drummer3/session1/18_rock_120_beat_4-4.mid", 40.0)
    crashes = [st for st in syn.strokes if st.drum == "crash"]

    def placed() -> tuple[set[str], int]:
        cymbals = [h for h in neural_hits(session, grid) if h.drum == "cymbal"]
        within_1_ms = _found(cymbals, crashes, "crash", session.sample_rate_hz // 1000)
        return {session.tracks[h.track].role for h in cymbals}, len(within_1_ms)

    assert len(crashes) == 4
    assert placed() == ({"overhead", "ride"}, 3)
    monkeypatch.setattr(aligner.neural, "_OVERHEADS_TOO", ())
    assert placed() == ({"ride"}, 1)


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_real_floor_tom_just_after_a_snare_is_rescued_where_its_mic_is_louder_than_the_snares_bleed(tmp_path):
    # A validation take (jazz swing at 215 BPM, 60-80 s in): 14 floor toms 0-8 ms after a snare, which the model
    # hears as the snare alone. The classic detector finds them in the floor tom's mic, but the snare just before
    # might have been the source of that onset. Where the floor tom mic is more than 6 dB louder than it usually is
    # at the snare mic's hits, it is no snare's bleed: 12 of the 14 are found (6 before), 104 of the 106 floor toms
    # within 1 ms (98), and no false tom more (4).
    syn, session, grid = _real_kit_take(tmp_path, "drummer10/session1/2_jazz-swing_215_beat_4-4.mid", 60.0)
    rate = session.sample_rate_hz
    truth = [st for st in syn.strokes if st.drum == "floor_tom"]
    after_snare = [st for st in truth if any(0 < st.sample - o.sample <= 0.008 * rate
                                             for o in syn.strokes if o.drum == "snare")]

    def found(settings: NeuralSettings) -> tuple[int, int, int]:
        toms = [h for h in neural_hits(session, grid, settings=settings) if h.drum == "tom"]
        within_5_ms = _found(toms, truth, "floor_tom", rate // 200)
        return (len(_found(toms, after_snare, "floor_tom", rate // 200)),
                len(_found(toms, truth, "floor_tom", rate // 1000)), len(toms) - len(within_5_ms))

    assert (len(truth), len(after_snare)) == (106, 14)
    assert found(NeuralSettings()) == (12, 104, 4)
    assert found(NeuralSettings(rescue_by_level=False)) == (6, 98, 4)


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_soft_real_hats_the_model_misses_are_rescued_from_the_hat_mic(tmp_path):
    # A validation take (merengue at 162 BPM, 140-160 s in) on MuldjordKit's held-out hits: the model, which never
    # heard a real hat in training, misses 6 of its 55 hats. The classic detector finds them in the hat mic, bleed
    # tested: 54 are found, none false (49 before, none false).
    merengue = "drummer5/session1/8_latin-venezuelan-merengue_162_beat_5-8.mid"
    syn, session, grid = _real_kit_take(tmp_path, merengue, 140.0)
    window = session.sample_rate_hz // 200
    hats = [st for st in syn.strokes if st.drum == "hihat"]

    def found(settings: NeuralSettings) -> tuple[int, int]:
        mine = [h for h in neural_hits(session, grid, settings=settings) if h.drum == "hihat"]
        return len(_found(mine, hats, "hihat", window)), len(mine) - len(_found(mine, hats, "hihat", window))

    assert len(hats) == 55
    assert found(NeuralSettings()) == (54, 0)
    assert found(NeuralSettings(rescue_classes=("tom",))) == (49, 0)


def test_a_rescued_hat_replaces_no_kick(tmp_path):
    # A validation session of the reference synthesiser (seed 315, 23 kicks). A tom the classic detector finds and
    # the model missed replaces the kick the model heard it as; a hat does not: where rescued hats dropped the kicks
    # near them as toms do, 4 of the 23 went.
    syn = synthesise(SynthConfig(seed=315, bars=8, far_off_per_bar=2))
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    kicks = [st for st in syn.strokes if st.drum == "kick"]

    def found(settings: NeuralSettings) -> int:
        return len(_found(neural_hits(session, grid, settings=settings), kicks, "kick", session.sample_rate_hz // 200))

    assert len(kicks) == 23 and "hihat" in NeuralSettings().rescue_classes
    assert found(NeuralSettings()) == 23
    assert found(NeuralSettings(rescue_replaces=(("tom", "kick"), ("hihat", "kick")))) == 19


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_kick_barely_heard_in_the_kick_mic_is_another_drum_not_a_kick(tmp_path):
    # The same take: MuldjordKit's unplayed second kick drum rings with the floor tom, and the model hears kicks in
    # its mic. Read in the played kick's mic, some are under 0.04 of the loudest kick there: they go, as the classic
    # detector drops any close-mic onset that soft. 5 false kicks (more than 5 ms from a played one) -> 3 (7 -> 5
    # before kicks went to the main kick mic where it hears them; 4 -> 3 since floor toms well after a hat are
    # rescued in place of the kicks the model hears there); the 22 of 23 played kicks stay.
    syn, session, grid = _rock_prog_from_40_s(tmp_path)
    assert len([st for st in syn.strokes if st.drum == "kick"]) == 23
    assert _true_and_false_kicks(syn, session, grid, NeuralSettings()) == (22, 3)
    assert _true_and_false_kicks(syn, session, grid, NeuralSettings(min_strength_classes=())) == (22, 4)


def test_neural_event_confidence_is_the_models_certainty_about_the_line(neural_aligned):
    # distance to the line says nothing about a line the model chose: a stroke 45 % off that the model is sure of is
    # not doubtful, and the review list is not filled with right decisions
    *_, events = neural_aligned
    assert all(0.0 <= h.line_confidence <= 1.0 for e in events for h in e.strokes)
    far_sure = [e for e in events if abs(e.line.sample - e.anchor.position) > 0.375 * e.step_samples
                and e.anchor.line_confidence >= 0.9 and e.anchor.strength >= 0.1]
    assert len(far_sure) >= 3 and all(e.confidence == 1.0 and not e.doubtful for e in far_sure)


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
@pytest.mark.parametrize("take", ["drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid",
                                  "drummer5/session1/8_latin-venezuelan-merengue_162_beat_5-8.mid"])
def test_a_kick_is_placed_in_its_own_drums_mic_not_on_bleed_in_a_second_kick_mic(tmp_path, take):
    # MuldjordKit has two kick drums; the unplayed one's mic hears the snare and hats a few ms before the played
    # kick's attack. Those earlier attacks are bleed, not the kick: every kick sits within 1 ms of its attack. In the
    # merengue take two soft kicks after a hat rise 6-7 dB in that mic, 65 dB below the played kick's mic, 2-3 ms early.
    from aligner.realkit import session_from_gmd
    from aligner.training_data import GMD_FOLDER

    syn = session_from_gmd(GMD_FOLDER / take, REAL_KIT, duration_s=20.0)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    hits = neural_hits(session, SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples))
    kicks = np.array([h.position for h in hits if h.drum == "kick"])
    errors = [int(np.min(np.abs(kicks - st.sample))) for st in syn.strokes if st.drum == "kick"]
    rate = syn.config.sample_rate_hz
    assert len(errors) >= 20 and all(e <= rate // 1000 for e in errors), errors


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_kick_trigger_finds_kicks_but_never_places_them(tmp_path):
    # MuldjordKit's kick trigger fires 5.6-8.2 ms after the kick mic's attack. Soft kicks with a hat just before
    # them rise little in the kick mic, and were placed on the trigger's pulse (2 of 41 kicks on this take).
    from aligner.realkit import session_from_gmd
    from aligner.training_data import GMD_FOLDER

    syn = session_from_gmd(GMD_FOLDER / "drummer6/session1/2_rock_70_beat_6-8.mid", REAL_KIT, duration_s=20.0)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    hits = neural_hits(session, SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples))
    assert not [h for h in hits if session.tracks[h.track].name == "Trigger"]
    kicks = np.array([h.position for h in hits if h.drum == "kick"])
    errors = [int(np.min(np.abs(kicks - st.sample))) for st in syn.strokes if st.drum == "kick"]
    assert len(errors) >= 40 and all(e <= syn.config.sample_rate_hz // 1000 for e in errors), errors


@pytest.mark.parametrize("drum", ["floor_tom", "rack_tom"])
def test_toms_played_on_their_own_are_found(drum, tmp_path):
    # a floor-tom groove, or a tom fill after a stop: eighth notes on one tom with nothing else playing. The shipped
    # model heard toms only in fills between kicks and snares: alone, it reports 0-5 of them, most as kicks heard in
    # the kick mic; the classic detector's toms (bleed-tested) fill in where the model has nothing it confirms. The
    # weights of 2026-12-05 hear two floor toms as kicks, and as toms only in a weak peak 6-7 ms early whose search
    # window misses the attack: the classic stroke replaces those too (14 of 16 found without that).
    session, grid, strokes = groove_session(tmp_path, [(drum, 100, k, 0) for k in range(0, 16, 2)], bars=2, bpm=120)
    hits = neural_hits(session, grid)
    found = _found(hits, strokes, drum, session.sample_rate_hz // 200)
    assert len(found) >= 15, f"{len(found)} of {len(strokes)} found"
    assert not [h for h in hits if h.drum != "tom"]  # the kick mics hear the toms too: no kicks from that
    assert len(hits) == len(strokes)  # and no stroke is reported twice


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_a_real_floor_tom_in_the_snare_mic_is_not_a_snare(tmp_path):
    # A jazz take at 215 BPM played on the floor tom, no snare at all (a validation take: the decoding was chosen on
    # these): the model hears the floor tom in MuldjordKit's snare mics as a snare, 3 times in 20 s (12 times with
    # the weights of 2026-12-04). Snare strokes the classic detector does not confirm, whose mic is no louder than it
    # usually is at the tom's hits, go.
    from aligner.realkit import session_from_gmd
    from aligner.training_data import GMD_FOLDER

    syn = session_from_gmd(GMD_FOLDER / "drummer10/session1/2_jazz-swing_215_beat_4-4.mid", REAL_KIT, duration_s=20.0)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    toms = [st for st in syn.strokes if st.drum == "floor_tom"]
    assert len(toms) >= 100 and not [st for st in syn.strokes if st.drum == "snare"]

    five_ms = syn.config.sample_rate_hz // 200
    truth = np.array([st.sample for st in toms])

    def snares_and_toms(settings: NeuralSettings) -> tuple[int, int, int]:
        hits = neural_hits(session, grid, settings=settings)
        mine = [h.position for h in hits if h.drum == "tom"]
        return (len([h for h in hits if h.drum == "snare"]), len(_found(hits, toms, "floor_tom", five_ms)),
                len([p for p in mine if np.min(np.abs(truth - p)) > five_ms]))

    snares, found, extra = snares_and_toms(NeuralSettings())
    snares_before, found_before, _ = snares_and_toms(NeuralSettings(bleed_classes=("hihat",)))
    assert snares_before >= 3 and snares <= 2, (snares_before, snares)
    assert found == found_before >= len(toms) - 3
    # the floor tom still ringing 25 ms and 110-190 ms after a stroke, in its own and the other toms' mics, is heard
    # by the model as toms at 0.5-0.8: the ring check drops them
    _, _, extra_unchecked = snares_and_toms(NeuralSettings(ring_sure=0.0))
    assert extra <= 1 and extra_unchecked >= 6, (extra, extra_unchecked)


@pytest.mark.skipif(not REAL_KIT.exists(), reason=f"{REAL_KIT} not present")
def test_an_unplayed_kick_drum_ringing_with_the_floor_tom_is_not_a_kick(tmp_path):
    # MuldjordKit has a second kick drum nobody plays; its mic (KdrumR) hears the floor tom louder than the played
    # kick's mic does, and the model reports kicks 3-4 ms after three floor toms of this jazz take (a validation take:
    # the decoding was chosen on these). The played kick's mic is 40 dB louder than KdrumR at every real kick, 4-14 dB
    # quieter at those: out of the kick's balance, they go. Placed in the played kick's mic, as a stroke no mic
    # clearly hears is now, they are also under 0.04 of its loudest kick (`min_strength`): either check drops them,
    # and without both, one stays (two with the weights of 2026-12-04; the floor tom the classic detector finds
    # replaces the others).
    from aligner.realkit import session_from_gmd
    from aligner.training_data import GMD_FOLDER

    syn = session_from_gmd(GMD_FOLDER / "drummer10/session1/2_jazz-swing_215_beat_4-4.mid", REAL_KIT, duration_s=20.0)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    assert len([st for st in syn.strokes if st.drum == "kick"]) == 2
    assert _true_and_false_kicks(syn, session, grid, NeuralSettings()) == (2, 0)
    assert _true_and_false_kicks(syn, session, grid, NeuralSettings(min_strength_classes=())) == (2, 0)
    neither = NeuralSettings(balance_classes=(), min_strength_classes=())
    assert _true_and_false_kicks(syn, session, grid, neither)[1] >= 1


def _true_and_false_kicks(syn, session, grid, settings: NeuralSettings) -> tuple[int, int]:
    """How many kicks the neural detector with ``settings`` reports within 5 ms of a played one, and how many
    not."""
    kicks = np.array([st.sample for st in syn.strokes if st.drum == "kick"])
    mine = [h.position for h in neural_hits(session, grid, settings=settings) if h.drum == "kick"]
    near = [np.min(np.abs(kicks - p)) <= session.sample_rate_hz // 200 for p in mine]
    return sum(near), len(near) - sum(near)


def test_a_double_kicks_two_drums_both_stay_and_a_soft_stroke_out_of_balance_goes(tmp_path):
    # Two kick drums, each with its own mic hearing the other 30 dB down: both drums' strokes are loud and in the
    # balance of their own loud strokes, and so is a soft stroke of either. A soft stroke that both mics hear at
    # about the same level (another drum ringing in them) matches neither balance.
    import soundfile as sf

    from aligner.neural import _in_balance
    from session_io.audio import SessionReader

    rate = 48000
    burst = np.exp(-np.arange(rate // 50) / (rate / 500)) * np.sin(np.arange(rate // 50) * 0.3)
    strokes = [(4800 * (k + 1), "kick", gains) for k, gains in enumerate(
        [(1.0, 0.03), (0.03, 1.0), (1.0, 0.03), (0.03, 1.0), (0.05, 0.0015), (0.0015, 0.05), (0.002, 0.002)])]
    left, right = np.zeros(4800 * 9), np.zeros(4800 * 9)
    for position, _, (gain_left, gain_right) in strokes:
        left[position:position + len(burst)] += gain_left * 0.5 * burst
        right[position:position + len(burst)] += gain_right * 0.5 * burst
    folder = tmp_path / "double"
    folder.mkdir()
    sf.write(folder / "Kick L.wav", left, rate, subtype="PCM_24")
    sf.write(folder / "Kick R.wav", right, rate, subtype="PCM_24")
    session = assign_roles(read_session(folder))
    found = [(position, drum, 0, 0.5, 0, None) for position, drum, _ in strokes]
    with SessionReader(session) as reader:
        kept = _in_balance(session, reader, found, NeuralSettings())
    assert [stroke[0] for stroke in kept] == [position for position, *_ in strokes[:6]]


def test_a_session_whose_mics_have_no_drum_names_still_has_its_strokes_placed(tmp_path, caplog):
    # "Audio 1" … "Audio 9": no mic says which drum it hears. The classic detector finds nothing there; the model
    # hears every mic, and each stroke goes to the mic that hears its attack first.
    session, grid, strokes = groove_session(tmp_path, [("kick", 100, 0, 0), ("snare", 100, 4, 0),
                                                        ("kick", 90, 8, 0), ("snare", 100, 12, 0)], bars=4)
    folder = Path(session.path)
    for k, f in enumerate(sorted(folder.glob("*.wav"))):
        f.rename(folder / f"Audio {k + 1}.wav")
    caplog.clear()
    session = assign_roles(read_session(folder))
    assert {t.role for t in session.tracks} == {"other"} and "no mic is named" in caplog.text
    hits = neural_hits(session, grid)
    positions = np.array([h.position for h in hits])
    placed = [s for s in strokes if np.min(np.abs(positions - s.sample)) <= session.sample_rate_hz // 1000]
    assert len(placed) >= 14, f"{len(placed)} of {len(strokes)} within 1 ms"


def _found(hits, strokes, drum, window):
    """Strokes of ``drum`` that a hit of the drum's class places within ``window`` samples."""
    from aligner.synth import DRUM_CLASS

    mine = np.array([h.position for h in hits if h.drum == DRUM_CLASS[drum]])
    return [s for s in strokes if s.drum == drum and len(mine) and np.min(np.abs(mine - s.sample)) <= window]


def test_ghost_notes_after_backbeats_are_found(tmp_path):
    # A ghost-heavy validation session (where the decoding was chosen): a ghost snare 100-200 ms after a backbeat
    # rises less than 3 dB over its ring, which for a floor tom means the first stroke still sounding; for snares it
    # does not (the check dropped 14 of these 46 ghosts).
    from aligner.training_data import VALIDATION_SEED_BASE

    syn, swing = random_session(VALIDATION_SEED_BASE + 13)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    rate = syn.config.sample_rate_hz
    grid = SessionGrid(syn.tempo_map, rate, syn.origin_samples)
    ghosts = [st for st in syn.strokes if st.drum == "snare" and st.kind == "ghost"]

    def found(settings: NeuralSettings) -> int:
        snares = np.array([h.position for h in neural_hits(session, grid, "1/16", swing, settings=settings)
                           if h.drum == "snare"])
        return sum(bool(np.min(np.abs(snares - st.sample)) <= rate // 200) for st in ghosts)

    before = found(NeuralSettings(ring_classes=CLASSES, ring_sure=np.inf, template_classes=()))
    now = found(NeuralSettings())
    assert len(ghosts) >= 40 and now >= 0.95 * len(ghosts) and before <= now - 10, (now, before, len(ghosts))


def test_a_hat_mic_hearing_the_snare_gives_no_hats_where_none_are_played(tmp_path):
    # Kick and snare only, on a kit whose hat mic hears the snare: the model takes the snare in the hat mic for a
    # hat at every backbeat. Measured against what the hat mic hears at snares with no classic hat, they go.
    parts = [("kick", 110, 0, 0), ("snare", 110, 4, 0), ("kick", 100, 8, 0), ("kick", 90, 10, 0),
             ("snare", 110, 12, 0)]
    session, grid, strokes = groove_session(tmp_path, parts)
    hits = neural_hits(session, grid)
    window = session.sample_rate_hz // 200
    assert not [h for h in hits if h.drum == "hihat"]
    for drum in ("kick", "snare"):
        assert len(_found(hits, strokes, drum, window)) == len([s for s in strokes if s.drum == drum])


def test_a_hat_struck_with_every_snare_is_not_taken_for_the_snares_bleed(tmp_path):
    # Validation seed 500085 plays a hat with every snare. Measured at the snares, the hat mic's usual level is that
    # of the hats themselves, so half the hats there were dropped as the snare's bleed. As loud in the hat mic as the
    # hats heard alone there, they are hats: all 38 are found (18 before).
    syn, swing, session, grid = _validation_session(tmp_path, 85)
    hats = [st for st in syn.strokes if st.drum == "hihat"]

    def found(settings: NeuralSettings) -> int:
        return len(_found(neural_hits(session, grid, "1/16", swing, settings=settings), hats, "hihat",
                          session.sample_rate_hz // 200))

    assert len(hats) == 38
    assert (found(NeuralSettings()), found(NeuralSettings(bleed_own_db=float("-inf")))) == (38, 18)


def _validation_session(tmp_path, k: int):
    """Validation session ``k`` (where the decoding was chosen), written and read back: (syn, swing, session, grid)."""
    from aligner.training_data import VALIDATION_SEED_BASE

    syn, swing = random_session(VALIDATION_SEED_BASE + k)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    return syn, swing, session, SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)


def _lone_ghost_snares(syn) -> list:
    """The ghost snares with no other stroke within 50 ms."""
    everything = np.array([st.sample for st in syn.strokes])
    reach = syn.config.sample_rate_hz // 20
    return [st for st in syn.strokes if st.drum == "snare" and st.kind == "ghost"
            and np.sum(np.abs(everything - st.sample) < reach) == 1]


def test_a_ghost_note_with_no_attack_to_see_is_placed_at_the_models_frame_not_early(tmp_path):
    # A ghost snare under the ring of the stroke before rises 0-3 dB in its mics: the first frame of the window the
    # refinement searches was as good as any, and 5 ms early. Validation seed 500004 (where the decoding was chosen)
    # has 14 ghost snares with no other stroke within 50 ms; 12 were found within 5 ms before, 13 now.
    from dataclasses import replace

    syn, swing, session, grid = _validation_session(tmp_path, 4)
    rate = syn.config.sample_rate_hz
    lone = _lone_ghost_snares(syn)

    def found(settings: NeuralSettings) -> int:
        return len(_found(neural_hits(session, grid, "1/16", swing, settings=settings), lone, "snare", rate // 200))

    assert len(lone) == 14
    assert found(NeuralSettings()) >= 13
    assert found(replace(NeuralSettings(), faint_rise_db=float("-inf"))) <= 12  # the first frame of the window


def test_a_faint_ghost_note_is_placed_between_model_frames_where_the_model_says_it_lies(tmp_path, monkeypatch):
    # The model reports 5 ms frames. A ghost too faint to show an attack is placed from the model's frame alone: at
    # the frame's centre it is up to 2.5 ms off; moved toward the likelier neighbour frame, within 1 ms more often.
    # The 29 lone ghost snares of validation seed 500096: 27 within 1 ms, 25 at frame centres. (Seeds 500004 and
    # 500085 showed it first; since the snare mic's template places most of their ghosts, and with the weights of
    # 2026-12-05, centres and interpolation place as many there.)
    import aligner.neural as neural

    syn, swing, session, grid = _validation_session(tmp_path, 96)
    rate = syn.config.sample_rate_hz
    lone = _lone_ghost_snares(syn)

    def within_1_ms() -> int:
        return len(_found(neural_hits(session, grid, "1/16", swing), lone, "snare", rate // 1000))

    assert len(lone) == 29 and within_1_ms() >= 27
    monkeypatch.setattr(neural, "_peak_position", lambda p, f: f + 0.5)  # each frame's centre
    assert within_1_ms() <= 25


@pytest.mark.parametrize("lead_ms", [0.0, 2.0, 10.0])
def test_a_session_that_starts_on_its_first_stroke_places_that_stroke_on_its_attack(tmp_path, lead_ms):
    # A region exported from its first downbeat starts on the kick. The refinement skipped frames without 12 ms of
    # past, so such a kick sat 13 ms late, on the first frame it looked at, and its event moved 13 ms too far.
    import soundfile as sf

    syn = synthesise(SynthConfig(seed=100, bars=4))
    rate = syn.config.sample_rate_hz
    cut = syn.strokes[0].sample - round(lead_ms * rate / 1000)
    folder = write_session(syn, tmp_path / "s")
    for wav in folder.glob("*.wav"):
        audio, _ = sf.read(str(wav), always_2d=True, dtype="float32")
        sf.write(str(wav), audio[cut:], rate, subtype="PCM_24")
    session = assign_roles(read_session(folder))
    hits = neural_hits(session, SessionGrid(syn.tempo_map, rate, syn.origin_samples - cut))
    first = [st for st in syn.strokes if st.sample - cut < rate // 50]  # the strokes of its first 20 ms
    assert {st.drum for st in first} == {"kick", "hihat"}
    for st in first:
        mine = [h.position for h in hits if h.drum == st.drum]  # kick and hihat are class names too
        assert min(abs(p - (st.sample - cut)) for p in mine) <= rate // 1000, (st.drum, mine[:2], st.sample - cut)


def test_a_soft_kick_just_after_a_hat_is_placed_on_its_own_attack_not_on_the_hats_bleed(tmp_path):
    # In validation seed 500010 the kick mics hear the hat loudly and the kick is soft: the classic detector's onset
    # nearest the model's frame was often the hat's attack arriving in the kick mics 1-8 ms before the kick's own.
    # Onsets that the classic bleed test gives to another drum now place no stroke. Of the 10 kicks played within
    # 10 ms after a hat, 6 were placed within 1 ms of their attack; 8 now.
    from dataclasses import replace

    syn, swing, session, grid = _validation_session(tmp_path, 10)
    after_hat = _just_after(syn, "kick", 10.0, lambda drum: drum == "hihat")
    assert len(after_hat) == 10
    assert _placed_within_1_ms(session, grid, swing, after_hat, NeuralSettings()) >= 8
    unchecked = replace(NeuralSettings(), snap_past_bleed=(), snap_unclaimed=False, template_classes=())
    assert _placed_within_1_ms(session, grid, swing, after_hat, unchecked) <= 6


def _just_after(syn, drum: str, within_ms: float, other) -> list:
    """The strokes of ``drum`` in ``syn`` played less than ``within_ms`` after a stroke whose drum ``other``
    accepts."""
    reach = syn.config.sample_rate_hz * within_ms / 1000
    return [st for st in syn.strokes if st.drum == drum and any(
        other(o.drum) and 0 < st.sample - o.sample < reach for o in syn.strokes)]


def _placed_within_1_ms(session, grid, swing, strokes: list, settings: NeuralSettings, drum: str = "kick") -> int:
    """How many of ``strokes`` (of ``drum``) the neural detector with ``settings`` places within 1 ms of their
    attack."""
    hits = neural_hits(session, grid, "1/16", swing, settings=settings)
    return len(_found(hits, strokes, drum, session.sample_rate_hz // 1000))


def test_a_soft_kick_after_a_ghost_snare_in_a_bleedy_kick_mic_is_not_placed_on_the_snares_arrival(tmp_path):
    # Validation seed 500009: a kick mic 6 dB from the rest of the kit, soft kicks (velocity 29-36) 5-30 ms after
    # ghost snares. Where the kick mic has no onset of the kick's own, the largest level rise near the model's frame
    # was the snare arriving in the kick mic, up to 10 ms early. Such arrivals (onsets the classic bleed test gives
    # to another drum) no longer count as the kick's rise where another frame rises: of the 18 kicks played within
    # 20 ms after another drum, 4 were placed within 1 ms of their attack; 6 now (5 and 7 since attacks under a ring
    # are found on a prediction of the ring; 7 and 9 with the weights of 2026-12-05).
    from dataclasses import replace

    syn, swing, session, grid = _validation_session(tmp_path, 9)
    after_other = _just_after(syn, "kick", 20.0, lambda drum: drum != "kick")
    assert len(after_other) == 18
    assert _placed_within_1_ms(session, grid, swing, after_other, NeuralSettings()) >= 9
    assert _placed_within_1_ms(session, grid, swing, after_other, replace(NeuralSettings(), rise_past_bleed=())) <= 7


def test_hats_heard_faintly_in_their_nearest_mic_go_on_its_timeline(tmp_path):
    # Validation seed 500060 has no hat mic: its nearest mic, the snare top, hears the hats at its noise floor and its
    # level never rises clearly; the rack tom mic places most, 1.0 ms later. The lag measured on the sound moves them
    # onto the snare mic's timeline: 4 of the 35 hats were within 1 ms of their truth, 32 now.
    hats, placed = _hats_within_1_ms(tmp_path, 60)
    assert hats == 35 and placed >= 30


def test_a_floor_tom_groove_without_its_own_mic_keeps_the_strokes_the_model_is_sure_of(tmp_path):
    # Validation seed 500519 plays a jazz take's ride pattern on a floor tom that has no mic of its own (the session
    # has kick, snare and rack tom mics). The rack tom mic hears it under the hats and its own ring and rises less
    # than 3 dB at 14 of its 117 strokes, which the ring check for a drum still sounding dropped, where the model is
    # 0.7-1.0 sure of them: 103 were found within 5 ms, 109 with those kept. A stroke whose attack matches the floor
    # tom's template in that mic is kept too, however sure the model: 111.
    syn, swing, session, grid = _validation_session(tmp_path, 519)
    toms = [st for st in syn.strokes if st.drum == "floor_tom"]

    def found(settings: NeuralSettings) -> int:
        hits = neural_hits(session, grid, "1/16", swing, settings=settings)
        return len(_found(hits, toms, "floor_tom", syn.config.sample_rate_hz // 200))

    assert len(toms) == 117 and found(NeuralSettings()) >= 111 and found(NeuralSettings(template_classes=())) <= 109


def test_a_soft_hat_under_the_wash_of_a_louder_one_is_a_stroke(tmp_path):
    # Validation seed 500053 plays 16th hats at 96 kHz; a v56-66 hat after a louder one rises less than 3 dB in the
    # hat mic, where the model is sure of it (0.7-1.0). With the ring check for a drum still sounding, 115 of the 141
    # hats were found within 5 ms, all of them within 1 ms; without it 132 and 127. Such a soft hat sounds duller
    # than the loud ones the hat mic's template was made of, and the best match with that put three 1.7-2.6 ms off:
    # matched against the softest clear attacks too, 130 are placed within 1 ms.
    hats, placed = _hats_within_1_ms(tmp_path, 53)
    assert hats == 141 and placed >= 130


def test_a_snare_just_after_a_hat_is_placed_on_its_own_attack_not_on_the_hats_bleed(tmp_path):
    # Validation seed 500041 (96 kHz) plays 9 backbeats less than 10 ms after a hat. The hat arrives in the snare
    # mic first, and for those 4.7-8.2 ms after it the classic detector's 12 ms hold takes that for the mic's only
    # onset: the snare was placed there and then dropped as the hat's bleed (6 of the 9 within 1 ms). Now the hat's
    # bleed onsets neither place a snare nor count as its rise: 8.
    syn, swing, session, grid = _validation_session(tmp_path, 41)
    after_hat = _backbeats_just_after_a_hat(syn)

    def placed(settings: NeuralSettings) -> int:
        return _placed_within_1_ms(session, grid, swing, after_hat, settings, "snare")

    on_bleed = NeuralSettings(snap_past_bleed=("kick", "tom", "hihat", "cymbal"), rise_past_bleed=("kick",),
                              snap_unclaimed=False, template_classes=())
    assert len(after_hat) == 9 and placed(NeuralSettings()) >= 8 and placed(on_bleed) <= 6


def test_an_onset_before_a_snare_that_is_nearer_the_models_hat_does_not_place_the_snare(tmp_path):
    # Validation seed 500099 has no hat mic: the snare mic hears the hats first, and 5 backbeats come less than
    # 10 ms after a hat. The classic detector's onset in the snare mic there is the hat's (the snare's own is inside
    # its 12 ms hold), up to 10 ms before the model's snare, where the refinement may look for a soft attack: none of
    # those snares was placed within 1 ms. An onset before the window that the model's hat is nearer to is now not
    # the snare's: 3 are.
    syn, swing, session, grid = _validation_session(tmp_path, 99)
    after_hat = _backbeats_just_after_a_hat(syn)

    def placed(settings: NeuralSettings) -> int:
        return _placed_within_1_ms(session, grid, swing, after_hat, settings, "snare")

    assert len(after_hat) == 5 and placed(NeuralSettings()) >= 3 and placed(NeuralSettings(snap_unclaimed=False)) == 0


def _backbeats_just_after_a_hat(syn) -> list:
    """The snares of ``syn`` that are no ghost notes, played less than 10 ms after a hat."""
    return [st for st in _just_after(syn, "snare", 10.0, lambda drum: drum.startswith("hihat")) if st.kind == "normal"]



def test_ghost_notes_are_placed_where_they_match_the_snares_clear_attacks(tmp_path):
    # Validation seed 500021: most of its 17 ghost snares rise less than 3 dB in the snare mics, so the model's 5 ms
    # frame placed them, 1.3-3 ms late. Matched against the average of the snare mic's clear attacks, 16 are placed
    # within 1 ms; 13 without.
    syn, swing, session, grid = _validation_session(tmp_path, 21)
    ghosts = [st for st in syn.strokes if st.drum == "snare" and st.kind == "ghost"]
    assert len(ghosts) == 17
    assert _placed_within_1_ms(session, grid, swing, ghosts, NeuralSettings(), "snare") >= 16
    assert _placed_within_1_ms(session, grid, swing, ghosts, NeuralSettings(template_classes=()), "snare") <= 13


def test_a_backbeat_just_after_a_hat_is_not_taken_for_the_hats_bleed(tmp_path):
    # Validation seed 500057: a backbeat 5.4 ms after a hat, placed on its own attack, was dropped as the hat's bleed:
    # the bleed check read the snare mic from 1 ms before to 5 ms after the hat, which misses the snare's attack, and
    # found the level the hat usually leaves there. It now reads on to 5 ms into the stroke: all 10 backbeats less
    # than 10 ms after a hat are placed within 1 ms (9 before).
    syn, swing, session, grid = _validation_session(tmp_path, 57)
    after_hat = _backbeats_just_after_a_hat(syn)
    assert len(after_hat) == 10
    assert _placed_within_1_ms(session, grid, swing, after_hat, NeuralSettings(), "snare") == 10


def test_a_ghost_snare_no_mic_clearly_hears_is_placed_by_the_snare_mic_placing_most_snares(tmp_path):
    # Validation seed 500022 has a snare top and a snare bottom mic. Most of its ghost snares rise a dB or two in
    # each, so the one rising most, often the bottom mic, placed them, 1.5-2.7 ms late: that mic places too few clear
    # snares to have a template to match them against. Such a stroke now goes to the mic that clearly hears most
    # snares (the top): of the 39 ghosts, 33 are placed within 1 ms (30 before, 34 with the weights of 2026-12-04)
    # and none in the bottom mic (11 before), and every event the truth anchors on a ghost snare (23) is anchored
    # within 1 ms of it.
    syn, swing, session, grid = _validation_session(tmp_path, 22)
    bottom = next(i for i, t in enumerate(session.tracks) if t.name == "Snare Bottom")
    hits = neural_hits(session, grid, "1/16", swing)
    ghosts = [st for st in syn.strokes if st.drum == "snare" and st.kind == "ghost"]
    tol = session.sample_rate_hz // 1000
    assert len(ghosts) == 39 and len(_found(hits, ghosts, "snare", tol)) >= 33
    assert not [h for h in hits if h.drum == "snare" and h.track == bottom]
    events = make_events(hits, grid, session.length_samples, EventSettings(swing_pct=swing))
    anchor_at = {e.line.sample: e.anchor.position for e in events}
    on_ghosts = [(line, st) for line, st in truth_events(syn.strokes).items() if st.kind == "ghost"]
    assert len(on_ghosts) == 23
    assert all(abs(anchor_at.get(line, -10**9) - st.sample) <= tol for line, st in on_ghosts)


@pytest.mark.parametrize("k", [8, 99])
def test_a_kick_is_placed_in_its_main_mic_not_where_an_outside_mic_hears_the_stroke_before_it(tmp_path, k):
    # Validation seeds 500008 (kick in and kick out mics) and 500099 (kick sub and kick in): the mic further from the
    # beater hears the hat played 2-5 ms before a kick earlier than the kick, rising clearly there, and as the
    # earliest mic clearly hearing an attack it placed that kick 1.6 and 3.1 ms early. Where the main kick mic (the
    # one clearly hearing most kicks) clearly hears a kick, it places it: all 12 and 26 kicks within 1 ms (11 and 25).
    syn, swing, session, grid = _validation_session(tmp_path, k)
    kicks = [st for st in syn.strokes if st.drum == "kick"]
    placed = _placed_within_1_ms(session, grid, swing, kicks, NeuralSettings())
    assert len(kicks) == {8: 12, 99: 26}[k] and placed == len(kicks)


def test_a_snare_placed_in_a_second_snare_mic_is_read_in_the_mic_placing_most_snares():
    # A snare bottom mic places the few snares whose attack it hears first. Read there, its loudest stroke, a ghost,
    # was 1.0 and no ghost any more. A kick, snare or hat is read in the mic placing most of its strokes (mic 0 here);
    # toms are several drums, so each tom keeps the reading of the mic placing it (mic 1 or 2).
    import aligner.neural as neural
    from types import SimpleNamespace

    peaks = {0: {1000 * k: 0.8 for k in range(6)} | {6000: 0.1}, 1: {6000: 0.5, 7000: 0.2, 8000: 0.5}, 2: {9000: 0.3}}
    reader = SimpleNamespace(read_track=lambda mic, a, b: np.full((b - a, 1), peaks[mic].get(a, 0.0)))
    found = [(1000 * k, "snare", 0, 0.8, 0, None) for k in range(6)] + [(6000, "snare", 1, 0.5, 0, None)]
    found += [(7000, "tom", 1, 0.2, 0, None), (8000, "tom", 1, 0.5, 0, None), (9000, "tom", 2, 0.3, 0, None)]
    strengths = neural._strengths(reader, found, 48)
    assert strengths[:6] == [1.0] * 6 and strengths[6] == pytest.approx(0.125)
    assert strengths[7:] == [pytest.approx(0.4), 1.0, 1.0]


def test_a_loud_backbeat_moved_onto_its_attack_is_read_at_its_own_peak_not_as_a_ghost(tmp_path):
    # Validation seed 500018: a velocity-125 snare 3.8 ms after a hat. The refinement read its peak around the model's
    # frame, a window that ended 1 ms into the attack the template match then moved the stroke to: 0.17 of the snare
    # mic's loudest, a ghost, and its event anchored on the hat. Read from where it is placed, every snare of velocity
    # 100 or more that is placed within 1 ms is above the ghost threshold (27 of 28 before).
    syn, swing, session, grid = _validation_session(tmp_path, 18)
    hits = [h for h in neural_hits(session, grid, "1/16", swing) if h.drum == "snare"]
    positions = np.array([h.position for h in hits])
    loud = [st for st in syn.strokes if st.drum == "snare" and st.velocity >= 100]
    placed = [hits[int(np.argmin(np.abs(positions - st.sample)))] for st in loud]
    placed = [h for h, st in zip(placed, loud) if abs(h.position - st.sample) <= session.sample_rate_hz // 1000]
    assert len(loud) == len(placed) == 28
    assert min(h.strength for h in placed) >= EventSettings().ghost_strength


def test_a_floor_tom_the_model_misses_just_before_a_hat_is_rescued_from_its_mic(tmp_path):
    # Validation seed 500882 plays a floor tom groove with no floor tom mic; the model gives a floor tom 8 ms before a
    # hat 0.00. The classic detector hears it in the rack tom mic, but the rescue took the hat near it for the source
    # of that onset, though bleed arrives after its source, not 8 ms before. A stroke can be the source only up to
    # 2 ms after the onset now: that floor tom is placed within 1 ms, one more of the 114, and no other is lost.
    syn, swing, session, grid = _validation_session(tmp_path, 882)
    toms = [st for st in syn.strokes if st.drum == "floor_tom"]
    hat_after = [st for st in toms if any(0 < o.sample - st.sample < session.sample_rate_hz // 100
                                          for o in syn.strokes if o.drum == "hihat")]

    def placed(settings: NeuralSettings) -> list:
        hits = neural_hits(session, grid, "1/16", swing, settings=settings)
        return _found(hits, toms, "floor_tom", session.sample_rate_hz // 1000)

    now, before = placed(NeuralSettings()), placed(NeuralSettings(rescue_lead_ms=1e9))
    assert len(toms) == 114 and len(now) >= 104
    gained = [st for st in now if st not in before]
    assert set(map(id, before)) < set(map(id, now)) and len(gained) == 1 and gained[0] in hat_after
