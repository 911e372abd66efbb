"""What `crnn assess` prints while a round runs: a line per epoch of each run with its epoch out of its
budget, its rate and the time left to the run and to the round, and a line per finished run."""

from __future__ import annotations

from collections.abc import Callable

from ray.tune import Callback

from crnn.stats import wilson


def duration(seconds: float) -> str:
    """``45 s``, ``12.5 min`` or ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class RoundLines(Callback):
    """``plan``: the round's runs (attacker, size, repeat); ``epochs_for(size)``: a run's epoch budget;
    ``minutes``: each run's time budget (0: none); ``concurrent``: runs at once. A run may stop early
    (early stopping, the time budget): its time left is the most it can still take."""

    def __init__(self, plan: list[dict], epochs_for: Callable[[int], int], minutes: float, concurrent: int) -> None:
        self.plan = [(r["attacker"], int(r["size"]), int(r["repeat"])) for r in plan]
        self.epochs_for, self.budget_s, self.concurrent = epochs_for, 60 * minutes, max(1, concurrent)
        self.left: dict[tuple, float] = {}  # run -> seconds it may still take
        self.per_image: dict[str, float] = {}  # attacker -> seconds per training image per epoch, measured

    def run_left(self, size: int, epoch: int, elapsed_s: float) -> float:
        left = (self.epochs_for(size) - epoch) * elapsed_s / max(epoch, 1)
        return max(0.0, min(left, self.budget_s - elapsed_s) if self.budget_s else left)

    def round_left(self) -> float | None:
        """Seconds until the round ends: the runs' time left over the runs at once, and no sooner than the run with
        the most left; None before any rate is known."""
        if not self.per_image:
            return None
        fallback = max(self.per_image.values())
        total = 0.0
        for run in self.plan:
            if run in self.left:
                total += self.left[run]
            else:  # not started: its epochs at its attacker's measured rate, within the time budget
                seconds = self.epochs_for(run[1]) * run[1] * self.per_image.get(run[0], fallback)
                total += min(seconds, self.budget_s) if self.budget_s else seconds
        return max(total / self.concurrent, max(self.left.values(), default=0.0))  # never before its slowest run

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        run = trial.config["run"]
        key = (run["attacker"], int(run["size"]), int(run["repeat"]))
        tag = f"[{run['attacker']} n={run['size']} r={run['repeat']}]"
        if result.get("final"):
            self.left[key] = 0.0
            done = sum(1 for k in self.plan if self.left.get(k) == 0.0)
            lo, hi = wilson(result["test_correct"], result["test_count"])
            print(
                f"{tag} test exact {result['test_exact_acc']:.2%} [{lo:.2%}, {hi:.2%}] char {result['test_char_acc']:.2%} "
                f"after {result['epochs_run']} epochs, {result['train_minutes']:.1f} min; {done}/{len(self.plan)} runs "
                f"of the round done" + self._round_eta(),
                flush=True,
            )
        elif "exact_acc" in result:
            epoch, elapsed = int(result["epoch"]), 60 * float(result.get("elapsed_min", 0.0))
            self.left[key] = self.run_left(key[1], epoch, elapsed)
            self.per_image[key[0]] = elapsed / max(epoch * key[1], 1)
            rate = f", {result['images_per_s']:.0f} img/s" if "images_per_s" in result else ""
            print(
                f"{tag} epoch {epoch}/{self.epochs_for(key[1])} val exact {result['exact_acc']:.2%}{rate}, "
                f"run eta {duration(self.left[key])}" + self._round_eta(),
                flush=True,
            )

    def _round_eta(self) -> str:
        left = self.round_left()
        return "" if left is None or left == 0 else f", round eta {duration(left)}"
