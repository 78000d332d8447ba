"""ECharts options for the three rates, built as plain dicts: the page writes them into a JSON data block
and bot/console/static/console.js draws them (no code in the page, as the CSP demands).

Rates are percentages from 0 to 100 with one decimal (`db.rates.percent`, rounded half up as the chat's
/stats rounds them); a rate with nothing due is None, drawn as a gap, never as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from db.rates import Rates, percent

# Blue, green and dark orange: each at least 4.5:1 against white, and told apart by red-green blind eyes.
COLOURS = ("#1d5fbf", "#17803d", "#b45309")
MANY = 16  # more bars than this: the chart scrolls (dataZoom) instead of squeezing the labels


def value(rate: Fraction | None) -> float | None:
    """A rate as a chart value: a percentage with one decimal, None when nothing was due."""
    shown = percent(rate)
    return float(shown) if shown else None


def values(rates: Rates) -> tuple[float | None, float | None, float | None]:
    """响应率, 解决率, 满意率 of one group as chart values."""
    return value(rates.response), value(rates.resolution), value(rates.satisfaction)


def _percent_axis() -> dict[str, Any]:
    return {
        "type": "value",
        "min": 0,
        "max": 100,
        "interval": 25,
        "axisLabel": {"formatter": "{value}%"},
        "splitLine": {"lineStyle": {"color": "#e4e7eb"}},
    }


def _frame(title: str, subtitle: str, series: Sequence[str]) -> dict[str, Any]:
    """What every rates chart shares: title, legend, tooltip, colours, accessibility description."""
    return {
        "aria": {"enabled": True},
        "color": list(COLOURS),
        "title": {
            "text": title,
            "subtext": subtitle,
            "left": 0,
            "textStyle": {"fontSize": 15, "color": "#1f2933"},
            "subtextStyle": {"color": "#52606d"},
        },
        # Below the plot: a long title (English) never runs into it.
        "legend": {"data": list(series), "bottom": 0, "left": "center", "textStyle": {"color": "#1f2933"}},
        # Drawn on the canvas: a user-typed name never becomes HTML, and no inline style meets the CSP.
        "tooltip": {"trigger": "axis", "confine": True, "renderMode": "richText"},
        "textStyle": {"fontFamily": "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"},
    }


def trend(
    title: str, subtitle: str, series: Sequence[str], months: Sequence[str], rates: Sequence[Rates]
) -> dict[str, Any]:
    """A line per rate over the months (oldest first), on a 0–100 % axis."""
    points = [values(r) for r in rates]
    option = _frame(title, subtitle, series)
    option["grid"] = {"left": 8, "right": 24, "top": 64, "bottom": 32, "containLabel": True}
    option["xAxis"] = {
        "type": "category",
        "data": list(months),
        "boundaryGap": False,
        "axisLabel": {"interval": 0, "rotate": 40 if len(months) > 6 else 0},  # every month named
    }
    option["yAxis"] = _percent_axis()
    option["series"] = [
        {
            "name": name,
            "type": "line",
            "data": [p[index] for p in points],
            "connectNulls": False,
            "symbol": "circle",
            "symbolSize": 8,
            "lineStyle": {"width": 3},
            "label": {"show": len(months) <= 6, "formatter": "{c}%", "fontSize": 11},
        }
        for index, name in enumerate(series)
    ]
    return option


def bars(
    title: str, subtitle: str, series: Sequence[str], groups: Sequence[tuple[str, Rates]]
) -> dict[str, Any]:
    """Horizontal bars, three per group (one per rate), groups top to bottom in the given order."""
    names = [name for name, _ in groups]
    points = [values(r) for _, r in groups]
    option = _frame(title, subtitle, series)
    option["grid"] = {"left": 8, "right": 56, "top": 64, "bottom": 32, "containLabel": True}
    option["xAxis"] = _percent_axis()
    option["yAxis"] = {
        "type": "category",
        "data": names,
        "inverse": True,  # the first group on top, as in the table beside it
        "axisLabel": {"width": 160, "overflow": "truncate"},
    }
    option["series"] = [
        {
            "name": name,
            "type": "bar",
            "data": [p[index] for p in points],
            "barMaxWidth": 18,
            "label": {"show": True, "position": "right", "formatter": "{c}%", "fontSize": 11},
        }
        for index, name in enumerate(series)
    ]
    if len(groups) > MANY:
        option["dataZoom"] = [
            {"type": "slider", "yAxisIndex": 0, "startValue": 0, "endValue": MANY - 1, "right": 0},
            {"type": "inside", "yAxisIndex": 0},
        ]
        option["grid"]["right"] = 72
    return option


def size(groups: int) -> str:
    """The chart's height class (stats.css) for a number of bar groups: tall enough to read each name."""
    if groups <= 3:
        return "s"
    if groups <= 7:
        return "m"
    return "l"
