"""``crnn retrain EXP``: the chosen trial's configuration, trained from scratch on the full training
split, evaluated once on the test split (which tuning never saw), exported and written up."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from crnn.atomic import atomic_write_json, atomic_write_text
from crnn.config import RunConfig, apply_overrides, parse_set
from crnn.data.store import load_dataset
from crnn.errors import UserError
from crnn.inference.evaluate import evaluate_model
from crnn.inference.export import export_model
from crnn.lock import writer_lock
from crnn.tracking import make_tracker
from crnn.training.checkpoint import CHECKPOINT_DIR, load_model
from crnn.training.launch import Launch, run
from crnn.training.options import FitOptions
from crnn.training.rundir import RunDir
from tune.search.experiment import Experiment

REFERENCE = {"exact_acc": 0.5306, "char_acc": 0.7974, "edit_distance": 0.76}  # the report's test figures


@dataclass(frozen=True)
class RetrainOptions:
    exp: Path
    data: str
    out: str
    trial: str | None = None
    epochs: int | None = None
    workers: int | None = None
    gpus_per_worker: float = 0.0
    address: str | None = None
    storage: str | None = None
    max_minutes: float = 0.0
    sets: tuple[str, ...] = ()  # ``section.key=value`` overrides of the trial's config, e.g. train.schedule.name=onecycle
    logger: str = "tensorboard"  # crnn.tracking: tensorboard | mlflow | none
    tracking_uri: str | None = None


def choose_trial(exp: Experiment, trial: str | None) -> tuple[dict, RunConfig]:
    """(table row, training config) of the best finished trial by val exact accuracy, or of ``trial``.
    The config is the trial's for a full run: every training image and the whole val split."""
    row = exp.choose(exp.rows(), trial)
    config = exp.setup.config_for({name: row[name] for name in exp.param_names})
    return row, apply_overrides(config, {"train.data.train_samples": 0, "train.eval.samples": 0})


def retrain(opts: RetrainOptions) -> dict:
    with writer_lock(opts.out, "run"):
        return _retrain(opts)


def _retrain(opts: RetrainOptions) -> dict:
    exp = Experiment.load(opts.exp)
    row, config = choose_trial(exp, opts.trial)
    if opts.epochs is not None:
        if opts.epochs < 1:
            raise UserError(f"--epochs {opts.epochs}: must be at least 1")
        config = apply_overrides(config, {"train.epochs": opts.epochs})
    if opts.sets:
        config = apply_overrides(config, parse_set(list(opts.sets)))
    out = Path(opts.out)
    RunDir(out).check_resumable(config, allowed=())  # the same trial, --epochs and --set, or another --out
    data = load_dataset(opts.data, mmap=True)
    test = data.require_images("test")  # scored at the end: refused now, before any training
    tracker = make_tracker(opts.logger, out, opts.tracking_uri, experiment=exp.name)
    start = time.perf_counter()
    print(f"retraining trial {row['trial_id']} of {exp.name} (val exact {row['exact_acc']:.2%} in the search)", flush=True)
    launch = Launch(opts.workers or 0, opts.gpus_per_worker, address=opts.address, storage=opts.storage)
    resume = (out / CHECKPOINT_DIR / "last.pt").is_file()
    run(data, out, config, launch, FitOptions(resume=resume, max_minutes=opts.max_minutes, tracker=tracker))
    train_s = time.perf_counter() - start
    loaded = load_model(out)
    beam = config.train.eval.beam_width
    report = evaluate_model(loaded, test, beam)
    keys = ("exact_acc", "exact_ci", "wrong", "char_acc", "edit_distance", "cer", "exact_acc_nocase", "char_acc_nocase", "count")
    metrics = {k: report[k] for k in keys} | {"beam_width": beam, "trial_id": row["trial_id"], "train_minutes": train_s / 60}
    atomic_write_json(out / "metrics.json", metrics)
    export_model(loaded, "onnx", out / "model.onnx")
    atomic_write_text(out / "report.md", _report_md(opts, row, config, report, metrics, train_s))
    return metrics


def _hardware(opts: RetrainOptions) -> str:
    if opts.workers:
        per = f"{opts.gpus_per_worker:g} GPU" if opts.gpus_per_worker else "1 CPU"
        return f"{opts.workers} Ray Train worker(s), {per} each (host CPU: {platform.processor() or platform.machine()})"
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _schedule_words(config: RunConfig) -> str:
    tc = config.train
    stop = "no early stopping"
    if tc.early_stop_patience:
        stop = f"early stopping after {tc.early_stop_patience} epochs without a better val exact accuracy"
    if tc.schedule.name == "onecycle":
        return f"a one-cycle learning-rate schedule over {tc.epochs} epochs (peak {tc.optim.lr:.2e}), {stop}"
    return f"plateau scheduling on the val loss (patience {tc.schedule.patience}, factor {tc.schedule.factor}), {stop}"


def _report_md(opts: RetrainOptions, row: dict, config: RunConfig, report: dict, metrics: dict, train_s: float) -> str:
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    top = report["pair_rates"][:10]
    rows = [f"| `{q['true']}` | `{q['pred']}` | {q['count']} | {pct(q['rate'])} of {q['of']} |" for q in top]
    conf = "\n".join(rows) or "| - | - | 0 | - |"
    lo, hi = metrics["exact_ci"]
    exact = f"{pct(metrics['exact_acc'])} [{pct(lo)}, {pct(hi)}], {metrics['wrong']} wrong"
    return f"""# Retrained: trial {row["trial_id"]} of experiment `{opts.exp.name}`

Trained from scratch on the full training split of `{opts.data}`, {_schedule_words(config)},
evaluated once on the test split ({metrics["count"]} images, never seen
by tuning), beam width {metrics["beam_width"]}.

## Test metrics

| metric | this model | reference report |
|---|---|---|
| exact accuracy [95% interval] | {exact} | {pct(REFERENCE["exact_acc"])} |
| character accuracy | {pct(metrics["char_acc"])} | {pct(REFERENCE["char_acc"])} |
| average edit distance | {metrics["edit_distance"]:.3f} | {REFERENCE["edit_distance"]:.2f} |
| CER | {pct(metrics["cer"])} | - |
| exact accuracy, ignoring case | {pct(metrics["exact_acc_nocase"])} | - |
| character accuracy, ignoring case | {pct(metrics["char_acc_nocase"])} | - |

## Learning curves

![learning curves](curves.png)

## Most confused characters (true -> predicted, test split)

| true | predicted | count | share of the true character's occurrences |
|---|---|---|---|
{conf}

## Configuration

Search trial {row["trial_id"]}: val exact {pct(row["exact_acc"])} after {row["epochs"]} epoch(s) in the search.
Overrides of the trial's configuration: {", ".join(f"`{s}`" for s in opts.sets) or "none"}{
        f" (and `--epochs {opts.epochs}`)" if opts.epochs else ""
    }.

```json
{json.dumps(config.to_dict(), indent=2)}
```

## Time and hardware

{train_s / 60:.1f} minutes of training (wall clock, including evaluation) on {_hardware(opts)};
torch {torch.__version__}. Files: `checkpoints/best.pt`, `model.onnx`, `metrics.json`, `metrics.csv`,
`curves.png`.
"""
