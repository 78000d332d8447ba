"""Bar charts of the three rates as PNG files (matplotlib, Agg backend, Chinese text in Noto CJK)."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
)
COLOURS = ("#3b7dd8", "#45a86b", "#e59a2f")
_lock = threading.Lock()  # pyplot's state is global; one figure at a time


@dataclass(frozen=True, slots=True)
class Panel:
    """One part of the chart: a title and, per group, the three rates in percent (None: nothing due)."""

    title: str
    groups: list[tuple[str, tuple[float | None, float | None, float | None]]]


def _cjk_font() -> str | None:
    """Register the first Noto CJK font found and return its family name; None when none is installed."""
    from matplotlib import font_manager

    for path in CJK_FONTS:
        if path.is_file():
            try:
                font_manager.fontManager.addfont(str(path))
                return font_manager.FontProperties(fname=str(path)).get_name()
            except (OSError, RuntimeError) as exc:  # an unreadable font file: try the next one
                log.warning("cannot use font %s: %s", path, exc)
    return None


def draw(panels: list[Panel], series: tuple[str, str, str], title: str, folder: Path) -> str | None:
    """Draw grouped bars (one panel per grouping) into a new PNG under `folder`; returns its file name.

    None when there is nothing to draw or matplotlib is missing: the text table still stands.
    """
    panels = [p for p in panels if p.groups]
    if not panels:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed; /stats answers without a chart")
        return None
    name = f"{secrets.token_urlsafe(24)}.png"  # 32 characters: a name the web chat serves
    folder.mkdir(parents=True, exist_ok=True)
    with _lock:
        family = _cjk_font()
        fonts = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
        with plt.rc_context({"font.family": fonts, "axes.unicode_minus": False}):
            heights = [max(2.2, 0.5 + 0.45 * len(p.groups)) for p in panels]
            figure, axes = plt.subplots(
                len(panels),
                1,
                figsize=(8, sum(heights) + 0.8),
                gridspec_kw={"height_ratios": heights},
                squeeze=False,
            )
            for ax, panel in zip(axes[:, 0], panels, strict=True):
                _panel(ax, panel, series)
            axes[0, 0].legend(loc="lower right", fontsize=8, ncols=3, bbox_to_anchor=(1.0, 1.02))
            figure.suptitle(title, fontsize=12)
            figure.tight_layout()
            figure.savefig(folder / name, format="png", dpi=110)
            plt.close(figure)
    return name


def _panel(ax: Axes, panel: Panel, series: tuple[str, str, str]) -> None:
    """Horizontal grouped bars of one panel, a value label on each bar, `—` where nothing was due."""
    labels = [label for label, _ in panel.groups]
    bar = 0.26
    for index, (serie, colour) in enumerate(zip(series, COLOURS, strict=True)):
        positions = [n + (index - 1) * bar for n in range(len(labels))]
        values = [values[index] for _, values in panel.groups]
        bars = ax.barh(positions, [v or 0 for v in values], height=bar, color=colour, label=serie)
        for rect, value in zip(bars, values, strict=True):
            text = "—" if value is None else f"{value:.1f}%"
            ax.text(rect.get_width() + 1, rect.get_y() + rect.get_height() / 2, text, va="center", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xticks([0, 25, 50, 75, 100], ["0", "25%", "50%", "75%", "100%"], fontsize=8)
    ax.set_title(panel.title, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
