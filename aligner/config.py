"""Every setting of a run that changes the result, in one frozen dataclass; the CLI's defaults come from here."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from aligner.events import EventSettings, parse_bar_ranges
from aligner.roles import parse_role_overrides
from grid import DIVISIONS, FRAME_RATES

__all__ = ["AlignConfig", "DETECTORS", "GHOST_MODES"]

#: Ways to make the plan: ``classic`` (signal processing), ``neural`` (the shipped model, :mod:`aligner.neural`),
#: ``none`` (the identity plan: only re-render).
DETECTORS = ("classic", "neural", "none")
GHOST_MODES = ("conform", "ride")


@dataclass(frozen=True)
class AlignConfig:
    """Options of one run, applied to every session of it.

    Attributes
    ----------
    grid : str
        Subdivision events are conformed to; a key of ``grid.DIVISIONS``.
    swing_pct : float
        0 straight … 100 triplet feel.
    fps : str
        Timecode rate for positions typed as ``HH:MM:SS:FF``; a key of ``grid.FRAME_RATES``.
    midi_offset : str or None
        Where MIDI time 0 (bar 1 of the tempo map) sits in the session: seconds, samples or timecode
        (see ``grid.parse_position``); None for session sample 0.
    detector : str
        One of :data:`DETECTORS`: ``neural`` (the default: the shipped model, ahead of ``classic`` on every benchmark
        group, real recorded hits included), ``classic`` (signal processing, about half the time) or ``none``.
    strength_pct : float
        How far events move toward their line: 100 all the way, 50 halfway.
    exclude_within_pct : float
        Events closer to their line than this share of a grid step stay where they are.
    bars, exclude_bars : str or None
        Bar ranges like ``"5-68"`` or ``"1-4,97-100"``: conform only inside ``bars``, never inside
        ``exclude_bars``.
    ghosts : str
        ``conform`` ghost notes alone on their line like any event, or let them ``ride`` with the event before.
    crossfade_ms : float
        Length of the crossfade at each cut.
    mic_roles : tuple of str
        Overrides like ``"Mic 3=snare"``.
    media_dirs : tuple of str
        AAF sessions: more folders to find linked media in.
    skip_missing : bool
        AAF sessions: tracks whose media is missing are left silent (and reported) instead of failing.
    aaf_embed : bool
        Embed the rendered stems in ``edit.aaf`` instead of linking media.
    write_aaf : bool
        Write ``edit.aaf`` at all (pyaaf2 takes about 2 ms per clip: 30 s for a 3-minute, 12-mic song).
    """

    grid: str = "1/16"
    swing_pct: float = 0.0
    fps: str = "30"
    midi_offset: str | None = None
    detector: str = "neural"
    strength_pct: float = 100.0
    exclude_within_pct: float = 0.0
    bars: str | None = None
    exclude_bars: str | None = None
    ghosts: str = "conform"
    crossfade_ms: float = 2.0
    mic_roles: tuple[str, ...] = ()
    media_dirs: tuple[str, ...] = ()
    skip_missing: bool = False
    aaf_embed: bool = False
    write_aaf: bool = True

    def __post_init__(self) -> None:
        if self.grid not in DIVISIONS:
            raise ValueError(f"unknown grid {self.grid!r}; choose one of {', '.join(DIVISIONS)}")
        if not 0 <= self.swing_pct <= 100:
            raise ValueError(f"swing must be between 0 and 100 %, got {self.swing_pct}")
        if self.swing_pct and self.grid.endswith("t"):
            raise ValueError(f"swing applies to straight grids only, not to {self.grid}")
        if self.fps not in FRAME_RATES:
            raise ValueError(f"unknown frame rate {self.fps!r}; choose one of {', '.join(FRAME_RATES)}")
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        if self.ghosts not in GHOST_MODES:
            raise ValueError(f"unknown ghost mode {self.ghosts!r}; choose one of {', '.join(GHOST_MODES)}")
        if not 0 <= self.strength_pct <= 100:
            raise ValueError(f"strength must be between 0 and 100 %, got {self.strength_pct}")
        if not 0 <= self.exclude_within_pct <= 100:
            raise ValueError(f"exclude-within must be between 0 and 100 %, got {self.exclude_within_pct}")
        if not 0.1 <= self.crossfade_ms <= 50:
            raise ValueError(f"crossfade must be between 0.1 and 50 ms, got {self.crossfade_ms}")
        parse_bar_ranges(self.bars)
        parse_bar_ranges(self.exclude_bars)
        parse_role_overrides(self.mic_roles)

    def event_settings(self) -> EventSettings:
        """The options that decide events, as :class:`aligner.events.EventSettings`."""
        return EventSettings(division=self.grid, swing_pct=self.swing_pct, strength_pct=self.strength_pct,
                             exclude_within_pct=self.exclude_within_pct, bars=parse_bar_ranges(self.bars),
                             exclude_bars=parse_bar_ranges(self.exclude_bars), ghosts=self.ghosts)

    def to_json(self) -> dict:
        """The options as written into edits.json."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
