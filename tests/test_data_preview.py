"""`crnn data preview` (a contact sheet, with what a model reads) and `crnn data export` (PNGs that
`crnn data import` reads back as the same dataset)."""

from __future__ import annotations

import csv
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from crnn.config import ModelConfig
from crnn.data.model_view import model_view
from crnn.data.sheet import sample
from crnn.data.store import load_dataset
from crnn.data.synth import SynthSpec, synthesize
from crnn.model import build_model


def test_preview_writes_a_sheet_of_the_sample_with_its_labels(cli, digits_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    code, stdout, err = cli("data", "preview", digits_data, "--count", "6", "--out", out)
    assert code == 0, err
    assert f"wrote {out}" in stdout
    sheet = Image.open(out)
    assert sheet.format == "PNG"
    assert sheet.width == 4 * (300 + 12)  # 4 columns of 150-pixel images drawn at 2x, 6-pixel margins
    assert sheet.height > 2 * 80  # two rows of 80-pixel-high tiles with captions
    images, labels, picked = sample(load_dataset(digits_data, mmap=True), "train", 6, 0)
    assert images.shape == (6, 40, 150) and list(picked) == sorted(picked) and len(set(picked)) == 6
    assert labels == [load_dataset(digits_data).split("train").labels[i] for i in picked]
    assert sample(load_dataset(digits_data, mmap=True), "train", 6, 1)[2].tolist() != picked.tolist()  # the seed picks


def test_preview_default_name_is_in_the_current_folder(cli, digits_data: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, err = cli("data", "preview", digits_data, "--split", "val", "--count", "40")
    assert code == 0, err
    assert (tmp_path / f"preview-{digits_data.name}-val.png").is_file()  # 12 val images: all of them, no error
    assert not list(digits_data.glob("*.png"))  # never written into the dataset


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--split", "dev"), "--split 'dev': accepted: train, val, test, unlabeled"),
        (("--count", "0"), "--count 0: must be at least 1"),
        (("--out", "sheet.jpg"), "a contact sheet is a .png file"),
        (("--split", "unlabeled"), "has no unlabeled split"),
    ],
)
def test_preview_refuses_bad_flags_in_one_line(cli, digits_data: Path, tmp_path: Path, monkeypatch, args, words) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("data", "preview", digits_data, *args)
    assert code == 2
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_model_view_is_what_the_model_reads() -> None:
    """Crop, luma and resize of the sheet agree with the model's own prepare() to within rounding."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 60, 200, 3), dtype=np.uint8)  # RGB
    cfg = ModelConfig(channels=(8, 8), pools=("2x2", "2x2"), hidden=8, lstm_layers=1, crop=(10, 6, 4, 2), input_height=32)
    net = build_model(cfg, 11, 60, 200, 5).eval()
    x = torch.from_numpy(images).float().div(255).permute(0, 3, 1, 2)  # (3, 3, 60, 200)
    grey = (x * torch.tensor((0.299, 0.587, 0.114)).view(1, 3, 1, 1)).sum(1, keepdim=True)  # what a 1-channel model gets
    with torch.no_grad():
        want = net.prepare(grey)[:, 0].numpy() * 255  # (3, 32, W')
    got = model_view(images, {"crop": [10, 6, 4, 2], "in_channels": 1, "input_height": 32})
    assert got.shape == want.shape == (3, 32, round(194 * 32 / 44))
    assert np.abs(got.astype(np.float32) - want).max() <= 1.0


def test_preview_with_a_model_shows_its_view(cli, digits_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, _, err = cli("train", "--data", digits_data, "--out", run, "--preset", "tiny",
                       "--set", "train.epochs=1", "--set", "model.input_height=48", "--set", "model.crop=[4,4,0,0]")  # fmt: skip
    assert code == 0, err
    plain, with_model = tmp_path / "plain.png", tmp_path / "model.png"
    assert cli("data", "preview", digits_data, "--count", "4", "--out", plain)[0] == 0
    code, _, err = cli("data", "preview", digits_data, "--count", "4", "--out", with_model, "--model", run)
    assert code == 0, err
    # 32 rows kept of 40, drawn 48 high: the view row makes the sheet taller by its height at 2x (96) plus a margin
    assert Image.open(with_model).height - Image.open(plain).height == 96 + 6
    assert Image.open(with_model).width > Image.open(plain).width  # 150 wide, cropped 32 high, read as 225 wide


def _synth(out: Path, charset: str, colour: bool = False, unlabeled: int = 0) -> Path:
    spec = SynthSpec(charset=charset, length=(3, 4), seed=3, colour=colour)
    synthesize(out, spec, 40, (0.6, 0.2, 0.2), workers=1, progress=False, unlabeled=unlabeled)
    return out


@pytest.mark.parametrize(("charset", "colour", "by_name"), [("0123456789", True, True), ("ab_-", False, False)])
def test_export_round_trips_through_import(cli, tmp_path: Path, charset: str, colour: bool, by_name: bool) -> None:
    data = _synth(tmp_path / "data", charset, colour, unlabeled=5)
    out = tmp_path / "pngs"
    code, stdout, err = cli("data", "export", data, "--out", out)
    assert code == 0, err
    assert "train 24, val 8, test 8, unlabeled 5 PNGs" in stdout
    names = sorted(p.name for p in out.glob("*.png"))
    assert len(names) == 40 and len(list((out / "unlabeled").glob("*.png"))) == 5
    with (out / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert all(Path(r["path"]).stem.split("_", 1)[0] == r["label"] for r in rows) is by_name  # '_' cannot be in a name
    command = shlex.split(stdout.strip().splitlines()[-1].replace("DATASET", str(tmp_path / "back")))
    assert command[:3] == ["crnn", "data", "import"]
    code, _, err = cli(*command[1:])
    assert code == 0, err
    a, b = load_dataset(data), load_dataset(tmp_path / "back")
    assert a.manifest["charset"] == b.manifest["charset"] and a.channels == b.channels == (3 if colour else 1)
    for split in ("train", "val", "test"):
        assert a.split(split).labels == b.split(split).labels
        assert np.array_equal(a.split(split).images, b.split(split).images)
    assert np.array_equal(np.load(data / "unlabeled.npy"), np.load(tmp_path / "back" / "unlabeled.npy"))


def test_export_of_one_split_with_a_limit_and_its_refusals(cli, digits_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "val"
    code, stdout, err = cli("data", "export", digits_data, "--out", out, "--split", "val", "--limit", "5")
    assert code == 0, err
    assert sorted(p.name.split("_")[1] for p in out.glob("*.png")) == [f"val{i}.png" for i in range(5)]
    code, _, err = cli("data", "export", digits_data, "--out", out, "--split", "val")
    assert code == 2 and "--overwrite" in err  # an existing export is not replaced silently
    assert cli("data", "export", digits_data, "--out", out, "--split", "val", "--overwrite")[0] == 0
    assert len(list(out.glob("*.png"))) == 12
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    code, _, err = cli("data", "export", digits_data, "--out", other, "--overwrite")
    assert code == 2 and (other / "notes.txt").read_text() == "keep"  # not an export folder: never deleted
    semi = _synth(tmp_path / "semi", "0123456789", unlabeled=3)
    code, stdout, err = cli("data", "export", semi, "--out", tmp_path / "u", "--split", "unlabeled")
    assert code == 0, err
    assert f"--unlabeled {tmp_path / 'u' / 'unlabeled'}" in stdout and "crnn data import" not in stdout  # no empty CSV offered
    for args, words in ((("--split", "unlabeled"), "has no unlabeled images"), (("--limit", "-1"), "--limit -1")):
        code, _, err = cli("data", "export", digits_data, "--out", tmp_path / "x", *args)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1
