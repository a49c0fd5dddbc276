"""The session synthesiser: truth that matches the audio, mic delays, polarity, determinism."""
import json

import numpy as np
import soundfile as sf

from aligner.synth import SynthConfig, synthesise, write_session
from grid import read_tempo_map
from session_io import read_session

SMALL = SynthConfig(bars=4, tempo_change_bar=3)


def test_truth_attacks_start_where_the_close_mic_starts_sounding():
    s = synthesise(SMALL)
    kick_in = s.audio["Kick In.wav"][:, 0]
    kicks = [st for st in s.strokes if st.drum == "kick"]
    assert len(kicks) >= 10
    for st in kicks:
        before = np.abs(kick_in[st.sample - 48:st.sample]).max()
        after = np.abs(kick_in[st.sample:st.sample + 48]).max()
        assert after > 4 * before, st


def test_overheads_hear_the_kick_later_than_the_close_mic():
    s = synthesise(SMALL)
    delays = s.mic_delays_samples
    # 48 kHz: the kick in mic is 10 cm from the kick (14 samples), the overheads about 1.5 m (over 200 samples)
    assert delays["OH L"]["kick"] - delays["Kick In"]["kick"] > 150
    assert delays["Room"]["kick"] > delays["OH L"]["kick"]


def test_snare_bottom_is_polarity_inverted_against_the_top():
    s = synthesise(SMALL)
    snare = next(st for st in s.strokes if st.drum == "snare" and st.kind == "normal")
    top = s.audio["Snare Top.wav"][snare.sample:snare.sample + 200, 0]
    bottom = s.audio["Snare Bottom.wav"][snare.sample:snare.sample + 400, 0]
    lag = int(np.argmax(np.abs(np.correlate(bottom, top, "valid"))))
    assert np.dot(bottom[lag:lag + 200], top) < 0


def test_performance_has_ghosts_flams_and_far_off_events_on_a_tempo_change():
    s = synthesise(SynthConfig(bars=8, seed=3))
    kinds = {st.kind for st in s.strokes}
    assert {"normal", "ghost", "flam_grace"} <= kinds
    assert len(s.tempo_map.tempos) == 2
    # some events sit 30-45 % of a 16th off their line (at 100 BPM a 16th is 7200 samples at 48 kHz)
    assert any(abs(st.offset_samples) > 0.29 * 7200 for st in s.strokes if st.kind == "normal")
    assert any(st.offset_samples < 0 for st in s.strokes) and any(st.offset_samples > 0 for st in s.strokes)


def test_written_session_reads_back_with_its_tempo_map_and_truth(tmp_path):
    s = synthesise(SMALL)
    folder = write_session(s, tmp_path / "session")
    session = read_session(folder)
    assert len(session.tracks) == 9 and session.channel_count == 10
    assert next(t for t in session.tracks if t.name == "OH").channel_indices == (0, 1)
    assert read_tempo_map(folder / "song.mid") == s.tempo_map
    truth = json.loads((folder / "truth.json").read_text())
    assert [st["sample"] for st in truth["strokes"]] == [st.sample for st in s.strokes]
    assert {"sample", "drum", "velocity", "line_sample", "line_bbt"} <= set(truth["strokes"][0])
    assert sf.info(str(folder / "Kick In.wav")).subtype == "PCM_24"


def test_same_seed_same_bytes(tmp_path):
    a = write_session(synthesise(SMALL), tmp_path / "a")
    b = write_session(synthesise(SMALL), tmp_path / "b")
    for f in a.iterdir():
        assert f.read_bytes() == (b / f.name).read_bytes()
    c = synthesise(SynthConfig(bars=4, tempo_change_bar=3, seed=1))
    assert [st.sample for st in c.strokes] != [st.sample for st in synthesise(SMALL).strokes]


def test_real_take_truth_marks_a_drags_softer_first_stroke_as_its_grace_note(tmp_path):
    """GMD truth follows nbd's event convention: a softer stroke followed on its line by a louder one of the same
    drum within the flam window is a grace note (never the anchor); farther apart, both are strokes; kicks have no
    grace notes."""
    import mido

    from aligner.realkit import gmd_strokes
    from aligner.synth import truth_events

    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000))  # 120 BPM: a 16th is 125 ms, the window 35 ms
    # beat 2: a grace 20 ms (19 ticks) before the main stroke; beat 3: two snares 40 ms apart (outside the window)
    notes = [(480 - 19, 38, 40), (480, 38, 110), (960 - 19, 36, 100), (960, 38, 90), (1440 - 38, 38, 40),
             (1440, 38, 110), (1920 - 19, 36, 40), (1920, 36, 110)]
    now = 0
    for tick, note, velocity in notes:
        track.append(mido.Message("note_on", note=note, velocity=velocity, time=tick - now))
        track.append(mido.Message("note_off", note=note, velocity=0, time=0))
        now = tick
    midi.save(str(tmp_path / "take.mid"))
    rate = 48000
    _, strokes = gmd_strokes(tmp_path / "take.mid", rate, 0, 3 * rate)
    kinds = [(round(s.sample / rate * 1000), s.drum, s.kind) for s in strokes]
    assert kinds[:2] == [(480, "snare", "flam_grace"), (500, "snare", "normal")]
    assert [k for _, d, k in kinds[2:4]] == ["normal", "normal"]  # a kick before a snare is not a grace note
    assert [k for _, _, k in kinds[4:6]] == ["ghost", "normal"]  # 40 ms apart: a stroke of its own
    assert [k for _, _, k in kinds[6:]] == ["normal", "normal"]  # a kick pedal plays no flams
    anchors = truth_events(strokes)
    assert anchors[strokes[1].line_sample] is strokes[1]  # the main stroke, not the grace note


def test_training_hears_only_its_two_real_hits_and_the_benchmark_only_the_others():
    """Every MuldjordKit hit folder is either heard in training (a kick, a snare) or held out for the benchmark and
    the tests, never both; a real-kit training session holds the training take's kicks and snares only, on the
    training hits' own recordings, with the kick and snare-top mics always there."""
    import numpy as np
    import soundfile as sf

    from aligner.realkit import TRAINING_HITS, load_muldjordkit
    from aligner.training_data import real_kit_session
    from tests.conftest import realdata

    kit = realdata("drums/muldjordkit")
    folders = {p.name for p in kit.iterdir() if p.is_dir()}
    assert TRAINING_HITS < folders
    heard, held = load_muldjordkit(str(kit), training=True), load_muldjordkit(str(kit))
    heard_audio = [lay.audio for layers in heard.layers.values() for lay in layers]
    held_audio = [lay.audio for layers in held.layers.values() for lay in layers]
    assert len(heard_audio) == len(TRAINING_HITS) and len(held_audio) == len(folders) - len(TRAINING_HITS)
    assert not any(a.shape == b.shape and np.array_equal(a, b) for a in heard_audio for b in held_audio)
    snare, _ = sf.read(str(kit / "Snare_30" / "30-Snare-Snare_top.flac"), dtype="float32")
    assert any(np.array_equal(lay.audio[:, 2], snare) for lay in heard.layers["snare"])

    syn = real_kit_session(np.random.default_rng(3))
    assert {st.drum for st in syn.strokes} == {"kick", "snare"} and len(syn.strokes) >= 20
    assert {"KdrumL.wav", "Snare_top.wav"} <= set(syn.audio) and len(syn.audio) <= 16


def test_a_real_kit_snare_sounds_as_its_truth_says_ghost_or_not():
    """On MuldjordKit's held-out hits a snare note the truth calls normal is played on a normal hit, not on the
    ghost hit turned up (17.6 dB softer): in the snare-top mic it peaks at least at the ghost threshold of the loudest
    snare, as an editor hears it; the truth's ghosts mostly below it."""
    import numpy as np

    from aligner.events import EventSettings
    from aligner.realkit import session_from_gmd
    from tests.conftest import realdata

    take = realdata("midi/gmd") / "drummer1/session1/1_funk_80_beat_4-4.mid"
    syn = session_from_gmd(take, realdata("drums/muldjordkit"), duration_s=20.0)
    top = syn.audio["Snare_top.wav"][:, 0]
    rate = syn.config.sample_rate_hz
    snares = [st for st in syn.strokes if st.drum == "snare" and st.kind != "flam_grace"]
    peaks = {st.sample: np.abs(top[st.sample:st.sample + rate // 100]).max() for st in snares}
    loudest = max(peaks.values())
    normal = [peaks[st.sample] / loudest for st in snares if st.kind == "normal"]
    ghosts = [peaks[st.sample] / loudest for st in snares if st.kind == "ghost"]
    assert len(normal) >= 10 and len(ghosts) >= 5
    # a ghost's first 10 ms can hold the ring of the backbeat before it: most, not all, measure below
    assert min(normal) >= EventSettings.ghost_strength > np.median(ghosts)
