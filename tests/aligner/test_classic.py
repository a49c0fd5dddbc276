"""The classic aligner on generated sessions with known truth.

Kick-and-hat pairs a few ms apart, flams, ghost notes, events 30-45 % of a step off and late events next to early
ones all occur in these performances; the assertions hold over every event of each session.
"""
import numpy as np
import pytest

from aligner.config import AlignConfig
from aligner.pipeline import align
from aligner.roles import assign_roles
from aligner.synth import SynthConfig, synthesise, truth_events, write_session
from grid import SessionGrid
from session_io import read_session


def _run(tmp_path_factory, cfg: SynthConfig, config: AlignConfig = AlignConfig()):
    syn = synthesise(cfg)
    folder = write_session(syn, tmp_path_factory.mktemp("s") / "session")
    session = assign_roles(read_session(folder))
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    plan, events = align(session, grid, config)
    return syn, session, plan, events


@pytest.fixture(scope="module", params=[0, 1, 2])
def aligned(request, tmp_path_factory):
    # far_off_per_bar=3: several late events right next to early ones in every bar
    return _run(tmp_path_factory, SynthConfig(seed=request.param, bars=8, far_off_per_bar=3))


def test_every_detected_anchor_lands_exactly_on_its_target(aligned):
    _, _, plan, events = aligned
    conformed = [e for e in events if e.conform and not e.flags]
    assert len(conformed) > 50
    for e in conformed:
        assert e.target == e.line.sample  # strength 100: the target is the line itself
        assert plan.map_source_to_dest(e.anchor.position) == e.target


def test_true_anchors_land_within_one_ms_of_their_line(aligned):
    syn, _, plan, _ = aligned
    anchors = truth_events(syn.strokes)
    within = [abs((plan.map_source_to_dest(a.sample) or -10**9) - line) <= 48 for line, a in anchors.items()]
    assert np.mean(within) >= 0.9, f"{sum(within)} of {len(within)}"


def test_no_stroke_is_played_twice_or_dropped(aligned):
    syn, _, plan, _ = aligned
    for st in syn.strokes:
        # the attack and the next 10 ms, as the close mic hears it
        assert {plan.times_played(p) for p in range(st.sample, st.sample + 480, 16)} == {1}, st


def test_other_strokes_of_an_event_keep_their_offsets_to_the_anchor(aligned):
    _, _, plan, events = aligned
    pairs = 0
    for e in events:
        for h in e.strokes:
            if h is not e.anchor and plan.map_source_to_dest(h.position) is not None:
                assert plan.map_source_to_dest(h.position) - e.target == h.position - e.anchor.position
                pairs += 1
    assert pairs > 30  # kick + hat pairs a few ms apart, flams


def test_far_off_events_go_to_the_line_they_belong_to(aligned):
    syn, _, _, events = aligned
    anchors = truth_events(syn.strokes)
    # 30 % of the shorter 16th (120 BPM at 48 kHz: 6000 samples) or more off their line
    far = [(line, a) for line, a in anchors.items() if abs(a.sample - line) > 0.29 * 6000]
    assert far
    found = {e.anchor.position: e.line.sample for e in events}
    matched = 0
    for line, a in far:
        near = [p for p in found if abs(p - a.sample) <= 48]
        if near:
            assert found[near[0]] == line
            matched += 1
    assert matched >= 0.8 * len(far), f"only {matched} of {len(far)} far-off anchors found"


def test_flam_grace_notes_join_their_main_stroke(aligned):
    syn, session, _, events = aligned
    graces = [st for st in syn.strokes if st.kind == "flam_grace"]
    for g in graces:
        event = next((e for e in events if any(abs(h.position - g.sample) <= 48 for h in e.strokes)), None)
        if event is None:
            continue  # not detected: counted by the benchmark
        assert event.line.sample == g.line_sample
        assert abs(event.anchor.position - g.sample) > 48  # the grace note is never the anchor


def _events_at_120_bpm(hits, **settings):
    """Events of ``hits`` on a 16th grid at 120 BPM, 48 kHz (a step is 6000 samples), over 4 s, with
    :class:`aligner.events.EventSettings` ``settings``."""
    from aligner.events import EventSettings, make_events
    from grid import TempoMap

    return make_events(hits, SessionGrid(TempoMap.constant(120), 48000, 0), 48000 * 4, EventSettings(**settings))


def test_a_louder_kick_just_after_a_kick_does_not_make_the_first_one_a_grace_note():
    # A kick pedal plays no flams: a louder "kick" 23 ms after a soft one is another drum's bleed taken for a kick
    # (validation seed 500010: a hat in a kick mic that hears it nearly as loud). The played kick anchors its event;
    # a soft snare before a loud one on the same line is still a flam's grace note.
    from aligner.detect import Hit

    step = 6000  # a 16th at 120 BPM
    kick, bleed = 4 * step - 2100, 4 * step - 1000
    hits = [Hit(0, "kick", 0, 1.0, 0.5), Hit(kick, "kick", 0, 0.4, 0.2), Hit(bleed, "kick", 0, 0.6, 0.3),
            Hit(8 * step - 1000, "snare", 1, 0.3, 0.1), Hit(8 * step, "snare", 1, 1.0, 0.5)]
    events = _events_at_120_bpm(hits)
    assert [(e.line.sample, e.anchor.position, len(e.grace)) for e in events] == [
        (0, 0, 0), (4 * step, kick, 0), (8 * step, 8 * step, 1)]


def test_a_softer_stroke_just_before_a_louder_one_on_another_line_is_a_note_of_its_own():
    # A snare 35 % of a step early (the backbeat on line 8) and a softer one 31 ms before it, 60 % of a step early
    # from the same line, so nearest line 7: two notes on two lines, as the truth of real takes has it, not a flam
    # whose grace follows the backbeat to line 8. 12.5 ms before it, on its line, the softer one is a grace note.
    from aligner.detect import Hit

    step = 6000  # a 16th at 120 BPM
    main = 8 * step - 2100
    for before, lines, graces in ((1500, [0, 7 * step, 8 * step], [0, 0, 0]), (600, [0, 8 * step], [0, 1])):
        hits = [Hit(0, "kick", 0, 1.0, 0.5), Hit(main - before, "snare", 1, 0.3, 0.1), Hit(main, "snare", 1, 1.0, 0.5)]
        events = _events_at_120_bpm(hits)
        assert [e.line.sample for e in events] == lines, before
        assert [len(e.grace) for e in events] == graces, before


def test_a_grace_note_the_model_puts_on_another_line_unsure_follows_its_main_stroke():
    # A flam 48 % of a step early: the model put its grace note, 15 ms before the main stroke, on the next line at
    # 0.58 (reference session seed 0), and the grace became a ghost note of its own a step later. Where the model is
    # that unsure, the grace goes with the main stroke; where it is sure (0.99), the two are notes on two lines.
    from aligner.detect import Hit

    step = 6000  # a 16th at 120 BPM
    main = 8 * step - 2186  # 36 % early; the grace 48 %
    for sure, lines, graces in ((0.58, [0, 8 * step], [0, 1]), (0.99, [0, 9 * step, 8 * step], [0, 0, 0])):
        hits = [Hit(0, "kick", 0, 1.0, 0.5, 0, 1.0), Hit(main - 720, "snare", 1, 0.13, 0.05, 1, sure),
                Hit(main, "snare", 1, 0.8, 0.4, 0, 1.0)]
        events = _events_at_120_bpm(hits)
        assert [e.line.sample for e in events] == lines, sure
        assert [len(e.grace) for e in events] == graces, sure


def test_two_even_ghost_notes_of_a_drag_are_one_event_anchored_by_the_first():
    # Two ghost snares 20 ms apart on one line, played alike: the second reads a little louder over the first's
    # ring (0.17 against 0.14, a real drag on MuldjordKit), and had made the first its grace note, anchoring the
    # event 20 ms late. A grace note is clearly softer: a flam's main stroke is 1.5 times as strong or more.
    from aligner.detect import Hit

    step = 6000  # a 16th at 120 BPM
    for second, anchored_by, graces in ((0.17, 0, 0), (0.22, 960, 1)):
        hits = [Hit(0, "kick", 0, 1.0, 0.5), Hit(3 * step - 300, "snare", 1, 0.14, 0.05),
                Hit(3 * step + 660, "snare", 1, second, 0.06)]
        events = _events_at_120_bpm(hits)
        assert [e.line.sample for e in events] == [0, 3 * step]
        assert (events[1].anchor.position - (3 * step - 300), len(events[1].grace)) == (anchored_by, graces)


def test_a_soft_kick_anchors_its_event_over_a_hat_and_a_ghost_snare_does_not():
    # Ghost notes are soft snares: a soft kick under a hat is still the stroke an editor lines up (as in the truth,
    # where only snares below velocity 45 are ghosts), while a ghost snare under a hat leaves the hat the anchor.
    # Alone on its line, a ghost snare is a ghost-only event (it rides with --ghosts ride); a soft kick is not.
    from aligner.detect import Hit

    step = 6000  # a 16th at 120 BPM
    hits = [Hit(0, "kick", 0, 1.0, 0.5), Hit(3 * step, "snare", 1, 1.0, 0.5),
            Hit(4 * step - 900, "hihat", 2, 1.0, 0.3), Hit(4 * step - 400, "kick", 0, 0.05, 0.025),
            Hit(8 * step - 900, "hihat", 2, 1.0, 0.3), Hit(8 * step - 400, "snare", 1, 0.1, 0.05),
            Hit(10 * step + 300, "snare", 1, 0.1, 0.05), Hit(12 * step + 300, "kick", 0, 0.05, 0.025)]
    events = _events_at_120_bpm(hits, ghosts="ride")
    assert [(e.line.sample, e.anchor.position, e.ghost_only) for e in events] == [
        (0, 0, False), (3 * step, 3 * step, False), (4 * step, 4 * step - 400, False),
        (8 * step, 8 * step - 900, False), (10 * step, 10 * step + 300, True), (12 * step, 12 * step + 300, False)]
    assert [e.conform for e in events] == [True, True, True, True, False, True]


def test_crossfades_never_cover_a_transient(aligned):
    syn, _, plan, _ = aligned
    strokes = np.array(sorted(st.sample for st in syn.strokes))
    for seg in plan.segments:
        for lo, hi in ((seg.source_start_samples, seg.source_start_samples + seg.fade_in_samples),
                       (seg.source_end_samples - seg.fade_out_samples, seg.source_end_samples)):
            inside = strokes[(strokes >= lo - 24) & (strokes < hi + 24)]
            assert len(inside) == 0, (seg, inside)


def test_gap_fill_continues_the_level_it_follows_never_silence(aligned):
    syn, _, plan, events = aligned
    audio = np.concatenate([syn.audio[f] for f in syn.audio], axis=1)

    def rms(lo, hi):
        return float(np.sqrt(np.mean(audio[lo:hi] ** 2)))

    fills = [i for i, s in enumerate(plan.segments) if s.label.startswith("gap fill")]
    flagged = {e.line.bar * 100 + e.line.index_in_bar + 1 for e in events if any("dB off" in f for f in e.flags)}
    assert fills
    for i in fills:
        before, fill = plan.segments[i - 1], plan.segments[i]
        if before.label.startswith("gap fill"):
            continue
        level_before = rms(before.source_end_samples - 960, before.source_end_samples)  # the last 20 ms played
        level_fill = rms(fill.source_start_samples, fill.source_end_samples)
        assert level_fill > 0
        bar, line = fill.label.rsplit(" ", 1)[1].split("|")
        if int(bar) * 100 + int(line) not in flagged:  # a mismatch over 6 dB is flagged for review
            assert level_fill >= 0.25 * level_before, (fill, level_fill, level_before)  # no drop of 12 dB


def test_ghosts_ride_with_the_event_before(tmp_path_factory):
    syn, _, plan, events = _run(tmp_path_factory, SynthConfig(seed=4, bars=4, ghost_rate=0.6),
                                AlignConfig(ghosts="ride"))
    ghosts = [e for e in events if e.ghost_only]
    assert ghosts
    for g in ghosts:
        before = [e for e in events if e.earliest < g.earliest and not e.ghost_only]
        assert g.shift == (before[-1].shift if before else 0)


def test_strength_and_exclusions(tmp_path_factory):
    cfg = SynthConfig(seed=5, bars=4)
    _, _, plan, events = _run(tmp_path_factory, cfg, AlignConfig(strength_pct=50, exclude_bars="3", exclude_within_pct=5))
    for e in events:
        offset = e.line.sample - e.anchor.position
        if e.line.bar == 3:
            assert e.reason == "--exclude-bars" and e.shift == 0
        elif abs(offset) < 0.05 * e.step_samples:
            assert e.reason == "exclude-within" and e.shift == 0
        elif not e.flags:
            assert abs(e.shift - offset / 2) <= 0.5  # half way, rounded half up
            assert plan.map_source_to_dest(e.anchor.position) == e.target


def test_real_multi_mic_hits_on_a_real_drummers_timing(tmp_path):
    """MuldjordKit's 16-mic hits (real bleed, real arrival delays) played with a Groove MIDI Dataset take."""
    from aligner.realkit import session_from_gmd
    from tests.conftest import realdata

    kit = realdata("drums/muldjordkit")
    take = realdata("midi/gmd/drummer7/session1/1_rock_86_beat_4-4.mid")
    syn = session_from_gmd(take, kit, duration_s=15.0)
    session = assign_roles(read_session(write_session(syn, tmp_path / "real")))
    assert {t.role for t in session.tracks} == {"kick", "snare", "hihat", "tom", "ride", "overhead", "room"}
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    plan, events = align(session, grid, AlignConfig())
    anchors = truth_events(syn.strokes)
    within = [abs((plan.map_source_to_dest(a.sample) or -10**9) - line) <= 44 for line, a in anchors.items()]
    assert np.mean(within) >= 0.9, f"{sum(within)} of {len(within)}"
    # bleed does not become hits: at most a few more strokes found than played
    hits = sum(len(e.strokes) for e in events)
    assert hits <= 1.1 * len(syn.strokes)
    for st in syn.strokes:
        assert {plan.times_played(p) for p in range(st.sample, st.sample + 441, 21)} == {1}


@pytest.mark.parametrize("seed", [10, 3])
def test_a_hat_the_detector_missed_just_before_a_tom_is_never_in_its_crossfade(tmp_path, seed):
    # Generated validation sessions 500010 (four hats 1.0-1.1 ms before a tom) and 500003 (a hat 1.6 ms before a tom,
    # rising only 6-9 dB out of the decay before it), which the detector reports as the tom alone. The quietest 2 ms
    # before the tom reached into the hat's attack, whose first milliseconds were then heard in both the material
    # before the cut and the moved event. Checked over every stroke of the session.
    from aligner.training_data import VALIDATION_SEED_BASE, random_session

    syn, swing = random_session(VALIDATION_SEED_BASE + seed)
    session = assign_roles(read_session(write_session(syn, tmp_path / "s")))
    grid = SessionGrid(syn.tempo_map, syn.config.sample_rate_hz, syn.origin_samples)
    plan, _ = align(session, grid, AlignConfig(swing_pct=swing))
    step = syn.config.sample_rate_hz // 2000
    twice = [st for st in syn.strokes
             if max(plan.times_played(p) for p in range(st.sample, st.sample + 20 * step, step)) > 1]
    assert twice == []
