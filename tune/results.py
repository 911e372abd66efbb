"""The trial results table, built from an experiment's files alone (while it runs, after it ends,
after the cluster is gone), plus ``trials.csv``, ``best_config.json`` and PNG plots beside it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from crnn.atomic import atomic_write_json, atomic_write_text
from tune.trial import TrialSetup

# Tune's statuses -> ours; TERMINATED splits into done / early-stopped by the epochs it ran.
STATUS = {"PENDING": "pending", "RUNNING": "running", "PAUSED": "paused", "ERROR": "errored"}
METRICS = ("exact_acc", "char_acc", "edit_distance", "cer", "exact_acc_nocase", "val_loss")
LOWER_IS_BETTER = {"edit_distance", "cer", "val_loss", "wall_s"}


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written right now
            break
    return rows


def _statuses(exp: Path) -> dict[str, str]:
    """trial id -> Tune status, from the newest session's experiment_state file (named by its start time;
    a resumed experiment keeps the killed session's file beside its own)."""
    states = sorted(exp.glob("experiment_state-*.json"))
    if not states:
        return {}
    try:
        data = json.loads(states[-1].read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    out = {}
    for trial_json, _runtime in data.get("trial_data", []):
        trial = json.loads(trial_json)
        out[trial["trial_id"]] = trial["status"]
    return out


def _error_line(trial_dir: Path) -> str:
    path = trial_dir / "error.txt"
    if not path.is_file():
        return ""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def build_results(exp: Path, plots: bool = True) -> list[dict]:
    """One row per trial, best epoch first; writes trials.csv, best_config.json and the plots."""
    meta = json.loads((exp / "experiment.json").read_text())
    setup = TrialSetup(**meta["setup"])
    names = [p.name for p in setup.params()]
    statuses = _statuses(exp)
    rows, curves = [], {}
    for trial_dir in sorted(p for p in exp.iterdir() if (p / "params.json").is_file()):
        params = json.loads((trial_dir / "params.json").read_text())
        history = [r for r in _read_jsonl(trial_dir / "result.json") if "exact_acc" in r]
        trial_id = history[-1]["trial_id"] if history else trial_dir.name
        tune_status = statuses.get(trial_id, "RUNNING" if history else "PENDING")
        epochs = max((r["epoch"] for r in history), default=0)
        if tune_status == "TERMINATED":
            status = "done" if epochs >= meta["max_epochs"] else "early-stopped"
        else:
            status = STATUS.get(tune_status, tune_status.lower())
        best = max(history, key=lambda r: r["exact_acc"], default={})
        last = history[-1] if history else {}
        row = {
            "trial_id": trial_id,
            "status": status,
            **{n: params.get(n) for n in names},
            **{m: best.get(m) for m in METRICS},
            "best_epoch": best.get("epoch"),
            "last_exact_acc": last.get("exact_acc"),
            "epochs": epochs,
            "wall_s": round(last.get("time_total_s", 0.0), 1),
            "error": _error_line(trial_dir) if status == "errored" else "",
        }
        rows.append(row)
        curves[trial_id] = [(r["epoch"], r["exact_acc"]) for r in history]
    rows.sort(key=lambda r: (r["exact_acc"] is None, -(r["exact_acc"] or 0.0), -(r["char_acc"] or 0.0)))
    _write_csv(exp / "trials.csv", rows)
    scored = [r for r in rows if r["exact_acc"] is not None]
    if scored:
        best_row = scored[0]
        atomic_write_json(exp / "best_config.json", {
            "trial_id": best_row["trial_id"], "params": {n: best_row[n] for n in names},
            "metrics": {m: best_row[m] for m in METRICS}, "best_epoch": best_row["best_epoch"],
            "config": setup.config_for({n: best_row[n] for n in names}).to_dict(), "data": meta["data"],
            "charset": meta["charset"],
        })  # fmt: skip
    if plots and scored:
        from tune.plots import search_plots  # noqa: PLC0415 - matplotlib only when plotting

        search_plots(exp, rows, names, curves, _trial_order(exp, rows))
    return rows


def _trial_order(exp: Path, rows: list[dict]) -> list[str]:
    """Trials in the order they started (the first report's timestamp)."""

    def started(trial_id: str) -> float:
        first = _read_jsonl(exp / trial_id / "result.json")[:1]
        return first[0].get("timestamp", 0) if first else float("inf")

    return sorted((r["trial_id"] for r in rows), key=started)


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


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
    extra = ("best_epoch", "last_exact_acc", "error")
    params = [k for k in rows[0] if k not in TABLE_COLUMNS and k not in METRICS and k not in extra]
    columns = [*TABLE_COLUMNS[:2], *params, *TABLE_COLUMNS[2:]]
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
