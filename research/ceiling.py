"""How much of a model's error is the generator's look-alike glyphs, and the exact accuracy that
would remain if those confusions could not be reduced (results/README.md, "The ceiling").

    python research/ceiling.py --model results/tuned-62/final --data data/alnum100k [--split test]

Look-alikes: a letter and its other case (``v/V``), and ``0/o/O``. The estimate is
``(1 - look-alike substitutions / characters) ** length``: an upper bound on exact accuracy only
if those confusions were irreducible, which a better model shows they are not entirely.
"""

from __future__ import annotations

import argparse
from collections import Counter

from crnn.data.store import load_dataset
from crnn.inference.evaluate import predict_split
from crnn.metrics import sequence_metrics, substitutions
from crnn.training.checkpoint import load_model


def look_alike(a: str, b: str) -> bool:
    return a.lower() == b.lower() or {a, b} <= {"0", "o", "O"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="run folder or checkpoint file")
    parser.add_argument("--data", required=True, help="dataset folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--beam-width", type=int, help="default: the model's")
    args = parser.parse_args()
    loaded = load_model(args.model)
    split = load_dataset(args.data).split(args.split)
    beam = args.beam_width or loaded.config.train.eval.beam_width
    preds, _, _, _ = predict_split(loaded, split, beam)
    subs: Counter[tuple[str, str]] = Counter()
    for p, t in zip(preds, split.labels, strict=True):
        subs.update(substitutions(p, t))
    chars = sum(len(t) for t in split.labels)
    scores = sequence_metrics(preds, split.labels)
    errors = round((1 - scores["char_acc"]) * chars)  # characters not right at their position
    alike = sum(n for (a, b), n in subs.items() if look_alike(a, b))
    length = round(chars / len(split.labels))
    bound = (1 - alike / chars) ** length
    print(f"{args.model} on {args.data} [{args.split}], {len(preds)} images, beam {beam}: exact {scores['exact_acc']:.2%}")
    print(f"character errors: {errors} of {chars}; look-alike substitutions: {alike} ({alike / max(errors, 1):.0%})")
    print(f"look-alike error per character: {alike / chars:.2%}; exact accuracy if irreducible: at most {bound:.1%}")
    top = [(f"{a}->{b}", n) for (a, b), n in subs.most_common() if look_alike(a, b)][:10]
    print("look-alike pairs: " + ", ".join(f"{k} {n}" for k, n in top))


if __name__ == "__main__":
    main()
