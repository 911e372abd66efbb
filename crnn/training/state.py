"""What a training run knows about its own progress, saved in every checkpoint and restored on resume."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TrainState:
    epoch: int = 0  # the last finished epoch
    best: float = -1.0  # best val exact accuracy so far
    best_epoch: int = 0
    best_char: float = -1.0  # the best epoch's val char accuracy: it breaks ties of exact accuracy
    elapsed_s: float = 0.0  # training time over every session of the run
    history: list[dict] = field(default_factory=list)  # one metrics row per finished epoch
    early_stopped: bool = False  # it stopped improving: a resume has nothing left to do
    resumed_after: list[int] = field(default_factory=list)  # the epoch each later session started after
    plateau_exit: int = 0  # the first epoch that read characters (see left_plateau); 0: still on the blank plateau
    patience_from: int = 0  # the first epoch after warmup and off the plateau: early stopping counts from here

    def record(self, row: dict, warmed_up: bool) -> bool:
        """Append an epoch's metrics; True if it is the best so far: the highest val exact accuracy, and
        of equal ones the highest char accuracy (a hard scheme can read ever more characters for many
        epochs while no whole label is right yet: that is progress, and early stopping must see it)."""
        self.epoch = row["epoch"]
        self.history.append(row)
        if not self.plateau_exit and left_plateau(row):
            self.plateau_exit = row["epoch"]
        if not self.patience_from and self.plateau_exit and warmed_up:
            self.patience_from = row["epoch"]
        if (row["exact_acc"], row["char_acc"]) > (self.best, self.best_char):
            self.best, self.best_char, self.best_epoch = row["exact_acc"], row["char_acc"], row["epoch"]
            return True
        return False

    def epochs_without_progress(self) -> int:
        """Epochs since the best one, counted only once warmup is over and the model left the plateau:
        a small dataset of a new scheme can sit on the blank plateau for many epochs and then learn."""
        if not self.patience_from:
            return 0
        return self.epoch - max(self.best_epoch, self.patience_from - 1)

    @property
    def best_row(self) -> dict:
        return next((r for r in self.history if r["epoch"] == self.best_epoch), {})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainState:
        return cls(**data)

    def state_dict(self) -> dict:
        return self.to_dict()

    def load_state_dict(self, state: dict) -> None:
        for key, value in asdict(TrainState.from_dict(state)).items():
            setattr(self, key, value)


def left_plateau(row: dict) -> bool:
    """CTC models first learn to emit blanks only (exact and char accuracy ~0): an epoch that reads a
    fifth of the characters, or any whole label, has left that plateau."""
    return row["exact_acc"] > 0 or row["char_acc"] >= 0.2


def plateau_advice(more: str, augment: bool, transfer: bool) -> str:
    """What may get a run that never left the blank plateau off it, leaving out what it already used."""
    tips = [more, *([] if augment else ["train.augment=true"])]
    tips += [*([] if transfer else ["--init-from a model trained on a similar scheme"]), "a more negative model.blank_bias"]
    return ", ".join(tips[:-1]) + " or " + tips[-1]
