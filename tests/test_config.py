import json

import pytest

from crnn.config import PRESETS, RunConfig, TrainConfig, resolve_config
from crnn.errors import UserError


def test_presets_and_round_trip():
    assert {"tiny", "reference", "cpu-fast"} <= set(PRESETS)
    ref = PRESETS["reference"]
    assert ref.model.channels == (64, 128, 256) and ref.model.lstm_layers == 2
    assert ref.train.batch_size == 64 and ref.train.epochs == 50 and ref.train.plateau_patience == 3
    assert ref.train.beam_width == 5 and ref.model.blank_bias < 0
    for cfg in PRESETS.values():
        assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_file_then_set_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  hidden: 48\ntrain:\n  lr: 0.01\n")
    cfg = resolve_config("tiny", f, ["train.lr=3e-3", "model.channels=[8,8,8]", "train.augment=true"])
    assert cfg.model.hidden == 48 and cfg.train.lr == 3e-3
    assert cfg.model.channels == (8, 8, 8) and cfg.train.augment is True


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["train.lrr=1"], "train.lrr: unknown key"),
        (["optim.lr=1"], "unknown section 'optim'"),
        (["train.lr"], "expected section.key=value"),
        (["train.lr=fast"], "train.lr: expected a number"),
        (["train.epochs=0"], "train.epochs 0: must be at least 1"),
        (["train.optimizer=rmsprop"], "accepted: adam, adamw, sgd"),
        (["model.pools=[2x2]"], "model.pools has 1 entries"),
        (["model.channels=[a,b,c]"], "model.channels: expected a list of int like [16, 32, 64], got ['a', 'b', 'c']"),
        (["model.channels=[16.5,32,64]"], "model.channels: expected a list of int like [16, 32, 64], got [16.5, 32, 64]"),
        (["model.channels={a: 1}"], "model.channels: expected a list of int"),
        (["train.epochs=2.5"], "train.epochs: expected a whole number, got 2.5"),
        (["train.augment=yes please"], "train.augment: expected true or false"),
        (["train.lr=[1, 2]"], "train.lr: expected a number, got [1, 2]"),
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
        TrainConfig(beam_width=0)


def test_config_show_prints_what_a_config_file_reads_back(cli, tmp_path):
    code, out, err = cli("config", "show", "--preset", "tiny", "--set", "train.lr=0.01", "--set", "model.hidden=40")
    assert code == 0, err
    (tmp_path / "c.yaml").write_text(out)
    want = resolve_config("tiny", sets=["train.lr=0.01", "model.hidden=40"])
    assert resolve_config("cpu-fast", tmp_path / "c.yaml") == want  # the printed file gives the same config over any preset
    code, out, _ = cli("config", "show", "--format", "json")
    assert code == 0 and json.loads(out)["train"]["batch_size"] == resolve_config("cpu-fast").train.batch_size
    code, _, err = cli("config", "show", "--set", "train.nope=1")
    assert code == 2 and "train.nope" in err


def test_config_keys_lists_every_field_with_its_type_default_and_meaning(cli):
    from dataclasses import fields

    from crnn.config import ModelConfig, TrainConfig

    code, out, _ = cli("config", "keys", "--format", "json")
    listing = json.loads(out)
    keys = {k["key"]: k for k in listing["keys"]}
    assert code == 0 and listing["preset"] == "cpu-fast"
    assert set(keys) == {f"model.{f.name}" for f in fields(ModelConfig)} | {f"train.{f.name}" for f in fields(TrainConfig)}
    assert all(k["meaning"] for k in keys.values()), [k for k, v in keys.items() if not v["meaning"]]  # every field commented
    assert keys["model.blank_bias"]["type"] == "float" and keys["model.blank_bias"]["default"] == 0.0
    assert keys["model.channels"]["type"] == "tuple[int, ...]" and keys["train.semi"]["meaning"].startswith('"" off')
    code, out, _ = cli("config", "keys")
    assert code == 0 and any(line.startswith("train.lr ") and "float" in line for line in out.splitlines())


def test_config_keys_shows_what_a_preset_trains_with(cli):
    from crnn.config import resolve_config

    for preset in ("cpu-fast", "tiny", "reference"):
        code, out, _ = cli("config", "keys", "--preset", preset, "--format", "json")
        keys = {k["key"]: k for k in json.loads(out)["keys"]}
        config = resolve_config(preset)
        assert code == 0 and keys["train.lr"]["value"] == config.train.lr and keys["model.hidden"]["value"] == config.model.hidden
        assert keys["train.optimizer"]["value"] == config.train.optimizer
    code, out, _ = cli("config", "keys")  # the plain listing: what `crnn train` uses without --preset
    assert out.splitlines()[0].startswith("# values of preset cpu-fast (what crnn train uses without --preset)")
    lr = next(line for line in out.splitlines() if line.startswith("train.lr "))
    assert "*0.002" in lr  # cpu-fast's 2e-3, marked as not the key's own default
    code, _, err = cli("config", "keys", "--preset", "nope")
    assert code == 2 and "nope" in err


def test_a_mistyped_key_gets_did_you_mean(cli):
    code, _, err = cli("train", "--data", "x", "--out", "y", "--set", "train.lrr=1")
    assert code == 2 and "train.lrr: unknown key; did you mean train.lr?" in err
    code, _, err = cli("config", "show", "--set", "model.hiden=8")
    assert code == 2 and "did you mean model.hidden?" in err
    code, _, err = cli("config", "show", "--set", "train.zzzzzz=1")
    assert code == 2 and "accepted: " in err and "did you mean" not in err
