"""Every setting of a run that changes the result, in one frozen dataclass; the CLI's defaults come from here."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from grid import DIVISIONS, FRAME_RATES

__all__ = ["AlignConfig"]


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
    """

    grid: str = "1/16"
    swing_pct: float = 0.0
    fps: str = "30"
    midi_offset: str | None = None

    def __post_init__(self) -> None:
        if self.grid not in DIVISIONS:
            raise ValueError(f"unknown grid {self.grid!r}; choose one of {', '.join(DIVISIONS)}")
        if not 0 <= self.swing_pct <= 100:
            raise ValueError(f"swing must be between 0 and 100 %, got {self.swing_pct}")
        if self.swing_pct and self.grid.endswith("t"):
            raise ValueError(f"swing applies to straight grids only, not to {self.grid}")
        if self.fps not in FRAME_RATES:
            raise ValueError(f"unknown frame rate {self.fps!r}; choose one of {', '.join(FRAME_RATES)}")

    def to_json(self) -> dict:
        """The options as written into edits.json."""
        return asdict(self)
