"""The transfer chart of the live page: GB sent and GB remaining over time, with axes and the suspend window, as the
geometry an inline SVG template draws (rendered on the server: the Content-Security-Policy allows no inline script
or style, and the page's script need not know the figures).

Points are the progress events' payloads (``sent``, ``remaining`` in bytes, ``at`` in ISO 8601); the x axis is the
seconds since the first point shown, the y axis gigabytes as the figures beside it show them (``filesizeformat``:
1024³ bytes, written GB).
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

W, H = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 44  # room for the axes' labels
GB = 1024**3  # as ``filesizeformat`` counts the figures beside the chart


@dataclass
class Tick:
    at: float  # pixel along its axis
    label: str


@dataclass
class Chart:
    sent: str = ""  # polyline points
    remaining: str = ""
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    since: datetime | None = None  # the time of x = 0
    suspend: tuple[float, float] | None = None  # pixels: where the suspend window starts, and its width
    suspend_label: str = ""
    w: int = W
    h: int = H
    left: int = LEFT
    right: int = W - RIGHT
    top: int = TOP
    bottom: int = H - BOTTOM
    plot_h: int = H - BOTTOM - TOP


def _step(span: float, count: int = 5) -> float:
    """A round tick step (1, 2 or 5 × 10ⁿ) giving at most about ``count`` ticks over ``span``."""
    raw = span / count if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(nice * power for nice in (1, 2, 5, 10) if nice * power >= raw)


def _label(value: float, step: float) -> str:
    return f"{value:.{max(0, -math.floor(math.log10(step)))}f}"


def _when(point: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(point["at"])
    except (KeyError, TypeError, ValueError):
        return None


def build(points: list[dict], suspend: tuple[datetime, datetime] | None = None, suspend_bound: bool = False
          ) -> Chart | None:
    """The chart of these progress points (oldest first), or None when there is nothing to draw. ``suspend``: the
    window's start and end (an upper bound when ``suspend_bound``), drawn where it falls on the time axis."""
    timed = [(t, p) for p in points if (t := _when(p)) is not None and "sent" in p]
    if not timed:
        return None
    chart = Chart(since=timed[0][0])
    span_s = max((timed[-1][0] - chart.since).total_seconds(), 1.0)
    top_gb = max(((p["sent"] or 0) + (p.get("remaining") or 0)) / GB for _, p in timed) or 1.0
    x_step, y_step = _step(span_s), _step(top_gb, 4)
    span_s = math.ceil(span_s / x_step) * x_step  # both axes end on a tick
    top_gb = -(-top_gb // y_step) * y_step
    width, height = chart.right - chart.left, chart.bottom - chart.top

    def x(seconds: float) -> float:
        return chart.left + width * min(max(seconds, 0.0), span_s) / span_s

    def y(gb: float) -> float:
        return chart.bottom - height * gb / top_gb

    def line(key: str) -> str:
        return " ".join(f"{x((t - chart.since).total_seconds()):.1f},{y((p.get(key) or 0) / GB):.1f}" for t, p in timed)

    chart.sent, chart.remaining = line("sent"), line("remaining")
    ticks = round(span_s / x_step) + 1
    chart.x_ticks = [Tick(x(i * x_step), _label(i * x_step, x_step)) for i in range(ticks)]
    chart.y_ticks = [Tick(y(i * y_step), _label(i * y_step, y_step)) for i in range(int(round(top_gb / y_step)) + 1)]
    if suspend is not None:
        start, end = ((moment - chart.since).total_seconds() for moment in suspend)
        if end >= 0 and end >= start:
            left = x(start)
            chart.suspend = (left, max(x(end) - left, 2.0))  # a window shorter than a pixel still shows
            seconds = (suspend[1] - suspend[0]).total_seconds()
            chart.suspend_label = f"suspended {'at most ' if suspend_bound else ''}{seconds:.1f} s"
    return chart
