"""Colour schemes end to end: RGB datasets, model.in_channels, and input normalisation stored with the model."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from crnn.data.pixels import to_input
from crnn.data.store import load_dataset
from crnn.training.checkpoint import load_model
from tests.other_scheme import write_scheme

COLOUR = ["--set", "model.in_channels=3", "--set", "model.normalize=true", "--set", "train.epochs=1"]


@pytest.fixture(scope="module")
def colour_scheme(tmp_path_factory):
    """60 RGB 200x75 PNGs of a PIL-rendered scheme, imported keeping colour."""
    root = tmp_path_factory.mktemp("colour")
    write_scheme(root / "pngs", 60, seed=4)
    from crnn_cli.main import main

    assert main(["data", "import", str(root / "pngs"), "--out", str(root / "d"), "--color", "--split-sizes", "80/10/10"]) == 0
    return root


def test_colour_import_keeps_rgb(colour_scheme):
    data = load_dataset(colour_scheme / "d")
    assert data.channels == 3 and data.split("train").images.shape[1:] == (75, 200, 3)
    path = sorted((colour_scheme / "pngs").iterdir())[0]
    assert json.loads((colour_scheme / "d/manifest.json").read_text())["channels"] == 3
    with Image.open(path) as im:  # the luma conversion of a colour batch is PIL's own greyscale, to rounding
        rgb, grey = np.asarray(im.convert("RGB")), np.asarray(im.convert("L"))
    ours = to_input(rgb[None], 1)[0, 0].numpy() * 255
    assert np.abs(ours - grey).max() <= 1.0


def test_colour_model_trains_and_its_onnx_export_matches_pytorch(colour_scheme, cli, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli("train", "--data", colour_scheme / "d", "--out", run, "--preset", "tiny", *COLOUR)
    assert code == 0, err
    loaded = load_model(run)
    assert loaded.channels == 3
    mean = loaded.model.in_mean
    assert mean.shape == (3,) and (mean > 0.3).all() and (loaded.model.in_std < 0.5).all()  # measured, not identity
    code, _, err = cli("export", "--model", run, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    images = load_dataset(colour_scheme / "d").split("test").images
    x = to_input(images, 3)  # (B, 3, H, W)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    onnx_lp = session.run(None, {"images": x.numpy()})[0]
    with torch.no_grad():
        torch_lp = loaded.model(x).numpy()
    assert onnx_lp.shape == torch_lp.shape and np.allclose(onnx_lp, torch_lp, atol=1e-4)
    png = sorted((colour_scheme / "pngs").iterdir())[0]
    code, out, err = cli("predict", "--model", run, png)
    assert code == 0 and png.name in out, err


def test_a_greyscale_model_reads_a_colour_dataset(colour_scheme, cli, tmp_path):
    code, out, err = cli("train", "--data", colour_scheme / "d", "--out", tmp_path / "g", "--preset", "tiny",
                         "--set", "train.epochs=1", "--set", "model.normalize=true")  # fmt: skip
    assert code == 0, err
    assert load_model(tmp_path / "g").model.in_mean.shape == (1,)
    code, out, err = cli("eval", "--model", tmp_path / "g", "--data", colour_scheme / "d", "--json")
    assert code == 0 and json.loads(out)["count"] == 6, err


def test_an_rgb_model_needs_a_colour_dataset(digits_data, cli, tmp_path):
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "r", "--preset", "tiny", *COLOUR)
    assert code == 2 and "model.in_channels 3" in err and "is greyscale" in err and "--color" in err, err


def test_colour_synth_and_fresh_colour_batches(tmp_path, cli):
    code, out, err = cli("data", "synth", "--out", tmp_path / "c", "--count", "40", "--color", "--processes", "1",
                         "--charset", "digits", "--length", "4")  # fmt: skip
    assert code == 0 and "RGB" in out, err
    data = load_dataset(tmp_path / "c")
    assert data.channels == 3 and data.split("train").images.shape[1:] == (40, 150, 3)
    assert (data.split("train").images[..., 0] != data.split("train").images[..., 2]).any()  # really colour
    fresh = ["--set", "train.data.synth_per_epoch=32", "--set", "train.batch_size=16", "--set", "train.data.synth_workers=0"]
    code, _, err = cli("train", "--data", tmp_path / "c", "--out", tmp_path / "r", "--preset", "tiny", *COLOUR, *fresh)
    assert code == 0, err


def test_old_checkpoints_without_input_stats_still_load(digits_data, tmp_path, cli):
    assert cli("train", "--data", digits_data, "--out", tmp_path / "r", "--preset", "tiny", "--set", "train.epochs=1")[0] == 0
    ckpt = tmp_path / "r/checkpoints/best.pt"
    state = torch.load(ckpt, weights_only=False)
    for key in ("in_mean", "in_std"):
        del state["model"][key]  # what a checkpoint from before normalisation holds
    for key in ("in_channels", "normalize"):
        del state["config"]["model"][key]
    torch.save(state, ckpt)
    loaded = load_model(ckpt)
    assert loaded.model.in_mean.tolist() == [0.0] and loaded.model.in_std.tolist() == [1.0]
