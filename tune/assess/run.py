"""``crnn assess``: how many labels break this CAPTCHA scheme, for each attacker (``tune.assess.attackers``)?
One Ray Tune trial per (attacker, training-set size, repeat) trains the attacker's recipe on a nested
subset of the training split, with a budget that grows with the size, and scores its best epoch on the
whole test split. With ``--sizes auto`` the sizes come in rounds (``tune.assess.sizes``): a coarse grid, then
the middle of every bracket wider than 2x around a solve rate, until each labels-to-break is known within 2x.

    REPORT/runs/round-K/    Tune's experiment of round K (one trial per attacker, size and repeat; resumable)
    REPORT/assessment.json  the contract: scheme, attackers, the strongest's curve and labels_to_break, verdict
    REPORT/report.md, curve.png, coverage.png, model.onnx (the strongest attacker's model of the largest size)

With ``--storage s3://bucket/assess`` (``tune.mirror``) the assessment's home is STORAGE/REPORT-NAME: Tune
writes the runs there, assess.json is uploaded whenever the plan changes and the report at the end;
REPORT is the local working copy, pulled back first, so the same command resumes on any machine.
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
import ray
import ray.tune
from ray import tune

from crnn.atomic import atomic_write_json
from crnn.config import RunConfig, apply_overrides, load_config_file, resolve_config
from crnn.data.margins import quiet_margins
from crnn.data.store import UNLABELED, Dataset, load_dataset, read_manifest
from crnn.errors import UserError
from crnn.inference.evaluate import predict_split
from crnn.lock import writer_lock
from crnn.metrics import pair_rates, sequence_metrics
from crnn.model import check_time_steps
from crnn.storage import is_remote, join, ray_storage
from crnn.tracking import check_logger
from crnn.training.checkpoint import load_checkpoint, load_model, resolve_model_path
from crnn.training.launch import Launch, run
from crnn.training.options import FitOptions
from crnn.training.ray_glue import init_ray_for_trials, report_epoch, resume_path, trial_layout
from tune.assess import offtheshelf
from tune.assess.attackers import BaseModel, build_attackers, parse_attackers
from tune.assess.files import RUNS, SETUP, TEST_FILE, TRAIN_RUNS
from tune.assess.progress import RoundLines
from tune.assess.report import write_report
from tune.assess.runs import finished_runs, trial_folders
from tune.assess.sizes import coarse_sizes, parse_sizes, refine
from tune.mirror import Mirror, no_train_runs
from tune.tracking import tune_callbacks
from tune.tune_state import check_restore

EVAL_MIN = 256  # val images a small subset's run scores after each epoch, at least
EVAL_PER_LABEL = 4  # and at most this many per training label (a 1,000-image val split is whole from 250 on)
TOP_CONFUSIONS = 10  # the character pairs a run's test.json keeps: what the report names per attacker


@dataclass(frozen=True)
class AssessSetup:
    """Everything a trial needs (picklable), stored in REPORT/assess.json so that a resume rebuilds it."""

    data: str
    config: dict  # RunConfig.to_dict(): the recipe the attackers build on
    recipe: str  # where the recipe came from, for the report
    attackers: dict = field(default_factory=dict)  # name -> {"config", "init_from", "unlabeled"} (tune.assess.attackers)
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
        """The budget: at least ``min_images`` images seen, at least 2 epochs, at most ``max_epochs``
        (none for an off-the-shelf attacker's 0 labels)."""
        if size == 0:
            return 0
        return int(min(self.max_epochs, max(2, math.ceil(self.min_images / size))))

    def eval_for(self, size: int, recipe_cap: int) -> int:
        """Val images scored after each epoch: the recipe's cap (0: all), and at most max(EVAL_MIN,
        EVAL_PER_LABEL x size). A small subset's epoch trains in a fraction of a second, so scoring a
        1,000-image val split after each of its 200 epochs would be most of the run."""
        small = max(EVAL_MIN, EVAL_PER_LABEL * size)
        return min(recipe_cap, small) if recipe_cap else small

    def batch_for(self, size: int) -> int:
        """The recipe's batch, made smaller for a small subset so that an epoch is at least 16 optimiser
        steps: CTC leaves its blank plateau after a number of steps, not of images, and 300 images in
        batches of 128 would give it 2 steps an epoch."""
        batch = max(8, min(int(self.config["train"]["batch_size"]), size // 16))  # every attacker's recipe keeps the batch
        return max(self.workers_per_run, batch - batch % self.workers_per_run)  # the global batch splits over the workers


def device_label(gpus_per_worker: float, precision: str | None) -> str:
    """What a run's minutes were measured on: "cuda", or "cpu" with the precision its workers trained at where it
    is not fp32 (bf16 on a CPU with AMX or AVX512-BF16 trains 1.6-2x faster, so CPU minutes compare only at one precision)."""
    if gpus_per_worker > 0:
        return "cuda"
    return "cpu" if precision in (None, "off") else f"cpu {precision}"


def nested_subset(n_train: int, size: int, seed: int, repeat: int) -> np.ndarray:
    """The first ``size`` of one seeded permutation per repeat: each size holds every smaller one."""
    order = np.random.default_rng([seed, repeat]).permutation(n_train)
    return np.sort(order[:size])


def assess_trial(params: dict, setup: AssessSetup) -> None:
    """One (attacker, size, repeat): train, then score the best epoch on the whole test split."""
    for name in ("ray.tune", "ray.train"):  # one line per epoch comes from the driver; not Ray's chatter
        logging.getLogger(name).setLevel(logging.WARNING)
    name, size, repeat = params["run"]["attacker"], int(params["run"]["size"]), int(params["run"]["repeat"])
    if name in offtheshelf.OFF_THE_SHELF:
        _score_off_the_shelf(name, setup.data, repeat)
        return
    attacker = setup.attackers[name]
    # Ray Train workers load the train and val splits themselves: the trial then needs only the test split
    data = load_dataset(setup.data, splits=("test",) if setup.workers_per_run > 1 else ("train", "val", "test"), mmap=True)
    idx = nested_subset(int(data.manifest["splits"]["train"]), size, setup.seed, repeat)
    config = RunConfig.from_dict(attacker["config"])
    config = apply_overrides(
        config,
        {
            "train.epochs": setup.epochs_for(size),
            "train.batch_size": setup.batch_for(size),
            "train.eval.samples": setup.eval_for(size, config.train.eval.samples),
        },
    )

    with tempfile.TemporaryDirectory() as scratch:
        last = resume_path(ray.tune.get_checkpoint(), scratch)  # ray: set when the trial resumes
        if last is not None and (last.parent / TEST_FILE).is_file():  # killed just after scoring: say it again
            ray.tune.report(json.loads((last.parent / TEST_FILE).read_text())["final"])
            return
        job = AssessRun(name, size, repeat, config, attacker["init_from"], idx)
        best_pt, state = _train(job, setup, setup.data if setup.workers_per_run > 1 else data, last, Path(scratch))
        test = data.split("test")
        best = load_model(best_pt)
        preds, labels, confs, _ = predict_split(best, test, config.train.eval.beam_width)
        row, kept = _scored(preds, labels, confs)
        final = {
            "final": True,
            "attacker": name,
            "unlabeled": attacker["unlabeled"],
            "train_images": size,
            "repeat": repeat,
            "epoch": state["epoch"] + 1,
            "batch_size": config.train.batch_size,
            "workers": setup.workers_per_run,
            **row,
            "epochs_run": state["epoch"],
            "best_epoch": state["best_epoch"],
            "plateau_exit": state["plateau_exit"],
            "train_minutes": state["elapsed_s"] / 60,
            "device": device_label(setup.gpus_per_worker, best.state.get("precision")),
        }
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy2(best_pt, Path(tmp) / "best.pt")
            (Path(tmp) / TEST_FILE).write_text(json.dumps({"final": final, **kept}))
            ray.tune.report(final, checkpoint=ray.tune.Checkpoint.from_directory(tmp))  # ray


def _scored(preds: list[str], labels: list[str], confs: list[float]) -> tuple[dict, dict]:
    """A run's test metrics (its final row's part) and what its test.json keeps besides the row."""
    metrics = sequence_metrics(preds, labels)
    correct = [p == t for p, t in zip(preds, labels, strict=True)]
    pairs = pair_rates(preds, labels)
    row = {
        "test_correct": sum(correct),
        "test_count": len(correct),
        "test_exact_acc": metrics["exact_acc"],
        "test_char_acc": metrics["char_acc"],
        "test_cer": metrics["cer"],
        "test_exact_acc_nocase": metrics["exact_acc_nocase"],
    }
    kept = {"confidence": confs, "correct": correct, "substitutions": sum(r["count"] for r in pairs)}
    return row, {**kept, "confusions": pairs[:TOP_CONFUSIONS]}


def _score_off_the_shelf(name: str, data_dir: str, repeat: int) -> None:
    """An off-the-shelf attacker's one run: read the whole test split, at 0 labels and no training."""
    data = load_dataset(data_dir, splits=("test",), mmap=True)
    test, reader = data.split("test"), offtheshelf.Reader(str(data.manifest["charset"]))
    preds = offtheshelf.read_split(reader, test.images)
    row, kept = _scored(preds, list(test.labels), [])  # no confidence: no precision at coverage for it
    final = {"final": True, "attacker": name, "unlabeled": 0, "train_images": 0, "repeat": repeat, "epoch": 0}
    final.update(row, batch_size=None, workers=1, epochs_run=0, best_epoch=0, plateau_exit=None, train_minutes=0.0)
    final["device"] = "cpu"
    kept["solve_latency_ms"] = offtheshelf.latency(reader, test.images)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / TEST_FILE).write_text(json.dumps({"final": final, **kept}))
        ray.tune.report(final, checkpoint=ray.tune.Checkpoint.from_directory(tmp))  # ray


@dataclass(frozen=True)
class AssessRun:
    """One run of an assessment: an attacker's recipe on a nested subset of the training split."""

    attacker: str
    size: int
    repeat: int
    config: RunConfig
    init_from: str | None
    idx: np.ndarray  # the subset: indices into the train split


def _train(job: AssessRun, setup: AssessSetup, data: Dataset | str, last: Path | None, scratch: Path) -> tuple[Path, dict]:
    """Train in the trial's own process (one worker per run) or on ``setup.workers_per_run`` Ray Train workers
    named after the trial (a resumed trial continues either); returns the best epoch's model and the final state."""
    run_dir = scratch / "run"
    workers = setup.workers_per_run if setup.workers_per_run > 1 else 0
    if not workers and last is not None and (last.parent / "best.pt").is_file():
        (run_dir / "checkpoints").mkdir(parents=True)
        shutil.copy2(last.parent / "best.pt", run_dir / "checkpoints" / "best.pt")

    def report(row: dict, last_pt: Path | None, improved: bool) -> None:
        best = (last_pt.parent / "best.pt",)  # the model a resumed run must score
        report_epoch(ray.tune.report, ray.tune.Checkpoint, row, last_pt, files=best, train_images=job.size, repeat=job.repeat)

    launch = Launch(
        workers=workers,
        gpus_per_worker=setup.gpus_per_worker,
        storage=setup.train_storage if workers else None,
        max_failures=1,
        in_trial=True,
    )
    opts = FitOptions(
        device="cuda" if setup.gpus_per_worker > 0 else "cpu",
        on_epoch_end=report,
        progress=False,
        log=lambda line: None,
        resume_from=last,
        max_minutes=setup.minutes_per_run,
    )
    run(data, run_dir, job.config, launch, opts, init_from=job.init_from, train_indices=job.idx.tolist())
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")["train_state"]
    return run_dir / "checkpoints" / "best.pt", state


@dataclass(frozen=True)
class AssessOptions:
    data: str
    out: str
    sizes: str | None = None  # None or "auto": rounds of sizes until every labels-to-break is known within 2x
    repeats: int = 1
    minutes_per_run: float = 0.0
    preset: str = "cpu-fast"
    config: str | None = None  # a best_config.json of a search, or a model: train section
    sets: tuple[str, ...] = ()
    init_from: str | None = None
    attackers: str | None = None  # comma-separated names (tune.assess.attackers); None: the strongest the data allows
    unlabeled_count: int = 5000
    address: str | None = None
    workers_per_run: int = 1
    gpus_per_worker: float = 0.0
    max_epochs: int = 200
    min_images: int = 200_000
    seed: int = 0
    max_concurrent: int | None = None
    logger: str = "tensorboard"  # crnn.tracking: tensorboard | mlflow | none
    tracking_uri: str | None = None
    storage: str | None = None  # s3://... or gs://...: the assessment's home is STORAGE/<out's name>
    trust_experiment: bool = False  # let Ray load a round's pickled Tune state that someone else could have written


def home_of(out: str | Path, where: str | None) -> Mirror:
    """The assessment folder ``out`` and its remote home under ``where`` (``--storage``), if any."""
    out = Path(out).resolve()
    if where is None:
        return Mirror(out)
    if not is_remote(where):
        raise UserError(
            f"--storage {where}: accepted: s3://bucket/path or gs://bucket/path (on a shared folder, give that folder as --out)"
        )
    return Mirror(out, join(where, out.name))


def pull_assessment(home: Mirror) -> None:
    """Bring a remote assessment's plan, finished runs and report into the working copy."""
    if home.remote is not None:
        print(f"assessment {home.remote}: working copy {home.local}", flush=True)
        home.pull(skip=no_train_runs)


def push_report(home: Mirror) -> None:
    """Upload what ``write_report`` wrote, the files at the top of the folder (Tune uploaded the runs)."""
    home.push_all(skip=lambda rel: "/" in rel)


def _recipe(opts: AssessOptions) -> tuple[RunConfig, str]:
    """The user's recipe before ``--set`` (each attacker applies those last), and where it came from."""
    if opts.config:
        raw = load_config_file(opts.config)
        if "config" in raw and "trial_id" in raw:  # a search's best_config.json
            config = RunConfig.from_dict(raw["config"])
            config = apply_overrides(config, {"train.data.train_samples": 0})
            where = f"trial {raw['trial_id']} of a search ({opts.config})"
        else:
            config, where = resolve_config(opts.preset, opts.config), f"preset {opts.preset} + {opts.config}"
    else:
        config, where = resolve_config(opts.preset), f"preset {opts.preset}"
    if opts.sets:
        where += " with " + ", ".join(opts.sets)
    return apply_overrides(config, {"train.data.train_samples": 0}), where


def validate(opts: AssessOptions) -> tuple[AssessSetup, list[int] | None]:
    """Everything a user can get wrong, refused before Ray starts. Returns the setup and the sizes (None: auto)."""
    manifest = read_manifest(opts.data)
    if not all(int(manifest["splits"].get(s, 0)) for s in ("train", "val", "test")):
        raise UserError(f"--data {opts.data}: needs non-empty train, val and test splits (has {manifest['splits']})")
    sizes = parse_sizes(opts.sizes, int(manifest["splits"]["train"]))
    for value, flag in (
        (opts.repeats, "--repeats"),
        (opts.workers_per_run, "--workers"),
        (opts.max_epochs, "--max-epochs"),
        (opts.unlabeled_count, "--unlabeled-count"),
    ):
        if value < 1:
            raise UserError(f"{flag} {value}: must be at least 1")
    if opts.minutes_per_run < 0 or opts.gpus_per_worker < 0:
        raise UserError("--minutes-per-run and --gpus-per-worker cannot be negative")
    check_logger(opts.logger)
    has_unlabeled = int(manifest["splits"].get(UNLABELED, 0)) > 0
    names = parse_attackers(opts.attackers, has_unlabeled)
    init_from = str(resolve_model_path(opts.init_from, "--init-from").resolve()) if opts.init_from else None  # `base` too
    base = None
    if any(n.startswith("base") for n in names):
        path = resolve_model_path("base", f"--attackers {','.join(names)}").resolve()
        base = BaseModel(str(path), load_checkpoint(path)["config"]["model"])
    recipe, where = _recipe(opts)
    scheme = (int(manifest["height"]), int(manifest["width"]), int(manifest["length"][1]), int(manifest.get("channels", 1)))
    unlabeled = min(opts.unlabeled_count, int(manifest["splits"].get(UNLABELED, 0)))
    margins = quiet_margins(load_dataset(opts.data, splits=("train",), mmap=True).splits["train"].images)
    attackers = build_attackers(names, recipe, opts.sets, init_from, base, unlabeled, scheme, margins)
    for attacker in attackers.values():
        config = RunConfig.from_dict(attacker.config)
        if config.train.data.synth_per_epoch or config.train.data.epoch_images:
            raise UserError(
                "train.data.synth_per_epoch and train.data.epoch_images must be 0 for crnn assess: each run's budget of "
                "labels is the point (a fresh or streamed epoch would train on other images)"
            )
        check_time_steps(config.model, *scheme[:3])
    setup = AssessSetup(
        data=str(Path(opts.data).resolve()),
        config=recipe.to_dict(),
        recipe=where,
        attackers={n: {"config": a.config, "init_from": a.init_from, "unlabeled": a.unlabeled} for n, a in attackers.items()},
        seed=opts.seed,
        min_images=opts.min_images,
        max_epochs=opts.max_epochs,
        minutes_per_run=opts.minutes_per_run,
        init_from=init_from,
        gpus_per_worker=opts.gpus_per_worker,
        workers_per_run=opts.workers_per_run,
        train_storage=home_of(opts.out, opts.storage).sub(TRAIN_RUNS),
    )
    return setup, sizes


def _same(a: object, b: object) -> bool:
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def _resumed_setup(
    out: Path, setup: AssessSetup, sizes: list[int] | None, repeats: int, command: str
) -> tuple[AssessSetup, list]:
    """The stored setup (and its planned rounds) of the assessment in ``out``, or a new one; refuses a
    resume with other sizes, repeats, attackers or workers."""
    stored = out / SETUP
    if not stored.is_file():
        if trial_folders(out):
            raise UserError(f"--out {out}: holds runs but no assess.json; choose another --out")
        return AssessSetup(**{**asdict(setup), "commands": [command]}), []
    saved = json.loads(stored.read_text())
    if "rounds" not in saved:
        raise UserError(
            f"--out {out}: holds an assessment made before attackers existed; `crnn assess --out {out} --report-only` "
            "still reports it; choose another --out for a new one"
        )
    if (
        saved["sizes"] != (sizes or "auto")
        or saved["repeats"] != repeats
        or not _same(saved["setup"]["attackers"], setup.attackers)
    ):
        raise UserError(f"--out {out}: holds an assessment of other sizes, repeats, attackers or recipe; choose another --out")
    for key, flag in (("workers_per_run", "--workers"), ("gpus_per_worker", "--gpus-per-worker")):
        if saved["setup"][key] != getattr(setup, key):
            raise UserError(
                f"{flag} {getattr(setup, key):g}: the assessment in {out} runs with {saved['setup'][key]:g}; "
                "resume it with that, or choose another --out"
            )
    return AssessSetup(**{**saved["setup"], "commands": [*saved["setup"]["commands"], command]}), saved["rounds"]


def _next_round(out: Path, setup: AssessSetup, rounds: list, repeats: int) -> list[dict]:
    """The runs of the next ``auto`` round, planned from the finished ones: each attacker's unbracketed
    solve rates (``tune.assess.sizes.refine``)."""
    runs = finished_runs(out)
    plan = []
    for name in setup.attackers:
        if name in offtheshelf.OFF_THE_SHELF:  # one point at 0 labels, scored in the first round
            continue
        tried = {r["size"] for rnd in rounds for r in rnd if r["attacker"] == name}
        for size in refine(runs.rows.get(name, []), sorted(tried)):
            plan += [{"attacker": name, "size": size, "repeat": k} for k in range(repeats)]
    return plan


def first_round(attackers: list[str], sizes: list[int], repeats: int) -> list[dict]:
    """Every trained attacker at every size and repeat; an off-the-shelf one once, at 0 labels (it is deterministic)."""
    plan = []
    for a in attackers:
        grid = [(0, 0)] if a in offtheshelf.OFF_THE_SHELF else [(n, k) for n in sizes for k in range(repeats)]
        plan += [{"attacker": a, "size": n, "repeat": k} for n, k in grid]
    return plan


def run_assess(opts: AssessOptions, command: str = "") -> Path:
    """Start or resume the assessment in ``opts.out``; returns the report folder."""
    home = home_of(opts.out, opts.storage)
    with writer_lock(home.local, "assessment"):
        return _run_assess(opts, command, home)


def _run_assess(opts: AssessOptions, command: str, home: Mirror) -> Path:
    out = home.local
    setup, sizes = validate(opts)
    pull_assessment(home)
    setup, rounds = _resumed_setup(out, setup, sizes, opts.repeats, command)
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        atomic_write_json(
            out / SETUP, {"sizes": sizes or "auto", "repeats": opts.repeats, "rounds": rounds, "setup": asdict(setup)}
        )
        home.push([SETUP])

    if not rounds:
        first = sizes or coarse_sizes(int(read_manifest(setup.data)["splits"]["train"]))
        rounds.append(first_round(list(setup.attackers), first, opts.repeats))
    save()

    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

    print(
        f"assessment {out}: attackers {', '.join(setup.attackers)}, sizes {sizes or 'auto'} x {opts.repeats} "
        f"repeat(s), recipe {setup.recipe}",
        flush=True,
    )
    started, embedded = init_ray_for_trials(opts.address)
    interrupted = False
    try:
        k = 0
        while k < len(rounds) or (sizes is None and (plan := _next_round(out, setup, rounds, opts.repeats))):
            if k == len(rounds):
                rounds.append(plan)
                save()
            if not _run_round(home, setup, k, rounds[k], embedded, opts):
                interrupted = True
                break
            k += 1
    finally:
        if started:
            ray.shutdown()

    a = write_report(out)  # an interrupted one says "incomplete", with how many runs finished and how to resume
    push_report(home)
    if interrupted:
        print(f"assessment interrupted: {a['finished']} of {a['planned']} runs finished; resume with: {command}", flush=True)
        raise KeyboardInterrupt
    return out


def _run_round(home: Mirror, setup: AssessSetup, k: int, runs: list[dict], embedded: bool, opts: AssessOptions) -> bool:
    """Run (or resume) round ``k``'s runs as one Tune experiment, ``runs/round-K`` (then, for a remote
    assessment, pull its finished runs into the working copy). False when the round was interrupted
    (Ctrl-C: Tune saves its state and returns with runs left that did not fail)."""

    out = home.local
    runs_path, fs = ray_storage(home.sub(RUNS))
    exp = f"{runs_path}/round-{k}"
    finished = finished_runs(out).checkpoints
    if all((r["attacker"], r["size"], r["repeat"]) in finished for r in runs):
        return True
    resources, concurrent = trial_layout(setup.workers_per_run, setup.gpus_per_worker, embedded, opts.max_concurrent, "--workers")
    trainable = tune.with_resources(tune.with_parameters(assess_trial, setup=setup), resources)
    sizes = sorted({r["size"] for r in runs})
    if tune.Tuner.can_restore(exp, storage_filesystem=fs):
        check_restore(out / RUNS / f"round-{k}", home.remote, opts.trust_experiment, "assessment")
        print(f"resuming round {k} (sizes {sizes}): finished runs are kept", flush=True)
        tuner = tune.Tuner.restore(exp, trainable=trainable, resume_unfinished=True, resume_errored=True, storage_filesystem=fs)
    else:
        print(f"round {k}: sizes {sizes}", flush=True)
        tuner = tune.Tuner(
            trainable,
            param_space={"run": tune.grid_search(runs)},
            tune_config=tune.TuneConfig(max_concurrent_trials=concurrent, trial_dirname_creator=_dirname),
            run_config=tune.RunConfig(
                name=f"round-{k}",
                storage_path=runs_path,
                storage_filesystem=fs,
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=1),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=home.checkpoints_to_keep),
                callbacks=[
                    RoundLines(runs, setup.epochs_for, setup.minutes_per_run, concurrent),
                    *tune_callbacks(opts.logger, out, opts.tracking_uri, out.name),
                ],
            ),
        )
    results = tuner.fit()
    home.pull(skip=no_train_runs)
    finished = finished_runs(out).checkpoints
    left = [r for r in runs if (r["attacker"], r["size"], r["repeat"]) not in finished]
    return len(left) <= results.num_errors  # what is left and did not fail was stopped


def _dirname(trial) -> str:
    run = trial.config["run"]
    return f"{run['attacker'].replace('+', '-')}-n{run['size']}-r{run['repeat']}"
