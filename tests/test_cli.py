"""The whole user flow through the real `crnn` command: synth -> train -> eval -> predict -> export."""

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from crnn.data.store import load_dataset
from crnn.decode import greedy_decode
from crnn.training.checkpoint import load_model


def crnn(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "crnn", *map(str, args)], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    crnn("data", "synth", "--out", root / "data", "--count", 200, "--charset", "digits", "--processes", 2, "--seed", 1)
    crnn("train", "--data", root / "data", "--out", root / "run", "--preset", "tiny", "--set", "train.epochs=2")
    return root


def test_train_writes_a_complete_run(trained):
    run = trained / "run"
    for name in ("config.json", "metrics.csv", "metrics.jsonl", "curves.png", "checkpoints/best.pt", "checkpoints/last.pt"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["channels"] == [16, 32, 48] and config["data"]["charset"] == "0123456789"
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs


def test_eval_json_is_one_object_with_the_contract_keys(trained):
    proc = crnn("eval", "--model", trained / "run", "--data", trained / "data", "--json")
    result = json.loads(proc.stdout)
    contract = {"exact_acc", "char_acc", "edit_distance", "cer", "count", "exact_acc_nocase", "char_acc_nocase"}
    assert contract | {"exact_ci", "wrong", "pair_rates", "mistakes", "beam_width", "loss", "provenance"} == set(result)
    assert result["count"] == 10 and result["wrong"] == round(10 * (1 - result["exact_acc"]))
    lo, hi = result["exact_ci"]
    assert 0.0 <= lo <= result["exact_acc"] <= hi <= 1.0 and hi - lo > 0.1  # 10 images: a wide interval
    labels = "".join(load_dataset(trained / "data", splits=("test",)).splits["test"].labels)
    for q in result["pair_rates"]:
        assert q["true"] != q["pred"] and q["of"] == labels.count(q["true"]) and q["rate"] == q["count"] / q["of"]
    text = crnn("eval", "--model", trained / "run", "--data", trained / "data", "--split", "val", "--beam-width", 3).stdout
    assert "exact accuracy" in text and "exact, ignoring case" in text and "beam width 3" in text


def test_predict_prints_path_prediction_confidence(trained, tmp_path):
    images = np.load(trained / "data/test.npy")[:3]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(image).save(paths[-1])
    lines = crnn("predict", "--model", trained / "run", *paths).stdout.strip().splitlines()
    assert len(lines) == 3
    for path, line in zip(paths, lines, strict=True):
        name, pred, conf = line.split("\t")
        assert name == str(path) and set(pred) <= set("0123456789") and 0.0 <= float(conf) <= 1.0


def test_onnx_export_predicts_what_pytorch_predicts(trained, tmp_path):
    crnn("export", "--model", trained / "run", "--format", "onnx", "--out", tmp_path / "m.onnx")
    loaded = load_model(trained / "run")
    x = np.load(trained / "data/test.npy")[:10].astype(np.float32)[:, None] / 255.0  # (B, 1, H, W)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    onnx_lp = session.run(None, {"images": x})[0]  # (T, B, K)
    with torch.no_grad():
        torch_lp = loaded.model(torch.from_numpy(x)).numpy()
    assert onnx_lp.shape == torch_lp.shape
    assert np.allclose(onnx_lp, torch_lp, atol=1e-4)
    assert greedy_decode(torch.from_numpy(onnx_lp))[0] == greedy_decode(torch.from_numpy(torch_lp))[0]


def test_torchscript_export_loads_and_runs(trained, tmp_path):
    crnn("export", "--model", trained / "run", "--format", "torchscript", "--out", tmp_path / "m.pt")
    scripted = torch.jit.load(str(tmp_path / "m.pt"))
    x = torch.rand(4, 1, 40, 150)
    assert torch.allclose(scripted(x), load_model(trained / "run").model(x), atol=1e-5)


def test_pt_export_is_inference_only_scores_the_same_and_refuses_resume(trained, tmp_path):
    crnn("export", "--model", trained / "run", "--format", "pt", "--out", tmp_path / "slim/checkpoints/best.pt")
    full = torch.load(trained / "run/checkpoints/best.pt", weights_only=True)
    slim = torch.load(tmp_path / "slim/checkpoints/best.pt", weights_only=True)
    assert "optimizer" not in slim and "train_state" not in slim and slim["inference_only"] is True
    assert (tmp_path / "slim/checkpoints/best.pt").stat().st_size < (trained / "run/checkpoints/best.pt").stat().st_size / 2
    assert all(torch.equal(full["model"][k], v) for k, v in slim["model"].items())
    a = crnn("eval", "--model", trained / "run", "--data", trained / "data", "--json").stdout
    b = crnn("eval", "--model", tmp_path / "slim", "--data", trained / "data", "--json").stdout
    assert json.loads(a) == json.loads(b)
    (tmp_path / "slim/checkpoints/last.pt").write_bytes((tmp_path / "slim/checkpoints/best.pt").read_bytes())
    proc = crnn("train", "--data", trained / "data", "--out", tmp_path / "slim", "--preset", "tiny", "--resume", check=False)
    assert proc.returncode == 2 and "inference-only checkpoint" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "--model", "{tmp}/nope", "--data", "{data}"), "no such run folder or checkpoint"),
        (("eval", "--model", "{run}", "--data", "{tmp}"), "not a dataset"),
        (("eval", "--model", "{run}", "--data", "{data}", "--split", "dev"), "no split 'dev' (available: train, val, test, all)"),
        (("eval", "--model", "{run}", "--data", "{data}", "--beam-width", "0"), "--beam-width 0"),
        (("eval", "--model", "{tmp}/junk.pt", "--data", "{data}"), "not a readable crnn checkpoint"),
        (("predict", "--model", "{run}", "{tmp}/small.png"), "size 60x20, the model takes 150x40"),
        (("predict", "--model", "{run}", "{tmp}/missing.png"), "no such image file"),
        (
            ("train", "--data", "{data}", "--out", "{tmp}/r", "--set", "train.optim.lr=-1"),
            "train.optim.lr -1.0: must be positive",
        ),
        (("train", "--data", "{tmp}/nowhere", "--out", "{tmp}/r"), "no such dataset folder"),
        (("export", "--model", "{run}", "--format", "tflite", "--out", "{tmp}/m"), "invalid choice: 'tflite'"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(trained, tmp_path, cli, args, message):
    Image.new("L", (60, 20), 255).save(tmp_path / "small.png")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    fill = {"tmp": tmp_path, "data": trained / "data", "run": trained / "run"}
    code, _, err = cli(*(a.format(**fill) for a in args))
    assert code == 2
    assert message in err and "Traceback" not in err


def test_eval_of_an_empty_split_is_refused_not_scored(trained, tmp_path, cli):
    # a val/test-only dataset (what fresh-synth training uses) has a train split of 0 images
    crnn("data", "synth", "--out", tmp_path / "vt", "--count", 20, "--split-sizes", "0/50/50", "--charset", "digits", "--seed", 2)
    code, out, err = cli("eval", "--model", trained / "run", "--data", tmp_path / "vt", "--split", "train")
    assert code == 2 and "Traceback" not in err
    assert "split 'train' is empty (0 images); splits with images: val (10), test (10)" in err
    assert "%" not in out


def test_predict_resizes_on_request_and_takes_a_beam_width(trained, tmp_path):
    big = Image.fromarray(np.load(trained / "data/test.npy")[0]).resize((300, 80), Image.Resampling.NEAREST)
    big.save(tmp_path / "big.png")
    big.resize((150, 40), Image.Resampling.BILINEAR).save(tmp_path / "small.png")  # what --resize does
    resized = crnn("predict", "--model", trained / "run", "--resize", "--beam-width", 3, tmp_path / "big.png").stdout
    direct = crnn("predict", "--model", trained / "run", "--beam-width", 3, tmp_path / "small.png").stdout
    assert resized.split("\t")[1:] == direct.split("\t")[1:]
    refused = crnn("predict", "--model", trained / "run", tmp_path / "big.png", check=False)
    assert refused.returncode == 2 and "size 300x80, the model takes 150x40 (pass --resize" in refused.stderr


def test_a_config_json_names_no_machine_path(trained):
    text = (trained / "run" / "config.json").read_text()
    assert str(trained) not in text and json.loads(text)["data"]["name"] == "data"


def _labelled_pngs(trained, folder, count=6):
    """Test images as LABEL_i.png, the naming `crnn data import` and `crnn predict --labeled` read."""
    split = load_dataset(trained / "data", splits=("test",)).splits["test"]
    folder.mkdir()
    for i in range(count):
        Image.fromarray(split.images[i]).save(folder / f"{split.labels[i]}_{i}.png")
    return sorted(folder.iterdir())


def test_exports_describe_themselves(trained, tmp_path):
    import hashlib

    import onnx

    crnn("export", "--model", trained / "run", "--format", "onnx", "--out", tmp_path / "m.onnx")
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert meta["crnn.charset"] == "0123456789" and (meta["crnn.height"], meta["crnn.width"]) == ("40", "150")
    assert meta["crnn.channels"] == "1" and meta["crnn.blank_index"] == "0" and meta["crnn.max_len"] == "5"
    assert meta["crnn.source_sha256"] == hashlib.sha256((trained / "run/checkpoints/best.pt").read_bytes()).hexdigest()
    assert json.loads(meta["crnn.provenance"])["versions"]["torch"] == torch.__version__
    crnn("export", "--model", trained / "run", "--format", "torchscript", "--out", tmp_path / "m.ts")
    extra = {"crnn.json": ""}
    torch.jit.load(str(tmp_path / "m.ts"), _extra_files=extra)
    assert json.loads(extra["crnn.json"])["charset"] == "0123456789"
    config = json.loads((trained / "run/config.json").read_text())
    assert config["provenance"]["git_commit"] and config["provenance"]["versions"]["crnn-tune"]
    assert "made by: crnn-tune" in crnn("eval", "--model", trained / "run", "--data", trained / "data").stdout


def test_an_onnx_file_alone_predicts_without_torch(trained, tmp_path):
    """model.onnx in a folder of its own, in a process where importing torch fails: it decodes as the checkpoint does."""
    crnn("export", "--model", trained / "run", "--format", "onnx", "--out", tmp_path / "alone/model.onnx")
    paths = _labelled_pngs(trained, tmp_path / "imgs")
    want = crnn("predict", "--model", trained / "run", "--labeled", "--beam-width", 3, *paths).stdout
    code = ("import sys; sys.modules['torch'] = None; from crnn_cli.main import main; "
            "sys.exit(main(sys.argv[1:]))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, "predict", "--model", str(tmp_path / "alone/model.onnx"), "--labeled",
                           "--beam-width", "3", *map(str, paths)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [g[:2] + g[3:] for g in got] == [w.split("\t")[:2] + w.split("\t")[3:] for w in want.splitlines()]
    assert all(abs(float(g[2]) - float(w.split("\t")[2])) < 1e-3 for g, w in zip(got, want.splitlines(), strict=True))
    assert "exact accuracy" in proc.stderr and "on 6 labelled images" in proc.stderr


def test_predict_streams_folders_globs_csvs_and_datasets(trained, tmp_path, cli):
    paths = _labelled_pngs(trained, tmp_path / "imgs")
    (tmp_path / "list.csv").write_text("path,label\n" + "".join(f"imgs/{p.name},{p.name.split('_')[0]}\n" for p in paths[:2]))
    code, out, err = cli("predict", "--model", trained / "run", tmp_path / "imgs", str(tmp_path / "imgs/*_1.png"),
                         tmp_path / "list.csv", trained / "data", "--batch-size", 4, "--format", "csv")  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "path,prediction,confidence,label,correct" and len(lines) == 1 + 6 + 1 + 2 + 10
    assert lines[1].startswith(str(paths[0])) and lines[-1].startswith(f"{trained / 'data'}[test]#9")
    labels = [line.split(",")[3] for line in lines[1:]]
    assert labels[:7] == [""] * 7 and all(labels[7:])  # known for the CSV's and the dataset's rows only
    assert "on 12 labelled images" in err  # the CSV's 2 and the dataset's 10; the folder's names are not labels unasked
    code, _, err = cli("predict", "--model", trained / "run", tmp_path / "imgs", "--labeled", "--format", "jsonl",
                       "--out", tmp_path / "p.jsonl")  # fmt: skip
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert code == 0 and len(rows) == 6 and set(rows[0]) == {"path", "prediction", "confidence", "label", "correct"}
    assert "wrote" in err and not list(tmp_path.glob("p.jsonl.tmp*"))


def test_predict_reports_bad_images_per_file_or_skips_them(trained, tmp_path, cli):
    paths = _labelled_pngs(trained, tmp_path / "imgs", count=3)
    (tmp_path / "imgs/broken_9.png").write_bytes(b"not a png")
    code, out, err = cli("predict", "--model", trained / "run", tmp_path / "imgs")
    assert code == 2 and "broken_9.png: unreadable or corrupt image" in err and "Traceback" not in err
    code, out, err = cli("predict", "--model", trained / "run", tmp_path / "imgs", "--skip-invalid", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 4 and "error" in rows[3] and rows[3]["prediction"] is None
    assert "1 of 4 images skipped" in err
    for args, message in [(("nowhere/*.png",), "matches no image files"), (("missing.png",), "no such image file, folder")]:
        code, _, err = cli("predict", "--model", trained / "run", *args)
        assert code == 2 and message in err
    import onnx

    crnn("export", "--model", trained / "run", "--format", "onnx", "--out", tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    code, _, err = cli("predict", "--model", tmp_path / "bare.onnx", paths[0])
    assert code == 2 and "without crnn metadata" in err and "crnn export --format onnx" in err


def _options(parser, name="crnn"):
    """Every (command, action) of the crnn parser, subcommands included."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from _options(p, f"{name} {sub}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield name, action


def test_every_flag_has_help_and_its_default_in_sight():
    import argparse

    from crnn_cli.main import DefaultsFormatter, build_parser

    options = list(_options(build_parser()))
    hidden = [a for _, a in options if a.help == argparse.SUPPRESS]
    assert {s for a in hidden for s in a.option_strings} >= {"--exp-storage", "--workers-per-trial", "--colour", "--labelled"}
    missing = [f"{cmd} {'/'.join(a.option_strings) or a.dest}" for cmd, a in options if not a.help]
    assert not missing, missing
    formatter = DefaultsFormatter("crnn")
    for cmd, a in options:
        meaningful = a.default not in (None, False, argparse.SUPPRESS, []) and a.option_strings
        if meaningful:
            assert "default" in formatter._get_help_string(a), f"{cmd} {a.option_strings}: default not shown"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["tune"], ["--max-failures MAX_FAILURES", "(default: 1)"]),
        (["results"], ["(default: exact_acc)", "(default: table)"]),
        (["assess"], ["(default: 200000)"]),
        (["data", "import"], ["(default: 90/5/5)", "(default: auto)"]),
    ],
)
def test_help_shows_defaults(command, shown):
    proc = subprocess.run([sys.executable, "-m", "crnn", *command, "--help"], capture_output=True, text=True, check=True)
    text = " ".join(proc.stdout.split())  # argparse wraps lines
    for piece in shown:
        assert " ".join(piece.split()) in text, (command, piece)


def test_old_flag_spellings_still_work_with_a_one_line_note(tmp_path, cli):
    code, _, err = cli("data", "synth", "--out", tmp_path / "d", "--count", 20, "--charset", "digits", "--workers", 1,
                       "--split", "16/2/2", "--colour")  # fmt: skip
    assert code == 0, err
    notes = [line for line in err.splitlines() if "deprecated" in line]
    assert notes == [
        "crnn data synth: --workers is deprecated; use --processes (the old spelling goes in the next release)",
        "crnn data synth: --split is deprecated; use --split-sizes (the old spelling goes in the next release)",
        "crnn data synth: --colour is deprecated; use --color (the old spelling goes in the next release)",
    ]
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["channels"] == 3 and manifest["splits"] == {"train": 16, "val": 2, "test": 2}
    code, _, err = cli("results", "nope", "--storage", tmp_path / "exps")
    assert code == 2 and "--storage is deprecated; use --experiments" in err and str(tmp_path / "exps") in err
