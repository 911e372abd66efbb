"""How a run is carried out, as opposed to what it learns (that is ``RunConfig``): ``FitOptions`` for the
trainer, ``Launch`` for where it runs (``crnn.training.launch``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from crnn.errors import UserError
from crnn.tracking import Tracker


@dataclass
class FitOptions:
    resume: bool = False  # continue from out/checkpoints/last.pt
    resume_from: Path | None = None  # continue from this checkpoint file (Ray Train hands one over)
    overfit: int = 0  # train and validate on the first N training samples (the reference's overfit test)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    progress: bool = True  # a per-step bar on stderr when it is a terminal
    max_epochs: int = 0  # stop after this many epochs of this invocation (0 = the config's epochs)
    max_minutes: float = 0.0  # stop after the epoch that passes this much training time (0 = no limit)
    rank: int = 0
    world_size: int = 1
    wrap_model: Callable[[nn.Module], nn.Module] | None = None  # e.g. Ray Train's prepare_model (DDP)
    init_from: dict | None = None  # a state_dict to start from (transfer): tensors of matching name and shape
    init_charset: str = ""  # the init_from model's charset: its head rows are mapped to this dataset's characters
    on_epoch_end: Callable[[dict, Path | None, bool], None] | None = None  # (row, last.pt on rank 0, improved)
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    tracker: Tracker | None = None  # TensorBoard / MLflow (crnn.tracking): each epoch's row, then the hparams and best
    # more crnn.training.trainer.Callback objects, called after the stop rules and before anything is written
    # (setting ``t.stop`` to a reason ends the run after the epoch, saved as usual)
    callbacks: list = field(default_factory=list)

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes, logs and tracks."""
        return self.rank == 0


@dataclass(frozen=True)
class Launch:
    """Where and how wide a run trains: what ``--workers/--gpus-per-worker/--address/--storage`` say."""

    workers: int = 0  # 0: in this process; N: N Ray Train workers (DDP)
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    address: str | None = None  # None: an embedded local Ray; "auto" or HOST:PORT: attach
    storage: str | None = None  # None: RUN/ray; a path or a pyarrow URI (s3://, gs://, file://...)
    max_failures: int = 0  # dead workers replaced before the run fails; -1: forever
    in_trial: bool = False  # inside a Ray Tune trial: the Train run is named after the trial and reports to Tune

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise UserError(f"--workers {self.workers}: must be at least 1")
        if self.gpus_per_worker < 0 or self.max_failures < -1:
            raise UserError("--gpus-per-worker cannot be negative; --max-failures takes -1 (forever), 0 or more")
        if not self.workers:
            for flag in ("address", "storage"):
                if getattr(self, flag) is not None:
                    raise UserError(f"--{flag} needs --workers N (Ray Train); without it training runs in this process")
