"""Which training-set sizes an assessment tries: a given list, or ``auto``: a coarse grid from
``SMALLEST`` labels up by a factor of 4 (and the whole training split), then rounds that try the geometric
middle of every bracket wider than 2x around a solve rate, until each labels-to-break is known within 2x.
Pure functions of the finished runs, so a resumed assessment plans the same rounds."""

from __future__ import annotations

import math
from collections.abc import Sequence

from crnn.errors import UserError
from crnn.stats import THRESHOLDS, wilson

SMALLEST = 25
COARSE_FACTOR = 4
BRACKET = 2.0  # every labels-to-break is bracketed within this factor


def coarse_sizes(n_train: int) -> list[int]:
    """25, 100, 400, ... below the training split's size, and the whole split."""
    sizes, size = [], SMALLEST
    while size < n_train:
        sizes.append(size)
        size *= COARSE_FACTOR
    return [*sizes, n_train]


def parse_sizes(text: str | None, n_train: int) -> list[int] | None:
    """``--sizes``: None for ``auto`` (the default), else the sorted list given."""
    if text is None or text.strip() == "auto":
        return None
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise UserError(
            f"--sizes {text!r}: expected auto or comma-separated numbers of training images, e.g. 250,1000,4000"
        ) from None
    if not sizes or sizes[0] < 1:
        raise UserError(f"--sizes {text!r}: expected positive numbers of training images, e.g. 250,1000,4000")
    if sizes[-1] > n_train:
        raise UserError(f"--sizes {text!r}: the training split holds {n_train} images; the largest size can be at most that")
    return sizes


def _pooled(curve: Sequence[dict]) -> dict[int, tuple[int, int]]:
    """Each size's (correct, count) on the test split, pooled over its repeats, by size."""
    pooled: dict[int, list[int]] = {}
    for row in curve:
        k = pooled.setdefault(int(row["train_images"]), [0, 0])
        k[0] += row["test_correct"]
        k[1] += row["test_count"]
    return {size: (k, n) for size, (k, n) in sorted(pooled.items())}


def lower_bounds(curve: Sequence[dict]) -> dict[int, float]:
    """Each size's pooled (over repeats) lower 95% bound of exact accuracy, by size."""
    return {size: wilson(k, n)[0] for size, (k, n) in _pooled(curve).items()}


def brackets(curve: Sequence[dict], thresholds: Sequence[float] = THRESHOLDS) -> dict[str, list[int | None]]:
    """For each solve rate: [the largest size tried below the labels-to-break (None: none was tried
    below it, so the answer is "<= N"), the labels-to-break (None: not reached)]."""
    lower = lower_bounds(curve)
    out = {}
    for t in thresholds:
        hit = next((s for s, lo in lower.items() if lo >= t), None)
        below = [s for s in lower if hit is None or s < hit]
        out[f"{t:.2f}"] = [max(below) if below else None, hit]
    return out


def refine(curve: Sequence[dict], tried: Sequence[int]) -> list[int]:
    """The sizes of the next round: the geometric middle of each bracket wider than ``BRACKET`` (a size
    not tried yet); [] when every labels-to-break is known within it."""
    new = set()
    for below, hit in brackets(curve).values():
        if below is None or hit is None or hit <= BRACKET * below:
            continue
        middle = round(math.sqrt(below * hit))
        if middle not in tried and below < middle < hit:
            new.add(middle)
    return sorted(new)


def bracket_text(below: int | None, hit: int | None) -> str:
    """How a report writes one labels-to-break: "<= 25", "200-400", "not reached", or "0 (no labels)" for an
    off-the-shelf tool's point."""
    if hit is None:
        return "not reached"
    if hit == 0:
        return "0 (no labels)"
    return f"<= {hit}" if below is None else f"{below + 1}-{hit}"


def pooled_exact(curve: Sequence[dict]) -> dict[int, float]:
    """Each size's exact accuracy pooled over its repeats, by size."""
    return {size: k / n for size, (k, n) in _pooled(curve).items() if n}


def heading(curve: Sequence[dict], thresholds: Sequence[float] = THRESHOLDS) -> dict | None:
    """Where the curve is heading past its largest size: the exact accuracy gained per doubling of the labels
    between the two largest sizes, and for each solve rate not yet reached there, the labels that a straight
    line on the log axis would reach it at (None: the curve did not rise). A rough guide, no measurement:
    curves bend, and a flat one says the model, not the labels, is the limit. None with fewer than 2 sizes,
    or when every run at the largest size stayed on the CTC blank plateau (those measure the recipe, not the
    scheme, and the report warns of them)."""
    exact = pooled_exact(curve)
    largest = [r for r in curve if exact and int(r["train_images"]) == max(exact)]
    if len(exact) < 2 or not any(r.get("left_plateau_at", True) for r in largest):
        return None
    (s1, e1), (s2, e2) = list(exact.items())[-2:]
    gain = (e2 - e1) / math.log2(s2 / s1)
    labels = {f"{t:.2f}": (round(s2 * 2 ** ((t - e2) / gain)) if gain > 0 else None) for t in thresholds if e2 < t}
    return {"from": s1, "to": s2, "exact": [e1, e2], "gain_per_doubling": gain, "labels": labels}
