"""What a training run knows about its own progress, saved in every checkpoint and restored on resume."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TrainState:
    epoch: int = 0  # the last finished epoch
    best: float = -1.0  # best val exact accuracy so far
    best_epoch: int = 0
    elapsed_s: float = 0.0  # training time over every session of the run
    history: list[dict] = field(default_factory=list)  # one metrics row per finished epoch
    early_stopped: bool = False  # it stopped improving: a resume has nothing left to do
    resumed_after: list[int] = field(default_factory=list)  # the epoch each later session started after

    def record(self, row: dict) -> bool:
        """Append an epoch's metrics; True if its val exact accuracy is the best so far."""
        self.epoch = row["epoch"]
        self.history.append(row)
        if row["exact_acc"] > self.best:
            self.best, self.best_epoch = row["exact_acc"], row["epoch"]
            return True
        return False

    @property
    def best_row(self) -> dict:
        return next((r for r in self.history if r["epoch"] == self.best_epoch), {})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainState:
        return cls(**data)
