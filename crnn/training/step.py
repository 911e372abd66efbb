"""What every training step and evaluation pass needs to know, passed as one small context."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from crnn.charset import Charset
from crnn.data.batches import Batch


@dataclass(frozen=True)
class StepContext:
    """Where tensors go and how the model is run on them: the device, the precision's autocast, the
    memory layout, the task's characters, the decoding beam and the margins the model does not read."""

    charset: Charset
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    beam_width: int = 1
    channels_last: bool = False
    crop: tuple[int, ...] = (0, 0, 0, 0)  # (top, bottom, left, right): augmentation transforms only the rest

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in the memory format the model's convolutions run fastest in."""
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def to_device(self, batch: Batch) -> Batch:
        images = self.layout(batch.images.to(self.device, non_blocking=True))
        return Batch(images, batch.targets.to(self.device), batch.target_lengths.to(self.device), batch.index)
