"""The Python API: what the ``crnn`` command does, for a notebook or a script.

    import crnn
    run = crnn.train("data/digits", "runs/d", preset="tiny", overrides={"train.epochs": 2})
    model = crnn.load_model("runs/d")              # a run folder, a checkpoint, "base" or a model.onnx
    model.predict(["a.png", "b.png"])              # [Prediction(text=..., confidence=..., source=...)]
    crnn.evaluate(model, "data/digits")["exact_acc"]
    crnn.assess("data/scheme", "reports/scheme", attackers="base", sizes="100,400")["labels_to_break"]

The facade over both layers: ``assess`` reaches into ``tune`` when it is called (as ``python -m crnn``
reaches the command layer); nothing inside ``crnn`` imports this module. Nothing prints unless asked
(``train(..., quiet=False)``, ``assess`` reports its runs as the command does).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crnn.charset import parse_length, resolve_charset
from crnn.data import synth
from crnn.errors import UserError
from crnn.inference.evaluate import evaluate_dataset
from crnn.inference.export import export_model
from crnn.inference.predict import TorchModel
from crnn.inference.stream import Item, OnnxModel, expand_sources, predict_stream
from crnn.lock import writer_lock
from crnn.tracking import make_tracker
from crnn.training.checkpoint import load_model as load
from crnn.training.launch import run, run_config
from crnn.training.options import FitOptions
from crnn.training.rundir import read_metrics
from crnn.training.state import left_plateau

ImageLike = Any  # a path (file, folder, glob, CSV), a PIL image, or a uint8 array (H, W), (H, W, 3) or a batch of them


@dataclass(frozen=True)
class Prediction:
    text: str
    confidence: float  # of the decoded string, in [0, 1]
    source: str  # the file it came from, or "array[i]"


class Model:
    """A trained model ready to read images: a checkpoint (torch) or an exported ``model.onnx`` (onnxruntime)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path.endswith(".onnx"):
            self._impl, self.loaded = OnnxModel(self.path), None
        else:
            self.loaded = load(path)
            self._impl = TorchModel(self.loaded)
        self.charset = self._impl.charset.chars
        self.height, self.width, self.channels = self._impl.height, self._impl.width, self._impl.channels

    def __repr__(self) -> str:
        return f"Model({self.path!r}: {self.width}x{self.height}, {self.channels} channel(s), charset {self.charset!r})"

    def predict(
        self, images: ImageLike | Iterable[ImageLike], beam_width: int | None = None, batch_size: int = 256, resize: bool = False
    ) -> list[Prediction]:
        """Read the text in ``images``: one path (file, folder, glob or CSV of paths), a PIL image, a uint8
        array (one image (H, W) / (H, W, 3), or a batch (N, H, W) / (N, H, W, 3)), or a list of these."""
        rows = predict_stream(self._impl, _items(images), batch_size, beam_width, resize)
        return [Prediction(r.prediction or "", float(r.confidence or 0.0), r.source) for r in rows]

    def export(self, out: str | Path, format: str = "onnx") -> Path:
        return export_model(self._torch("export"), format, out)

    def _torch(self, what: str):
        if self.loaded is None:
            raise UserError(f"{self.path}: {what} needs the checkpoint; an ONNX model can only predict")
        return self.loaded


def _items(images: ImageLike | Iterable[ImageLike]) -> list[Item]:
    if isinstance(images, (str, Path)):
        return expand_sources([str(images)])
    if isinstance(images, np.ndarray):
        if images.ndim == 2 or (images.ndim == 3 and images.shape[-1] == 3):
            images = images[None]  # one image
        return [Item(f"array[{i}]", array=np.asarray(a, dtype=np.uint8)) for i, a in enumerate(images)]
    if hasattr(images, "convert") and hasattr(images, "size"):  # one PIL image
        return [Item("image[0]", array=np.asarray(images.convert("RGB")))]
    out: list[Item] = []
    for i, one in enumerate(images):
        if isinstance(one, (str, Path)):
            out += expand_sources([str(one)])
        else:
            out += [Item(f"image[{i}]", array=item.array) for item in _items(one)]
    return out


def synthesize(
    out: str | Path,
    count: int,
    *,
    charset: str = "alnum",
    length: int | str = 5,
    width: int = 150,
    height: int = 40,
    seed: int = 0,
    colour: bool = False,
    generator: str = "captcha",
    unlabeled: int = 0,
    workers: int = 1,
    quiet: bool = True,
) -> dict:
    """Render a labelled dataset into ``out`` (as ``crnn data synth``: split 90/5/5, plus ``unlabeled`` images
    without labels); returns its manifest. ``charset``: a name (digits, upper, alnum, ...) or the characters."""

    spec = synth.SynthSpec(resolve_charset(charset), parse_length(length), width, height, seed, colour, generator)
    return synth.synthesize(Path(out), spec, count, workers=workers, progress=not quiet, unlabeled=unlabeled)


def load_model(path: str | Path) -> Model:
    """A run folder (its best checkpoint), a checkpoint file, ``"base"`` (the published base model) or a ``model.onnx``."""
    return Model(path)


def train(
    data: str | Path,
    out: str | Path,
    *,
    preset: str = "cpu-fast",
    config: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    init_from: str | Path | None = None,
    resume: bool = False,
    device: str = "auto",
    max_minutes: float = 0.0,
    quiet: bool = True,
    logger: str = "none",
    tracking_uri: str | None = None,
) -> dict:
    """Train into the run folder ``out`` (as ``crnn train``); returns the best epoch's metrics, with ``plateau``:
    True (and a ``RuntimeWarning``, even when ``quiet``) if no epoch left the CTC blank plateau. ``overrides``:
    ``{"train.epochs": 5, "model.hidden": 64}``; ``quiet`` prints nothing (no bar, no epoch lines); ``logger``:
    ``tensorboard`` or ``mlflow`` tracks the run as ``crnn train --logger`` does (``none`` by default)."""

    resolved = run_config(out, preset, config, [f"{k}={_value(v)}" for k, v in (overrides or {}).items()], resume)
    opts = FitOptions(
        resume=resume,
        device=device,
        max_minutes=max_minutes,
        progress=not quiet,
        tracker=make_tracker(logger, out, tracking_uri),
        **({"log": lambda line: None} if quiet else {}),
    )
    with writer_lock(out, "run"):
        best = dict(run(data, Path(out), resolved, opts=opts, init_from=init_from))
    best["plateau"] = not any(left_plateau(row) for row in read_metrics(out))
    if best["plateau"]:
        warnings.warn(
            f"{out}: the model never left the CTC blank plateau (val char accuracy under 20% in every epoch); try more "
            "epochs or images, or init_from='base'",
            RuntimeWarning,
            stacklevel=2,
        )
    return best


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v).lower() if isinstance(v, bool) else str(v)


def evaluate(model: Model | str | Path, data: str | Path, split: str = "test", beam_width: int | None = None) -> dict:
    """Exact and character accuracy (with the 95% interval of exact), edit distance, CER, confusions (as ``crnn eval``)."""

    model = model if isinstance(model, Model) else Model(model)
    return evaluate_dataset(model._torch("evaluate"), data, split, beam_width)


def assess(data: str | Path, out: str | Path, **options: Any) -> dict:
    """``crnn assess``: the labels-to-break curve of each attacker; returns ``assessment.json``. ``options``
    are ``tune.assess.run.AssessOptions`` fields: ``attackers="base,base+semi"``, ``sizes="auto"``, ``preset``, ..."""
    from tune.assess.run import AssessOptions, run_assess  # noqa: PLC0415 - Ray only when crnn.assess is called

    report = run_assess(AssessOptions(data=str(data), out=str(out), **options), command="crnn.assess (Python API)")
    return json.loads((report / "assessment.json").read_text())
