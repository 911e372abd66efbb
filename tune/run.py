"""``crnn tune``: an Optuna (TPE) search under Ray Tune, with ASHA early stopping, resumable.

The experiment folder STORAGE/NAME holds everything: Tune's trial folders and state, the Optuna
study (``optuna.db``, SQLite), ``experiment.json`` (how the search was set up, so a resume and
``crnn results``/``crnn retrain`` need nothing else), and the tables and plots of ``crnn results``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from crnn.atomic import atomic_write_json
from crnn.config import PRESETS, apply_overrides
from crnn.data.store import read_manifest
from crnn.errors import UserError
from crnn.model import check_time_steps
from tune.space import load_space, reference_point
from tune.trial import TrialSetup, run_trial

METRIC = "exact_acc"
EXPERIMENT_FILE = "experiment.json"


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
    data: str
    name: str
    preset: str = "default"
    samples: int | None = None
    max_epochs: int | None = None
    max_concurrent: int | None = None
    workers_per_trial: int = 1
    gpus_per_worker: float = 0.0
    space: str | None = None
    scheduler: str = "asha"
    storage: str = "experiments"
    address: str | None = None
    seed: int = 0
    max_failures: int = 1


def experiment_dir(name_or_path: str, storage: str = "experiments") -> Path:
    """``crnn results EXP``: a path to an experiment folder, or a name under ``storage``."""
    path = Path(name_or_path)
    if (path / EXPERIMENT_FILE).is_file():
        return path.resolve()
    candidate = Path(storage) / name_or_path
    if (candidate / EXPERIMENT_FILE).is_file():
        return candidate.resolve()
    raise UserError(f"{name_or_path}: no experiment there or in {storage}/ (it has no {EXPERIMENT_FILE}); run `crnn tune` first")


def _validate(opts: TuneOptions) -> TunePreset:
    """Everything a user can get wrong, checked before Ray starts."""
    if opts.preset not in TUNE_PRESETS:
        raise UserError(f"--preset {opts.preset!r}: accepted: {', '.join(TUNE_PRESETS)}")
    preset = TUNE_PRESETS[opts.preset]
    if not opts.name or "/" in opts.name or opts.name.startswith("."):
        raise UserError(f"--name {opts.name!r}: give a plain folder name such as captcha62")
    checks = [
        (opts.samples, "--samples", 1),
        (opts.max_epochs, "--max-epochs", 1),
        (opts.max_concurrent, "--max-concurrent", 1),
        (opts.workers_per_trial, "--workers-per-trial", 1),
    ]
    for value, flag, low in checks:
        if value is not None and value < low:
            raise UserError(f"{flag} {value}: must be at least {low}")
    if opts.gpus_per_worker < 0:
        raise UserError(f"--gpus-per-worker {opts.gpus_per_worker}: cannot be negative")
    if opts.scheduler not in ("asha", "none"):
        raise UserError(f"--scheduler {opts.scheduler!r}: accepted: asha, none")
    return preset


def _setup(opts: TuneOptions, preset: TunePreset, exp: Path) -> tuple[TrialSetup, dict]:
    manifest = read_manifest(opts.data)
    space = load_space(opts.space)
    base = apply_overrides(
        PRESETS[preset.base],
        {"train": {"train_samples": preset.train_samples, "eval_samples": preset.eval_samples, "seed": opts.seed}},
    )
    check_time_steps(base.model, int(manifest["height"]), int(manifest["width"]), int(manifest["length"][1]))
    max_epochs = opts.max_epochs or preset.max_epochs
    setup = TrialSetup(
        data=str(Path(opts.data).resolve()), base=base.to_dict(), space=[dataclasses.asdict(p) for p in space],
        max_epochs=max_epochs, workers=opts.workers_per_trial, gpus_per_worker=opts.gpus_per_worker,
        trial_storage=str(exp / "train_runs"),
    )  # fmt: skip
    meta = {
        "name": opts.name, "preset": opts.preset, "base_preset": preset.base, "metric": METRIC, "mode": "max",
        "samples": opts.samples or preset.samples, "max_epochs": max_epochs, "scheduler": opts.scheduler,
        "seed": opts.seed, "max_concurrent": opts.max_concurrent, "max_failures": opts.max_failures, "data": setup.data,
        "charset": manifest["charset"], "setup": dataclasses.asdict(setup),
        "reference_point": reference_point(space, base), "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }  # fmt: skip
    return setup, meta


def _concurrency(opts: TuneOptions, cpus: float, gpus: float) -> int:
    """As many trials as the cluster runs at once without one waiting on another's workers."""
    if opts.max_concurrent:
        return opts.max_concurrent
    by_cpu = int(cpus // opts.workers_per_trial)
    by_gpu = int(gpus // (opts.workers_per_trial * opts.gpus_per_worker)) if opts.gpus_per_worker else by_cpu
    return max(1, min(by_cpu, by_gpu))


def run_tune(opts: TuneOptions) -> Path:
    """Start or resume experiment ``opts.name``; returns its folder."""
    preset = _validate(opts)
    if "://" in opts.storage:
        raise UserError(
            f"--storage {opts.storage}: the Optuna study is a SQLite file inside the experiment, so the experiment "
            "storage must be a path (a shared NFS mount on a multi-node cluster)"
        )
    exp = Path(opts.storage).resolve() / opts.name
    resuming = (exp / EXPERIMENT_FILE).is_file()
    if resuming:
        meta = json.loads((exp / EXPERIMENT_FILE).read_text())
        setup = TrialSetup(**meta["setup"])
    else:
        setup, meta = _setup(opts, preset, exp)

    # Per-epoch checkpoints of short trials trip Tune's "snapshotting too often" warning: expected here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray  # noqa: PLC0415
    from ray import tune  # noqa: PLC0415

    from crnn.train.ray_train import init_ray  # noqa: PLC0415

    attach = opts.address or os.environ.get("RAY_ADDRESS")  # RAY_ADDRESS: we run inside a submitted job
    slots = None if attach else max(1, (os.cpu_count() or 1))
    started = init_ray(opts.address, num_cpus=slots, resources={"trial_slot": slots} if slots else None)
    try:
        cpus = ray.cluster_resources().get("CPU", 1.0)
        gpus = ray.cluster_resources().get("GPU", 0.0)
        if opts.gpus_per_worker and gpus < opts.gpus_per_worker * opts.workers_per_trial:
            raise UserError(f"--gpus-per-worker {opts.gpus_per_worker}: the cluster has {gpus:g} GPUs")
        max_concurrent = meta.get("max_concurrent_resolved") or _concurrency(opts, cpus, gpus)
        meta["max_concurrent_resolved"] = max_concurrent
        exp.mkdir(parents=True, exist_ok=True)
        atomic_write_json(exp / EXPERIMENT_FILE, meta)
        trainable = tune.with_parameters(run_trial, setup=setup)
        trainable = tune.with_resources(trainable, _trial_resources(setup, bool(slots)))
        if resuming and tune.Tuner.can_restore(str(exp)):
            print(f"resuming experiment {exp}: finished trials are kept, unfinished ones continue", flush=True)
            tuner = tune.Tuner.restore(str(exp), trainable=trainable, resume_unfinished=True, resume_errored=False)
        else:
            tuner = _new_tuner(trainable, meta, setup, exp, max_concurrent)
        print(
            f"experiment {exp}: {meta['samples']} trials, at most {meta['max_epochs']} epochs each, "
            f"{max_concurrent} at a time, {setup.workers} worker(s) per trial, scheduler {meta['scheduler']}",
            flush=True,
        )
        tuner.fit()
    finally:
        if started:
            ray.shutdown()
    return exp


def _trial_resources(setup: TrialSetup, local: bool) -> dict:
    if setup.workers == 1:
        return {"cpu": 1, "gpu": setup.gpus_per_worker}
    # The trial's own driver needs no CPU: on an embedded Ray it takes a slot of a custom resource
    # instead, or 2 cores could never hold a trial and its 2 workers (it would wait forever).
    return {"trial_slot": 1} if local else {"cpu": 0.01}


def _new_tuner(trainable, meta: dict, setup: TrialSetup, exp: Path, max_concurrent: int):
    import optuna  # noqa: PLC0415
    from ray import tune  # noqa: PLC0415
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler  # noqa: PLC0415
    from ray.tune.search import ConcurrencyLimiter  # noqa: PLC0415
    from ray.tune.search.optuna import OptunaSearch  # noqa: PLC0415

    from tune.progress import EpochLines  # noqa: PLC0415

    params = setup.params()
    exp.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{exp / 'optuna.db'}")
    searcher = OptunaSearch(
        space={p.name: p.distribution() for p in params},
        metric=METRIC,
        mode="max",
        points_to_evaluate=[meta["reference_point"]],  # the reference report's configuration first
        sampler=optuna.samplers.TPESampler(seed=meta["seed"]),
        study_name=meta["name"],
        storage=storage,
    )
    if meta["scheduler"] == "asha":
        # CTC spends its first epoch or so on the all-blank plateau: judging a trial there says nothing
        grace = 1 if meta["max_epochs"] < 3 else 2
        scheduler = ASHAScheduler(
            time_attr="epoch", metric=METRIC, mode="max", max_t=meta["max_epochs"], grace_period=grace, reduction_factor=2
        )
    else:
        scheduler = FIFOScheduler()
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
            storage_path=str(exp.parent),
            failure_config=tune.FailureConfig(max_failures=meta["max_failures"]),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[EpochLines(meta["max_epochs"])],
            verbose=0,
        ),
    )
