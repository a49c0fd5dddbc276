"""edits.json: written as encoded, byte for byte what :func:`dumps` gives, and its plan reads back."""
import json

from aligner.plan import EditPlan
from session_io.plan_json import FORMAT_VERSION, dumps, read_plan, write_edits_json


def test_streamed_edits_json_is_the_documents_one_serialisation(tmp_path):
    plan = EditPlan.identity(48000 * 60)
    hits = [{"event": k, "source_sample": 480 * k, "drum": "snare", "mic": "Snäre Töp", "line": f"{k // 16 + 1}|1|0",
             "confidence": round(0.5 + k / 40000, 4), "flags": ["moved 1.5 of 3.0 ms — REVIEW"]} for k in range(6000)]
    document = {"session": {"name": "Song — take 2"}, "plan": plan.to_json(), "hits": hits}
    path = tmp_path / "edits.json"
    write_edits_json(path, document)
    expected = dumps({"format": "nbd-edits", "format_version": FORMAT_VERSION} | document)
    assert path.read_bytes() == expected.encode("utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["hits"][5999]["mic"] == "Snäre Töp"
    assert read_plan(path) == plan
