"""The published models in results/: inference-only checkpoints that read as they did when published.

Each folder's model.onnx was exported from the full training checkpoint before it was slimmed, so the
slim checkpoint giving the same log-probs on real images is the same model, scoring the same."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from crnn.data.pixels import to_input
from crnn.data.synth import SynthSpec, render_many
from crnn.errors import UserError
from crnn.training.checkpoint import load_checkpoint, load_model, resolve_model_path

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = sorted((ROOT / "results").rglob("checkpoints/best.pt"))


def test_at_most_eight_published_models():
    models = {p.parent.parent for p in CHECKPOINTS} | {p.parent for p in (ROOT / "results").rglob("model.onnx")}
    assert 0 < len(models) <= 8, sorted(str(m.relative_to(ROOT)) for m in models)


@pytest.mark.parametrize("ckpt", CHECKPOINTS, ids=lambda p: str(p.parent.parent.relative_to(ROOT / "results")))
def test_a_published_checkpoint_is_inference_only_and_matches_its_onnx(ckpt):
    state = load_checkpoint(ckpt)
    assert state.get("inference_only") is True and "optimizer" not in state and "train_model" not in state
    loaded = load_model(ckpt.parent.parent)
    chars, length = loaded.charset.chars, state["max_label_len"]
    spec = SynthSpec(charset=chars, length=(length, length), width=loaded.width, height=loaded.height, seed=99)
    labels = ["".join(chars[(7 * i + j) % len(chars)] for j in range(length)) for i in range(8)]
    x = to_input(np.stack(render_many(spec, labels, workers=1)), loaded.channels)  # (B, C, H, W)
    session = ort.InferenceSession(str(ckpt.parent.parent / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_lp = session.run(None, {"images": x.numpy()})[0]  # (T, B, K)
    with torch.no_grad():
        torch_lp = loaded.model(x).numpy()
    assert np.abs(onnx_lp - torch_lp).max() < 1e-3


def test_base_names_the_published_base_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no folder called base here
    loaded = load_model("base", "--init-from")
    assert loaded.config.model.input_height == 48 and loaded.charset.chars.startswith("0123456789")
    (tmp_path / "base").mkdir()  # a folder of that name is the user's, and is what they meant
    with pytest.raises(UserError, match="--init-from base: a folder without"):
        load_model("base", "--init-from")


def test_the_base_preset_is_the_published_base_models_architecture():
    """`--preset base --init-from base` must keep every weight: a preset that drifts from the published
    checkpoint would silently start part of the model from random weights."""
    from crnn.config import PRESETS

    published = load_checkpoint(ROOT / "results" / "base" / "checkpoints" / "best.pt")["config"]["model"]
    preset = PRESETS["base"].to_dict()["model"]
    keys = ("channels", "pools", "hidden", "lstm_layers", "norm", "in_channels", "normalize", "input_height")
    assert {k: preset[k] for k in keys} == {k: published[k] for k in keys}


def test_a_checkpoint_folder_of_a_tune_or_assess_trial_is_a_model(tmp_path):
    """Ray Train's checkpoint folders hold last.pt themselves (no checkpoints/ inside): `crnn eval --model`
    takes them, and a folder with neither says what it accepts."""
    trial = tmp_path / "checkpoint_2026-12-05_20-19-46.672936"
    trial.mkdir()
    (trial / "last.pt").write_bytes(b"")
    assert resolve_model_path(trial) == trial / "last.pt"
    (trial / "last.pt").unlink()
    with pytest.raises(UserError, match=r"--model .*checkpoint_2026.*: a folder without best.pt or last.pt.*a \.pt file"):
        resolve_model_path(trial)
