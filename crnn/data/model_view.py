"""What a model reads of a dataset's images, for ``crnn data preview --model`` (torch: imported only then)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from crnn.config import RunConfig
from crnn.data.pixels import to_input
from crnn.model import build_model


def model_view(images: np.ndarray, model: Mapping[str, object]) -> np.ndarray:
    """(N, H, W[, 3]) uint8 -> what a model with this ``model`` config section reads, as uint8: (N, H', W'[, 3]).
    The model's own steps: ``to_input`` (the colour choice) and ``CRNN.prepare`` of a fresh model, whose
    mean 0 and std 1 leave only the crop and the resize."""
    cfg = RunConfig.from_dict({"model": dict(model)}).model
    net = build_model(cfg, 2, images.shape[1], images.shape[2], 1)
    with torch.no_grad():
        x = net.prepare(to_input(images, cfg.in_channels))  # (N, C, H', W') in [0, 1]
    x = x.mul(255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (N, H', W', C)
    return (x[..., 0] if x.shape[-1] == 1 else x).numpy()
