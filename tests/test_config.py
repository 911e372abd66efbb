import json
from pathlib import Path

import pytest

from crnn.config import PRESETS, EvalConfig, RunConfig, overrides, resolve_config
from crnn.errors import UserError


def test_presets_and_round_trip():
    assert {"tiny", "reference", "cpu-fast"} <= set(PRESETS)
    ref = PRESETS["reference"]
    assert ref.model.channels == (64, 128, 256) and ref.model.lstm_layers == 2
    assert ref.train.batch_size == 64 and ref.train.epochs == 50 and ref.train.schedule.patience == 3
    assert ref.train.eval.beam_width == 5 and ref.model.blank_bias < 0
    for cfg in PRESETS.values():
        assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_file_then_set_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  hidden: 48\ntrain:\n  lr: 0.01\n")
    cfg = resolve_config("tiny", f, ["train.optim.lr=3e-3", "model.channels=[8,8,8]", "train.augment=true"])
    assert cfg.model.hidden == 48 and cfg.train.optim.lr == 3e-3
    assert cfg.model.channels == (8, 8, 8) and cfg.train.augment is True


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["train.lrr=1"], "train.lrr: unknown key"),
        (["optim.lr=1"], "unknown section 'optim'"),
        (["train.optim.lr"], "expected section.key=value"),
        (["train.optim.lr=fast"], "train.optim.lr: expected a number"),
        (["train.epochs=0"], "train.epochs 0: must be at least 1"),
        (["train.optim.name=rmsprop"], "accepted: adam, adamw, sgd"),
        (["train.semi.gate=word"], "train.semi.gate 'word': accepted: string, char"),
        (["model.pools=[2x2]"], "model.pools has 1 entries"),
        (["model.channels=[a,b,c]"], "model.channels: expected a list of int like [16, 32, 64], got ['a', 'b', 'c']"),
        (["model.channels=[16.5,32,64]"], "model.channels: expected a list of int like [16, 32, 64], got [16.5, 32, 64]"),
        (["model.channels={a: 1}"], "model.channels: expected a list of int"),
        (["train.epochs=2.5"], "train.epochs: expected a whole number, got 2.5"),
        (["train.augment=yes please"], "train.augment: expected true or false"),
        (["train.optim.lr=[1, 2]"], "train.optim.lr: expected a number, got [1, 2]"),
    ],
)
def test_bad_overrides_are_refused_with_the_key(sets, message):
    import re

    with pytest.raises(UserError, match=re.escape(message)):
        resolve_config("tiny", None, sets)


def test_list_fields_take_their_element_type(tmp_path, cli):
    cfg = resolve_config("tiny", None, ["model.channels=[8, 12.0, 16]", "model.pools=[2x2,2x2,2x1]"])
    assert cfg.model.channels == (8, 12, 16) and cfg.model.pools == ("2x2", "2x2", "2x1")
    code, _, err = cli("train", "--data", tmp_path, "--out", tmp_path / "r", "--set", "model.channels=[a,b,c]")
    assert code == 2 and "model.channels: expected a list of int" in err and "Traceback" not in err


def test_unknown_preset():
    with pytest.raises(UserError, match="--preset 'huge'"):
        resolve_config("huge")


def test_typed_config_validates():
    with pytest.raises(ValueError, match="beam_width"):
        EvalConfig(beam_width=0)


def test_config_show_prints_what_a_config_file_reads_back(cli, tmp_path):
    code, out, err = cli("config", "show", "--preset", "tiny", "--set", "train.optim.lr=0.01", "--set", "model.hidden=40")
    assert code == 0, err
    (tmp_path / "c.yaml").write_text(out)
    want = resolve_config("tiny", sets=["train.optim.lr=0.01", "model.hidden=40"])
    assert resolve_config("cpu-fast", tmp_path / "c.yaml") == want  # the printed file gives the same config over any preset
    code, out, _ = cli("config", "show", "--format", "json")
    assert code == 0 and json.loads(out)["train"]["batch_size"] == resolve_config("cpu-fast").train.batch_size
    code, _, err = cli("config", "show", "--set", "train.nope=1")
    assert code == 2 and "train.nope" in err


def test_config_keys_lists_every_field_with_its_type_default_and_meaning(cli):
    code, out, _ = cli("config", "keys", "--format", "json")
    listing = json.loads(out)
    keys = {k["key"]: k for k in listing["keys"]}
    assert code == 0 and listing["preset"] == "cpu-fast"
    sections = {"model", "train", "train.data", "train.optim", "train.schedule", "train.eval", "train.semi"}
    assert {k["section"] for k in keys.values()} == sections and len(keys) == 46
    assert {"train.data.synth_focus", "train.optim.lr", "train.schedule.patience", "train.semi.threshold"} <= set(keys)
    assert all(k.startswith(v["section"] + ".") and "." not in k[len(v["section"]) + 1 :] for k, v in keys.items())
    assert all(k["meaning"] for k in keys.values()), [k for k, v in keys.items() if not v["meaning"]]  # every field commented
    assert keys["model.blank_bias"]["type"] == "float" and keys["model.blank_bias"]["default"] == 0.0
    assert keys["model.channels"]["type"] == "tuple[int, ...]" and keys["train.semi.method"]["meaning"].startswith('"" off')
    code, out, _ = cli("config", "keys")
    assert code == 0 and any(line.startswith("train.optim.lr ") and "float" in line for line in out.splitlines())


def test_config_keys_shows_what_a_preset_trains_with(cli):
    from crnn.config import resolve_config

    for preset in ("cpu-fast", "tiny", "reference"):
        code, out, _ = cli("config", "keys", "--preset", preset, "--format", "json")
        keys = {k["key"]: k for k in json.loads(out)["keys"]}
        config = resolve_config(preset)
        assert (
            code == 0
            and keys["train.optim.lr"]["value"] == config.train.optim.lr
            and keys["model.hidden"]["value"] == config.model.hidden
        )
        assert keys["train.optim.name"]["value"] == config.train.optim.name
    code, out, _ = cli("config", "keys")  # the plain listing: what `crnn train` uses without --preset
    assert out.splitlines()[0].startswith("# values of preset cpu-fast (what crnn train uses without --preset)")
    lr = next(line for line in out.splitlines() if line.startswith("train.optim.lr "))
    assert "*0.002" in lr  # cpu-fast's 2e-3, marked as not the key's own default
    code, _, err = cli("config", "keys", "--preset", "nope")
    assert code == 2 and "nope" in err


def test_a_mistyped_key_gets_did_you_mean(cli):
    code, _, err = cli("train", "--data", "x", "--out", "y", "--set", "train.lrr=1")
    assert code == 2 and "train.lrr: unknown key; did you mean train.optim.lr?" in err
    code, _, err = cli("config", "show", "--set", "model.hiden=8")
    assert code == 2 and "did you mean model.hidden?" in err
    code, _, err = cli("config", "show", "--set", "train.zzzzzz=1")
    assert code == 2 and "accepted: " in err and "did you mean" not in err


OLD_FLAT = {  # a config.json of crnn 0.1: one flat train section
    "model": {"hidden": 40},
    "train": {
        "lr": 0.004, "optimizer": "adamw", "schedule": "onecycle", "plateau_patience": 2, "warmup_steps": 10,
        "beam_width": 3, "eval_samples": 100, "ema_decay": 0.9, "semi": "fixmatch", "semi_threshold": 0.8,
        "semi_strong_ops": ["rotate"], "train_samples": 50, "epochs": 7,
    },
}  # fmt: skip


def test_a_stored_flat_config_reads_silently_into_the_sections(capsys):
    cfg = RunConfig.from_dict(OLD_FLAT)
    tc = cfg.train
    assert (tc.optim.lr, tc.optim.name, tc.schedule.name, tc.schedule.patience, tc.schedule.warmup_steps) == (
        0.004, "adamw", "onecycle", 2, 10
    )  # fmt: skip
    assert (tc.eval.beam_width, tc.eval.samples, tc.eval.ema_decay, tc.epochs) == (3, 100, 0.9, 7)
    assert (tc.semi.method, tc.semi.threshold, tc.semi.strong_ops, cfg.train.data.train_samples) == (
        "fixmatch",
        0.8,
        ("rotate",),
        50,
    )
    assert RunConfig.from_dict(cfg.to_dict()) == cfg and capsys.readouterr().err == ""  # a stored file is not the user's spelling


def test_every_stored_config_of_this_repository_reads(capsys):
    """Each config.json, best_config.json and assessment beside the published results, in whatever release's shape."""
    root = Path(__file__).parent.parent
    stored = [
        *root.glob("results/**/config.json"),
        *root.glob("results/**/best_config.json"),
        *root.glob("tests/fixtures/**/config.json"),
    ]
    assert len(stored) >= 5
    for path in stored:
        raw = json.loads(path.read_text())
        raw = raw.get("config", raw)  # best_config.json holds the trial's config under "config"
        RunConfig.from_dict({k: raw[k] for k in ("model", "train") if k in raw})
    assert capsys.readouterr().err == ""


def test_an_old_spelling_from_the_user_works_with_one_deprecation_line(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(overrides, "_warned", set())  # once per process: this test's process has seen others
    f = tmp_path / "old.yaml"
    f.write_text("train:\n  semi: pseudo\n  semi_round_epochs: 2\n  lr: 0.01\n")
    code, out, err = cli(
        "config", "show", "--preset", "tiny", "--config", f, "--set", "train.plateau_factor=0.25", "--format", "json"
    )
    shown = json.loads(out)["train"]
    assert (
        code == 0 and shown["semi"]["method"] == "pseudo" and shown["semi"]["round_epochs"] == 2 and shown["optim"]["lr"] == 0.01
    )
    assert shown["schedule"]["factor"] == 0.25
    lines = [line for line in err.splitlines() if line.startswith("crnn: train.")]
    assert "crnn: train.plateau_factor is now train.schedule.factor; the old name is read until the next release" in lines
    assert {line.split()[1] for line in lines} == {"train.semi", "train.semi_round_epochs", "train.lr", "train.plateau_factor"}


def test_a_section_needs_a_mapping_and_a_key_its_path():
    with pytest.raises(UserError, match=r"train\.optim is a section; give it a mapping"):
        resolve_config("tiny", sets=["train.optim=3"])
    with pytest.raises(UserError, match=r"train\.optim\.lrr: unknown key; did you mean train\.optim\.lr"):
        resolve_config("tiny", sets=["train.optim.lrr=3"])
    with pytest.raises(UserError, match=r"train\.semi\.method=fixmatch: the teacher is the weight average"):
        resolve_config("tiny", sets=["train.semi.method=fixmatch"])
    assert resolve_config("tiny", sets=["train.semi.method=fixmatch", "train.eval.ema_decay=0.9"]).train.semi.method == "fixmatch"
