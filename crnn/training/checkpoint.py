"""Checkpoints: written atomically, loaded without running code from them (weights_only)."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from crnn.atomic import atomic_write_bytes
from crnn.charset import Charset
from crnn.config import RunConfig
from crnn.errors import UserError
from crnn.model import CRNN, build_model

CHECKPOINT_DIR = "checkpoints"
# What inference needs: the weights that score (the average under train.eval.ema_decay), the config and the
# task. An inference-only checkpoint drops the optimizer, schedule, scaler and trained weights (a third
# to a fifth of the size) and cannot be resumed; eval, predict, export and --init-from take it.
INFERENCE_KEYS = ("model", "config", "charset", "height", "width", "max_label_len", "min_label_len", "metrics", "provenance")


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``state`` holds plain types and tensors only, so ``weights_only`` loading accepts it."""
    buf = io.BytesIO()
    torch.save(state, buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def inference_checkpoint(state: dict) -> dict:
    """The part of a training checkpoint that inference needs, marked ``inference_only``."""
    return {k: state[k] for k in INFERENCE_KEYS if k in state} | {"inference_only": True}


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: an empty file, not a checkpoint (a crash or a full disk can leave one)")
    if path.suffix == ".onnx":
        raise UserError(f"{path}: an ONNX model; this command takes a checkpoint or a run folder (predict and eval take it)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message advises weights_only=False: that would run code from the file, which crnn never does
        raise UserError(
            f"{path}: not a readable crnn checkpoint (it holds objects other than tensors and plain values, or none); "
            "crnn loads only checkpoints it wrote and never runs code from a file"
        ) from None
    except Exception as exc:  # a truncated or foreign file: say which one, never a traceback
        raise UserError(f"{path}: not a readable crnn checkpoint ({type(exc).__name__}{_detail(exc)})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a crnn checkpoint (it holds a {type(state).__name__}, not a dict of entries)")
    return state


def _detail(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f": {lines[0]}" if lines else ""


BASE_MODEL = Path(__file__).resolve().parents[2] / "results" / "base"  # the published base model, in a checkout


def resolve_model_path(model: str | Path, flag: str = "--model") -> Path:
    """A run folder (its best checkpoint, else the last), a folder holding best.pt or last.pt itself (a
    Ray Train checkpoint of `crnn tune` or `crnn assess`), a checkpoint file, or ``base``: the published
    base model (``results/base`` of this checkout) unless a folder of that name is here."""
    path = Path(model)
    if str(model) == "base" and not path.exists():
        if not BASE_MODEL.is_dir():
            raise UserError(f"{flag} base: the published base model is results/base of a crnn-tune checkout; give its path")
        path = BASE_MODEL
    if path.is_dir():
        for where in (path / CHECKPOINT_DIR, path):
            for name in ("best.pt", "last.pt"):
                if (where / name).is_file():
                    return where / name
        raise UserError(
            f"{flag} {path}: a folder without best.pt or last.pt, in it or in {CHECKPOINT_DIR}/; "
            "give a run folder, a checkpoint folder or a .pt file"
        )
    if not path.exists():
        raise UserError(f"{flag} {path}: no such run folder or checkpoint file")
    return path


@dataclass
class LoadedModel:
    model: CRNN
    charset: Charset
    height: int
    width: int
    config: RunConfig
    state: dict
    source: Path | None = None  # the checkpoint file it came from

    @property
    def beam_width(self) -> int:
        return self.config.train.eval.beam_width

    @property
    def channels(self) -> int:
        """The model's input channels: 1 (greyscale) or 3 (RGB)."""
        return self.config.model.in_channels


def load_model(model: str | Path, flag: str = "--model") -> LoadedModel:
    """A model ready for inference (eval mode, on the CPU) from a run folder or checkpoint (``flag`` names it in errors)."""
    path = resolve_model_path(model, flag)
    state = load_checkpoint(path)
    for key in ("model", "config", "charset", "height", "width", "max_label_len"):
        if key not in state:
            raise UserError(f"{path}: not a crnn checkpoint (no {key!r} entry)")
    config = RunConfig.from_dict(state["config"])
    charset = Charset(state["charset"])
    net = build_model(config.model, charset.num_classes, state["height"], state["width"], state["max_label_len"])
    net.load_state_dict(state["model"])
    net.eval()
    return LoadedModel(net, charset, state["height"], state["width"], config, state, path)


def init_source(model: str | Path | None) -> dict:
    """``FitOptions`` fields for ``--init-from MODEL``: its weights and its charset (nothing without one)."""
    if not model:
        return {}
    loaded = load_model(model, "--init-from")
    return {"init_from": loaded.state["model"], "init_charset": loaded.charset.chars}
