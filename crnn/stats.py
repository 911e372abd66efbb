"""What a security researcher reads off a model: confidence intervals, precision at a coverage, and
the smallest labelled set that breaks a scheme. Pure functions over plain numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence

THRESHOLDS = (0.01, 0.10, 0.50, 0.90)  # Bursztein et al. call a scheme broken at a 1% solve rate
COVERAGES = (1.0, 0.9, 0.75, 0.5, 0.25)


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a proportion: honest at 0 and at n successes,
    where the normal approximation gives [0, 0] and [1, 1]."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, not 1 - 1e-16
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def precision_coverage(
    confidences: Sequence[float], correct: Sequence[bool], coverages: Sequence[float] = COVERAGES
) -> list[dict]:
    """An attacker who answers only its most confident share and refreshes the rest: for each
    coverage, the confidence threshold that keeps that share and the accuracy on what it keeps."""
    ranked = sorted(zip(confidences, correct, strict=True), key=lambda x: -x[0])
    out = []
    for cov in coverages:
        keep = max(1, round(cov * len(ranked))) if ranked else 0
        kept = ranked[:keep]
        out.append(
            {
                "coverage": cov,
                "answered": keep,
                "threshold": kept[-1][0] if kept else None,
                "precision": sum(c for _, c in kept) / keep if keep else None,
            }
        )
    return out


def threshold_for_precision(confidences: Sequence[float], correct: Sequence[bool], target: float) -> dict | None:
    """The lowest confidence threshold whose answers are at least ``target`` precise, with the
    coverage it keeps; None when no threshold reaches it."""
    ranked = sorted(zip(confidences, correct, strict=True), key=lambda x: -x[0])
    best, hits = None, 0
    for i, (conf, ok) in enumerate(ranked, 1):
        hits += ok
        last_of_tie = i == len(ranked) or ranked[i][0] < conf  # a threshold keeps every answer at its confidence
        if last_of_tie and hits / i >= target:
            best = {"threshold": conf, "coverage": i / len(ranked), "precision": hits / i}
    return best


def labels_to_break(curve: Sequence[dict], thresholds: Sequence[float] = THRESHOLDS) -> dict[str, int | None]:
    """For each solve rate t, the smallest training-set size whose exact accuracy's lower 95% bound
    reaches t (repeats of one size pooled); None if no size tried does."""
    pooled: dict[int, list[int]] = {}
    for row in curve:
        k, n = pooled.setdefault(row["train_images"], [0, 0]), row["test_count"]
        k[0] += row["test_correct"]
        k[1] += n
    lower = {size: wilson(k, n)[0] for size, (k, n) in sorted(pooled.items())}
    return {f"{t:.2f}": next((size for size, lo in lower.items() if lo >= t), None) for t in thresholds}
