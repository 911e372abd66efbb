"""The torch side of ``crnn predict`` and of the Python API: a checkpoint's model reading images.
Streaming, sources and output live in ``crnn.inference.stream``, which needs no torch."""

from __future__ import annotations

import numpy as np
import torch

from crnn.data.pixels import to_input
from crnn.decode import decode
from crnn.training.checkpoint import LoadedModel, load_model


class TorchModel:
    """A loaded checkpoint as ``crnn.inference.stream.Model``."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.charset, self.height, self.width = loaded.charset, loaded.height, loaded.width
        self.channels, self.beam_width = loaded.channels, loaded.beam_width

    @torch.no_grad()
    def read(self, x: np.ndarray, beam_width: int) -> tuple[list[str], list[float]]:
        ids, confs = decode(self.loaded.model(torch.from_numpy(x)), beam_width)  # x: (B, C, H, W)
        return [self.charset.decode(i) for i in ids], confs


def predict_arrays(
    loaded: LoadedModel, images: np.ndarray, beam_width: int, batch_size: int = 256
) -> tuple[list[str], list[float]]:
    """uint8 images (N, H, W) or (N, H, W, 3) at the model's size, all in memory -> texts and confidences."""
    model, preds, confs = TorchModel(loaded), [], []
    for start in range(0, len(images), batch_size):
        texts, conf = model.read(to_input(images[start : start + batch_size], loaded.channels).numpy(), beam_width)
        preds += texts
        confs += conf
    return preds, confs


def open_checkpoint(path: str, threads: int = 0) -> TorchModel:
    """``crnn predict --model RUN|CKPT``: the checkpoint's model behind the ``Model`` interface, on ``threads``
    CPU threads (0: torch's default)."""
    if threads:
        torch.set_num_threads(threads)
    return TorchModel(load_model(path))
