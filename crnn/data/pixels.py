"""How an image array becomes model input, once per backend: ``to_input`` (torch: training, evaluation,
``crnn predict`` on a checkpoint) and ``to_input_np`` (numpy: the ONNX path, which never imports torch).
A colour image read by a greyscale model is converted by ITU-R 601 luma in both, as PIL's ``convert("L")``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, what PIL's convert("L") uses


def to_input(images: torch.Tensor | np.ndarray, channels: int = 1) -> torch.Tensor:
    """uint8 (B, H, W) greyscale or (B, H, W, 3) RGB -> float (B, channels, H, W) in [0, 1].

    The one place pixels become model input: training, evaluation, ``crnn predict`` and the ONNX
    latency check all call it, so a colour dataset read by a greyscale model is converted the same way.
    """
    import torch  # noqa: PLC0415  (here, not at the top: the ONNX path reads pixels without torch)

    if isinstance(images, np.ndarray) and not images.flags.writeable:
        images = images.copy()  # torch will not wrap a read-only array (an image PIL handed over)
    x = torch.as_tensor(images).float().div_(255.0)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)  # (B, C, H, W)
    if x.shape[1] == 3 and channels == 1:
        x = (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


def to_input_np(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (B, H, W) or (B, H, W, 3) -> float32 (B, channels, H, W) in [0, 1]; as ``to_input`` does in torch."""
    x = images.astype(np.float32) / 255.0
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (B, C, H, W)
    if x.shape[1] == 3 and channels == 1:
        x = (x * np.asarray(LUMA, dtype=np.float32).reshape(1, 3, 1, 1)).sum(1, keepdims=True)
    elif x.shape[1] == 1 and channels == 3:
        x = np.repeat(x, 3, axis=1)
    return np.ascontiguousarray(x, dtype=np.float32)
