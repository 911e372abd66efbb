"""The trial results table as text: sorted, formatted, printed (table, csv, markdown or json).
The rows come from ``tune.search.experiment.Experiment``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tune.search.experiment import METRICS

LOWER_IS_BETTER = {"edit_distance", "cer", "val_loss", "wall_s"}


def sort_rows(rows: list[dict], key: str) -> list[dict]:
    reverse = key not in LOWER_IS_BETTER
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    return sorted(present, key=lambda r: r[key], reverse=reverse) + missing


def _fmt(key: str, value: object) -> str:
    if value is None:
        return "-"
    if key in ("exact_acc", "char_acc", "exact_acc_nocase", "last_exact_acc"):
        return f"{100 * value:.2f}%"
    if key == "lr":
        return f"{value:.2e}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


TABLE_COLUMNS = ("trial_id", "status", "exact_acc", "char_acc", "edit_distance", "cer", "epochs", "wall_s")


def print_results(rows: list[dict], fmt: str, top: int | None = None, sort: str = "exact_acc", exp: Path | None = None) -> None:
    rows = sort_rows(rows, sort)[:top] if top else sort_rows(rows, sort)
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print(f"{exp}: no trials yet")
        return
    extra = ("best_epoch", "last_exact_acc", "error", "node")
    params = [k for k in rows[0] if k not in TABLE_COLUMNS and k not in METRICS and k not in extra]
    columns = [*TABLE_COLUMNS[:2], *params, *TABLE_COLUMNS[2:]]
    if len({r.get("node") for r in rows if r.get("node")}) > 1:  # a multi-node cluster: which node ran each trial
        columns.append("node")
    if any(r["error"] for r in rows):
        columns.append("error")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        print(buf.getvalue(), end="")
        return
    cells = [[_fmt(c, r[c]) for c in columns] for r in rows]
    if fmt == "markdown":
        print("| " + " | ".join(columns) + " |")
        print("|" + "|".join("---" for _ in columns) + "|")
        for line in cells:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for line in cells:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)))
    if exp is not None:
        print(f"\n{len(rows)} trial(s), sorted by {sort}; files: {exp}/trials.csv, best_config.json, plots/*.png")
