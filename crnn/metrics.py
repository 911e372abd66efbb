"""Sequence metrics over (prediction, target) string pairs. Definitions are in the README.

- exact_acc: share of samples whose prediction equals the target.
- char_acc: share of target characters predicted correctly at their position (the reference's
  definition: prediction[i] == target[i]; a missing or extra character shifts nothing else).
- edit_distance: mean Levenshtein distance per sample.
- cer: total edit distance / total target characters.
- exact_acc_nocase, char_acc_nocase: the same two after lower-casing both sides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

LOOK_ALIKE_SETS = ("0oO", "lI1")  # characters the captcha font draws alike beyond case (error kinds, ceiling groups)


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def positional_hits(pred: str, target: str) -> int:
    return sum(p == t for p, t in zip(pred, target, strict=False))


def sequence_metrics(preds: Sequence[str], targets: Sequence[str]) -> dict[str, float]:
    assert len(preds) == len(targets), "one prediction per target"
    n = len(targets)
    chars = sum(len(t) for t in targets)
    edits = sum(levenshtein(p, t) for p, t in zip(preds, targets, strict=True))
    lower = [(p.lower(), t.lower()) for p, t in zip(preds, targets, strict=True)]
    return {
        "exact_acc": sum(p == t for p, t in zip(preds, targets, strict=True)) / max(n, 1),
        "char_acc": sum(positional_hits(p, t) for p, t in zip(preds, targets, strict=True)) / max(chars, 1),
        "edit_distance": edits / max(n, 1),
        "cer": edits / max(chars, 1),
        "exact_acc_nocase": sum(p == t for p, t in lower) / max(n, 1),
        "char_acc_nocase": sum(positional_hits(p, t) for p, t in lower) / max(chars, 1),
        "count": n,
    }


def substitutions(pred: str, target: str) -> list[tuple[str, str]]:
    """(target char, predicted char) pairs that a minimal edit script substitutes."""
    n, m = len(target), len(pred)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (target[i - 1] != pred[j - 1]))
    out = []
    i, j = n, m
    while i > 0 and j > 0:
        if d[i][j] == d[i - 1][j - 1] + (target[i - 1] != pred[j - 1]):
            if target[i - 1] != pred[j - 1]:
                out.append((target[i - 1], pred[j - 1]))
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return out[::-1]


def confusions(preds: Sequence[str], targets: Sequence[str], top: int = 10) -> list[tuple[str, str, int]]:
    """The most frequent (true, predicted, count) character substitutions."""
    counts: Counter[tuple[str, str]] = Counter()
    for p, t in zip(preds, targets, strict=True):
        if p != t:
            counts.update(substitutions(p, t))
    return [(a, b, c) for (a, b), c in counts.most_common(top)]


def pair_rates(preds: Sequence[str], targets: Sequence[str]) -> list[dict]:
    """Every (true, predicted) substitution with its rate among the true character's occurrences in
    ``targets``: how often an ``O`` is read as ``0``, not only how many times. Most frequent first."""
    counts: Counter[tuple[str, str]] = Counter()
    for p, t in zip(preds, targets, strict=True):
        if p != t:
            counts.update(substitutions(p, t))
    seen = Counter("".join(targets))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"true": a, "pred": b, "count": n, "of": seen[a], "rate": n / seen[a]} for (a, b), n in ranked]
