"""Mixed precision chosen by the device: an autocast context and a GradScaler, injected into the loop."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch


@dataclass
class Precision:
    mode: str  # off | fp16 | bf16
    device_type: str

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.mode == "off":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.mode == "fp16" else torch.bfloat16
        return torch.autocast(device_type=self.device_type, dtype=dtype)

    def scaler(self) -> torch.amp.GradScaler:
        """fp16 needs loss scaling; bf16 and fp32 get a disabled scaler (a no-op)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.mode == "fp16")


def choose_precision(requested: str, device: torch.device) -> Precision:
    """auto: CUDA -> bf16 where supported, else fp16; CPU -> off (bf16 is 9x slower without AVX-512).

    fp16 on a CPU is not useful and is turned off with a warning rather than failing the run.
    """
    kind = device.type
    if requested == "auto":
        if kind == "cuda":
            mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            mode = "off"
    elif requested == "fp16" and kind != "cuda":
        warnings.warn("train.amp=fp16 needs a CUDA device; training in fp32 on the CPU", stacklevel=2)
        mode = "off"
    else:
        mode = requested
    return Precision(mode=mode, device_type=kind)
