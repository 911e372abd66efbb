"""Typed configs, one per concern, and the named presets.

A run's config is ``RunConfig(model=..., train=...)``. It is built from a preset, then a YAML/JSON
file, then ``--set section.key=value`` overrides, and written beside the run as ``config.json``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from crnn.errors import UserError

AUGMENT_OPS = ("affine", "rotate", "perspective", "elastic", "lines", "contrast", "noise")  # crnn.data.augment
POOLS = {"2x2": (2, 2), "2x1": (2, 1), "1x1": (1, 1)}  # (height, width) of each block's max-pool


@dataclass(frozen=True)
class ModelConfig:
    """The CRNN: conv blocks -> bidirectional LSTM -> linear head over the classes + blank."""

    channels: tuple[int, ...] = (64, 128, 256)  # one conv block per entry; the reference's widths
    pools: tuple[str, ...] = ("2x2", "2x2", "2x2")  # 150 wide / 8 = 18 time steps, as in the reference
    hidden: int = 128  # LSTM units per direction; the reference's 2 x 128 = 256 outputs
    lstm_layers: int = 2  # the reference's 2-layer BiLSTM
    dropout: float = 0.0  # between LSTM layers and before the head
    norm: str = "batch"  # batch (the reference's) | group: GroupNorm, the same for any per-worker batch size
    blank_bias: float = 0.0  # initial bias of the blank logit; negative fights the all-blank plateau
    in_channels: int = 1  # 1: greyscale input (colour datasets are converted); 3: RGB, needs a colour dataset
    normalize: bool = False  # subtract the training images' mean and divide by their std, stored in the model
    input_height: int = 0  # >0: the model resizes every image to this height, aspect kept (0: the images' own size)
    crop: tuple[int, ...] = (0, 0, 0, 0)  # pixels cut off the top, bottom, left, right first: margins outside the text band

    def __post_init__(self) -> None:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError(f"model.channels {self.channels}: give one positive width per conv block")
        if len(self.pools) != len(self.channels):
            raise ValueError(
                f"model.pools has {len(self.pools)} entries but model.channels has {len(self.channels)}: one pool per block"
            )
        bad = [p for p in self.pools if p not in POOLS]
        if bad:
            raise ValueError(f"model.pools: {bad[0]!r} is not a pool; accepted: {', '.join(POOLS)}")
        if self.hidden < 1 or self.lstm_layers < 1:
            raise ValueError("model.hidden and model.lstm_layers must be at least 1")
        if self.norm not in ("batch", "group"):
            raise ValueError(f"model.norm {self.norm!r}: accepted: batch, group")
        if self.in_channels not in (1, 3):
            raise ValueError(f"model.in_channels {self.in_channels}: accepted: 1 (greyscale), 3 (RGB)")
        if self.input_height < 0 or 0 < self.input_height < 8:
            raise ValueError(f"model.input_height {self.input_height}: 0 (the images' own size) or at least 8 pixels")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout {self.dropout}: must be in [0, 1)")
        if len(self.crop) != 4 or any(c < 0 for c in self.crop):
            raise ValueError(f"model.crop {list(self.crop)}: four pixel counts >= 0 (top, bottom, left, right), e.g. [40,40,0,0]")


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop. Defaults are the reference's where it gave one."""

    epochs: int = 50  # the reference's final run
    batch_size: int = 64  # the reference's final run
    lr: float = 1e-3  # Adam's usual start; the reference did not say
    optimizer: str = "adam"  # adam | adamw | sgd (momentum 0.9)
    weight_decay: float = 0.0  # AdamW's decoupled decay; 0 keeps Adam plain
    schedule: str = "plateau"  # plateau (ReduceLROnPlateau on val loss) | onecycle
    plateau_patience: int = 3  # the reference's patience
    plateau_factor: float = 0.5  # halve the learning rate when val loss stalls
    warmup_steps: int = 0  # linear warmup before the schedule; helps leave the CTC blank plateau
    grad_clip: float = 5.0  # max gradient norm; the reference clipped "for safety"
    amp: str = "auto"  # auto (CUDA: bf16 if supported else fp16; CPU: bf16 with AMX, else off) | off | fp16 | bf16
    early_stop_patience: int = 8  # epochs without a better val exact accuracy before stopping; 0 = never
    beam_width: int = 5  # decoding at evaluation; 1 = greedy. The reference's k = 5
    augment: bool = False  # random views of each training batch, made of augment_ops
    augment_ops: tuple[str, ...] = ("perspective",)  # what augment applies (crnn.data.augment); the best alone in results/
    epoch_images: int = 0  # >0: an epoch is this many images, streamed through reshuffled passes of a large train split
    synth_per_epoch: int = 0  # >0: render this many fresh training images every epoch (synthesized datasets)
    synth_workers: int = 1  # processes rendering the fresh images; 0 = in the training process
    synth_focus: str = ""  # characters fresh images oversample (e.g. "0O", a look-alike pair); "" = the task's own mix
    synth_focus_share: float = 0.5  # with synth_focus: the share of fresh images given one of them at a random position
    eval_samples: int = 0  # cap on val samples scored per epoch; 0 = the whole split
    train_samples: int = 0  # train on the first N training images only; 0 = all (quick searches use a subset)
    ema_decay: float = 0.0  # >0: evaluate, select and save a moving average of the weights (e.g. 0.999); 0 = off
    semi: str = ""  # "" off | fixmatch (an EMA teacher labels the unlabeled split each step) | pseudo (rounds of pseudo-labels)
    semi_threshold: float = 0.95  # whole-string confidence a pseudo-label needs (GeeSolver's 0.95)
    semi_weight: float = 1.0  # the unlabelled loss's weight against the labelled loss
    semi_rampup: int = 5  # epochs over which that weight ramps up linearly from 0
    semi_ratio: float = 1.0  # unlabelled images per labelled image in a step
    semi_strong_ops: tuple[str, ...] = ("perspective", "rotate", "lines", "noise")  # fixmatch: the student's view
    semi_round_epochs: int = 5  # pseudo: epochs per round; the scored model relabels the pool after each
    semi_unlabeled: int = 0  # use the first N unlabelled images only; 0 = all
    semi_align: bool = False  # distribution alignment: rescale the teacher's characters so their mix matches the labels'
    channels_last: bool = True  # 1.25x on CPU convolutions, measured on the reference model
    seed: int = 0  # model init, shuffling and augmentation

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"train.epochs {self.epochs}: must be at least 1")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size {self.batch_size}: must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"train.lr {self.lr}: must be positive")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ValueError(f"train.optimizer {self.optimizer!r}: accepted: adam, adamw, sgd")
        if self.schedule not in ("plateau", "onecycle"):
            raise ValueError(f"train.schedule {self.schedule!r}: accepted: plateau, onecycle")
        if self.amp not in ("auto", "off", "fp16", "bf16"):
            raise ValueError(f"train.amp {self.amp!r}: accepted: auto, off, fp16, bf16")
        if self.beam_width < 1:
            raise ValueError(f"train.beam_width {self.beam_width}: must be at least 1 (1 = greedy)")
        if self.warmup_steps < 0 or self.plateau_patience < 0 or self.early_stop_patience < 0:
            raise ValueError("train.warmup_steps, train.plateau_patience and train.early_stop_patience cannot be negative")
        if self.grad_clip < 0 or self.eval_samples < 0 or self.train_samples < 0:
            raise ValueError("train.grad_clip, train.eval_samples and train.train_samples cannot be negative")
        if self.synth_per_epoch < 0 or self.synth_workers < 0 or self.epoch_images < 0:
            raise ValueError("train.synth_per_epoch, train.synth_workers and train.epoch_images cannot be negative")
        if self.synth_per_epoch and self.epoch_images:
            raise ValueError("train.synth_per_epoch and train.epoch_images: set one; fresh images make their own epochs")
        if self.synth_per_epoch and self.train_samples:
            raise ValueError("train.synth_per_epoch and train.train_samples: set one; fresh images replace the train split")
        if self.synth_focus and not self.synth_per_epoch:
            raise ValueError("train.synth_focus: oversamples fresh images, so it needs train.synth_per_epoch > 0")
        if len(set(self.synth_focus)) != len(self.synth_focus):
            raise ValueError(f"train.synth_focus {self.synth_focus!r}: list each character once")
        if not 0.0 < self.synth_focus_share <= 1.0:
            raise ValueError(f"train.synth_focus_share {self.synth_focus_share}: must be in (0, 1], e.g. 0.5")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"train.ema_decay {self.ema_decay}: must be in [0, 1), e.g. 0.999; 0 turns it off")
        if self.semi not in ("", "fixmatch", "pseudo"):
            raise ValueError(f"train.semi {self.semi!r}: accepted: fixmatch, pseudo, or empty (off)")
        if self.semi == "fixmatch" and not self.ema_decay:
            raise ValueError("train.semi=fixmatch: the teacher is the weight average; set train.ema_decay (e.g. 0.99)")
        if not 0.0 < self.semi_threshold <= 1.0:
            raise ValueError(f"train.semi_threshold {self.semi_threshold}: must be in (0, 1], e.g. 0.95")
        if self.semi_weight < 0 or self.semi_rampup < 0 or self.semi_unlabeled < 0:
            raise ValueError("train.semi_weight, train.semi_rampup and train.semi_unlabeled cannot be negative")
        if self.semi_ratio <= 0 or self.semi_round_epochs < 1:
            raise ValueError("train.semi_ratio must be positive and train.semi_round_epochs at least 1")
        for key in ("augment_ops", "semi_strong_ops"):
            ops = getattr(self, key)
            bad = [op for op in ops if op not in AUGMENT_OPS]
            if bad or not ops:
                raise ValueError(f"train.{key}: {bad[0] if bad else '[]'!r} is not an op; accepted: {', '.join(AUGMENT_OPS)}")


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        unknown = set(data) - {"model", "train"}
        if unknown:
            raise UserError(f"config: unknown section {sorted(unknown)[0]!r}; accepted: model, train")
        return apply_overrides(cls(), data)


PRESETS: dict[str, RunConfig] = {
    # Trains in seconds on a CPU: tests, demos and smoke runs. Batches of 16 and normalised inputs leave the
    # CTC blank plateau within about 100 steps: 300 digit images reach 87% val exact in 12 epochs (12 s, 2 cores).
    "tiny": RunConfig(
        model=ModelConfig(
            channels=(16, 32, 48), pools=("2x2", "2x2", "2x2"), hidden=64, lstm_layers=1, blank_bias=0.0, normalize=True
        ),
        train=TrainConfig(epochs=12, batch_size=16, lr=3e-3, beam_width=1, early_stop_patience=0, warmup_steps=0),
    ),
    # The report's model and hyperparameters: 3 blocks 64-128-256, 2x BiLSTM, batch 64, 50 epochs,
    # plateau patience 3, beam 5, a negative blank bias (it started at -20 and lowered it).
    "reference": RunConfig(
        model=ModelConfig(blank_bias=-5.0),
        train=TrainConfig(),
    ),
    # The best recipe found for 2 CPU cores (README: "Training on a CPU").
    "cpu-fast": RunConfig(
        model=ModelConfig(
            channels=(16, 32, 64), pools=("2x2", "2x2", "2x2"), hidden=96, lstm_layers=2, blank_bias=0.0, normalize=True
        ),
        train=TrainConfig(
            epochs=40,
            batch_size=64,
            lr=2e-3,
            optimizer="adamw",
            weight_decay=1e-4,
            warmup_steps=300,
            early_stop_patience=6,
            beam_width=1,
            eval_samples=2000,
            augment=True,  # perspective: 11% -> 65% val exact on 3,000 wheezy images (results/README.md)
        ),
    ),
}
# cpu-fast at twice its width (32/64/128 channels, 2 x 192 LSTM units, 2.48 M) reading every image at
# height 48: the architecture of the published base model (results/base), so `--preset base --init-from
# base` keeps every one of its weights on a scheme of any image size.
PRESETS["base"] = replace(
    PRESETS["cpu-fast"],
    model=replace(PRESETS["cpu-fast"].model, channels=(32, 64, 128), hidden=192, input_height=48),
)


def _field_types(section: str) -> dict[str, Any]:
    cls = {"model": ModelConfig, "train": TrainConfig}[section]
    return get_type_hints(cls)


def _coerce(where: str, hint: Any, value: Any) -> Any:
    """Convert ``value`` (a YAML value, or a string from --set) to the field's declared type ``hint``."""
    origin = get_origin(hint)
    if origin is tuple:
        (item, _ellipsis) = get_args(hint)
        if isinstance(value, str):
            value = _parse(where, value)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise UserError(f"{where}: expected a list of {item.__name__} like {_EXAMPLES[item]}, got {value!r}")
        try:
            return tuple(_coerce(where, item, v) for v in value)
        except UserError:
            raise UserError(f"{where}: expected a list of {item.__name__} like {_EXAMPLES[item]}, got {value!r}") from None
    if hint is str:
        if isinstance(value, str):
            return value
        raise UserError(f"{where}: expected a word, got {value!r}")
    if isinstance(value, str):
        value = _parse(where, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: expected a number, got {value!r}")
    if hint is int:
        if float(value).is_integer():
            return int(value)
        raise UserError(f"{where}: expected a whole number, got {value!r}")
    return float(value)


_EXAMPLES = {int: "[16, 32, 64]", str: "[2x2, 2x2, 2x1]", float: "[0.5, 1.0]"}


def _parse(where: str, text: str) -> Any:
    """A --set value: a number (YAML 1.1 reads "2e-3" as a string, so floats first), else YAML."""
    try:
        return float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise UserError(f"{where}: cannot parse {text!r}") from None


def apply_overrides(config: RunConfig, data: dict[str, Any]) -> RunConfig:
    """Return ``config`` with ``{"model": {...}, "train": {...}}`` applied, every key checked."""
    sections = {"model": config.model, "train": config.train}
    for section, values in data.items():
        if section not in sections:
            raise UserError(f"config: unknown section {section!r}; accepted: model, train")
        if not isinstance(values, dict):
            raise UserError(f"config: section {section!r} must be a mapping of key: value")
        obj = sections[section]
        known = _field_types(section)
        changes = {}
        for key, value in values.items():
            if key not in known:
                raise UserError(f"{section}.{key}: unknown key; {_did_you_mean(section, key, known)}")
            changes[key] = _coerce(f"{section}.{key}", known[key], value)
        try:
            sections[section] = replace(obj, **changes)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return RunConfig(model=sections["model"], train=sections["train"])


def _did_you_mean(section: str, key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean {section}.{close[0]}? (crnn config keys lists them all)"
    return f"accepted: {', '.join(known)}"


def parse_set(items: list[str]) -> dict[str, dict[str, str]]:
    """``["model.hidden=96", "train.lr=3e-3"]`` -> ``{"model": {"hidden": "96"}, "train": {"lr": "3e-3"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise UserError(f"--set {item!r}: expected section.key=value, e.g. train.lr=3e-3 or model.hidden=96")
        out.setdefault(section, {})[name] = value.strip()
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise UserError(f"--config {path}: not valid YAML/JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"--config {path}: expected a mapping with sections model and/or train")
    return data


def resolve_config(preset: str = "cpu-fast", config_file: str | Path | None = None, sets: list[str] | None = None) -> RunConfig:
    """Preset, then file, then --set overrides."""
    if preset not in PRESETS:
        raise UserError(f"--preset {preset!r}: unknown; accepted: {', '.join(PRESETS)}")
    config = PRESETS[preset]
    if config_file is not None:
        config = apply_overrides(config, load_config_file(config_file))
    if sets:
        config = apply_overrides(config, parse_set(sets))
    return config


def resumed_config(saved: dict, config_file: str | Path | None = None, sets: list[str] | None = None) -> RunConfig:
    """A run's own config (its ``config.json``) with this invocation's ``--config``/``--set`` on top: a
    resume continues the run as it was configured, even after a new version changed a preset."""
    config = RunConfig.from_dict({k: saved[k] for k in ("model", "train") if k in saved})
    if config_file is not None:
        config = apply_overrides(config, load_config_file(config_file))
    if sets:
        config = apply_overrides(config, parse_set(sets))
    return config


def config_diff(saved: dict, config: RunConfig) -> list[str]:
    """``section.key: X there, Y now`` for every model/train key where a saved config.json differs."""
    now = json.loads(json.dumps(config.to_dict()))  # tuples as JSON lists, like the saved file
    # a key the saved file lacks was added since: its default is what that run did
    default = json.loads(json.dumps(RunConfig().to_dict()))
    then = {s: {**default[s], **saved.get(s, {})} for s in ("model", "train")}
    return [
        f"{section}.{key}: {then[section].get(key)!r} there, {value!r} now"
        for section in ("model", "train")
        for key, value in now[section].items()
        if then[section].get(key) != value
    ]
