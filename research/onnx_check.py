"""Does an exported ONNX model read like the PyTorch model it came from? Run both on the same images.

    python research/onnx_check.py --model results/captcha-62x5 --onnx results/captcha-62x5/model.onnx \
        --data data/fresh2026 [--split test] [--limit 2000]

Feeds the first ``--limit`` images of the split, made model input as everywhere else
(``crnn.data.pixels.to_input``: [0, 1], colour converted to the model's channels), to
``onnxruntime`` and to the checkpoint, and prints the largest log-probability difference, how many
greedy labels agree, and each one's exact accuracy. Exits 1 when a label differs or a log-probability
differs by more than ``--atol``.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnxruntime as ort
import torch

from crnn.data.pixels import to_input
from crnn.data.store import load_dataset
from crnn.decode import greedy_decode
from crnn.errors import UserError
from crnn.training.checkpoint import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="run folder or checkpoint")
    ap.add_argument("--onnx", required=True, help="the exported .onnx file")
    ap.add_argument("--data", required=True, help="dataset folder")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--atol", type=float, default=1e-3, help="the largest log-probability difference accepted")
    args = ap.parse_args()
    try:
        loaded = load_model(args.model)
        split = load_dataset(args.data, (args.split,), mmap=True).split(args.split)
    except UserError as e:
        ap.exit(2, f"error: {e}\n")
    try:
        session = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a missing or corrupt file
        ap.exit(2, f"error: --onnx {args.onnx}: onnxruntime cannot load it ({type(e).__name__})\n")
    labels = split.labels[: args.limit]
    model = loaded.model.eval()
    worst, same, right_onnx, right_torch = 0.0, 0, 0, 0
    for start in range(0, len(labels), 256):
        x = to_input(np.asarray(split.images[start : min(start + 256, len(labels))]), loaded.channels)  # (B, C, H, W)
        onnx_lp = torch.from_numpy(session.run(None, {"images": x.numpy()})[0])  # (T, B, K)
        with torch.no_grad():
            torch_lp = model(x)  # (T, B, K)
        worst = max(worst, float((onnx_lp - torch_lp).abs().max()))
        ids = zip(greedy_decode(onnx_lp)[0], greedy_decode(torch_lp)[0], labels[start : start + 256], strict=True)
        for onnx_ids, torch_ids, t in ids:
            a, b = loaded.charset.decode(onnx_ids), loaded.charset.decode(torch_ids)
            same += a == b
            right_onnx += a == t
            right_torch += b == t
    n = len(labels)
    print(
        f"{n} images of {args.data} [{args.split}]: max |onnx - torch| log-prob {worst:.2e}; same label on {same}/{n}; "
        f"onnx exact {right_onnx / n:.2%}, torch exact {right_torch / n:.2%}"
    )
    if same < n or worst > args.atol:
        print(f"MISMATCH: {n - same} labels differ, max |diff| {worst:.2e} (accepted: {args.atol:.0e})")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
