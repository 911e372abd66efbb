"""``crnn predict``: a model over many images, streamed a batch at a time, so memory stays flat on any
number of images. Sources are image files, folders, glob patterns, CSV files of paths (with an optional
label column) and dataset folders (a split of ``crnn data synth/import``). The model is a checkpoint
(torch) or a ``model.onnx`` exported by ``crnn export``, which carries its own charset and image size:
that path runs on onnxruntime and numpy only, without importing torch.

Torch-free on purpose: the torch model plugs in through ``crnn.inference.predict.TorchModel``.
"""

from __future__ import annotations

import csv
import glob
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np
from PIL import Image

from crnn.charset import Charset
from crnn.data.images import MAX_SIDE, check_size, read_image
from crnn.data.importer import IMAGE_SUFFIXES, image_files
from crnn.data.pixels import to_input_np
from crnn.data.store import load_dataset
from crnn.decode_np import decode_np
from crnn.errors import UserError

META_PREFIX = "crnn."  # ONNX metadata_props keys written by crnn.inference.export
FORMATS = ("tsv", "csv", "jsonl")


class Model(Protocol):
    """What prediction needs of a model, torch or ONNX."""

    charset: Charset
    height: int
    width: int
    channels: int
    beam_width: int

    def read(self, x: np.ndarray, beam_width: int) -> tuple[list[str], list[float]]:
        """float32 (B, C, H, W) in [0, 1] -> texts and confidences."""
        ...


class OnnxModel:
    """A ``model.onnx`` written by ``crnn export``: its metadata says how to feed it and read it."""

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        import onnxruntime as ort  # noqa: PLC0415 - only for a model.onnx: a checkpoint's stream does without it

        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"--model {path}: no such file")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a foreign or truncated file
            raise UserError(f"--model {path}: not a readable ONNX model ({type(exc).__name__})") from None
        self.meta = read_onnx_metadata(self.session.get_modelmeta().custom_metadata_map, self.path)
        self.charset = Charset(self.meta["charset"])
        self.height, self.width = self.meta["height"], self.meta["width"]
        self.channels, self.beam_width = self.meta["channels"], self.meta["beam_width"]
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        want_in, classes = [self.channels, self.height, self.width], self.charset.num_classes
        if (
            len(inputs) != 1
            or len(outputs) != 1
            or [d for d in inputs[0].shape[1:]] != want_in
            or (len(outputs[0].shape) != 3 or outputs[0].shape[2] != classes)
        ):
            raise UserError(
                f"--model {path}: its graph takes {inputs[0].shape if inputs else None} and gives "
                f"{outputs[0].shape if outputs else None}, its metadata says (batch, {', '.join(map(str, want_in))}) -> "
                f"(T, batch, {classes}); export it again with `crnn export --format onnx`"
            )

    def read(self, x: np.ndarray, beam_width: int) -> tuple[list[str], list[float]]:
        log_probs = self.session.run(None, {"images": x})[0]  # (T, B, K)
        ids, confs = decode_np(log_probs, beam_width)
        return [self.charset.decode(i) for i in ids], confs


def read_onnx_metadata(props: dict[str, str], path: Path) -> dict:
    """The ``crnn.*`` metadata of an exported model, or a one-line refusal naming what is missing."""
    meta = {k.removeprefix(META_PREFIX): v for k, v in props.items() if k.startswith(META_PREFIX)}
    missing = [k for k in ("charset", "height", "width", "channels") if k not in meta]
    if missing:
        raise UserError(
            f"--model {path}: an ONNX file without crnn metadata ({', '.join(META_PREFIX + k for k in missing)} missing); "
            "export it again with `crnn export --format onnx`, or pass its checkpoint"
        )
    ints = {"height": (8, MAX_SIDE), "width": (8, MAX_SIDE), "channels": (1, 3), "beam_width": (1, 100)}
    for key, (lo, hi) in ints.items():
        value = meta.get(key, "1" if key == "beam_width" else None)
        if not (isinstance(value, str) and value.isdigit() and lo <= int(value) <= hi) or (key == "channels" and value == "2"):
            accepted = "1 or 3" if key == "channels" else f"a whole number from {lo} to {hi}"
            raise UserError(f"--model {path}: metadata {META_PREFIX}{key} is {value!r}; accepted: {accepted}")
        meta[key] = int(value)
    check_size(meta["width"], meta["height"], f"--model {path}")
    chars = meta["charset"]
    if not chars or len(set(chars)) != len(chars) or any(c.isspace() for c in chars):
        raise UserError(f"--model {path}: metadata {META_PREFIX}charset {chars!r}; accepted: distinct characters, no spaces")
    return meta


@dataclass(frozen=True)
class Item:
    source: str  # what the output names: the path, or DATASET[split]#index
    label: str | None = None
    path: Path | None = None  # an image file
    array: np.ndarray | None = None  # or an image of a dataset split (memory-mapped)


def _label_from_name(path: Path) -> str:
    return path.stem.split("_", 1)[0]  # LABEL_anything.png, as `crnn data import` reads a folder


def _csv_items(src: Path, labelled: bool) -> list[Item]:
    try:
        with src.open(newline="") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            if "path" not in columns:
                raise UserError(f"{src}: no 'path' column; a CSV of images needs a header with path[,label]")
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{src}: unreadable CSV ({exc})") from None
    items = []
    for row in rows:
        path = Path(row["path"])
        path = path if path.is_absolute() else src.parent / path
        label = row.get("label") or (_label_from_name(path) if labelled else None)
        items.append(Item(str(path), label, path=path))
    return items


def _dataset_items(src: Path, split: str) -> list[Item]:
    data = load_dataset(src, splits=(split,), mmap=True)  # mapped: images are read as the batches reach them
    part = data.require_images(split)
    return [Item(f"{src}[{split}]#{i}", part.labels[i], array=part.images[i]) for i in range(len(part.labels))]


def expand_sources(sources: list[str], labelled: bool = False, split: str = "test") -> list[Item]:
    """Every image the sources name, in order: paths only (a dataset's images stay memory-mapped)."""
    items: list[Item] = []
    for src in sources:
        path = Path(src)
        if path.is_dir() and (path / "manifest.json").is_file():
            items += _dataset_items(path, split)
        elif path.is_dir():
            files = image_files(path)
            if not files:
                raise UserError(f"{src}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
            items += [Item(str(p), _label_from_name(p) if labelled else None, path=p) for p in files]
        elif path.suffix.lower() == ".csv" and path.is_file():
            items += _csv_items(path, labelled)
        elif path.is_file():
            items.append(Item(str(path), _label_from_name(path) if labelled else None, path=path))
        elif glob.has_magic(src):
            files = sorted(Path(p) for p in glob.glob(src, recursive=True) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise UserError(f"{src}: the pattern matches no image files")
            items += [Item(str(p), _label_from_name(p) if labelled else None, path=p) for p in files]
        else:
            raise UserError(f"{src}: no such image file, folder, CSV or glob pattern")
    return items


def load_image(item: Item, height: int, width: int, channels: int, resize: bool) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) at the model's size, or a UserError naming the file."""
    if item.array is not None:
        arr = np.asarray(item.array, dtype=np.uint8)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
            raise UserError(f"{item.source}: an image array is (H, W) or (H, W, 3) uint8, not {arr.shape}")
        if arr.shape[:2] == (height, width):
            return arr  # as stored: to_input_np converts its channels as training does
        return _fit(Image.fromarray(arr), item.source, height, width, channels, resize)
    arr = read_image(item.path, "RGB" if channels == 3 else "L")
    if arr.shape[:2] == (height, width):
        return arr
    return _fit(Image.fromarray(arr), item.path, height, width, channels, resize)


def _fit(im: Image.Image, name: object, height: int, width: int, channels: int, resize: bool) -> np.ndarray:
    img = im.convert("RGB" if channels == 3 else "L")
    if img.size != (width, height):
        if not resize:
            raise UserError(f"{name}: size {img.size[0]}x{img.size[1]}, the model takes {width}x{height} (pass --resize)")
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


@dataclass
class Row:
    source: str
    prediction: str | None
    confidence: float | None
    label: str | None = None
    error: str | None = None


def predict_stream(
    model: Model,
    items: list[Item],
    batch_size: int = 256,
    beam_width: int | None = None,
    resize: bool = False,
    skip_invalid: bool = False,
) -> Iterator[Row]:
    """One Row per item, in order, a batch at a time. A bad image raises its UserError, or with
    ``skip_invalid`` becomes a Row with ``error`` set and no prediction."""
    beam = model.beam_width if beam_width is None else beam_width
    for start in range(0, len(items), batch_size):
        batch, images, errors = items[start : start + batch_size], [], {}
        for i, item in enumerate(batch):
            try:
                images.append(load_image(item, model.height, model.width, model.channels, resize))
            except UserError as exc:
                if not skip_invalid:
                    raise
                errors[i] = str(exc)
        x = np.concatenate([to_input_np(im[None], model.channels) for im in images]) if images else None  # (B, C, H, W)
        texts, confs = model.read(x, beam) if x is not None else ([], [])
        answers = iter(zip(texts, confs, strict=True))
        for i, item in enumerate(batch):
            if i in errors:
                yield Row(item.source, None, None, item.label, errors[i])
            else:
                text, conf = next(answers)
                yield Row(item.source, text, conf, item.label)


class Writer:
    """Rows as tsv (path, prediction, confidence[, label, correct]), csv (with a header) or jsonl."""

    def __init__(self, out: TextIO, fmt: str, with_labels: bool) -> None:
        if fmt not in FORMATS:
            raise UserError(f"--format {fmt!r}: accepted: {', '.join(FORMATS)}")
        self.out, self.fmt, self.with_labels = out, fmt, with_labels
        self.columns = ["path", "prediction", "confidence", *(["label", "correct"] if with_labels else [])]
        if fmt == "csv":
            self._csv_line(self.columns)

    def _csv_line(self, cells: list) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cells)
        self.out.write(buf.getvalue())

    def write(self, row: Row) -> None:
        cells = [row.source, row.prediction or "", "" if row.confidence is None else f"{row.confidence:.4f}"]
        if self.with_labels:
            cells += [row.label or "", "" if row.prediction is None else str(row.prediction == row.label).lower()]
        if self.fmt == "jsonl":
            record = dict(zip(self.columns, [row.source, row.prediction, row.confidence], strict=False))
            if self.with_labels:
                record |= {"label": row.label, "correct": None if row.prediction is None else row.prediction == row.label}
            if row.error:
                record["error"] = row.error
            self.out.write(json.dumps(record) + "\n")
        elif self.fmt == "csv":
            self._csv_line(cells)
        else:
            self.out.write("\t".join(cells) + "\n")
