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


def cpu_has_bf16_matmul() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (Intel AMX: Sapphire Rapids and later), where
    oneDNN runs bf16 convolutions and LSTMs about twice as fast as fp32. Without it bf16 is emulated and slower."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: absent means unknown, so no
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


def choose_precision(requested: str, device: torch.device) -> Precision:
    """auto: CUDA -> bf16 where supported, else fp16; CPU -> bf16 where the CPU has AMX, else off.

    fp16 on a CPU is not useful and is turned off with a warning rather than failing the run.
    """
    kind = device.type
    if requested == "auto":
        if kind == "cuda":
            mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            mode = "bf16" if kind == "cpu" and cpu_has_bf16_matmul() else "off"
    elif requested == "fp16" and kind != "cuda":
        warnings.warn("train.amp=fp16 needs a CUDA device; training in fp32 on the CPU", stacklevel=2)
        mode = "off"
    else:
        mode = requested
    return Precision(mode=mode, device_type=kind)
