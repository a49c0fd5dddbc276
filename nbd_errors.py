"""nbd's error types: one base, ``NbdError``, that the CLI turns into a one-line message and exit code 1.

Every message names the file (or option) and the problem. Subclasses also inherit the builtin they refine, so
callers that catch ``ValueError`` or ``OSError`` keep working.
"""
from __future__ import annotations

from pathlib import Path

__all__ = [
    "NbdError",
    "SessionReadError",
    "UnsupportedFormatError",
    "TempoMapError",
    "PlanValidationError",
    "OutputWriteError",
]


class NbdError(Exception):
    """Base of every error nbd raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong, one line.
    path : str or Path, optional
        The file the problem is in; printed before the message.
    """

    def __init__(self, message: str, path: str | Path | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class SessionReadError(NbdError, OSError):
    """An input audio file or session folder cannot be used (unreadable, truncated, empty, NaN, rate mismatch)."""


class UnsupportedFormatError(SessionReadError, ValueError):
    """The file is readable but in a format or sample type nbd does not edit."""


class TempoMapError(NbdError, ValueError):
    """A tempo map (MIDI file or tempo options) is unusable: SMPTE timing, MIDI type 2, not MIDI at all."""


class PlanValidationError(NbdError, ValueError):
    """An edit plan breaks its rules; ``problems`` lists every one of them, not just the first."""

    def __init__(self, problems: list[str], path: str | Path | None = None):
        self.problems = list(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"invalid edit plan, {len(self.problems)} problem(s): {shown}{more}", path)


class OutputWriteError(NbdError, OSError):
    """Outputs could not be written (unwritable folder, disk full); earlier outputs are left as they were."""
