"""The report's plots as inline SVG: crisp at any zoom, a few kilobytes per thousand points, and drawn in
milliseconds (matplotlib took about a second per session to import and render two PNGs).

Each series of points is one ``<path>`` of zero-length segments with round caps ("M x y h0" per point), so a
10-minute session's 17 000 points stay a few hundred kilobytes. Coordinates are rounded to 0.1 px: the same data
gives the same bytes.
"""
from __future__ import annotations

import html
import math

__all__ = ["nice_ticks", "scatter_panels", "bar_chart"]

_WIDTH = 1000
_LEFT, _RIGHT = 80, 20
_FONT = "font-family='system-ui,Helvetica,Arial,sans-serif' font-size='12'"
_TITLE_FONT = "font-family='system-ui,Helvetica,Arial,sans-serif' font-size='14'"


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 × 10^k) covering ``[lo, hi]`` with about ``count`` ticks."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks, k = [], 0
    while first + k * step <= hi + step * 1e-9:
        ticks.append(round(first + k * step, 10))
        k += 1
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


class _Axes:
    """Maps data to pixels inside one panel."""

    def __init__(self, top: int, height: int, x_range: tuple[float, float], y_range: tuple[float, float]):
        self.top, self.height = top, height
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range

    def x(self, v: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return _LEFT + (v - self.x0) / span * (_WIDTH - _LEFT - _RIGHT)

    def y(self, v: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return self.top + self.height - (v - self.y0) / span * self.height

    def frame(self, x_ticks: list[float], y_ticks: list[float], y_label: str, x_labels: bool) -> list[str]:
        out = [f"<rect x='{_LEFT}' y='{self.top}' width='{_WIDTH - _LEFT - _RIGHT}' height='{self.height}' "
               "fill='none' stroke='#999'/>"]
        for t in y_ticks:
            y = self.y(t)
            out.append(f"<line x1='{_LEFT}' x2='{_WIDTH - _RIGHT}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e5e5'/>"
                       f"<text x='{_LEFT - 6}' y='{y + 4:.1f}' text-anchor='end' {_FONT}>{_fmt(t)}</text>")
        for t in x_ticks:
            x = self.x(t)
            out.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{self.top}' y2='{self.top + self.height}' "
                       "stroke='#eeeeee'/>")
            if x_labels:
                out.append(f"<text x='{x:.1f}' y='{self.top + self.height + 16}' text-anchor='middle' {_FONT}>"
                           f"{_fmt(t)}</text>")
        out.append(f"<text x='14' y='{self.top + self.height / 2:.1f}' {_FONT} transform='rotate(-90 14 "
                   f"{self.top + self.height / 2:.1f})' text-anchor='middle'>{html.escape(y_label)}</text>")
        return out


def _dots(axes: _Axes, xs: list[float], ys: list[float], colour: str, label: str) -> str:
    points = "".join(f"M{axes.x(x):.1f} {axes.y(y):.1f}h0" for x, y in zip(xs, ys))
    return (f"<path d='{points}' stroke='{colour}' stroke-width='5' stroke-linecap='round' fill='none'>"
            f"<title>{html.escape(label)}</title></path>")


def scatter_panels(panels: list[tuple[str, str, list[float], list[float], list[float]]], x_label: str,
                   title: str) -> str:
    """One panel per series, stacked with a shared x axis: each panel's points before (grey) and after (its colour).

    Parameters
    ----------
    panels : list of (label, colour, xs, before, after)
        ``xs`` the x of every point (bar numbers), ``before`` and ``after`` its two y values (ms off the line).
    x_label, title : str

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    all_x = [x for p in panels for x in p[2]] or [0.0, 1.0]
    x_ticks = nice_ticks(min(all_x), max(all_x), 12)
    x_range = (min(x_ticks[0], min(all_x)), max(x_ticks[-1], max(all_x)))
    height, gap, top = 130, 22, 36
    parts = [f"<text x='{_WIDTH / 2}' y='20' text-anchor='middle' {_TITLE_FONT}>{html.escape(title)}</text>"]
    for k, (label, colour, xs, before, after) in enumerate(panels):
        values = before + after + [0.0]
        y_ticks = nice_ticks(min(values), max(values), 5)
        axes = _Axes(top + k * (height + gap), height, x_range, (min(y_ticks[0], min(values)),
                                                                  max(y_ticks[-1], max(values))))
        parts += axes.frame(x_ticks, y_ticks, f"{label}, ms off line", x_labels=k == len(panels) - 1)
        zero = axes.y(0.0)
        parts.append(f"<line x1='{_LEFT}' x2='{_WIDTH - _RIGHT}' y1='{zero:.1f}' y2='{zero:.1f}' stroke='#000'/>")
        parts.append(_dots(axes, xs, before, "#bbbbbb", f"{label} before"))
        parts.append(_dots(axes, xs, after, colour, f"{label} after"))
    bottom = top + len(panels) * (height + gap) + 14
    parts.append(f"<text x='{(_LEFT + _WIDTH - _RIGHT) / 2}' y='{bottom}' text-anchor='middle' {_FONT}>"
                 f"{html.escape(x_label)}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {_WIDTH} {bottom + 8}' width='100%' "
            f"role='img' aria-label='{html.escape(title)}'>" + "".join(parts) + "</svg>")


def bar_chart(xs: list[int], heights: list[float], x_label: str, y_label: str, title: str,
              colour: str = "#4c72b0") -> str:
    """Vertical bars of ``heights`` at integer ``xs`` (bar numbers); returns an ``<svg>`` element."""
    xs = xs or [0]
    heights = heights or [0.0]
    y_ticks = nice_ticks(0.0, max(max(heights), 1e-9), 5)
    x_ticks = [t for t in nice_ticks(min(xs), max(xs), 12) if float(t).is_integer()]
    axes = _Axes(36, 170, (min(xs) - 0.5, max(xs) + 0.5), (0.0, max(y_ticks[-1], max(heights))))
    parts = [f"<text x='{_WIDTH / 2}' y='20' text-anchor='middle' {_TITLE_FONT}>{html.escape(title)}</text>"]
    parts += axes.frame(x_ticks, y_ticks, y_label, x_labels=True)
    width = max(1.0, axes.x(1.0) - axes.x(0.0)) * 0.8
    for x, h in zip(xs, heights):
        top = axes.y(h)
        parts.append(f"<rect x='{axes.x(x) - width / 2:.1f}' y='{top:.1f}' width='{width:.1f}' "
                     f"height='{axes.y(0.0) - top:.1f}' fill='{colour}'><title>bar {x}: {h:.1f}</title></rect>")
    parts.append(f"<text x='{(_LEFT + _WIDTH - _RIGHT) / 2}' y='{36 + 170 + 34}' text-anchor='middle' {_FONT}>"
                 f"{html.escape(x_label)}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {_WIDTH} 250' width='100%' role='img' "
            f"aria-label='{html.escape(title)}'>" + "".join(parts) + "</svg>")
