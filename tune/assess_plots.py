"""PNG plots of assessments: exact accuracy with its 95% interval against labelled images (one curve
per scheme), and precision against coverage."""

from __future__ import annotations

from pathlib import Path

from crnn.plots import plt, save_figure
from crnn.stats import THRESHOLDS


def curve_plot(assessments: dict[str, dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, a in assessments.items():
        rows = a["curve"]
        if not rows:
            continue
        xs = [r["train_images"] for r in rows]
        ys = [100 * r["exact_acc"] for r in rows]
        lo = [100 * (r["exact_acc"] - r["exact_ci"][0]) for r in rows]
        hi = [100 * (r["exact_ci"][1] - r["exact_acc"]) for r in rows]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", capsize=3, label=name)
    for t in THRESHOLDS:
        ax.axhline(100 * t, color="grey", lw=0.8, ls="--")
        # right of the plot area (x in axes units): clear of the points and of the y axis' title
        ax.text(1.01, 100 * t, f"{t:.0%}", transform=ax.get_yaxis_transform(), va="center", fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("labelled training images")
    ax.set_ylabel("test exact accuracy (%), 95% interval")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def coverage_plot(assessment: dict, path: Path) -> None:
    rows = assessment["coverage"]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([100 * r["coverage"] for r in rows], [100 * r["precision"] for r in rows], "o-")
    ax.set_xlabel("answered (%) - the rest refreshed")
    ax.set_ylabel("precision of the answers (%)")
    ax.set_xlim(0, 105)
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    save_figure(fig, path)
