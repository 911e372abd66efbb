"""research/context_ceiling.py: the generator's own pixels, boxes where the glyphs land, windows on them."""

import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from crnn.charset import NAMED_CHARSETS
from crnn.data.synth import SynthSpec, make_labels, render

SCRIPTS = Path(__file__).parents[1]
SPEC = importlib.util.spec_from_file_location("context_ceiling", SCRIPTS / "context_ceiling.py")
context_ceiling = importlib.util.module_from_spec(SPEC)
sys.modules["context_ceiling"] = context_ceiling  # so worker processes find its functions by name
SPEC.loader.exec_module(context_ceiling)


@pytest.mark.parametrize("size", [(150, 40), (192, 64)])
def test_pixels_are_the_synth_streams_and_boxes_are_in_order(size):
    """Recording the boxes draws no random number: the image is byte-identical to `crnn data synth`'s."""
    spec = SynthSpec(charset=NAMED_CHARSETS["alnum"], width=size[0], height=size[1], seed=7)
    gen = context_ceiling._Recorder(spec.width, spec.height)
    labels = make_labels(spec, 12)
    for i, label in enumerate(labels):
        image, boxes = context_ceiling.render_with_boxes(spec, label, i, gen)
        assert np.array_equal(image, render(spec, label, i))
        assert len(boxes) == len(label)
        assert all(0 <= x0 < x1 <= spec.width + 1e-6 for x0, x1 in boxes)
        assert all(a[0] < b[0] for a, b in itertools.pairwise(boxes))  # left to right


def test_a_box_holds_its_characters_ink():
    """Blanking everything outside a character's box leaves ink; blanking the box's columns removes
    most of the character: the boxes are where the glyphs are, not where they would be unsqueezed."""
    spec = SynthSpec(charset="0123456789", width=150, height=40, seed=3)
    gen = context_ceiling._Recorder(spec.width, spec.height)
    image, boxes = context_ceiling.render_with_boxes(spec, "1W8M0", 0, gen)
    dark = image < 128
    inside = [dark[:, int(x0) : int(np.ceil(x1))].sum() for x0, x1 in boxes]
    assert all(n > 0 for n in inside)
    assert sum(inside) >= 0.8 * dark.sum()  # noise dots and the curve are the rest


def test_windows_centre_the_box_and_mark_it():
    image = np.arange(40 * 150, dtype=np.int64).reshape(40, 150).astype(np.uint8)
    win = context_ceiling.windows(image, [(0.0, 10.0), (70.0, 90.0), (140.0, 150.0)], 48)  # (3, 2, 40, 48)
    assert win.shape == (3, 2, 40, 48)
    assert np.array_equal(win[1, 0], image[:, 56:104])  # centre 80
    assert np.array_equal(win[1, 1, 0] > 0, (np.arange(56, 104) >= 70) & (np.arange(56, 104) < 90))
    assert np.array_equal(win[0, 0, :, :19], np.repeat(image[:, :1], 19, axis=1))  # left edge repeated
    assert win[2, 1, 0].sum() == 10 * 255


def test_a_tiny_run_writes_its_tables(tmp_path, monkeypatch):
    out = tmp_path / "ctx"
    argv = ["context_ceiling", "--out", str(out), "--charset", "0123", "--length", "4", "--captchas", "64",
            "--test-captchas", "16", "--epochs", "1"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    context_ceiling.main()
    import json

    result = json.loads((out / "context.json").read_text())
    assert [c["captchas"] for c in result["curve"]] == [32, 64]
    assert 0 <= result["curve"][-1]["char_error"] <= 1 and 0 <= result["test_exact_all_chars_right"] <= 1
    assert "fresh-character error" in (out / "context.md").read_text()


def test_sizes_flag(tmp_path, monkeypatch, capsys):
    base = ["context_ceiling", "--out", str(tmp_path / "c"), "--charset", "01", "--length", "2", "--captchas", "40",
            "--test-captchas", "8", "--epochs", "1"]  # fmt: skip
    monkeypatch.setattr("sys.argv", [*base, "--sizes", "40"])
    context_ceiling.main()
    import json

    assert [c["captchas"] for c in json.loads((tmp_path / "c" / "context.json").read_text())["curve"]] == [40]
    for bad in ("10,x", "0,40", "41"):
        monkeypatch.setattr("sys.argv", [*base, "--sizes", bad])
        with pytest.raises(SystemExit):
            context_ceiling.main()
        assert "--sizes" in capsys.readouterr().err


def test_focus_labels_change_one_position_to_a_focus_character():
    spec = SynthSpec(charset=NAMED_CHARSETS["alnum-upper"], length=(4, 4), width=192, height=64, seed=3)
    labels = make_labels(spec, 400)
    focused, where = context_ceiling.focus_labels(labels, "0O", seed=3)
    assert (focused, where) == context_ceiling.focus_labels(labels, "0O", seed=3)  # seeded
    for old, new, k in zip(labels, focused, where, strict=True):
        assert new[k] in "0O" and new[:k] + new[k + 1 :] == old[:k] + old[k + 1 :]
    assert set(where) == {0, 1, 2, 3} and {new[k] for new, k in zip(focused, where, strict=True)} == {"0", "O"}


def test_a_focus_run_reads_only_the_focus_characters(tmp_path, monkeypatch, capsys):
    import json

    base = ["context_ceiling", "--out", str(tmp_path / "f"), "--charset", "0123", "--length", "3", "--captchas", "48",
            "--test-captchas", "20", "--epochs", "1"]  # fmt: skip
    monkeypatch.setattr("sys.argv", [*base, "--focus", "01"])
    context_ceiling.main()
    result = json.loads((tmp_path / "f" / "context.json").read_text())
    assert result["focus"] == "01" and result["test_exact_all_chars_right"] is None
    assert {p["true"] for p in result["pairs"]} <= {"0", "1"}
    assert result["per_char_error"]["2"] == result["per_char_error"]["3"] == 0.0
    assert "only '01' read" in (tmp_path / "f" / "context.md").read_text()
    for bad in ("0x", "00"):
        monkeypatch.setattr("sys.argv", [*base, "--focus", bad])
        with pytest.raises(SystemExit):
            context_ceiling.main()
        assert "--focus" in capsys.readouterr().err


def test_no_box_blanks_the_box_channel_the_reader_trains_and_is_scored_on(tmp_path, monkeypatch):
    import json

    seen = []
    real_train, real_predict = context_ceiling.train, context_ceiling.predict
    monkeypatch.setattr(context_ceiling, "train", lambda x, *a: seen.append(x) or real_train(x, *a))
    monkeypatch.setattr(context_ceiling, "predict", lambda m, x: seen.append(x) or real_predict(m, x))
    base = ["context_ceiling", "--out", str(tmp_path / "n"), "--charset", "0123", "--length", "3", "--captchas", "24",
            "--test-captchas", "8", "--epochs", "1", "--sizes", "24"]  # fmt: skip
    monkeypatch.setattr("sys.argv", base)
    context_ceiling.main()
    assert all(x[:, 1].any() for x in seen)  # the box is given by default
    seen.clear()
    monkeypatch.setattr("sys.argv", [*base, "--no-box"])
    context_ceiling.main()
    assert len(seen) == 2 and not any(x[:, 1].any() for x in seen) and all(x[:, 0].any() for x in seen)
    assert json.loads((tmp_path / "n" / "context.json").read_text())["box_given"] is False


def test_workers_render_the_same_windows():
    """Each image is seeded by its index, so two processes (small chunks, out of step) give the same arrays."""
    spec = SynthSpec(charset=NAMED_CHARSETS["alnum"], width=150, height=40, seed=5)
    for focus in ("", "0O"):
        one = context_ceiling.render_windows(spec, 23, 48, progress=False, focus=focus)
        two = context_ceiling.render_windows(spec, 23, 48, progress=False, focus=focus, workers=2, chunk=4)
        assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
        assert len(one[1]) == (23 if focus else 23 * 5)


def test_each_size_keeps_its_per_character_errors_and_predictions(tmp_path, monkeypatch):
    out = tmp_path / "ctx"
    argv = ["context_ceiling", "--out", str(out), "--charset", "0123", "--length", "3", "--captchas", "48",
            "--test-captchas", "12", "--epochs", "1", "--sizes", "12,24,48", "--focus", "01", "--workers", "2"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    context_ceiling.main()
    import json

    curve = json.loads((out / "context.json").read_text())["curve"]
    assert [sum(c["train_per_char"].values()) for c in curve] == [12, 24, 48]  # one focus window per CAPTCHA
    assert set(curve[0]["per_char_error"]) <= {"0", "1"}
    npz = np.load(out / "predictions.npz")
    assert npz["predicted"].shape == (3, 12) and npz["truth"].shape == (12,)
    last = npz["predicted"][-1] != npz["truth"]
    assert abs(last.mean() - curve[-1]["char_error"]) < 1e-9
