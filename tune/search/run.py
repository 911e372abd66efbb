"""``crnn tune``: an Optuna (TPE) search under Ray Tune, with ASHA early stopping, resumable.

The experiment folder STORAGE/NAME holds everything: Tune's trial folders and state, the Optuna
study (``optuna.db``, SQLite), ``experiment.json`` (how the search was set up, so a resume and
``crnn results``/``crnn retrain`` need nothing else), and the tables and plots of ``crnn results``.
STORAGE may be ``s3://``/``gs://`` (``tune.mirror``): Tune writes there, the study and tables are
uploaded after every finished trial from a local working copy.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter

from crnn.atomic import atomic_write_json
from crnn.config import PRESETS, apply_overrides
from crnn.data.store import read_manifest
from crnn.errors import UserError
from crnn.lock import writer_lock
from crnn.model import check_time_steps
from crnn.storage import check_uri
from crnn.tracking import check_logger
from crnn.training.fit import worker_batch_size
from crnn.training.ray_glue import init_ray_for_trials, trial_layout
from tune.mirror import Mirror
from tune.search.experiment import EXPERIMENT_FILE, Experiment
from tune.search.progress import EpochLines
from tune.search.space import load_space, reference_point
from tune.search.study import PortableOptunaSearch, fail_orphans, open_at, sqlite_storage
from tune.search.trial import TrialSetup, run_trial
from tune.tracking import tune_callbacks
from tune.tune_state import check_restore

METRIC = "exact_acc"


@dataclass(frozen=True)
class TunePreset:
    base: str  # the crnn training preset every trial starts from
    samples: int
    max_epochs: int
    train_samples: int = 0  # 0 = the whole training split
    eval_samples: int = 2000


TUNE_PRESETS = {
    # Tests and smoke runs: the tiny model, 3 trials of at most 2 epochs.
    "tiny": TunePreset(base="tiny", samples=3, max_epochs=2, eval_samples=0),
    # `make demo`: 4 trials, at most 4 epochs of up to 18,000 images each, ~5 minutes on 2 cores.
    "quick": TunePreset(base="cpu-fast", samples=4, max_epochs=4, train_samples=18000, eval_samples=1000),
    # A real search on a workstation or cluster.
    "default": TunePreset(base="cpu-fast", samples=20, max_epochs=10),
}


@dataclass(frozen=True)
class TuneOptions:
    """``crnn tune``'s flags. ``None`` means "not given": the preset's value for a new experiment, the
    stored value for an experiment that exists (given and different from the stored one: refused)."""

    data: str
    name: str
    preset: str | None = None  # default: "default"
    samples: int | None = None
    max_epochs: int | None = None
    max_concurrent: int | None = None
    workers_per_trial: int | None = None  # default 1
    gpus_per_worker: float | None = None  # default 0
    space: str | None = None
    scheduler: str | None = None  # default "asha"
    storage: str = "experiments"
    address: str | None = None
    seed: int | None = None  # default 0
    max_failures: int = 1
    logger: str = "tensorboard"  # crnn.tracking: tensorboard | mlflow | none
    tracking_uri: str | None = None
    trust_experiment: bool = False  # let Ray load Tune's pickled state that someone else could have written


def _validate(opts: TuneOptions) -> TunePreset:
    """Everything a user can get wrong, checked before Ray starts."""
    if opts.preset is not None and opts.preset not in TUNE_PRESETS:
        raise UserError(f"--preset {opts.preset!r}: accepted: {', '.join(TUNE_PRESETS)}")
    preset = TUNE_PRESETS[opts.preset or "default"]
    check_logger(opts.logger)
    if not opts.name or "/" in opts.name or opts.name.startswith("."):
        raise UserError(f"--name {opts.name!r}: give a plain folder name such as captcha62")
    checks = [
        (opts.samples, "--samples", 1),
        (opts.max_epochs, "--max-epochs", 1),
        (opts.max_concurrent, "--max-concurrent", 1),
        (opts.workers_per_trial, "--workers", 1),
    ]
    for value, flag, low in checks:
        if value is not None and value < low:
            raise UserError(f"{flag} {value}: must be at least {low}")
    if (opts.gpus_per_worker or 0) < 0:
        raise UserError(f"--gpus-per-worker {opts.gpus_per_worker}: cannot be negative")
    if opts.scheduler not in (None, "asha", "none"):
        raise UserError(f"--scheduler {opts.scheduler!r}: accepted: asha, none")
    return preset


def _space(opts: TuneOptions) -> list[dict]:
    """The search space as stored in experiment.json (JSON types: lists, not tuples)."""
    return json.loads(json.dumps([dataclasses.asdict(p) for p in load_space(opts.space)]))


def _setup(opts: TuneOptions, preset: TunePreset, home: Mirror) -> tuple[TrialSetup, dict]:
    manifest = read_manifest(opts.data)
    space = load_space(opts.space)
    seed = opts.seed or 0
    base = apply_overrides(
        PRESETS[preset.base],
        {"train.data.train_samples": preset.train_samples, "train.eval.samples": preset.eval_samples, "train.seed": seed},
    )
    check_time_steps(base.model, int(manifest["height"]), int(manifest["width"]), int(manifest["length"][1]))
    workers = opts.workers_per_trial or 1
    batch_key = next((p for p in space if p.key == "train.batch_size"), None)
    for value in batch_key.args if batch_key and batch_key.kind == "choice" else (base.train.batch_size,):
        worker_batch_size(int(value), workers)  # the global batch splits evenly over a trial's workers
    max_epochs = opts.max_epochs or preset.max_epochs
    setup = TrialSetup(
        data=str(Path(opts.data).resolve()),
        base=base.to_dict(),
        space=_space(opts),
        max_epochs=max_epochs,
        workers=workers,
        gpus_per_worker=opts.gpus_per_worker or 0.0,
        trial_storage=home.sub("train_runs"),
        worker_failures=opts.max_failures,
    )
    meta = {
        "name": opts.name,
        "preset": opts.preset or "default",
        "base_preset": preset.base,
        "metric": METRIC,
        "mode": "max",
        "samples": opts.samples or preset.samples,
        "max_epochs": max_epochs,
        "scheduler": opts.scheduler or "asha",
        "seed": seed,
        "max_concurrent": opts.max_concurrent,
        "max_failures": opts.max_failures,
        "data": setup.data,
        "charset": manifest["charset"],
        "setup": dataclasses.asdict(setup),
        "reference_point": reference_point(space, base),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return setup, meta


def check_same_search(opts: TuneOptions, meta: dict) -> None:
    """A stored experiment continues only as it was set up: refuse given flags that say otherwise."""
    setup = meta["setup"]
    given = {
        "--data": (str(Path(opts.data).resolve()), setup["data"]),
        "--preset": (opts.preset, meta["preset"]),
        "--samples": (opts.samples, meta["samples"]),
        "--max-epochs": (opts.max_epochs, meta["max_epochs"]),
        "--space": (_space(opts) if opts.space else None, setup["space"]),
        "--scheduler": (opts.scheduler, meta["scheduler"]),
        "--seed": (opts.seed, meta["seed"]),
        "--workers": (opts.workers_per_trial, setup["workers"]),
        "--gpus-per-worker": (opts.gpus_per_worker, setup["gpus_per_worker"]),
    }
    differ = [
        f"{flag} {'(another space)' if flag == '--space' else repr(now)} (stored: {'...' if flag == '--space' else repr(then)})"
        for flag, (now, then) in given.items()
        if now is not None and now != then
    ]
    if differ:
        raise UserError(
            f"experiment {meta['name']} exists and was set up otherwise: {'; '.join(differ)}. Run it again without "
            "those flags to resume it, or give a new --name for a new search"
        )


def run_tune(opts: TuneOptions) -> Path:
    """Start or resume experiment ``opts.name``; returns its folder."""
    preset = _validate(opts)
    check_uri(opts.storage, "--experiments")
    home = Mirror.at(opts.storage, opts.name)
    with writer_lock(home.local, "experiment"):
        return _run_tune(opts, preset, home)


def _open(opts: TuneOptions, preset: TunePreset, home: Mirror) -> tuple[bool, TrialSetup, dict]:
    """(resuming, trial setup, experiment.json's contents): the stored search's, checked against this command, or a new one."""
    if (home.local / EXPERIMENT_FILE).is_file():
        stored = Experiment.load(home.local)
        read_manifest(opts.data)
        check_same_search(opts, stored.meta)
        return True, stored.setup, stored.meta
    setup, meta = _setup(opts, preset, home)
    return False, setup, meta


def _announce(home: Mirror, meta: dict, setup: TrialSetup, max_concurrent: int) -> None:
    if home.remote:
        print(f"experiment {home.remote}: working copy {home.local}", flush=True)
    print(
        f"experiment {home.remote or home.local}: {meta['samples']} trials, at most {meta['max_epochs']} epochs each, "
        f"{max_concurrent} at a time, {setup.workers} worker(s) per trial, scheduler {meta['scheduler']}",
        flush=True,
    )


def _run_tune(opts: TuneOptions, preset: TunePreset, home: Mirror) -> Path:
    exp = home.local
    home.pull()  # a remote experiment's study and tables (checkpoints stay remote: Tune reads them there)
    resuming, setup, meta = _open(opts, preset, home)

    # Per-epoch checkpoints of short trials trip Tune's "snapshotting too often" warning: expected here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

    path, fs = home.ray_path()
    restore = resuming and tune.Tuner.can_restore(path, storage_filesystem=fs)
    if restore:  # before Ray starts, and before it reads a state that someone else could have written
        check_restore(exp, home.remote, opts.trust_experiment)
    started, embedded = init_ray_for_trials(opts.address)
    try:
        resources, max_concurrent = trial_layout(
            setup.workers,
            setup.gpus_per_worker,
            embedded,
            meta.get("max_concurrent_resolved") or opts.max_concurrent,
            "--workers",
        )
        meta["max_concurrent_resolved"] = max_concurrent
        exp.mkdir(parents=True, exist_ok=True)
        atomic_write_json(exp / EXPERIMENT_FILE, meta)
        home.push([EXPERIMENT_FILE])
        trainable = tune.with_parameters(run_trial, setup=setup)
        trainable = tune.with_resources(trainable, resources)
        open_at(exp / "optuna.db")  # a resumed searcher reopens its study here, wherever it was started
        if restore:
            print(f"resuming experiment {home.remote or exp}: finished trials are kept, unfinished ones continue", flush=True)
            tuner = tune.Tuner.restore(
                path, trainable=trainable, resume_unfinished=True, resume_errored=False, storage_filesystem=fs
            )
        else:
            tuner = _new_tuner(trainable, meta, setup, home, max_concurrent, opts.logger, opts.tracking_uri)
        _announce(home, meta, setup, max_concurrent)
        results = tuner.fit()
        if results.num_terminated + results.num_errors >= meta["samples"]:  # over: a trial RUNNING now is a killed run's
            fail_orphans(exp / "optuna.db", meta["name"])  # uploaded with the tables below
    finally:
        if started:
            ray.shutdown()
    home.pull()
    done = Experiment.load(exp)
    done.refresh()  # trials.csv, best_config.json, plots: the same files for every caller
    home.push(done.own_files())
    return exp


def _new_tuner(
    trainable, meta: dict, setup: TrialSetup, home: Mirror, max_concurrent: int, logger: str, tracking_uri: str | None
):

    params = setup.params()
    exp = home.local
    exp.mkdir(parents=True, exist_ok=True)
    searcher = PortableOptunaSearch(
        space={p.name: p.distribution() for p in params},
        metric=METRIC,
        mode="max",
        points_to_evaluate=[meta["reference_point"]],  # the reference report's configuration first
        sampler=optuna.samplers.TPESampler(seed=meta["seed"]),
        study_name=meta["name"],
        storage=sqlite_storage(exp / "optuna.db"),
    )
    if meta["scheduler"] == "asha":
        # CTC spends its first epoch or so on the all-blank plateau: judging a trial there says nothing
        grace = 1 if meta["max_epochs"] < 3 else 2
        scheduler = ASHAScheduler(
            time_attr="epoch", metric=METRIC, mode="max", max_t=meta["max_epochs"], grace_period=grace, reduction_factor=2
        )
    else:
        scheduler = FIFOScheduler()
    storage_path, fs = home.ray_storage()
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(searcher, max_concurrent=max_concurrent),
            scheduler=scheduler,
            num_samples=meta["samples"],
            trial_dirname_creator=lambda trial: trial.trial_id,
            trial_name_creator=lambda trial: trial.trial_id,
        ),
        run_config=tune.RunConfig(
            name=meta["name"],
            storage_path=storage_path,
            storage_filesystem=fs,
            failure_config=tune.FailureConfig(max_failures=meta["max_failures"]),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=home.checkpoints_to_keep),
            callbacks=[
                EpochLines(meta["max_epochs"]),
                *tune_callbacks(logger, exp, tracking_uri, meta["name"]),
                home.callback([EXPERIMENT_FILE, "optuna.db", "mlflow.db"]),
            ],
            verbose=0,
        ),
    )
