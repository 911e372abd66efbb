"""An experiment folder, read from its files alone (while it runs, after it ends, after the cluster
is gone): ``Experiment.find/load``, its trials as table rows, and the reports written beside it.

    EXP/experiment.json       how the search was set up (the one place it is parsed)
    EXP/<trial_id>/           Tune's trial folders: params.json, result.json (its JSON logger), error.txt
    EXP/experiment_state-*.json  Tune's own state: only its trials' statuses are read, as plain JSON
    EXP/optuna.db             the Optuna study
    EXP/trials.csv, best_config.json, plots/*.png   written by ``write_reports``

An experiment in remote storage (``s3://bucket/exps/NAME``) is read from its local working copy,
pulled first (``tune.mirror``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from crnn.atomic import atomic_write_json, atomic_write_text
from crnn.errors import UserError
from crnn.storage import is_remote, join, redact
from tune.mirror import Mirror
from tune.search.plots import search_plots
from tune.search.trial import TrialSetup
from tune.tune_state import trial_statuses

EXPERIMENT_FILE = "experiment.json"
# Tune's statuses -> ours; TERMINATED splits into done / early-stopped by the epochs it ran.
STATUS = {"PENDING": "pending", "RUNNING": "running", "PAUSED": "paused", "ERROR": "errored"}
METRICS = ("exact_acc", "char_acc", "edit_distance", "cer", "exact_acc_nocase", "val_loss")
FINISHED = ("done", "early-stopped")


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


@dataclass
class Experiment:
    path: Path
    meta: dict

    @classmethod
    def load(cls, path: str | Path) -> Experiment:
        path = Path(path).resolve()
        file = path / EXPERIMENT_FILE
        try:
            meta = json.loads(file.read_text())
        except FileNotFoundError:
            raise UserError(f"{path}: not an experiment (it has no {EXPERIMENT_FILE}); run `crnn tune` first") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{file}: unreadable ({exc})") from None
        return cls(path, meta)

    @classmethod
    def find(cls, name_or_path: str, where: str = "experiments") -> Experiment:
        """``crnn results EXP``: a path to an experiment folder, or a name under ``where``; either may be
        remote (``s3://bucket/exps/NAME``, or NAME under ``--experiments s3://bucket/exps``): its tables and
        study are pulled into the local working copy first."""
        uri = name_or_path if is_remote(name_or_path) else None
        if uri is None and is_remote(where) and "/" not in name_or_path:
            uri = join(where, name_or_path)
        if uri is not None:
            home = Mirror.of(uri)
            home.pull()
            if not (home.local / EXPERIMENT_FILE).is_file():
                raise UserError(f"{redact(uri)}: no experiment there (no {EXPERIMENT_FILE}); run `crnn tune` first")
            return cls.load(home.local)
        for candidate in (Path(name_or_path), Path(where) / name_or_path):
            if (candidate / EXPERIMENT_FILE).is_file():
                return cls.load(candidate)
        raise UserError(
            f"{name_or_path}: no experiment there or in {where}/ (it has no {EXPERIMENT_FILE}); run `crnn tune` first"
        )

    def own_files(self) -> list[str]:
        """The files this tool writes in the folder (not Tune's): what a remote experiment uploads."""
        names = [EXPERIMENT_FILE, "optuna.db", "mlflow.db", "trials.csv", "best_config.json"]
        plots = sorted(p.relative_to(self.path).as_posix() for p in (self.path / "plots").glob("*.png"))
        return [n for n in names if (self.path / n).is_file()] + plots

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def setup(self) -> TrialSetup:
        return TrialSetup(**self.meta["setup"])

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.setup.params()]

    def _statuses(self) -> dict[str, str]:
        """trial id -> Tune status, read as plain JSON from Tune's state file (never unpickled)."""
        return trial_statuses(self.path)

    def histories(self) -> dict[str, list[dict]]:
        """trial folder name -> the epochs it reported, in order."""
        return {
            d.name: [r for r in _read_jsonl(d / "result.json") if "exact_acc" in r]
            for d in sorted(self.path.iterdir())
            if (d / "params.json").is_file()
        }

    def rows(self, histories: dict[str, list[dict]] | None = None) -> list[dict]:
        """One row per trial, best val exact accuracy first. Reads files; writes nothing."""
        histories = self.histories() if histories is None else histories
        names, statuses = self.param_names, self._statuses()
        rows = []
        for dirname, history in histories.items():
            params = json.loads((self.path / dirname / "params.json").read_text())
            trial_id = history[-1]["trial_id"] if history else dirname
            tune_status = statuses.get(trial_id, "RUNNING" if history else "PENDING")
            epochs = max((r["epoch"] for r in history), default=0)
            if tune_status == "TERMINATED":
                status = "done" if epochs >= self.meta["max_epochs"] else "early-stopped"
            else:
                status = STATUS.get(tune_status, tune_status.lower())
            best = max(history, key=lambda r: r["exact_acc"], default={})
            last = history[-1] if history else {}
            rows.append(
                {
                    "trial_id": trial_id,
                    "status": status,
                    **{n: params.get(n) for n in names},
                    **{m: best.get(m) for m in METRICS},
                    "best_epoch": best.get("epoch"),
                    "last_exact_acc": last.get("exact_acc"),
                    "epochs": epochs,
                    "wall_s": round(last.get("time_total_s", 0.0), 1),
                    "node": last.get("node_ip", ""),
                    "error": self._error_line(dirname) if status == "errored" else "",
                }
            )
        rows.sort(key=lambda r: (r["exact_acc"] is None, -(r["exact_acc"] or 0.0), -(r["char_acc"] or 0.0)))
        return rows

    def _error_line(self, dirname: str) -> str:
        path = self.path / dirname / "error.txt"
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
        return lines[-1] if lines else ""

    def choose(self, rows: list[dict], trial: str | None = None) -> dict:
        """The row of ``trial``, or of the best finished trial by val exact accuracy."""
        if trial is not None:
            row = next((r for r in rows if r["trial_id"] == trial), None)
            if row is None:
                raise UserError(f"--trial {trial}: not a trial of {self.path}; trials: {', '.join(r['trial_id'] for r in rows)}")
            return row
        finished = [r for r in rows if r["status"] in FINISHED and r["exact_acc"] is not None]
        if not finished:
            raise UserError(f"{self.path}: no finished trial to retrain yet (statuses: {sorted({r['status'] for r in rows})})")
        return finished[0]  # rows come sorted by val exact accuracy

    def write_reports(self, rows: list[dict], histories: dict[str, list[dict]], plots: bool = True) -> None:
        """trials.csv, best_config.json and the PNG plots, from ``rows`` (see ``rows``)."""
        if not rows:
            return
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path / "trials.csv", buf.getvalue())
        scored = [r for r in rows if r["exact_acc"] is not None]
        if not scored:
            return
        best, names = scored[0], self.param_names
        atomic_write_json(
            self.path / "best_config.json",
            {
                "trial_id": best["trial_id"],
                "params": {n: best[n] for n in names},
                "metrics": {m: best[m] for m in METRICS},
                "best_epoch": best["best_epoch"],
                "config": self.setup.config_for({n: best[n] for n in names}).to_dict(),
                "data": Path(self.meta["data"]).name,
                "charset": self.meta["charset"],
            },
        )
        if plots:
            curves = {h[-1]["trial_id"]: [(r["epoch"], r["exact_acc"]) for r in h] for h in histories.values() if h}
            started = {h[-1]["trial_id"]: h[0].get("timestamp", 0) for h in histories.values() if h}
            order = sorted((r["trial_id"] for r in rows), key=lambda t: started.get(t, float("inf")))
            search_plots(self.path, rows, self.setup.params(), curves, order)

    def refresh(self, plots: bool = True) -> list[dict]:
        """Read the trials and (re)write the reports: what ``crnn results`` and ``run_tune`` end with."""
        histories = self.histories()
        rows = self.rows(histories)
        self.write_reports(rows, histories, plots)
        return rows
