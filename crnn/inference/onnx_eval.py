"""``crnn eval --model model.onnx``: an exported model scored on a dataset split under onnxruntime and
numpy alone (no torch), with the same report as a checkpoint's (the CTC loss aside: the graph has none)."""

from __future__ import annotations

import json
from pathlib import Path

from crnn.data.pixels import to_input_np
from crnn.data.store import SPLITS, load_dataset
from crnn.errors import UserError
from crnn.inference.stream import OnnxModel
from crnn.report import sequence_report


def evaluate_onnx(
    path: str | Path,
    data_dir: str | Path,
    split: str = "test",
    beam_width: int | None = None,
    limit: int = 0,
    batch_size: int = 256,
) -> tuple[dict, dict | None]:
    """(report, provenance) of ``model.onnx`` on a split of ``data_dir``."""
    model = OnnxModel(path)
    data = load_dataset(data_dir, splits=SPLITS if split == "all" else (split,), mmap=True, verify=True)
    part = data.require_images(split)
    unknown = model.charset.invalid_chars("".join(part.labels))
    if unknown:
        raise UserError(f"--data {data_dir}: labels use {unknown!r}, which the model's charset {model.charset.chars!r} lacks")
    if data.image_size != (model.height, model.width):
        h, w = data.image_size
        raise UserError(f"--data {data_dir}: images are {w}x{h}, the model takes {model.width}x{model.height}")
    beam = beam_width if beam_width is not None else model.beam_width
    if beam < 1:
        raise UserError(f"--beam-width {beam}: must be at least 1 (1 = greedy)")
    images, labels = part.images, part.labels
    if limit:
        images, labels = images[:limit], labels[:limit]
    preds: list[str] = []
    for start in range(0, len(labels), batch_size):
        texts, _ = model.read(to_input_np(images[start : start + batch_size], model.channels), beam)
        preds += texts
    report = sequence_report(preds, list(labels), beam)
    try:
        provenance = json.loads(model.meta.get("provenance") or "null")
    except ValueError:
        provenance = None
    return report, provenance if isinstance(provenance, dict) else None
