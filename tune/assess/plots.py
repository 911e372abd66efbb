"""PNG plots of assessments: exact accuracy with its 95% interval against labelled images (one curve
per scheme), and precision against coverage."""

from __future__ import annotations

from pathlib import Path

from crnn.plots import STYLES, plain_log_ticks, plt, save_figure
from crnn.stats import THRESHOLDS


def curve_figure(assessments: dict[str, dict], title: str = "") -> plt.Figure:
    """Each attacker's (or report's) exact accuracy with its 95% interval against labelled images."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    trained = False
    for i, (name, a) in enumerate(assessments.items()):
        rows = a["curve"]
        if not rows:
            continue
        style = STYLES[i % len(STYLES)]
        if all(r["train_images"] == 0 for r in rows):  # an off-the-shelf tool: no labels, a level across the axis
            lo, hi = rows[0]["exact_ci"]
            ax.axhspan(100 * lo, 100 * hi, color=f"C{i}", alpha=0.15)
            ax.axhline(100 * rows[0]["exact_acc"], color=f"C{i}", ls=":", label=f"{name} (no labels)")
            continue
        trained = True
        xs = [r["train_images"] for r in rows]
        ys = [100 * r["exact_acc"] for r in rows]
        lo = [100 * (r["exact_acc"] - r["exact_ci"][0]) for r in rows]
        hi = [100 * (r["exact_ci"][1] - r["exact_acc"]) for r in rows]
        ax.errorbar(xs, ys, yerr=[lo, hi], capsize=3, label=name, marker=style["marker"], ms=style["ms"], ls=style["ls"])
    for t in THRESHOLDS:
        ax.axhline(100 * t, color="grey", lw=0.8, ls="--")
        # right of the plot area (x in axes units): clear of the points and of the y axis' title
        ax.text(1.01, 100 * t, f"{t:.0%}", transform=ax.get_yaxis_transform(), va="center", fontsize=7, color="grey")
    ax.set_xscale("log")
    if not trained:  # only a tool's level: the label counts an assessment would try
        ax.set_xlim(10, 10_000)
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("labelled training images (log scale)")
    ax.set_ylabel("test exact accuracy (%), 95% interval")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def curve_plot(assessments: dict[str, dict], path: Path, title: str = "") -> None:
    save_figure(curve_figure(assessments, title), path)


def coverage_figure(assessment: dict) -> plt.Figure:
    """Precision against the share answered, for the strongest attacker at its largest size."""
    rows = assessment["coverage"]
    best = assessment.get("best") or {}
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.set_title(f"{assessment['strongest']} on {best.get('train_images', '?')} labels", fontsize=10)
    ax.plot([100 * r["coverage"] for r in rows], [100 * r["precision"] for r in rows], "o-")
    ax.set_xlabel("answered (%) - the rest refreshed")
    ax.set_ylabel("precision of the answers (%)")
    ax.set_xlim(0, 105)
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    return fig


def coverage_plot(assessment: dict, path: Path) -> None:
    save_figure(coverage_figure(assessment), path)
