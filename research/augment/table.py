"""Print the augmentation table from the runs of research/augment/run.sh: python research/augment/table.py RUNS_DIR"""

import json
import sys
from pathlib import Path

from crnn.stats import wilson

runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/augment")
print("| train.augment_ops | best val exact (epoch) | test exact [95% CI] | test char | epoch val char first >= 20% | minutes |")
print("|---|---|---|---|---|---|")
for name in ("none", "affine", "rotate", "perspective", "elastic", "lines", "contrast+noise", "all"):
    rows = (
        [json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()]
        if (runs / name / "metrics.jsonl").is_file()
        else []
    )
    test = runs / name / "test.json"
    if not rows or not test.is_file():
        continue
    t = json.loads(test.read_text())
    best = max(rows, key=lambda r: (r["exact_acc"], -r["epoch"]))
    lo, hi = wilson(round(t["exact_acc"] * t["count"]), t["count"])
    left = next((r["epoch"] for r in rows if r["char_acc"] >= 0.2), None)
    print(
        f"| {name} | {best['exact_acc']:.2%} ({best['epoch']}) | {t['exact_acc']:.2%} [{lo:.1%}, {hi:.1%}] | "
        f"{t['char_acc']:.2%} | {left} | {rows[-1]['elapsed_min']:.1f} |"
    )
