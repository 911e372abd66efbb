"""research/onnx_check.py: the images it feeds both runtimes, and its errors."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from crnn.data.pixels import to_input

SPEC = importlib.util.spec_from_file_location("onnx_check", Path(__file__).parents[1] / "onnx_check.py")
onnx_check = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(onnx_check)


def test_images_become_nchw_in_unit_range():
    """The script feeds both runtimes through the project's one pixel-to-input path."""
    assert onnx_check.to_input is to_input
    grey = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    x = to_input(grey).numpy()
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    assert x[0, 0, 0, 1] == 1.0 and x[0, 0, 1, 0] == pytest.approx(0.2)
    colour = np.zeros((2, 4, 5, 3), dtype=np.uint8)
    colour[..., 2] = 255
    y = to_input(colour, 3).numpy()
    assert y.shape == (2, 3, 4, 5) and (y[:, 2] == 1).all() and (y[:, :2] == 0).all()


def test_a_missing_model_is_one_line(tmp_path, monkeypatch, capsys):
    argv = ["onnx_check", "--model", str(tmp_path / "nope"), "--onnx", str(tmp_path / "m.onnx"), "--data", str(tmp_path)]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as e:
        onnx_check.main()
    assert e.value.code == 2 and "nope" in capsys.readouterr().err


def _model(folder: Path, seed: int) -> Path:
    """A tiny untrained model's checkpoint and its ONNX export."""
    from crnn.config import resolve_config
    from crnn.inference.export import export_model
    from crnn.model import build_model
    from crnn.training.checkpoint import load_model, save_checkpoint

    torch.manual_seed(seed)
    config = resolve_config("tiny")
    net = build_model(config.model, 11, 40, 150, 5)
    state = {
        "model": net.state_dict(),
        "config": config.to_dict(),
        "charset": "0123456789",
        "height": 40,
        "width": 150,
        "max_label_len": 5,
    }
    save_checkpoint(folder / "checkpoints" / "best.pt", state)
    export_model(load_model(folder), "onnx", folder / "model.onnx")
    return folder


def test_exit_status_says_whether_the_runtimes_agree(tmp_path, monkeypatch, capsys):
    from crnn.data.synth import SynthSpec, synthesize

    data = tmp_path / "data"
    synthesize(data, SynthSpec(charset="0123456789", length=(5, 5), seed=0), 40, workers=1, progress=False)
    a, b = _model(tmp_path / "a", 0), _model(tmp_path / "b", 1)
    for onnx, code in ((a / "model.onnx", 0), (b / "model.onnx", 1)):
        monkeypatch.setattr(
            "sys.argv", ["onnx_check", "--model", str(a), "--onnx", str(onnx), "--data", str(data), "--split", "train"]
        )
        if code == 0:
            onnx_check.main()
        else:
            with pytest.raises(SystemExit) as e:
                onnx_check.main()
            assert e.value.code == 1
        assert ("MISMATCH" in capsys.readouterr().out) == bool(code)
