"""The Ray lines of crnn, in one place: start or attach to Ray, build a TorchTrainer, report an
epoch with its checkpoint, resume from the last one. ``crnn train --workers`` and every Tune trial
(``tune/search/trial.py``) use these, so a checkpoint means the same thing in both.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import ray
from ray._private.utils import get_ray_address_file, read_ray_address
from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, ScalingConfig
from ray.train import RunConfig as RayRunConfig
from ray.train.torch import TorchTrainer

from crnn.config import RunConfig
from crnn.errors import UserError
from crnn.storage import ray_storage
from crnn.training.options import Launch

CHECKPOINT_FILE = "last.pt"  # what a reported checkpoint directory holds: fit's last.pt of that epoch


try:  # the file whose logger prints every ray.train.report (quiet_ray_train_reports)
    from ray.train.v2._internal.execution import context as _train_context
except ImportError:
    _train_context = None


def worker_setup() -> None:
    """Every Ray worker process of a crnn job runs this first (``worker_process_setup_hook``)."""
    pin_gloo_to_node_ip()
    name_this_cluster()
    quiet_ray_train_reports()


def name_this_cluster() -> None:
    """Ray Train's own actors ask the State API for "the" cluster on the machine; with a second Ray
    running there (another crnn command, a `ray start` head) that lookup fails with "Found multiple
    active Ray instances" and a traceback in the run's output. Name the one this process belongs to."""
    if os.environ.get("RAY_ADDRESS"):
        return

    os.environ["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address


def quiet_ray_train_reports() -> None:
    """Ray 2.60 logs every ``ray.train.report`` at INFO on a logger named after its file path, which
    escapes ``LoggingConfig(log_level="WARNING")`` (it filters ``ray.train.*``): a line of metrics per
    worker per epoch beside crnn's own epoch line. Raise that logger to WARNING."""
    if _train_context is not None:  # another Ray layout: nothing to quiet
        logging.getLogger(_train_context.__file__).setLevel(logging.WARNING)


def quiet_tune_banner() -> None:
    """Ray Tune's new output engine prints its experiment banner at any ``verbose``, 0 included: a table
    of the searcher and a TensorBoard command that points into Ray's own temp folder, not at the files
    crnn keeps (the experiment or report folder). ``verbose=0`` under the legacy engine prints nothing;
    crnn prints its own lines. A user who sets ``RAY_AIR_NEW_OUTPUT`` keeps their choice."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def pin_gloo_to_node_ip() -> None:
    """Gloo, DDP's CPU backend, listens on whatever the machine's host name resolves to. Where that is
    a loopback address (Debian's 127.0.1.1, containers, network namespaces) the other nodes cannot
    connect ("Gloo connectFullMesh failed ... Connection refused"). Pin it to the interface that holds
    the address Ray uses for this node, unless the user set ``GLOO_SOCKET_IFNAME`` already.
    """
    if os.environ.get("GLOO_SOCKET_IFNAME"):
        return

    ip = ray.util.get_node_ip_address()
    if ip.startswith("127."):
        return  # a single-node cluster on loopback: the default works
    import psutil  # noqa: PLC0415 - comes with ray[default] on the cluster nodes that need it, not installed here

    for name, addrs in psutil.net_if_addrs().items():
        if any(a.address == ip for a in addrs):
            os.environ["GLOO_SOCKET_IFNAME"] = name
            return


def init_ray(address: str | None, num_cpus: int | None = None, resources: dict | None = None) -> bool:
    """Attach to ``address`` or start an embedded local Ray; True if we started it (and must stop it)."""

    # Train V2 polls its workers every 2 s by default, which delays every report; 0.25 s keeps short
    # epochs short. Set before Ray starts so that the controller inherits it.
    env = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": os.environ.get("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")}
    os.environ.update(env)
    if ray.is_initialized():
        return False
    runtime_env = {"env_vars": env, "worker_process_setup_hook": "crnn.training.ray_glue.worker_setup"}
    address = address or os.environ.get("RAY_ADDRESS") or None  # set inside a submitted job
    if address:
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
        except ConnectionError as exc:
            raise UserError(f"--address {address}: cannot reach a Ray cluster there ({exc})") from None
        return True
    note = recorded_cluster()
    if note:
        print(f"note: {note}; this command starts its own embedded Ray (--address auto uses that cluster)", flush=True)
    ray.init(
        address="local",  # never the cluster a `ray start` recorded: it may be another's, too small, or dead
        num_cpus=num_cpus,
        resources=resources,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        log_to_driver=True,
        runtime_env=runtime_env,
    )
    return True


def recorded_cluster() -> str:
    """The live Ray cluster the last `ray start` on this machine recorded (/tmp/ray/ray_current_cluster),
    as one line for the user, or "" when none is recorded or it no longer answers (a stale file)."""

    address = read_ray_address()
    host, _, port = (address or "").rpartition(":")
    if not host or not port.isdigit():
        return ""
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            pass
    except OSError:
        return ""  # stale: its head is gone
    return f"a Ray cluster runs at {address} (recorded in {get_ray_address_file(None)})"


def init_ray_for_trials(address: str | None) -> tuple[bool, bool]:
    """Attach to a cluster, or start an embedded Ray with one ``trial_slot`` per CPU (what a
    multi-worker trial's driver holds instead of a CPU). Returns (we started it, it is embedded)."""
    attach = address or os.environ.get("RAY_ADDRESS")  # RAY_ADDRESS: we run inside a submitted job
    slots = None if attach else max(1, os.cpu_count() or 1)
    quiet_tune_banner()  # the searches and assessments run Tune at verbose=0 and print their own lines
    started = init_ray(address, num_cpus=slots, resources={"trial_slot": slots} if slots else None)
    return started, slots is not None


def trial_layout(
    workers: int, gpus_per_worker: float, embedded: bool, max_concurrent: int | None, workers_flag: str
) -> tuple[dict, int]:
    """What one Tune trial of ``workers`` workers reserves, and how many such trials the connected
    cluster runs at once without one waiting on another's workers (``max_concurrent`` if given)."""

    cpus, gpus = ray.cluster_resources().get("CPU", 1.0), ray.cluster_resources().get("GPU", 0.0)
    if gpus_per_worker and gpus < gpus_per_worker * workers:
        raise UserError(f"--gpus-per-worker {gpus_per_worker:g}: the cluster has {gpus:g} GPUs")
    if cpus < workers:
        raise UserError(f"{workers_flag} {workers}: the cluster has {cpus:g} CPUs, one per worker needed")
    if workers == 1:
        resources = {"cpu": 1, "gpu": gpus_per_worker}
    else:  # the trial only drives its Train workers: a CPU of its own could deadlock 2 cores (RAY-NOTES)
        resources = {"trial_slot": 1} if embedded else {"cpu": 0.01}
    if max_concurrent:
        return resources, max_concurrent
    by_cpu = int(cpus // workers)
    by_gpu = int(gpus // (workers * gpus_per_worker)) if gpus_per_worker else by_cpu
    return resources, max(1, min(by_cpu, by_gpu))


def failure_line(exc: BaseException) -> str:
    """The last line of a Ray Train failure: the worker's own error, without Ray's traceback around it."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def report_epoch(
    report: Callable, checkpoint_cls, row: dict, last_pt: Path | None, files: tuple[Path, ...] = (), **extra
) -> None:
    """``report`` (ray.train.report or ray.tune.report) this epoch's metrics, with rank 0's checkpoint
    (its ``last.pt``, and ``files`` beside it, e.g. the best epoch's model)."""
    metrics = {**row, **extra}
    if last_pt is None:
        report(metrics)  # every rank reports; only rank 0 has a checkpoint
        return
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy2(last_pt, Path(tmp) / CHECKPOINT_FILE)
        for extra_file in files:
            shutil.copy2(extra_file, Path(tmp) / extra_file.name)
        report(metrics, checkpoint=checkpoint_cls.from_directory(tmp))


def resume_path(checkpoint, scratch: str | Path) -> Path | None:
    """The ``last.pt`` of the checkpoint Ray handed back (after a failure or a restart), if any."""
    if checkpoint is None:
        return None
    return Path(checkpoint.to_directory(os.path.join(scratch, "resume"))) / CHECKPOINT_FILE


def torch_trainer(
    worker_fn: Callable[[dict], None],
    loop_config: dict,
    launch: Launch,
    *,
    name: str,
    storage_path: str,
    callbacks: list | None = None,
    keep: int = 1,
):
    """A TorchTrainer of ``launch.workers`` workers whose run is named ``name`` under ``storage_path`` (never a
    timestamp: Train V2 resumes a run by storage path + name) and that replaces dead workers ``launch.max_failures`` times.
    ``storage_path`` may be a remote URI (``crnn.storage``: s3://, gs://, with an endpoint override)."""

    storage_path, storage_fs = ray_storage(storage_path)
    gpus = launch.gpus_per_worker
    resources = {"CPU": launch.cpus_per_worker, **({"GPU": gpus} if gpus else {})}
    return TorchTrainer(
        worker_fn,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=launch.workers, use_gpu=gpus > 0, resources_per_worker=resources),
        run_config=RayRunConfig(
            name=name,
            storage_path=storage_path,
            storage_filesystem=storage_fs,
            callbacks=callbacks,
            failure_config=FailureConfig(max_failures=launch.max_failures),
            checkpoint_config=CheckpointConfig(
                num_to_keep=keep, checkpoint_score_attribute="exact_acc", checkpoint_score_order="max"
            ),
            logging_config=LoggingConfig(log_level="WARNING"),  # our per-epoch line, not Ray's per report
        ),
    )


def loop_config(
    config: RunConfig,
    data_dir: str,
    max_minutes: float = 0.0,
    init_from: str | None = None,
    train_indices: list[int] | None = None,
) -> dict:
    """What ``train_worker`` receives: plain types only (it crosses process and node boundaries).
    ``train_indices``: train on these images of the train split only (``crnn assess``'s label budgets)."""
    return {
        "config": config.to_dict(),
        "data": data_dir,
        "max_minutes": max_minutes,
        "init_from": init_from,
        "train_indices": train_indices,
    }
