"""One line per finished epoch per trial, with the best so far: what `crnn tune` prints."""

from __future__ import annotations

import sys

from ray.tune import Callback


class EpochLines(Callback):
    def __init__(self, max_epochs: int) -> None:
        self.max_epochs = max_epochs
        self.best: tuple[float, str] = (-1.0, "")
        self.finished = 0

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if "exact_acc" not in result:
            return
        if result["exact_acc"] > self.best[0]:
            self.best = (result["exact_acc"], trial.trial_id)
        print(
            f"[{trial.trial_id}] epoch {result['epoch']}/{self.max_epochs} exact {result['exact_acc']:.2%} "
            f"char {result['char_acc']:.2%} ed {result['edit_distance']:.3f} val_loss {result['val_loss']:.3f} "
            f"{result['images_per_s']:.0f} img/s | best so far {self.best[0]:.2%} ({self.best[1]})",
            flush=True,
        )

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.finished += 1
        print(f"[{trial.trial_id}] finished ({self.finished} trial(s) finished in this session)", flush=True)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        print(f"[{trial.trial_id}] errored; see {trial.local_path}/error.txt", file=sys.stderr, flush=True)
