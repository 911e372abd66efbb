"""Edit distance and confusion pairs: rapidfuzz (C++, what crnn.metrics uses) against the textbook
pure-Python dynamic programme (kept here as the baseline), on the same prediction/label pairs.

    python benchmarks/bench_metrics.py [--pairs 100000] [--length 5]

The pairs are 5-character labels of 62 classes and predictions with 0-2 random edits each, as a
half-trained model makes; both give the same distances (checked). Where a deletion sits next to a substitution, two minimal
scripts differ in which character was deleted; the benchmark counts those.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections import Counter

from crnn.metrics import levenshtein, pair_rates, sequence_metrics

CHARS = string.digits + string.ascii_letters


def levenshtein_py(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def substitutions_py(pred: str, target: str) -> list[tuple[str, str]]:
    n, m = len(target), len(pred)
    d = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (target[i - 1] != pred[j - 1]))
    out, i, j = [], n, m
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


def noisy(label: str, rng: random.Random) -> str:
    s = list(label)
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        op, k = rng.choice("sid"), rng.randrange(len(s) + 1)
        if op == "s" and k < len(s):
            s[k] = rng.choice(CHARS)
        elif op == "i":
            s.insert(k, rng.choice(CHARS))
        elif op == "d" and k < len(s) and len(s) > 1:
            del s[k]
    return "".join(s)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=100_000)
    p.add_argument("--length", type=int, default=5)
    args = p.parse_args()
    rng = random.Random(0)
    targets = ["".join(rng.choice(CHARS) for _ in range(args.length)) for _ in range(args.pairs)]
    preds = [noisy(t, rng) for t in targets]

    start = time.perf_counter()
    ours = [levenshtein(a, b) for a, b in zip(preds, targets, strict=True)]
    fast = time.perf_counter() - start
    start = time.perf_counter()
    naive = [levenshtein_py(a, b) for a, b in zip(preds, targets, strict=True)]
    slow = time.perf_counter() - start
    assert ours == naive, "the distances differ"
    baseline = sum(naive) / len(naive)
    start = time.perf_counter()
    sequence_metrics(preds, targets)
    whole = time.perf_counter() - start

    start = time.perf_counter()
    rates = pair_rates(preds, targets)
    fast_pairs = time.perf_counter() - start
    start = time.perf_counter()
    counts: Counter[tuple[str, str]] = Counter()
    for a, b in zip(preds, targets, strict=True):
        if a != b:
            counts.update(substitutions_py(a, b))
    slow_pairs = time.perf_counter() - start
    ours_counts = {(r["true"], r["pred"]): r["count"] for r in rates}
    moved = sum(abs(ours_counts.get(k, 0) - counts.get(k, 0)) for k in set(ours_counts) | set(counts)) // 2

    n = args.pairs
    print(f"{n} pairs of {args.length}-character labels, mean edit distance {baseline:.3f}")
    print(f"  edit distance, rapidfuzz:         {n / fast:12,.0f} pairs/s")
    print(f"  edit distance, pure Python:       {n / slow:12,.0f} pairs/s  ({slow / fast:.1f}x slower; same distances)")
    print(f"  sequence_metrics, every figure:   {n / whole:12,.0f} pairs/s")
    print(f"  pair_rates (rapidfuzz editops):   {n / fast_pairs:12,.0f} pairs/s")
    print(f"  pure-Python edit script:          {n / slow_pairs:12,.0f} pairs/s  ({slow_pairs / fast_pairs:.1f}x slower)")
    print(
        f"  substitutions: {sum(counts.values())} pure Python, {sum(r['count'] for r in rates)} crnn.metrics; {moved} "
        "attributed to another pair (a deletion next to a substitution: both scripts minimal, the tie broken apart)"
    )


if __name__ == "__main__":
    main()
