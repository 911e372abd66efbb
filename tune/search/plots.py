"""PNG plots of a search: best so far over trials, each parameter against accuracy, learning curves.
A ``choice`` parameter (beam width, batch size) is drawn on a categorical axis, one column per choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crnn.plots import STYLES, plain_log_ticks, plt, save_figure, whole_ticks
from tune.search.space import Param


def _value(v: object) -> str:
    return f"{v:.2g}" if isinstance(v, float) else str(v)


def trial_label(row: dict, params: list[Param]) -> str:
    """``a1b2c3: lr=0.0031, batch_size=64``: the trial and its searched values."""
    return f"{row['trial_id']}: " + ", ".join(f"{p.name}={_value(row.get(p.name))}" for p in params)


def best_so_far_figure(rows: list[dict], order: list[str]) -> plt.Figure:
    by_id = {r["trial_id"]: r for r in rows}
    scores = [by_id[t]["exact_acc"] for t in order if by_id[t]["exact_acc"] is not None]
    so_far = list(np.maximum.accumulate(scores)) if scores else []
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(scores) + 1), [100 * s for s in scores], "o", alpha=0.6, label="trial")
    ax.step(range(1, len(so_far) + 1), [100 * s for s in so_far], where="post", label="best so far")
    ax.set_xlabel("trial (in start order)")
    ax.set_ylabel("val exact accuracy (%)")
    whole_ticks(ax)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def params_figure(rows: list[dict], params: list[Param]) -> plt.Figure:
    fig, axes = plt.subplots(1, len(params), figsize=(4 * len(params), 3.5), squeeze=False)
    jitter = np.random.default_rng(0)
    for ax, p in zip(axes[0], params, strict=True):
        pts = [(r[p.name], 100 * r["exact_acc"]) for r in rows if r["exact_acc"] is not None and r.get(p.name) is not None]
        ys = [y for _, y in pts]
        if p.kind == "choice":  # one column per choice, in the space's order, each point jittered within it
            choices = list(p.args)
            xs = [choices.index(x) + jitter.uniform(-0.15, 0.15) if x in choices else np.nan for x, _ in pts]
            ax.set_xticks(range(len(choices)), [_value(c) for c in choices])
            ax.set_xlim(-0.5, len(choices) - 0.5)
        else:
            xs = [x for x, _ in pts]
            if p.kind == "loguniform":
                ax.set_xscale("log")
                plain_log_ticks(ax.xaxis)
                ax.tick_params(axis="x", labelrotation=30)
        ax.scatter(xs, ys, alpha=0.7)
        ax.set_xlabel(p.name + (" (log scale)" if p.kind == "loguniform" else ""))
        ax.set_ylabel("val exact accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def learning_curves_figure(rows: list[dict], params: list[Param], curves: dict) -> plt.Figure:
    by_id = {r["trial_id"]: r for r in rows}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (trial_id, points) in enumerate(curves.items()):
        if points:
            label = trial_label(by_id[trial_id], params) if trial_id in by_id else trial_id
            style = STYLES[i % len(STYLES)]
            ax.plot([p[0] for p in points], [100 * p[1] for p in points], alpha=0.7, label=label, **style)
    ax.set_xlabel("epoch")
    ax.set_ylabel("val exact accuracy (%)")
    ax.set_ylim(-2, 102)
    whole_ticks(ax)
    ax.grid(alpha=0.3)
    if len(curves) <= 12:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the plot: never over a curve
    return fig


def search_plots(exp: Path, rows: list[dict], params: list[Param], curves: dict, order: list[str]) -> None:
    out = exp / "plots"
    out.mkdir(exist_ok=True)
    save_figure(best_so_far_figure(rows, order), out / "best_so_far.png")
    save_figure(params_figure(rows, params), out / "params.png")
    save_figure(learning_curves_figure(rows, params, curves), out / "learning_curves.png")
