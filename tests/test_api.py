"""The Python API: the README's example runs as written, and each entry point behaves as its command."""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import crnn
from crnn.errors import UserError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    section = README.read_text().split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("best epoch ") and out[1].startswith("test exact ") and len(out) == 5
    val = re.fullmatch(r"best epoch \d+: val exact ([\d.]+)%, plateau False", out[0])
    test = re.match(r"test exact ([\d.]+)% \(95% interval", out[1])
    assert val and test, out[:2]
    assert float(val.group(1)) >= 50 and float(test.group(1)) >= 50  # the example learns (README: 82% and 90%)
    assert out[2].startswith("data/digits[test]#0 ")  # the ONNX model read the dataset's test split
    assert (tmp_path / "runs/digits/model.onnx").is_file()


@pytest.fixture(scope="module")
def model(digits_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("api") / "run"
    crnn.train(digits_data, run, preset="tiny", overrides={"train.epochs": 1})
    return crnn.load_model(run)


def test_train_is_quiet_unless_asked(digits_data, tmp_path, capsys):
    best = crnn.train(digits_data, tmp_path / "q", preset="tiny", overrides={"train.epochs": 1, "train.augment": True})
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "" and 0.0 <= best["exact_acc"] <= 1.0
    crnn.train(digits_data, tmp_path / "loud", preset="tiny", overrides={"train.epochs": 1}, quiet=False, logger="tensorboard")
    assert "epoch 1/1" in capsys.readouterr().out
    assert list((tmp_path / "loud/tb").glob("events.out.tfevents*")) and not (tmp_path / "q/tb").exists()


def test_a_run_on_the_plateau_says_so_even_when_quiet(digits_data, tmp_path, capsys):
    with pytest.warns(RuntimeWarning, match="never left the CTC blank plateau"):
        best = crnn.train(digits_data, tmp_path / "p", preset="tiny", overrides={"train.epochs": 1})
    assert best["plateau"] is True and capsys.readouterr().out == ""  # one epoch of 14 steps: every character blank


def test_predict_takes_arrays_pil_images_and_paths_alike(model, digits_data, tmp_path):
    images = np.load(digits_data / "test.npy")[:3]  # (3, 40, 150) uint8
    Image.fromarray(images[0]).save(tmp_path / "a.png")
    from_array = model.predict(images)
    assert [p.source for p in from_array] == ["array[0]", "array[1]", "array[2]"]
    assert model.predict(images[0])[0].text == from_array[0].text  # one (H, W) image
    assert model.predict(Image.fromarray(images[1]))[0].text == from_array[1].text
    mixed = model.predict([tmp_path / "a.png", Image.fromarray(images[2])])
    assert [p.text for p in mixed] == [from_array[0].text, from_array[2].text] and mixed[0].source == str(tmp_path / "a.png")
    assert all(0.0 <= p.confidence <= 1.0 for p in from_array)
    with pytest.raises(UserError, match="size 75x20, the model takes 150x40"):
        model.predict(images[:, ::2, ::2])
    assert model.predict(images[:, ::2, ::2], resize=True)[0].text is not None


def test_an_onnx_model_predicts_but_does_not_evaluate(model, digits_data, tmp_path):
    onnx = crnn.load_model(model.export(tmp_path / "m.onnx"))
    images = np.load(digits_data / "test.npy")[:4]
    assert [p.text for p in onnx.predict(images)] == [p.text for p in model.predict(images)]
    with pytest.raises(UserError, match="evaluate needs the checkpoint"):
        crnn.evaluate(onnx, digits_data)
    assert crnn.evaluate(model, digits_data, split="val")["count"] == 12
