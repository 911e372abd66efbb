"""Export a trained model to ONNX or TorchScript, both taking (B, C, H, W) in [0, 1] and returning
log-probs (T, B, K) with decoding (greedy or beam) outside the graph, as in PyTorch; or to an
inference-only checkpoint (``pt``) that every ``crnn`` command reads as it reads a run's.

ONNX and TorchScript files describe themselves (``model_card``): the charset, image size, channels,
blank index, label lengths, input convention, decoding, the crnn version, the source checkpoint's
sha256 and the provenance; as ONNX ``metadata_props`` (``crnn.*`` keys) and as TorchScript's extra
file ``crnn.json``. ``crnn predict --model model.onnx`` needs nothing else."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import onnx
import torch

from crnn import __version__
from crnn.atomic import atomic_write_bytes
from crnn.errors import UserError
from crnn.inference.stream import META_PREFIX
from crnn.training.checkpoint import LoadedModel, inference_checkpoint, load_model, save_checkpoint

FORMATS = ("onnx", "torchscript", "pt")
INPUT = (
    "float32 (batch, channels, height, width), pixel / 255; greyscale from RGB by ITU-R 601 luma; resized and normalised inside"
)


def model_card(loaded: LoadedModel) -> dict[str, str]:
    """What a user of the exported file needs to feed it and read its output, as strings."""
    state = loaded.state
    sha = hashlib.sha256(loaded.source.read_bytes()).hexdigest() if loaded.source is not None else "unknown"
    return {
        "charset": loaded.charset.chars,
        "height": str(loaded.height),
        "width": str(loaded.width),
        "channels": str(loaded.channels),
        "blank_index": "0",
        "output": "log_probs (T, batch, 1 + len(charset))",
        "min_len": str(state.get("min_label_len", 1)),
        "max_len": str(state["max_label_len"]),
        "input": INPUT,
        "beam_width": str(loaded.beam_width),
        "crnn_version": __version__,
        "source_sha256": sha,
        "provenance": json.dumps(state.get("provenance") or {}),
    }


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
                model,
                (example,),
                str(tmp),
                dynamo=False,
                input_names=["images"],
                output_names=["log_probs"],
                dynamic_axes={"images": {0: "batch"}, "log_probs": {1: "batch"}},
                opset_version=17,
            )
        _add_onnx_metadata(tmp, model_card(loaded))
    else:
        with torch.no_grad():
            extra = {"crnn.json": json.dumps(model_card(loaded))}
            torch.jit.save(torch.jit.trace(model, example), str(tmp), _extra_files=extra)
    atomic_write_bytes(out, tmp.read_bytes())
    tmp.unlink()
    return out


def _add_onnx_metadata(path: Path, card: dict[str, str]) -> None:
    proto = onnx.load(str(path))
    for key, value in card.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_PREFIX + key, value
    onnx.save(proto, str(path))


def export_checkpoint(path: str | Path, fmt: str, out: str | Path) -> Path:
    """``export_model`` of the checkpoint or run folder at ``path``."""
    return export_model(load_model(path), fmt, out)
