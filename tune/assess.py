"""``crnn assess``: how many labels break this CAPTCHA scheme? One Ray Tune trial per (training-set
size, repeat) trains the recipe on a nested subset of the training split, with a budget that grows
with the size and early stopping on the val split, and scores its best epoch on the whole test split.

    REPORT/runs/            Tune's experiment (one trial per size and repeat; resumable)
    REPORT/assessment.json  the contract: scheme, curve, labels_to_break, verdict, latency, coverage
    REPORT/report.md, curve.png, coverage.png, model.onnx (the model of the largest size)
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from crnn.config import RunConfig, apply_overrides, load_config_file, parse_set, resolve_config
from crnn.data.store import Dataset, load_dataset, read_manifest
from crnn.errors import UserError
from crnn.model import check_time_steps
from crnn.stats import wilson
from crnn.train.checkpoint import resolve_model_path
from tune.assess_files import RUNS, SETUP, TEST_FILE, TRAIN_RUNS


@dataclass(frozen=True)
class AssessSetup:
    """Everything a trial needs (picklable), stored in REPORT/assess.json so that a resume rebuilds it."""

    data: str
    config: dict  # RunConfig.to_dict(): the recipe
    recipe: str  # where the recipe came from, for the report
    seed: int = 0
    min_images: int = 200_000  # images each run sees at least (epochs = this / size, capped)
    max_epochs: int = 200
    minutes_per_run: float = 0.0
    init_from: str | None = None
    gpus_per_worker: float = 0.0
    workers_per_run: int = 1  # >1: each run is a Ray Train run of this many DDP workers
    train_storage: str = ""  # where those Train runs keep their checkpoints (REPORT/train_runs)
    commands: list[str] = field(default_factory=list)

    def epochs_for(self, size: int) -> int:
        """The budget: at least ``min_images`` images seen, at least 2 epochs, at most ``max_epochs``."""
        return int(min(self.max_epochs, max(2, math.ceil(self.min_images / size))))

    def batch_for(self, size: int) -> int:
        """The recipe's batch, made smaller for a small subset so that an epoch is at least 16 optimiser
        steps: CTC leaves its blank plateau after a number of steps, not of images, and 300 images in
        batches of 128 would give it 2 steps an epoch."""
        batch = max(8, min(int(self.config["train"]["batch_size"]), size // 16))
        return max(self.workers_per_run, batch - batch % self.workers_per_run)  # the global batch splits over the workers


def nested_subset(n_train: int, size: int, seed: int, repeat: int) -> np.ndarray:
    """The first ``size`` of one seeded permutation per repeat: each size holds every smaller one."""
    order = np.random.default_rng([seed, repeat]).permutation(n_train)
    return np.sort(order[:size])


def assess_trial(params: dict, setup: AssessSetup) -> None:
    """One (size, repeat): train, then score the best epoch on the whole test split."""
    import ray.tune  # noqa: PLC0415

    from crnn.evaluate import predict_split  # noqa: PLC0415
    from crnn.metrics import sequence_metrics  # noqa: PLC0415
    from crnn.train.checkpoint import load_model  # noqa: PLC0415
    from crnn.train.ray_glue import resume_path  # noqa: PLC0415

    for name in ("ray.tune", "ray.train"):  # one line per epoch comes from the driver; not Ray's chatter
        logging.getLogger(name).setLevel(logging.WARNING)
    size, repeat = int(params["size"]), int(params["repeat"])
    # Ray Train workers load the train and val splits themselves: the trial then needs only the test split
    data = load_dataset(setup.data, splits=("test",) if setup.workers_per_run > 1 else ("train", "val", "test"), mmap=True)
    idx = nested_subset(int(data.manifest["splits"]["train"]), size, setup.seed, repeat)
    budget = {"epochs": setup.epochs_for(size), "batch_size": setup.batch_for(size)}
    config = apply_overrides(RunConfig.from_dict(setup.config), {"train": budget})

    with tempfile.TemporaryDirectory() as scratch:
        last = resume_path(ray.tune.get_checkpoint(), scratch)  # ray: set when the trial resumes
        if last is not None and (last.parent / TEST_FILE).is_file():  # killed just after scoring: say it again
            ray.tune.report(json.loads((last.parent / TEST_FILE).read_text())["final"])
            return
        if setup.workers_per_run > 1:
            best_pt, state = _train_on_workers(config, setup, idx, Path(scratch))
        else:
            best_pt, state = _train_here(data.with_train_subset(idx), config, setup, last, Path(scratch), size, repeat)
        test = data.split("test")
        preds, labels, confs, _ = predict_split(load_model(best_pt), test, config.train.beam_width)
        metrics = sequence_metrics(preds, labels)
        correct = [p == t for p, t in zip(preds, labels, strict=True)]
        final = {
            "final": True, "train_images": size, "repeat": repeat, "epoch": state["epoch"] + 1,
            "batch_size": config.train.batch_size, "workers": setup.workers_per_run,
            "test_correct": sum(correct), "test_count": len(correct), "test_exact_acc": metrics["exact_acc"],
            "test_char_acc": metrics["char_acc"], "test_cer": metrics["cer"],
            "test_exact_acc_nocase": metrics["exact_acc_nocase"], "epochs_run": state["epoch"],
            "best_epoch": state["best_epoch"], "plateau_exit": state["plateau_exit"],
            "train_minutes": state["elapsed_s"] / 60, "device": "cuda" if setup.gpus_per_worker > 0 else "cpu",
        }  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy2(best_pt, Path(tmp) / "best.pt")
            (Path(tmp) / TEST_FILE).write_text(json.dumps({"final": final, "confidence": confs, "correct": correct}))
            ray.tune.report(final, checkpoint=ray.tune.Checkpoint.from_directory(tmp))  # ray


def _train_here(
    data: Dataset, config: RunConfig, setup: AssessSetup, last: Path | None, scratch: Path, size: int, repeat: int
) -> tuple[Path, dict]:  # fmt: skip
    """Train in the trial's own process (one worker); returns the best epoch's model and the final state."""
    import ray.tune  # noqa: PLC0415

    from crnn.train.checkpoint import init_source  # noqa: PLC0415
    from crnn.train.fit import FitOptions, fit  # noqa: PLC0415
    from crnn.train.ray_glue import report_epoch  # noqa: PLC0415

    run = scratch / "run"
    if last is not None and (last.parent / "best.pt").is_file():
        (run / "checkpoints").mkdir(parents=True)
        shutil.copy2(last.parent / "best.pt", run / "checkpoints" / "best.pt")

    def report(row: dict, last_pt: Path | None, improved: bool) -> None:
        best = (last_pt.parent / "best.pt",)  # the model a resumed run must score
        report_epoch(ray.tune.report, ray.tune.Checkpoint, row, last_pt, files=best, train_images=size, repeat=repeat)

    opts = FitOptions(
        device="cuda" if setup.gpus_per_worker > 0 else "cpu", on_epoch_end=report, progress=False, log=lambda line: None,
        resume_from=last, max_minutes=setup.minutes_per_run,
        **init_source(setup.init_from),
    )  # fmt: skip
    fit(data, run, config, opts)
    state = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)["train_state"]
    return run / "checkpoints" / "best.pt", state


def _train_on_workers(config: RunConfig, setup: AssessSetup, idx: np.ndarray, scratch: Path) -> tuple[Path, dict]:
    """Train on ``setup.workers_per_run`` Ray Train workers (DDP). The Train run is named after the trial,
    so a resumed trial continues it. Returns the best epoch's model and the final state."""
    import ray.tune  # noqa: PLC0415
    from ray.train import TrainingFailedError  # noqa: PLC0415
    from ray.tune.integration.ray_train import TuneReportCallback  # noqa: PLC0415

    from crnn.train.ray_glue import CHECKPOINT_FILE, failure_line, loop_config, torch_trainer  # noqa: PLC0415
    from crnn.train.ray_train import last_and_best, train_worker  # noqa: PLC0415

    trainer = torch_trainer(
        train_worker, loop_config(config, setup.data, setup.minutes_per_run, setup.init_from, train_indices=idx.tolist()),
        workers=setup.workers_per_run, gpus_per_worker=setup.gpus_per_worker, name=ray.tune.get_context().get_trial_id(),
        storage_path=setup.train_storage, max_failures=1, callbacks=[TuneReportCallback()], keep=3,
    )  # fmt: skip
    try:
        result = trainer.fit()
    except TrainingFailedError as exc:
        raise RuntimeError(f"training failed on the Ray workers: {failure_line(exc)}") from None
    _last, best, state = last_and_best(result, setup.train_storage)
    best_pt = scratch / "best.pt"
    with best.as_directory() as d:
        shutil.copy2(Path(d) / CHECKPOINT_FILE, best_pt)
    return best_pt, state.to_dict()


@dataclass(frozen=True)
class AssessOptions:
    data: str
    out: str
    sizes: str | None = None  # default: 250, 500, 1000, ... doubling, and the whole training split
    repeats: int = 1
    minutes_per_run: float = 0.0
    preset: str = "cpu-fast"
    config: str | None = None  # a best_config.json of a search, or a model: train section
    sets: tuple[str, ...] = ()
    init_from: str | None = None
    address: str | None = None
    workers_per_run: int = 1
    gpus_per_worker: float = 0.0
    max_epochs: int = 200
    min_images: int = 200_000
    seed: int = 0
    max_concurrent: int | None = None


def parse_sizes(text: str | None, n_train: int) -> list[int]:
    if text is None:
        sizes, size = [], 250
        while size < n_train:
            sizes.append(size)
            size *= 2
        return [*sizes, n_train]
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise UserError(f"--sizes {text!r}: expected comma-separated numbers of training images, e.g. 250,1000,4000") from None
    if not sizes or sizes[0] < 1:
        raise UserError(f"--sizes {text!r}: expected positive numbers of training images, e.g. 250,1000,4000")
    if sizes[-1] > n_train:
        raise UserError(f"--sizes {text!r}: the training split holds {n_train} images; the largest size can be at most that")
    return sizes


def _recipe(opts: AssessOptions) -> tuple[RunConfig, str]:
    if opts.config:
        raw = load_config_file(opts.config)
        if "config" in raw and "trial_id" in raw:  # a search's best_config.json
            config = RunConfig.from_dict(raw["config"])
            config = apply_overrides(config, {"train": {"train_samples": 0, "eval_samples": config.train.eval_samples}})
            where = f"trial {raw['trial_id']} of a search ({opts.config})"
        else:
            config, where = resolve_config(opts.preset, opts.config), f"preset {opts.preset} + {opts.config}"
    else:
        config, where = resolve_config(opts.preset), f"preset {opts.preset}"
    if opts.sets:
        config = apply_overrides(config, parse_set(list(opts.sets)))
        where += " with " + ", ".join(opts.sets)
    return apply_overrides(config, {"train": {"train_samples": 0}}), where


def validate(opts: AssessOptions) -> tuple[AssessSetup, list[int]]:
    """Everything a user can get wrong, refused before Ray starts."""
    manifest = read_manifest(opts.data)
    if not all(int(manifest["splits"].get(s, 0)) for s in ("train", "val", "test")):
        raise UserError(f"--data {opts.data}: needs non-empty train, val and test splits (has {manifest['splits']})")
    sizes = parse_sizes(opts.sizes, int(manifest["splits"]["train"]))
    for value, flag in (
        (opts.repeats, "--repeats"),
        (opts.workers_per_run, "--workers-per-run"),
        (opts.max_epochs, "--max-epochs"),
    ):
        if value < 1:
            raise UserError(f"{flag} {value}: must be at least 1")
    if opts.minutes_per_run < 0 or opts.gpus_per_worker < 0:
        raise UserError("--minutes-per-run and --gpus-per-worker cannot be negative")
    init_from = str(resolve_model_path(opts.init_from, "--init-from").resolve()) if opts.init_from else None  # `base` too
    config, recipe = _recipe(opts)
    if config.train.synth_per_epoch or config.train.epoch_images:
        raise UserError(
            "train.synth_per_epoch and train.epoch_images must be 0 for crnn assess: each run's budget of labels is "
            "the point (a fresh or streamed epoch would train on other images)"
        )
    check_time_steps(config.model, int(manifest["height"]), int(manifest["width"]), int(manifest["length"][1]))
    setup = AssessSetup(
        data=str(Path(opts.data).resolve()), config=config.to_dict(), recipe=recipe, seed=opts.seed,
        min_images=opts.min_images, max_epochs=opts.max_epochs, minutes_per_run=opts.minutes_per_run,
        init_from=init_from, gpus_per_worker=opts.gpus_per_worker,
        workers_per_run=opts.workers_per_run, train_storage=str(Path(opts.out).resolve() / TRAIN_RUNS),
    )  # fmt: skip
    return setup, sizes


def run_assess(opts: AssessOptions, command: str = "") -> Path:
    """Start or resume the assessment in ``opts.out``; returns the report folder."""
    out = Path(opts.out).resolve()
    setup, sizes = validate(opts)
    stored = out / SETUP
    if stored.is_file():
        saved = json.loads(stored.read_text())
        if (
            saved["sizes"] != sizes
            or saved["repeats"] != opts.repeats
            or saved["setup"]["config"] != json.loads(json.dumps(setup.config))
        ):
            raise UserError(f"--out {out}: holds an assessment of other sizes, repeats or recipe; choose another --out")
        for key, flag in (("workers_per_run", "--workers-per-run"), ("gpus_per_worker", "--gpus-per-worker")):
            if saved["setup"].get(key, getattr(setup, key)) != getattr(setup, key):
                raise UserError(
                    f"{flag} {getattr(setup, key):g}: the assessment in {out} runs with {saved['setup'][key]:g}; "
                    "resume it with that, or choose another --out"
                )
        setup = AssessSetup(**{**saved["setup"], "commands": [*saved["setup"]["commands"], command]})
    else:
        setup = AssessSetup(**{**asdict(setup), "commands": [command]})
    out.mkdir(parents=True, exist_ok=True)
    from crnn.atomic import atomic_write_json  # noqa: PLC0415

    atomic_write_json(stored, {"sizes": sizes, "repeats": opts.repeats, "setup": asdict(setup)})

    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray  # noqa: PLC0415
    from ray import tune  # noqa: PLC0415

    from crnn.train.ray_glue import init_ray_for_trials, trial_layout  # noqa: PLC0415

    started, embedded = init_ray_for_trials(opts.address)
    try:
        resources, concurrent = trial_layout(
            setup.workers_per_run, setup.gpus_per_worker, embedded, opts.max_concurrent, "--workers-per-run"
        )
        trainable = tune.with_resources(tune.with_parameters(assess_trial, setup=setup), resources)
        if tune.Tuner.can_restore(str(out / RUNS)):
            print(f"resuming assessment {out}: finished runs are kept", flush=True)
            tuner = tune.Tuner.restore(str(out / RUNS), trainable=trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"size": tune.grid_search(sizes), "repeat": tune.grid_search(list(range(opts.repeats)))},
                tune_config=tune.TuneConfig(
                    max_concurrent_trials=concurrent,
                    trial_dirname_creator=lambda t: f"n{t.config['size']}-r{t.config['repeat']}",
                ),
                run_config=tune.RunConfig(
                    name=RUNS,
                    storage_path=str(out),
                    verbose=0,
                    failure_config=tune.FailureConfig(max_failures=1),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                    callbacks=[_lines()],
                ),
            )
        print(f"assessment {out}: sizes {sizes} x {opts.repeats} repeat(s), recipe {setup.recipe}", flush=True)
        tuner.fit()
    finally:
        if started:
            ray.shutdown()
    from tune.assess_report import write_report  # noqa: PLC0415

    write_report(out)
    return out


def _lines():
    """One line per epoch and one per finished run, as `crnn tune` prints."""
    from ray.tune import Callback  # noqa: PLC0415

    class Lines(Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            size = trial.config["size"]
            if result.get("final"):
                lo, hi = wilson(result["test_correct"], result["test_count"])
                print(
                    f"[n={size} r={trial.config['repeat']}] test exact {result['test_exact_acc']:.2%} "
                    f"[{lo:.2%}, {hi:.2%}] char {result['test_char_acc']:.2%} after {result['epochs_run']} epochs, "
                    f"{result['train_minutes']:.1f} min",
                    flush=True,
                )
            elif "exact_acc" in result:
                print(
                    f"[n={size} r={trial.config['repeat']}] epoch {result['epoch']} val exact {result['exact_acc']:.2%}",
                    flush=True,
                )

    return Lines()
