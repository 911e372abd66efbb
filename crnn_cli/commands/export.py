"""``crnn export``: a checkpoint as ONNX, TorchScript or an inference-only checkpoint (torch and onnx)."""

from __future__ import annotations

import argparse

from crnn.inference.export import export_model
from crnn.training.checkpoint import load_model


def cmd_export(args: argparse.Namespace) -> int:
    out = export_model(load_model(args.model), args.format, args.out)
    if args.format == "pt":
        print(f"wrote {out} (inference-only checkpoint, {out.stat().st_size / 2**20:.1f} MiB: weights, config, charset)")
    else:
        print(f"wrote {out} ({args.format}; input images (B, C, H, W) in [0, 1], output log-probs (T, B, K))")
    return 0
