"""PNG plots of training runs (matplotlib, no display needed). Each plot is a ``*_figure`` function
that returns the figure (tests read its axes) and a function that writes it."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

# each series its own marker, size and line style, so lines on top of each other (all at 0%) stay visible
STYLES = ({"marker": "o", "ms": 7, "ls": "-"}, {"marker": "s", "ms": 5, "ls": "--"}, {"marker": "^", "ms": 4, "ls": ":"})


def save_figure(fig: plt.Figure, path: str | Path) -> None:
    """Written to a temporary name and renamed: a reader never sees half a PNG."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def whole_ticks(ax: plt.Axes) -> None:
    """x ticks at whole numbers only (epochs, trials: never 1.25, 1.5)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def plain_log_ticks(axis: matplotlib.axis.Axis) -> None:
    """A log axis labelled 0.5, 1, 2, 5 (not 5x10^-1): ticks at 1, 2 and 5 of each decade, as plain numbers."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def learning_curves_figure(rows: list[dict], title: str = "") -> plt.Figure:
    """Loss and accuracy per epoch from the rows of ``metrics.jsonl``."""
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for (key, label), style in zip((("train_loss", "train"), ("val_loss", "val")), STYLES, strict=False):
        ax_loss.plot(epochs, [r[key] for r in rows], label=label, **style)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("CTC loss (log scale)")
    ax_loss.set_yscale("log")
    plain_log_ticks(ax_loss.yaxis)
    ax_loss.grid(alpha=0.3, which="major")
    ax_loss.legend()
    series = (("exact_acc", "exact"), ("char_acc", "char"), ("exact_acc_nocase", "exact, ignoring case"))
    for (key, label), style in zip(series, STYLES, strict=True):
        if all(key in r for r in rows):
            ax_acc.plot(epochs, [100 * r[key] for r in rows], label=label, **style)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("val accuracy (%)")
    ax_acc.set_ylim(-2, 102)  # a line at 0 or 100 is drawn inside the frame, not on it
    ax_acc.grid(alpha=0.3)
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        whole_ticks(ax)
    if title:
        fig.suptitle(title)
    return fig


def learning_curves(rows: list[dict], path: str | Path, title: str = "") -> None:
    if rows:
        save_figure(learning_curves_figure(rows, title), path)
