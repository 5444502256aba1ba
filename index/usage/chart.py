"""The report's chart: questions per day and the share answered, as a PNG readable on a phone."""

from __future__ import annotations

import io
import logging

from .report import UsageReport

log = logging.getLogger(__name__)

# 900 x 600 px: Discord shows it about 400 px wide on a phone, so text is drawn large.
SIZE = (6.0, 4.0)
DPI = 150
ANSWERED, UNANSWERED, SHARE = "#3a7d44", "#d9a441", "#1f4e9c"
MAX_TICKS = 7


def render_chart(report: UsageReport) -> bytes:
    """PNG bytes of the chart (matplotlib's Agg backend: no display, safe in a worker thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    family = _japanese_font()
    days = report.days
    labels = [f"{int(d[5:7])}/{int(d[8:10])}" for d, _, _ in days]
    answered = [a for _, _, a in days]
    unanswered = [n - a for _, n, a in days]
    x = range(len(days))
    fig = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(x, answered, color=ANSWERED, label="回答あり", width=0.8)
    ax.bar(x, unanswered, bottom=answered, color=UNANSWERED, label="回答なし", width=0.8)
    ax.set_ylabel("質問数", fontsize=13, fontfamily=family)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    step = max(1, -(-len(days) // MAX_TICKS))
    ax.set_xticks(list(x)[::step], labels[::step], fontsize=12)
    ax.tick_params(axis="y", labelsize=12)
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.spines[["top"]].set_visible(False)
    share = ax.twinx()
    # Days without questions have no share: the line breaks there instead of dropping to 0.
    shares = [a / n if n else float("nan") for _, n, a in days]
    share.plot(x, shares, color=SHARE, marker="o", markersize=4, linewidth=2.2, label="回答率")
    share.set_ylim(0, 1.05)
    share.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    share.set_ylabel("回答率", fontsize=13, fontfamily=family, color=SHARE)
    share.tick_params(axis="y", labelsize=12, colors=SHARE)
    share.spines[["top"]].set_visible(False)
    total = f"{report.questions}件・回答率{_percent(report.answered_share)}"
    ax.set_title(f"日別の質問数と回答率（{total}）", fontsize=15, fontfamily=family, pad=30)
    handles = ax.get_legend_handles_labels()[0] + share.get_legend_handles_labels()[0]
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.9),
        ncols=3,
        frameon=False,
        prop={"family": family, "size": 12},
    )
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _japanese_font() -> str:
    """IPAexGothic from matplotlib-fontja: no tofu boxes on a machine without CJK fonts."""
    from matplotlib import font_manager
    from matplotlib_fontja import get_font_ttf_path

    path = get_font_ttf_path()
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"
