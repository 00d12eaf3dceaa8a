"""The 12-month compliance trend as numbers for an inline SVG bar chart drawn by the template.

No script and no ``style`` attribute (the CSP forbids both): geometry goes in SVG attributes, colours in
``app.css`` classes. The viewBox is 360 wide, so on a 360 px phone one unit is about one pixel and the
12 px labels stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.blueprints.inspections.results.services import FAILING_RATE, MonthPoint

WIDTH, HEIGHT = 360, 230
LEFT, RIGHT, TOP, BOTTOM = 42, 354, 18, 186


@dataclass(frozen=True)
class Bar:
    x: float  # centre of the slot
    bar_x: float
    y: float
    height: float
    width: float
    value: str  # the rate as a whole percentage, or "—"
    month_label: str  # the month's number; the axis says 月 once
    year_label: str  # shown under January and under the first month
    css: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[Bar]
    grid: list[tuple[float, str]]  # (y, label) for 0 %, 50 %, 100 %
    threshold_y: float
    threshold_label: str
    summary: str  # the chart in words, for screen readers


def _y(rate: float) -> float:
    return BOTTOM - rate * (BOTTOM - TOP)


def trend_chart(points: list[MonthPoint]) -> Chart:
    slot = (RIGHT - LEFT) / max(len(points), 1)
    width = min(18.0, slot * 0.62)
    bars = []
    for n, point in enumerate(points):
        centre = LEFT + slot * (n + 0.5)
        rate = point.figures.rate
        top = _y(rate) if rate is not None else BOTTOM
        css = "bar-none" if rate is None else ("bar-low" if rate < FAILING_RATE else "bar-ok")
        bars.append(Bar(
            x=round(centre, 1), bar_x=round(centre - width / 2, 1), y=round(top, 1),
            height=round(BOTTOM - top, 1), width=round(width, 1),
            value="—" if rate is None else f"{rate * 100:.0f}",
            month_label=str(point.month.month),
            year_label=f"{point.month.year}年" if n == 0 or point.month.month == 1 else "",
            css=css,
        ))
    summary = "、".join(f"{p.month.year}年{p.month.month}月 {b.value}{'%' if b.value != '—' else ''}"
                       for p, b in zip(points, bars, strict=True))
    return Chart(
        width=WIDTH, height=HEIGHT, left=LEFT, right=RIGHT, top=TOP, bottom=BOTTOM, bars=bars,
        grid=[(_y(0.0), "0%"), (_y(0.5), "50%"), (_y(1.0), "100%")],
        threshold_y=round(_y(FAILING_RATE), 1), threshold_label=f"{FAILING_RATE * 100:.0f}%", summary=summary,
    )
