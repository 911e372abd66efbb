"""Start a model from another one's weights (``--init-from``): every tensor whose name and shape
match is copied; the rest keep their fresh initialisation. A different charset changes only the
head's output rows; a different image height only the LSTM's first input matrices."""

from __future__ import annotations

import torch
from torch import nn


def transfer_weights(model: nn.Module, source: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Copy matching tensors of ``source`` into ``model``; returns (kept, reinitialised) names."""
    own = model.state_dict()
    kept = [k for k, v in own.items() if k in source and source[k].shape == v.shape]
    model.load_state_dict({**own, **{k: source[k] for k in kept}})
    return kept, [k for k in own if k not in kept]


def summarize(kept: list[str], fresh: list[str]) -> str:
    """One line for a log or a report: which parts came from the source model."""
    parts = lambda names: sorted({n.split(".")[0] for n in names})  # noqa: E731 - cnn, rnn, head
    fresh_txt = ", ".join(n for n in fresh if not n.endswith("num_batches_tracked")) or "nothing"
    return f"kept {len(kept)} tensors ({', '.join(parts(kept)) or 'none'}); re-initialised: {fresh_txt}"
