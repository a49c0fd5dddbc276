"""Shared fixtures: the real-data folder beside the repository, and small generated sessions."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


def realdata(relative: str) -> Path:
    """Path of a file under ../shared/realdata; skips the test, saying why, when it is not there."""
    path = REALDATA / relative
    if not path.exists():
        pytest.skip(f"real test data not present: {path} (it lives in ../shared/realdata beside the repository)")
    return path


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path: to prove inputs are never written to, and that outputs
    repeat byte for byte. The run's bookkeeping — the state file (timings, paths) and index.html (this run's
    statuses) — is left out."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (".nbd-state.json", "index.html")
    }
