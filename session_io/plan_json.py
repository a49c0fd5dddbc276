"""``edits.json``: the edit plan in samples plus what it was made from, in one lossless, deterministic JSON file.

The document holds the session (files, rate, offsets, mics), the tempo map, the options, the plan's segments, the hits
table and the doubtful events. Nothing time- or machine-dependent is written, so the same inputs and options give
the same bytes. :func:`read_plan` reads the plan back from such a file (or from a bare plan object).
"""
from __future__ import annotations

import json
from pathlib import Path

from aligner.plan import EditPlan
from nbd_errors import PlanValidationError

__all__ = ["FORMAT_VERSION", "dumps", "write_edits_json", "read_plan"]

FORMAT_VERSION = 1


_ENCODER = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False)


def dumps(document: dict) -> str:
    """Serialise a document the one way nbd does: two-space indent, keys in insertion order, newline at the end."""
    return _ENCODER.encode(document) + "\n"


def write_edits_json(path: str | Path, document: dict) -> None:
    """Write an ``edits.json`` document (see the module docstring) to ``path``: the bytes of :func:`dumps`, written
    as they are encoded (an hour's session has a hundred thousand hits: its text never sits in memory whole)."""
    with open(path, "w", encoding="utf-8") as f:
        pieces: list[str] = []
        for piece in _ENCODER.iterencode({"format": "nbd-edits", "format_version": FORMAT_VERSION} | document):
            pieces.append(piece)
            if len(pieces) >= 8192:
                f.write("".join(pieces))
                pieces.clear()
        f.write("".join(pieces) + "\n")


def read_plan(path: str | Path) -> EditPlan:
    """The edit plan of an ``edits.json`` file, or of a JSON file holding just a plan.

    Raises
    ------
    PlanValidationError
        Unreadable JSON or no plan in it (naming the file); the plan itself is validated by the caller.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanValidationError(["file not found"], path) from None
    except (OSError, ValueError) as e:
        raise PlanValidationError([f"not readable JSON ({e})"], path) from None
    plan = data.get("plan", data) if isinstance(data, dict) else None
    if not isinstance(plan, dict) or "segments" not in plan:
        raise PlanValidationError(["no edit plan (a 'plan' with 'segments') in this file"], path)
    try:
        return EditPlan.from_json(plan)
    except PlanValidationError as e:
        raise PlanValidationError(e.problems, path) from None
