"""The chart of a statement: income and expense by category, as an ECharts option built from plain values
(the page writes it into a JSON block; console.js draws it: no code in the page, as the CSP demands).

Amounts go to the chart as yuan written exactly from fen ("1234.50"), never through a float.
"""

from __future__ import annotations

from typing import Any

from core import ledger

# Green for income, dark orange for expense: each at least 4.5:1 on white, and told apart by red-green
# blind eyes by their lightness too.
COLOURS = ("#17803d", "#b45309")


def yuan_text(fen: int) -> str:
    """Fen as a plain decimal yuan string for a chart value ("-12.05")."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def size(view: ledger.StatementView) -> str:
    """How tall the chart is drawn (a class of the page's stylesheet), by how many categories it shows."""
    count = len(view.summary.totals.by_category)
    return "s" if count <= 4 else "m" if count <= 9 else "l"


def option(view: ledger.StatementView, names: dict[str, str], words: dict[str, Any]) -> dict[str, Any]:
    """A horizontal bar per category: income bars in one colour, expense bars in the other."""
    rows = view.summary.totals.by_category
    sides = words["sides"]
    labels = [names.get(key, key) for _, key, _ in rows]
    series = [
        {
            "name": sides[side],
            "type": "bar",
            "stack": "amount",
            "barMaxWidth": 28,
            "label": {"show": True, "position": "right", "color": "#1f2933"},
            "data": [yuan_text(fen) if s == side else None for s, _, fen in rows],
        }
        for side in ("income", "expense")
    ]
    return {
        "aria": {"enabled": True},
        "color": list(COLOURS),
        "title": {"text": words["chart_title"], "left": 0, "textStyle": {"fontSize": 15, "color": "#1f2933"}},
        "legend": {"data": [sides["income"], sides["expense"]], "bottom": 0, "left": "center"},
        # Drawn on the canvas: a category name never becomes HTML, and no inline style meets the CSP.
        "tooltip": {"trigger": "axis", "confine": True, "renderMode": "richText"},
        "grid": {"left": 8, "right": 72, "top": 36, "bottom": 36, "containLabel": True},
        # Few ticks whose labels never overlap: the page is read on a phone first.
        "xAxis": {
            "type": "value",
            "splitNumber": 3,
            "axisLabel": {"hideOverlap": True},
            "splitLine": {"lineStyle": {"color": "#e4e7eb"}},
        },
        "yAxis": {"type": "category", "data": labels, "inverse": True, "axisLabel": {"fontSize": 13}},
        "series": series,
        "textStyle": {"fontFamily": "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"},
    }
