"""The session report a person looks at in the morning: ``report.html``, self-contained (plots inline as SVG,
:mod:`aligner.svg_plots`).

- every event's timing against the grid before and after, per drum;
- bar by bar, the largest move (where the drummer drifted most);
- loudness per stem before and after (ITU-R BS.1770 as pyloudnorm computes it), a change over 0.5 LU flagged;
- the doubtful events with their bar|beat|tick, for review.

``index.html`` lists every session of an output folder with its status and a link to its report.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path


from aligner.events import Event
from aligner.loudness import integrated_loudness
from aligner.plan import EditPlan
from aligner.svg_plots import bar_chart, scatter_panels
from grid import SessionGrid
from session_io.session import Session

__all__ = ["LoudnessRow", "stem_loudness", "write_report", "write_index"]

LOUDNESS_FLAG_LU = 0.5
_COLOURS = {"kick": "#d62728", "snare": "#1f77b4", "tom": "#9467bd", "hihat": "#2ca02c", "ride": "#8c564b",
            "crash": "#e377c2", "cymbal": "#e377c2", "other": "#7f7f7f"}


@dataclass(frozen=True)
class LoudnessRow:
    """Integrated loudness (LUFS) of one file before and after the edit; None where it is silent or shorter than
    half a second."""

    name: str
    before_lufs: float | None
    after_lufs: float | None

    @property
    def change_lu(self) -> float | None:
        """After minus before, in LU."""
        if self.before_lufs is None or self.after_lufs is None:
            return None
        return self.after_lufs - self.before_lufs


def stem_loudness(session: Session, stems_dir: Path, suffix: str = "", before: dict[str, float | None] | None = None,
                  after: dict[str, float | None] | None = None) -> list[LoudnessRow]:
    """Loudness of every input file and of its stem (``stems_dir/<name><suffix>``), by file name; values already
    measured in other passes (``before``, ``after``: LUFS by file name) are taken as they are."""
    from aligner.threads import map_in_threads

    before, after = before or {}, after or {}

    def one(source) -> LoudnessRow:
        name = source.path.name
        return LoudnessRow(name, before[name] if name in before else integrated_loudness(source.path),
                           after[name] if name in after else integrated_loudness(stems_dir / (name + suffix)))

    return map_in_threads(one, session.sources)


def _bar_position(grid: SessionGrid, quarters) -> float:
    """Bar number plus the fraction of the bar (bar 5, beat 3 of 4/4 → 5.5), across meter changes."""
    tm = grid.tempo_map
    bar = tm.quarters2bbt(quarters).bar
    start, end = tm.bar_start_quarters(bar), tm.bar_end_quarters(bar)
    return bar + float((quarters - start) / (end - start))


def _timing_plot(events: list[Event], plan: EditPlan, grid: SessionGrid) -> str:
    """Every stroke against its line, before and after the edit, one panel per drum (inline SVG)."""
    rate = grid.sample_rate_hz
    drums = sorted({h.drum for e in events for h in e.strokes})
    points: dict[str, tuple[list, list, list]] = {drum: ([], [], []) for drum in drums}
    for e in events:  # one pass: a bar position costs exact-fraction arithmetic
        x = _bar_position(grid, e.line.quarters)
        for h in e.strokes:
            dest = plan.map_source_to_dest(h.position)
            dest = h.position + e.shift if dest is None else dest
            xs, before, after = points[h.drum]
            xs.append(x)
            before.append((h.position - e.line.sample) / rate * 1000)
            after.append((dest - e.line.sample) / rate * 1000)
    panels = [(drum, _COLOURS.get(drum, "#333333"), *points[drum]) for drum in drums]
    return scatter_panels(panels, "bar", "Every stroke against its grid line, before (grey) and after the edit")


def _bars_plot(events: list[Event], rate: int) -> str:
    """The largest move in each bar, in ms (inline SVG)."""
    largest: dict[int, float] = {}
    for e in events:
        largest[e.line.bar] = max(largest.get(e.line.bar, 0.0), abs(e.shift) / rate * 1000)
    bars = sorted(largest)
    return bar_chart(bars, [largest[b] for b in bars], "bar", "largest move (ms)",
                     "Where the biggest moves were, bar by bar")


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px} td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
th{background:#f5f5f5} .num{text-align:right;font-variant-numeric:tabular-nums}
.flag{color:#b00020;font-weight:600} .ok{color:#1b7f3b;font-weight:600} .muted{color:#777}
.facts span{display:inline-block;margin-right:18px} img,svg{max-width:100%;height:auto}
"""


def _fmt(value, digits=1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def write_report(path: Path, session: Session, grid: SessionGrid, plan: EditPlan, events: list[Event],
                 doubtful_rows: list[dict], loudness: list[LoudnessRow], clipped: dict[str, int],
                 warnings: list[str] = ()) -> None:
    """Write one session's ``report.html`` (self-contained; see the module docstring); ``warnings`` are the
    messages logged while the session ran, listed first."""
    rate = session.sample_rate_hz
    moved = [e for e in events if e.shift]
    worst_before = max((abs(e.anchor.position - e.line.sample) / rate * 1000 for e in events), default=0.0)
    facts = [
        f"{len(session.tracks)} mics, {session.channel_count} channels, {rate} Hz",
        f"{session.length_samples / rate:.1f} s",
        f"{len(events)} events, {len(moved)} moved",
        f"largest move {max((abs(e.shift) for e in events), default=0) / rate * 1000:.1f} ms",
        f"worst anchor before {worst_before:.1f} ms off its line",
        f"{len(doubtful_rows)} doubtful",
    ]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nbd — {html.escape(session.name)}</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(session.name)}</h1><div class='facts muted'>"
             + "".join(f"<span>{html.escape(f)}</span>" for f in facts) + "</div>"]
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li class='flag'>{html.escape(w)}</li>" for w in warnings)
                     + "</ul>")
    if events:
        parts.append(f"<h2>Timing against the grid</h2>{_timing_plot(events, plan, grid)}")
        parts.append(f"<h2>Moves by bar</h2>{_bars_plot(events, rate)}")
    parts.append("<h2>Doubtful events — review these</h2>")
    if doubtful_rows:
        parts.append("<table><tr><th>bar|beat|tick</th><th>anchor</th><th class='num'>off line (% of step)</th>"
                     "<th class='num'>confidence</th><th>why</th></tr>")
        for d in doubtful_rows:
            why = "; ".join(d["flags"]) or "far from its line: it may belong to the next one"
            parts.append(f"<tr><td>{html.escape(d['line'])}</td><td>{html.escape(d['anchor_drum'])}</td>"
                         f"<td class='num'>{d['off_line_pct_of_step']:+.0f}</td>"
                         f"<td class='num'>{d['confidence']:.2f}</td><td>{html.escape(why)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p class='ok'>None.</p>")
    parts.append(f"<h2>Loudness per stem</h2><p class='muted'>Integrated loudness (ITU-R BS.1770); a change over "
                 f"{LOUDNESS_FLAG_LU} LU is flagged.</p><table><tr><th>file</th><th class='num'>before LUFS</th>"
                 "<th class='num'>after LUFS</th><th class='num'>change LU</th><th>clipped samples</th></tr>")
    for row in loudness:
        change = row.change_lu
        flag = change is not None and abs(change) > LOUDNESS_FLAG_LU
        parts.append(f"<tr><td>{html.escape(row.name)}</td><td class='num'>{_fmt(row.before_lufs)}</td>"
                     f"<td class='num'>{_fmt(row.after_lufs)}</td>"
                     f"<td class='num {'flag' if flag else ''}'>{_fmt(change, 2)}{' ⚠' if flag else ''}</td>"
                     f"<td class='num'>{clipped.get(row.name, 0)}</td></tr>")
    parts.append("</table><p class='muted'>Made by nbd. The exact edit is edit.aaf; edits.json has every hit.</p>"
                 "</body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")


def write_index(out_dir: Path, rows: list[dict]) -> Path:
    """``out_dir/index.html``: one row per session (name, status, events moved, doubtful, warnings, link to its report),
    written aside and renamed into place."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"<!doctype html><html><head><meta charset='utf-8'><title>nbd — sessions</title><style>{_STYLE}"
             "</style></head><body><h1>Sessions</h1><table><tr><th>session</th><th>status</th>"
             "<th class='num'>events moved</th><th class='num'>doubtful</th><th class='num'>warnings</th>"
             "<th>report</th><th>error</th></tr>"]
    for r in rows:
        status_class = "ok" if r["status"] in ("done", "skipped") else "flag"
        report = (f"<a href='{html.escape(r['report'])}'>report</a>" if r.get("report") else "")
        lines.append(f"<tr><td>{html.escape(r['name'])}</td><td class='{status_class}'>{html.escape(r['status'])}</td>"
                     f"<td class='num'>{r.get('events_moved', '')}</td><td class='num'>{r.get('doubtful', '')}</td>"
                     f"<td class='num{' flag' if r.get('warnings') else ''}'>{r.get('warnings', '')}</td>"
                     f"<td>{report}</td><td class='muted'>{html.escape(r.get('error') or '')}</td></tr>")
    lines.append("</table></body></html>")
    target = out_dir / "index.html"
    aside = out_dir / f".index.html.{os.getpid()}.tmp"
    aside.write_text("\n".join(lines), encoding="utf-8")
    os.replace(aside, target)
    return target
