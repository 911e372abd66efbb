"""``FitOptions``: how a run is carried out, as opposed to what it learns (that is ``RunConfig``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

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

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes, logs and tracks."""
        return self.rank == 0
