"""Mixed precision chosen by the device: an autocast context and a GradScaler, injected into the loop."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

# CPU flags (as Linux names them in /proc/cpuinfo) under which oneDNN runs bf16 convolutions, matrix
# products and the LSTM in hardware: Intel AMX (Sapphire Rapids on), or AVX512-BF16 (Intel Cooper Lake,
# AMD EPYC from Zen 4 on). Without one of them bf16 is emulated and slower than fp32.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


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


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them; empty where there is no /proc/cpuinfo (macOS, Windows)."""
    try:
        text = CPUINFO.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_bf16_matmul() -> bool:
    """Whether this CPU runs bf16 in hardware: a flag in BF16_FLAGS, or torch's own AMX probe where the
    kernel lists no flags. Both unknown -> False, so a run never gets slower by guessing."""
    if any(flag in cpu_flags() for flag in BF16_FLAGS):
        return True
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: absent means unknown, so no
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


def choose_precision(requested: str, device: torch.device) -> Precision:
    """auto: CUDA -> bf16 where supported, else fp16; CPU -> bf16 where it has AMX or AVX512-BF16, else off.

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
