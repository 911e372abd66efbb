"""What a training step learns: one objective per run, chosen by name from ``OBJECTIVES``.

Adding one is a new module with an ``Objective`` subclass and a builder, and a line here.
"""

from __future__ import annotations

from collections.abc import Callable

from crnn.config import TrainConfig
from crnn.training.objectives.base import Objective, ObjectiveSetup
from crnn.training.objectives.ctc import CTCObjective, ctc_loss
from crnn.training.objectives.semi import SemiObjective, build_semi

__all__ = ["OBJECTIVES", "CTCObjective", "Objective", "ObjectiveSetup", "SemiObjective", "build_objective", "ctc_loss"]

OBJECTIVES: dict[str, Callable[[ObjectiveSetup], Objective]] = {
    "ctc": lambda setup: CTCObjective(),  # supervised CTC on the labelled batch
    "fixmatch": build_semi,  # + an EMA teacher's confident answers on strongly augmented unlabelled images
    "pseudo": build_semi,  # + rounds of the scored model's confident answers on the unlabelled pool
}


def objective_name(tc: TrainConfig) -> str:
    return tc.semi.method or "ctc"


def build_objective(setup: ObjectiveSetup) -> Objective:
    return OBJECTIVES[objective_name(setup.config.train)](setup)
