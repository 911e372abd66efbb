"""PNG plots of a search: best so far over trials, each parameter against accuracy, learning curves."""

from __future__ import annotations

from pathlib import Path

from crnn.plots import plt, save_figure


def search_plots(exp: Path, rows: list[dict], params: list[str], curves: dict, order: list[str]) -> None:
    out = exp / "plots"
    out.mkdir(exist_ok=True)
    by_id = {r["trial_id"]: r for r in rows}

    scores = [by_id[t]["exact_acc"] for t in order if by_id[t]["exact_acc"] is not None]
    best, so_far = -1.0, []
    for s in scores:
        best = max(best, s)
        so_far.append(best)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(scores) + 1), [100 * s for s in scores], "o", alpha=0.6, label="trial")
    ax.step(range(1, len(so_far) + 1), [100 * s for s in so_far], where="post", label="best so far")
    ax.set_xlabel("trial (in start order)")
    ax.set_ylabel("val exact accuracy (%)")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, out / "best_so_far.png")

    fig, axes = plt.subplots(1, len(params), figsize=(4 * len(params), 3.5), squeeze=False)
    for ax, name in zip(axes[0], params, strict=True):
        pts = [(r[name], 100 * r["exact_acc"]) for r in rows if r["exact_acc"] is not None and r[name] is not None]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], alpha=0.7)
        if name == "lr":
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("val exact accuracy (%)")
        ax.grid(alpha=0.3)
    save_figure(fig, out / "params.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for trial_id, points in curves.items():
        if points:
            ax.plot([p[0] for p in points], [100 * p[1] for p in points], "o-", alpha=0.7, label=trial_id)
    ax.set_xlabel("epoch")
    ax.set_ylabel("val exact accuracy (%)")
    ax.grid(alpha=0.3)
    if len(curves) <= 12:
        ax.legend(fontsize=7)
    save_figure(fig, out / "learning_curves.png")
