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

from rapidfuzz.distance import Levenshtein

LOOK_ALIKE_SETS = ("0oO", "lI1")  # characters the captcha font draws alike beyond case (error kinds, ceiling groups)


def levenshtein(a: str, b: str) -> int:
    """Insertions, deletions and substitutions that turn ``a`` into ``b`` (rapidfuzz's C++ Levenshtein)."""
    return Levenshtein.distance(a, b)


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
    """(target char, predicted char) pairs that a minimal edit script substitutes. Where several scripts are
    minimal, substitutions win: a same-length misreading whose positional mismatches are as few as the edit
    distance is those mismatches (``ab`` read as ``ba``: two substitutions, not a deletion and an insertion);
    otherwise rapidfuzz's edit script (its editops)."""
    if len(pred) == len(target):
        mismatches = [(t, p) for t, p in zip(target, pred, strict=True) if t != p]
        if len(mismatches) == Levenshtein.distance(target, pred, score_cutoff=len(mismatches)):
            return mismatches
    return [(target[op.src_pos], pred[op.dest_pos]) for op in Levenshtein.editops(target, pred) if op.tag == "replace"]


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
