"""Saving and restoring a run's parts together: each part owns its ``state_dict``/``load_state_dict``.

A checkpoint holds one entry per part, under the part's name, beside what inference needs (``model``:
the weights that score, the config, the task). A new part needs no change here: the trainer lists it
in its parts and it travels.

Checkpoints written before the trainer had parts (up to crnn-tune of 2026-12-06) kept the trained
weights as ``model`` (or ``train_model`` beside an average), the average's ramp as ``ema_steps`` and
the pseudo-labels as ``semi_table``/``semi_mass``; ``upgrade`` reads them into today's names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from crnn.errors import UserError


class Stateful(Protocol):
    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict, /) -> Any: ...


def upgrade(saved: dict) -> dict:
    """A checkpoint of before the parts in today's layout (a checkpoint of today is returned as it is)."""
    out = dict(saved)
    out.setdefault("train_model", out.get("model"))
    if "ema" not in out and "ema_steps" in out:
        out["ema"] = {"average": out["model"], "steps": out["ema_steps"]}
    if "objective" not in out:
        out["objective"] = {k: out[k] for k in ("semi_table", "semi_mass") if k in out}
    return out


class Checkpointer:
    def __init__(self, parts: dict[str, Stateful]) -> None:
        self.parts = parts

    def state(self) -> dict:
        return {name: part.state_dict() for name, part in self.parts.items()}

    def restore(self, saved: dict, where: str | Path) -> None:
        saved = upgrade(saved)
        missing = [name for name in self.parts if saved.get(name) is None]
        if missing:
            raise UserError(
                f"{where}: the checkpoint has no {', '.join(missing)}; it was written by a run of another configuration "
                "and cannot be resumed by this one"
            )
        for name, part in self.parts.items():
            part.load_state_dict(saved[name])
