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
    ],
)
def test_bad_overrides_are_refused_with_the_key(sets, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_config("tiny", None, sets)


def test_unknown_preset():
    with pytest.raises(UserError, match="--preset 'huge'"):
        resolve_config("huge")


def test_typed_config_validates():
    with pytest.raises(ValueError, match="beam_width"):
        TrainConfig(beam_width=0)
