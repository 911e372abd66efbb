"""Scoring a trained model on a split: the metrics, the confusions, and the printed report."""

from __future__ import annotations

from pathlib import Path

from crnn.data.batches import Batches
from crnn.data.store import SPLITS, Split, load_dataset
from crnn.errors import UserError
from crnn.report import sequence_report
from crnn.training.checkpoint import LoadedModel, load_model
from crnn.training.loop import predict_batches
from crnn.training.step import StepContext


def predict_split(
    loaded: LoadedModel, split: Split, beam_width: int, limit: int = 0, batch_size: int = 256
) -> tuple[list[str], list[str], list[float], float]:
    """(predictions, labels, confidences, mean CTC loss) of ``loaded`` on the first ``limit`` samples
    (0: all), on the CPU. A confidence is the decoded label's probability (see ``crnn.decode``)."""
    images, labels = split.images, split.labels
    if limit:
        images, labels = images[:limit], labels[:limit]
    batches = Batches(images, labels, loaded.charset, batch_size, channels=loaded.channels)
    preds, confs, loss = predict_batches(loaded.model, batches, StepContext(loaded.charset, beam_width=beam_width))
    return preds, list(labels), confs, loss


def evaluate_model(loaded: LoadedModel, split: Split, beam_width: int, limit: int = 0, batch_size: int = 256) -> dict:
    """Metrics (see ``crnn.metrics``), the top confusions and a few mistakes, on the CPU."""
    preds, labels, _, loss = predict_split(loaded, split, beam_width, limit, batch_size)
    return sequence_report(preds, labels, beam_width) | {"loss": loss}


def evaluate_dataset(
    loaded: LoadedModel, data_dir: str | Path, split: str = "test", beam_width: int | None = None, limit: int = 0
) -> dict:
    """``evaluate_model`` on a dataset folder's split (``all``: every split), refusing a dataset the model cannot read."""
    # mapped, not read: `--split train` of a million-image pool is scored a batch at a time
    data = load_dataset(data_dir, splits=SPLITS if split == "all" else (split,), mmap=True, verify=True)
    part = data.require_images(split)
    unknown = loaded.charset.invalid_chars("".join(part.labels))
    if unknown:
        raise UserError(f"--data {data_dir}: labels use {unknown!r}, which the model's charset {loaded.charset.chars!r} lacks")
    if data.image_size != (loaded.height, loaded.width):
        h, w = data.image_size
        raise UserError(f"--data {data_dir}: images are {w}x{h}, the model takes {loaded.width}x{loaded.height}")
    beam = beam_width if beam_width is not None else loaded.beam_width
    if beam < 1:
        raise UserError(f"--beam-width {beam}: must be at least 1 (1 = greedy)")
    return evaluate_model(loaded, part, beam, limit=limit)


def evaluate_checkpoint(model: str, data_dir: str | Path, split: str, beam_width: int | None, limit: int) -> tuple[dict, dict]:
    """``crnn eval --model RUN|CKPT``: the report on ``split`` and the checkpoint's provenance."""
    loaded = load_model(model)
    return evaluate_dataset(loaded, data_dir, split, beam_width, limit), loaded.state.get("provenance")
