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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import ray.train
import ray.train.torch
import ray.tune
import torch
from ray.train import TrainingFailedError
from ray.tune.integration.ray_train import TuneReportCallback

from crnn.config import RunConfig
from crnn.data.store import Dataset, load_dataset
from crnn.errors import UserError
from crnn.model import build_model, check_time_steps, count_parameters
from crnn.storage import check_uri
from crnn.training.amp import choose_precision
from crnn.training.build import worker_batch_size
from crnn.training.checkpoint import init_source, load_checkpoint
from crnn.training.fit import fit
from crnn.training.options import FitOptions, Launch
from crnn.training.ray_glue import CHECKPOINT_FILE, failure_line, init_ray, loop_config, report_epoch, resume_path, torch_trainer
from crnn.training.rundir import RunDir, run_record
from crnn.training.state import TrainState


@dataclass(frozen=True)
class TrainJob:
    """What a Ray Train run trains: plain values, as they cross to the workers."""

    data_dir: str  # absolute: every node opens it (or its copy) at this path
    out: Path
    config: RunConfig
    max_minutes: float = 0.0
    init_from: str | None = None  # a model path the workers load themselves
    train_indices: list[int] | None = None  # train on these images of the train split only


def train_worker(cfg: dict) -> None:
    """The per-worker function: the Ray lines are the ones marked ``# ray``."""
    ctx = ray.train.get_context()  # ray
    rank, world = ctx.get_world_rank(), ctx.get_world_size()  # ray
    device = ray.train.torch.get_device()  # ray
    config = RunConfig.from_dict(cfg["config"])
    data = load_dataset(cfg["data"], splits=("train", "val"), mmap=True)  # one copy per node, in the page cache
    subset = {}
    if cfg.get("train_indices") is not None:
        data = data.with_train_subset(cfg["train_indices"])
        subset = {"train_images": len(cfg["train_indices"])}  # what crnn assess's epoch lines and tests read
    nodes = [ray.util.get_node_ip_address()] * world  # ray: where each rank runs, for config.json
    if world > 1:
        torch.distributed.all_gather_object(nodes, nodes[0])
    if rank == 0:
        logging.getLogger("crnn.training").info("ranks on nodes: %s", ", ".join(f"{r}={ip}" for r, ip in enumerate(nodes)))

    def wrap(model: torch.nn.Module) -> torch.nn.Module:
        if device.type == "cuda" and world > 1 and config.model.norm == "batch":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # per-GPU batches, global statistics
        return ray.train.torch.prepare_model(model)  # ray: DDP

    def report(row: dict, last_pt: Path | None, improved: bool) -> None:
        report_epoch(
            ray.train.report, ray.train.Checkpoint, row, last_pt, improved=improved, nodes=",".join(nodes), **subset
        )  # ray

    with tempfile.TemporaryDirectory() as scratch:
        opts = FitOptions(
            rank=rank,
            world_size=world,
            device=str(device),
            wrap_model=wrap,
            on_epoch_end=report,
            resume_from=resume_path(ray.train.get_checkpoint(), scratch),  # ray: the latest reported, after a failure
            progress=False,
            max_minutes=cfg["max_minutes"],
            **init_source(cfg.get("init_from")),
            log=logging.getLogger("crnn.training").info,  # Ray routes worker logging to the driver once
        )
        fit(data, Path(scratch) / "run", config, opts)


def storage_and_name(out: Path, storage: str | None) -> tuple[str, str]:
    """(storage_path, run name) for Ray: ``RUN/ray`` + ``train`` by default, else STORAGE + RUN's name."""
    if storage is None:
        return str(out / "ray"), "train"
    check_uri(storage, "--storage")
    if "://" in storage:
        return storage, out.name
    return str(Path(storage).resolve()), out.name


def _check_multi_node(storage: str | None) -> None:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if len(nodes) > 1 and (storage is None or "://" not in storage):
        raise UserError(
            f"the cluster has {len(nodes)} nodes: --storage must be shared by all of them, e.g. s3://bucket/runs, "
            "gs://..., or an NFS mount written as file:///mnt/shared/runs (a plain local path is only on one node)"
        )


def last_and_best(result, where: str | Path) -> tuple[Any, Any, TrainState]:
    """The last and the best reported checkpoints of a finished Train run, and the run's state."""
    if result.checkpoint is None:
        raise UserError(f"{where}: the run reported no checkpoint ({result.error})")
    with result.checkpoint.as_directory() as d:
        state = TrainState.from_dict(load_checkpoint(Path(d) / CHECKPOINT_FILE)["train_state"])
    # Ray kept the best few by val exact accuracy: take the one of the epoch fit calls best (the first of a tie)
    kept = {m.get("epoch"): c for c, m in (result.best_checkpoints or [])}
    best = kept.get(state.best_epoch) or result.get_best_checkpoint(metric="exact_acc", mode="max") or result.checkpoint
    return result.checkpoint, best, state


def _materialize(run: RunDir, result) -> dict:
    """RUN/checkpoints/{last,best}.pt, metrics and curves from the checkpoints the workers reported."""
    last, best, state = last_and_best(result, run.out)
    with last.as_directory() as d:
        run.install_checkpoint(Path(d) / CHECKPOINT_FILE, best=False)
    with best.as_directory() as d:
        run.install_checkpoint(Path(d) / CHECKPOINT_FILE, best=True)
    run.write_history(state.history)
    run.write_config({**(run.saved_config() or {}), "nodes": (result.metrics or {}).get("nodes", "").split(",")})
    return state.best_row


def _write_record(run: RunDir, job: TrainJob, data, workers: int, device: str) -> None:
    """config.json as a single-process run writes it, before the workers start."""
    height, width = data.image_size
    model = build_model(job.config.model, data.charset.num_classes, height, width, data.length_range[1])
    n_train, n_val = _split_sizes(data, job)
    precision = choose_precision(job.config.train.amp, torch.device(device)).mode
    runtime = {"parameters": count_parameters(model), "device": device, "precision": precision, "world_size": workers}
    run.write_config(run_record(job.config, data, {"train": n_train, "val": n_val, "overfit": 0}, runtime))


def train_distributed(job: TrainJob, launch: Launch, data: Dataset) -> dict:
    """Run ``fit`` on ``launch.workers`` Ray Train workers, then write the run folder ``job.out`` from what they
    reported (``data``: the dataset at ``job.data_dir``, whose manifest the driver reads); returns the best epoch's
    metrics. At the top (``crnn train --workers``) it starts or attaches to Ray
    and names the Train run after ``out``; inside a Tune trial it names it after the trial and reports to Tune."""
    out = job.out.resolve()
    check_time_steps(job.config.model, *data.image_size, data.length_range[1])
    worker_batch_size(job.config.train.batch_size, launch.workers)
    run = RunDir(out)
    run.check_resumable(job.config)
    if launch.in_trial:
        storage_path, name = str(launch.storage), ray.tune.get_context().get_trial_id()
    else:
        storage_path, name = storage_and_name(out, launch.storage)
    started = False if launch.in_trial else init_ray(launch.address, num_cpus=None)
    try:
        if not launch.in_trial:
            _check_multi_node(launch.storage)
        _write_record(run, job, data, launch.workers, "cuda" if launch.gpus_per_worker else "cpu")
        trainer = torch_trainer(
            train_worker,
            loop_config(job.config, job.data_dir, job.max_minutes, job.init_from, job.train_indices),
            launch,
            name=name,
            storage_path=storage_path,
            keep=3,
            callbacks=[TuneReportCallback()] if launch.in_trial else None,
        )
        try:
            result = trainer.fit()
        except TrainingFailedError as exc:
            raise UserError(f"training failed on the Ray workers: {failure_line(exc)} (logs: {storage_path}/{name})") from None
        return _materialize(run, result)
    finally:
        if started:
            ray.shutdown()


def _split_sizes(data, job: TrainJob) -> tuple[int, int]:
    """The train and val images ``fit`` will use, from the manifest (the driver loads no pixels)."""
    dc, samples = job.config.train.data, job.config.train.eval.samples
    n_train, n_val = int(data.manifest["splits"].get("train", 0)), int(data.manifest["splits"].get("val", 0))
    n_train = len(job.train_indices) if job.train_indices is not None else n_train
    n_train = min(n_train, dc.train_samples) if dc.train_samples else n_train
    return n_train, min(n_val, samples) if samples else n_val
