"""What kind of mistake each wrong image is: case only, a look-alike, another substitution, wrong length.

    python research/error_kinds.py --model results/captcha-62x5 --data data/fresh2026 [--data ...]

Every wrong prediction of ``--model`` on the ``--split`` of each ``--data`` falls in the first kind
that fits: *wrong length* (a character missed or added), *case only* (right ignoring case), *look-alike*
(every substituted character stays within ``0/o/O`` or ``l/I/1``, possibly with case slips), or
*other*. Prints the counts, the exact accuracy with its 95% interval and the most frequent pairs with
their rates among the true character's occurrences.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from crnn.data.store import load_dataset
from crnn.errors import UserError
from crnn.inference.evaluate import predict_split
from crnn.metrics import LOOK_ALIKE_SETS, pair_rates
from crnn.stats import wilson
from crnn.training.checkpoint import load_model

KINDS = ("case only", "look-alike", "other", "wrong length")


def kind(pred: str, true: str) -> str:
    """The kind of one wrong prediction (``pred != true``)."""
    if len(pred) != len(true):
        return "wrong length"
    if pred.lower() == true.lower():
        return "case only"
    slips = [(p, t) for p, t in zip(pred, true, strict=True) if p.lower() != t.lower()]
    if all(any(p in s and t in s for s in LOOK_ALIKE_SETS) for p, t in slips):
        return "look-alike"
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="run folder or checkpoint")
    ap.add_argument("--data", required=True, action="append", help="dataset folder (repeat to pool several)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--beam-width", type=int, default=0, help="decoding beam width (default: the model's)")
    ap.add_argument("--top", type=int, default=12, help="pairs to print")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = ap.parse_args()
    try:
        loaded = load_model(args.model)
        preds, labels = [], []
        beam = args.beam_width or loaded.beam_width
        for folder in args.data:
            p, t, _, _ = predict_split(loaded, load_dataset(folder, (args.split,), mmap=True).split(args.split), beam)
            preds += p
            labels += t
    except UserError as e:
        ap.exit(2, f"error: {e}\n")
    kinds = Counter(kind(p, t) for p, t in zip(preds, labels, strict=True) if p != t)
    wrong = sum(kinds.values())
    result = {
        "count": len(labels), "wrong": wrong, "exact_acc": 1 - wrong / len(labels),
        "exact_ci": list(wilson(len(labels) - wrong, len(labels))), "kinds": {k: kinds[k] for k in KINDS},
        "pairs": pair_rates(preds, labels)[: args.top],
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=1))
        return
    lo, hi = result["exact_ci"]
    print(f"{len(labels)} images, {wrong} wrong: exact {result['exact_acc']:.2%} [{lo:.2%}, {hi:.2%}]")
    print("  " + ", ".join(f"{k} {kinds[k]}" for k in KINDS))
    print("  " + ", ".join(f"{q['true']}->{q['pred']} {q['rate']:.2%}" for q in result["pairs"]))


if __name__ == "__main__":
    main()
