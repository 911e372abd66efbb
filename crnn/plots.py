"""PNG plots of training runs (matplotlib, no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def save_figure(fig: plt.Figure, path: str | Path) -> None:
    """Written to a temporary name and renamed: a reader never sees half a PNG."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def learning_curves(rows: list[dict], path: str | Path, title: str = "") -> None:
    """Loss and accuracy per epoch from the rows of ``metrics.jsonl``."""
    if not rows:
        return
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in rows], "o-", label="val")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("CTC loss")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    for key, label in (
        ("exact_acc", "exact"),
        ("char_acc", "char"),
        ("exact_acc_nocase", "exact, ignoring case"),
    ):
        ax_acc.plot(epochs, [100 * r[key] for r in rows], "o-", label=label)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("val accuracy (%)")
    ax_acc.set_ylim(0, 100)
    ax_acc.grid(alpha=0.3)
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
