"""``crnn train --workers N``: the same ``fit`` on N Ray Train workers (DDP: gloo on CPU, NCCL on GPU).

Each worker runs ``train_worker``; the Ray lines there are few and marked. Rank 0 reports a
checkpoint (its ``last.pt``, which also carries the metric history) every epoch; Ray keeps the best
few by val exact accuracy plus the latest. When ``fit`` returns, the driver turns the reported
checkpoints into the same run folder a single-process run writes, so ``crnn eval``/``predict``/
``export`` never need to know how a model was trained.

Resuming: Ray Train V2 restores a run from ``(storage_path, name)``; both derive from ``--out``
(and ``--storage``), never from a timestamp, so the same command continues a stopped run.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from crnn.atomic import atomic_write_json
from crnn.config import RunConfig
from crnn.data.store import load_dataset, read_manifest
from crnn.errors import UserError
from crnn.model import check_time_steps
from crnn.plots import learning_curves
from crnn.train.checkpoint import CHECKPOINT_DIR, load_checkpoint
from crnn.train.fit import FitOptions, fit, write_metrics

# Tests only: a trigger-file path. While the trigger exists and TRIGGER.fired does not, rank 1
# raises once after reporting epoch 1 (the fault-tolerance test).
CRASH_ONCE_ENV = "CRNN_TEST_CRASH_ONCE"


@dataclass(frozen=True)
class Cluster:
    """Where and how wide: what ``--workers/--gpus-per-worker/--address/--storage`` say."""

    workers: int
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    address: str | None = None  # None: an embedded local Ray; "auto" or HOST:PORT: attach
    storage: str | None = None  # None: RUN/ray; a path or a pyarrow URI (s3://, gs://, file://...)
    max_failures: int = 0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UserError(f"--workers {self.workers}: must be at least 1")
        if self.gpus_per_worker < 0 or self.max_failures < -1:
            raise UserError("--gpus-per-worker cannot be negative; --max-failures takes -1 (forever), 0 or more")


def _maybe_crash_for_test(rank: int, epoch: int) -> None:
    trigger = os.environ.get(CRASH_ONCE_ENV)
    if not trigger or rank != 1 or epoch != 1:
        return
    fired = Path(trigger + ".fired")
    if Path(trigger).exists() and not fired.exists():
        fired.touch()
        raise RuntimeError("injected worker failure (CRNN_TEST_CRASH_ONCE)")


def train_worker(cfg: dict) -> None:
    """The per-worker function: the Ray lines are the ones marked ``# ray``."""
    import ray.train  # noqa: PLC0415 - imported on the worker, not by `crnn --help`
    import ray.train.torch  # noqa: PLC0415
    import torch  # noqa: PLC0415

    ctx = ray.train.get_context()  # ray
    rank, world = ctx.get_world_rank(), ctx.get_world_size()  # ray
    device = ray.train.torch.get_device()  # ray
    config = RunConfig.from_dict(cfg["config"])
    data = load_dataset(cfg["data"], splits=("train", "val"))

    def wrap(model: torch.nn.Module) -> torch.nn.Module:
        if device.type == "cuda" and world > 1 and config.model.norm == "batch":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # per-GPU batches, global statistics
        return ray.train.torch.prepare_model(model)  # ray: DDP

    def report(row: dict, last_pt: Path | None, improved: bool) -> None:
        metrics = {**row, "improved": improved}
        if last_pt is None:
            ray.train.report(metrics)  # ray: every rank reports, rank 0 alone with a checkpoint
        else:
            with tempfile.TemporaryDirectory() as tmp:
                shutil.copy2(last_pt, Path(tmp) / "last.pt")
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))  # ray
        _maybe_crash_for_test(rank, row["epoch"])

    with tempfile.TemporaryDirectory() as scratch:
        resume_from = None
        checkpoint = ray.train.get_checkpoint()  # ray: the latest reported, after a failure or a restart
        if checkpoint is not None:
            resume_from = Path(checkpoint.to_directory(os.path.join(scratch, "resume"))) / "last.pt"
        opts = FitOptions(
            rank=rank, world_size=world, device=str(device), wrap_model=wrap, on_epoch_end=report,
            resume_from=resume_from, progress=False, max_minutes=cfg["max_minutes"],
            log=logging.getLogger("crnn.train").info,  # Ray routes worker logging to the driver once
        )  # fmt: skip
        fit(data, Path(scratch) / "run", config, opts)


def storage_and_name(out: Path, storage: str | None) -> tuple[str, str]:
    """(storage_path, run name) for Ray: ``RUN/ray`` + ``train`` by default, else STORAGE + RUN's name."""
    if storage is None:
        return str(out / "ray"), "train"
    if "://" in storage:
        return storage, out.name
    return str(Path(storage).resolve()), out.name


def _check_multi_node(storage: str | None) -> None:
    import ray  # noqa: PLC0415

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if len(nodes) > 1 and (storage is None or "://" not in storage):
        raise UserError(
            f"the cluster has {len(nodes)} nodes: --storage must be shared by all of them, e.g. s3://bucket/runs, "
            "gs://..., or an NFS mount written as file:///mnt/shared/runs (a plain local path is only on one node)"
        )


def init_ray(address: str | None, num_cpus: int | None = None, resources: dict | None = None) -> bool:
    """Attach to ``address`` or start an embedded local Ray; True if we started it (and must stop it)."""
    import ray  # noqa: PLC0415

    # Train V2 polls its workers every 2 s by default, which delays every report; 0.25 s keeps short
    # epochs short. Set before Ray starts so that the controller inherits it.
    env = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": os.environ.get("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")}
    os.environ.update(env)
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None  # set inside a submitted job
    if address:
        try:
            ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=True)
        except ConnectionError as exc:
            raise UserError(f"--address {address}: cannot reach a Ray cluster there ({exc})") from None
        return True
    ray.init(num_cpus=num_cpus, resources=resources, include_dashboard=True, dashboard_host="127.0.0.1", log_to_driver=True)
    return True


def _materialize(out: Path, result) -> dict:
    """Write RUN/checkpoints/{last,best}.pt, metrics and curves from the reported checkpoints."""
    if result.checkpoint is None:
        raise UserError(f"{out}: the run reported no checkpoint ({result.error})")
    ckpt_dir = out / CHECKPOINT_DIR
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    with result.checkpoint.as_directory() as d:
        state = load_checkpoint(Path(d) / "last.pt")
        shutil.copy2(Path(d) / "last.pt", ckpt_dir / ".last.pt.partial")
    os.replace(ckpt_dir / ".last.pt.partial", ckpt_dir / "last.pt")
    best = result.get_best_checkpoint(metric="exact_acc", mode="max") or result.checkpoint
    with best.as_directory() as d:
        shutil.copy2(Path(d) / "last.pt", ckpt_dir / ".best.pt.partial")
    os.replace(ckpt_dir / ".best.pt.partial", ckpt_dir / "best.pt")
    rows = state["history"]
    write_metrics(out, rows)
    learning_curves(rows, out / "curves.png", title=out.name)
    return next(r for r in rows if r["epoch"] == state["best_epoch"])


def train_distributed(data_dir: str, out: str | Path, config: RunConfig, cluster: Cluster, max_minutes: float = 0.0) -> dict:
    """Run ``fit`` on ``cluster.workers`` Ray Train workers; returns the best epoch's metrics."""
    out = Path(out).resolve()
    data_dir = str(Path(data_dir).resolve())
    manifest = read_manifest(data_dir)  # refuse a non-dataset before Ray starts
    check_time_steps(config.model, int(manifest["height"]), int(manifest["width"]), int(manifest["length"][1]))
    storage_path, name = storage_and_name(out, cluster.storage)

    import ray  # noqa: PLC0415
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, ScalingConfig, TrainingFailedError  # noqa: PLC0415
    from ray.train import RunConfig as RayRunConfig  # noqa: PLC0415
    from ray.train.torch import TorchTrainer  # noqa: PLC0415

    started = init_ray(cluster.address, num_cpus=None)
    try:
        _check_multi_node(cluster.storage)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "config.json", {
            **config.to_dict(), "data": {"path": data_dir}, "workers": cluster.workers,
            "gpus_per_worker": cluster.gpus_per_worker, "storage": storage_path, "ray_run_name": name,
        })  # fmt: skip
        resources = {"CPU": cluster.cpus_per_worker, **({"GPU": cluster.gpus_per_worker} if cluster.gpus_per_worker else {})}
        trainer = TorchTrainer(
            train_worker,
            train_loop_config={"config": config.to_dict(), "data": data_dir, "max_minutes": max_minutes},
            scaling_config=ScalingConfig(
                num_workers=cluster.workers, use_gpu=cluster.gpus_per_worker > 0, resources_per_worker=resources
            ),
            run_config=RayRunConfig(
                name=name,
                storage_path=storage_path,
                failure_config=FailureConfig(max_failures=cluster.max_failures),
                checkpoint_config=CheckpointConfig(
                    num_to_keep=3, checkpoint_score_attribute="exact_acc", checkpoint_score_order="max"
                ),
                logging_config=LoggingConfig(log_level="WARNING"),  # our per-epoch line, not Ray's per report
            ),
        )
        try:
            result = trainer.fit()
        except TrainingFailedError as exc:
            last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise UserError(f"training failed on the Ray workers: {last} (logs: {storage_path}/{name})") from None
        return _materialize(out, result)
    finally:
        if started:
            ray.shutdown()
