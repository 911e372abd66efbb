"""Export a trained model to ONNX or TorchScript, both taking (B, C, H, W) in [0, 1] and returning
log-probs (T, B, K) with decoding (greedy or beam) outside the graph, as in PyTorch; or to an
inference-only checkpoint (``pt``) that every ``crnn`` command reads as it reads a run's."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from crnn.atomic import atomic_write_bytes
from crnn.errors import UserError
from crnn.train.checkpoint import LoadedModel, inference_checkpoint, save_checkpoint

FORMATS = ("onnx", "torchscript", "pt")


def export_model(loaded: LoadedModel, fmt: str, out: str | Path) -> Path:
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: accepted: {', '.join(FORMATS)}")
    out = Path(out)
    if fmt == "pt":
        save_checkpoint(out, inference_checkpoint(loaded.state))
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    model = loaded.model.eval()
    example = torch.rand(2, loaded.channels, loaded.height, loaded.width)  # (B, C, H, W)
    tmp = out.with_name(f".{out.name}.partial")
    if fmt == "onnx":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
            torch.onnx.export(
                model, (example,), str(tmp), dynamo=False, input_names=["images"], output_names=["log_probs"],
                dynamic_axes={"images": {0: "batch"}, "log_probs": {1: "batch"}}, opset_version=17,
            )  # fmt: skip
    else:
        with torch.no_grad():
            torch.jit.save(torch.jit.trace(model, example), str(tmp))
    atomic_write_bytes(out, tmp.read_bytes())
    tmp.unlink()
    return out
