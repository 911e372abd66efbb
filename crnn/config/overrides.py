"""Building a config: a preset, then a YAML/JSON file, then ``--set a.b.c=value`` overrides, each key
checked against the typed sections, with the flat names of earlier releases still read."""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from crnn.config.sections import ModelConfig, TrainConfig
from crnn.errors import UserError


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """A stored config (config.json, a checkpoint, best_config.json), in today's sections or in the flat
        ``train`` of earlier releases: old names are read silently, since the file is not the user's spelling."""
        return apply_overrides(cls(), data, warn=False)


# The flat train keys of crnn 0.1 and where each lives now. A user's spelling of one prints a deprecation line;
# a stored file (config.json, a checkpoint, best_config.json) written with them is read silently.
RENAMED = {
    "train.lr": "train.optim.lr",
    "train.optimizer": "train.optim.name",
    "train.weight_decay": "train.optim.weight_decay",
    "train.grad_clip": "train.optim.grad_clip",
    "train.schedule": "train.schedule.name",
    "train.plateau_patience": "train.schedule.patience",
    "train.plateau_factor": "train.schedule.factor",
    "train.warmup_steps": "train.schedule.warmup_steps",
    "train.beam_width": "train.eval.beam_width",
    "train.eval_samples": "train.eval.samples",
    "train.ema_decay": "train.eval.ema_decay",
    "train.semi": "train.semi.method",
    **{f"train.semi_{k}": f"train.semi.{k}" for k in ("threshold", "weight", "rampup", "ratio", "strong_ops")},
    **{f"train.semi_{k}": f"train.semi.{k}" for k in ("round_epochs", "unlabeled", "align")},
    **{f"train.{k}": f"train.data.{k}" for k in ("train_samples", "epoch_images", "synth_per_epoch", "synth_workers")},
    **{f"train.{k}": f"train.data.{k}" for k in ("synth_focus", "synth_focus_share")},
}
_warned: set[str] = set()


def _walk(cls: type, prefix: str) -> tuple[dict[str, Any], set[str]]:
    """(leaf path -> type hint, section paths) of a config dataclass, e.g. ``train.optim.lr -> float``."""
    leaves, sections = {}, {prefix.rstrip(".")} if prefix else set()
    for name, hint in get_type_hints(cls).items():
        if is_dataclass(hint):
            sub_leaves, sub_sections = _walk(hint, f"{prefix}{name}.")
            leaves.update(sub_leaves)
            sections |= sub_sections
        else:
            leaves[f"{prefix}{name}"] = hint
    return leaves, sections


LEAVES, SECTIONS = _walk(RunConfig, "")
TOP = tuple(f.name for f in fields(RunConfig))  # model, train


def canonical_key(key: str, where: str = "", warn: bool = True) -> str:
    """Today's path for ``key`` (an old flat name is mapped, with one deprecation line per name when ``warn``)."""
    new = RENAMED.get(key)
    if new is None:
        if key not in LEAVES:
            raise UserError(f"{where or key}: unknown key; {_did_you_mean(key)}")
        return key
    if warn and key not in _warned:
        _warned.add(key)
        print(f"crnn: {key} is now {new}; the old name is read until the next release", file=sys.stderr)
    return new


def _did_you_mean(key: str) -> str:
    section, _, rest = key.partition(".")
    if section not in TOP:
        return f"sections: {', '.join(TOP)}"
    # within the section, by the rest of the path or by its last part ("train.threshold" -> train.semi.threshold)
    names: dict[str, str] = {}
    for k in [*LEAVES, *RENAMED]:
        if k.startswith(f"{section}."):
            names.setdefault(k.split(".", 1)[1], RENAMED.get(k, k))
            names.setdefault(k.rsplit(".", 1)[1], RENAMED.get(k, k))
    close = difflib.get_close_matches(rest, list(names), n=1, cutoff=0.6)
    if close:
        return f"did you mean {names[close[0]]}? (crnn config keys lists them all)"
    return "accepted: " + ", ".join(k for k in LEAVES if k.startswith(f"{section}."))


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"train": {"optim": {"lr": 1}}, "train.seed": 2}`` -> ``[("train.optim.lr", 1), ("train.seed", 2)]``."""
    out = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if not prefix and str(key).split(".", 1)[0] not in TOP:
            raise UserError(f"config: unknown section {str(key).split('.', 1)[0]!r}; accepted: {', '.join(TOP)}")
        if path in SECTIONS and isinstance(value, Mapping):
            out += _leaves(value, f"{path}.")
        elif path in SECTIONS and path not in RENAMED:
            raise UserError(f"config: {path} is a section; give it a mapping of key: value, e.g. {_example(path)}")
        else:
            out.append((path, value))
    return out


def _example(section: str) -> str:
    first = next(k for k in LEAVES if k.startswith(f"{section}."))
    return f"{first}=..."


def apply_overrides(config: RunConfig, data: Mapping[str, Any], warn: bool = True) -> RunConfig:
    """``config`` with ``data`` applied: nested sections (``{"train": {"optim": {"lr": 3e-3}}}``), dotted
    paths (``{"train.optim.lr": "3e-3"}``) or both; every key checked and every value coerced to its type."""
    changes: dict[str, Any] = {}
    for key, value in _leaves(data):
        path = canonical_key(key, warn=warn)
        node = changes
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _coerce(path, LEAVES[path], value)
    return _rebuild(config, changes)


def _rebuild(obj: Any, changes: dict[str, Any]) -> Any:
    """``replace(obj, ...)`` with nested sections rebuilt first, so each ``__post_init__`` checks the final values."""
    kw = {name: _rebuild(getattr(obj, name), value) if isinstance(value, dict) else value for name, value in changes.items()}
    try:
        return replace(obj, **kw)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _coerce(where: str, hint: Any, value: Any) -> Any:
    """Convert ``value`` (a YAML value, or a string from --set) to the field's declared type ``hint``."""
    if get_origin(hint) is tuple:
        return _coerce_tuple(where, get_args(hint)[0], value)
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


def _coerce_tuple(where: str, item: type, value: Any) -> tuple:
    if isinstance(value, str):
        value = _parse(where, value)
    wrong = UserError(f"{where}: expected a list of {item.__name__} like {_EXAMPLES[item]}, got {value!r}")
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise wrong
    try:
        return tuple(_coerce(where, item, v) for v in value)
    except UserError:
        raise wrong from None


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


def parse_set(items: list[str]) -> dict[str, str]:
    """``["model.hidden=96", "train.optim.lr=3e-3"]`` -> ``{"model.hidden": "96", "train.optim.lr": "3e-3"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or "." not in key or not key.split(".")[-1]:
            raise UserError(f"--set {item!r}: expected section.key=value, e.g. train.optim.lr=3e-3 or model.hidden=96")
        out[key] = value.strip()
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
        raise UserError(f"--config {path}: expected a mapping with sections {', '.join(TOP)}")
    return data


def layered(config: RunConfig, config_file: str | Path | None = None, sets: list[str] | None = None) -> RunConfig:
    """``config``, then a file's sections, then ``--set`` overrides."""
    if config_file is not None:
        config = apply_overrides(config, load_config_file(config_file))
    if sets:
        config = apply_overrides(config, parse_set(sets))
    return config


def resumed_config(saved: dict, config_file: str | Path | None = None, sets: list[str] | None = None) -> RunConfig:
    """A run's own config (its ``config.json``) with this invocation's ``--config``/``--set`` on top: a
    resume continues the run as it was configured, even after a new version changed a preset."""
    return layered(RunConfig.from_dict({k: saved[k] for k in TOP if k in saved}), config_file, sets)


def value_at(config: RunConfig, key: str) -> Any:
    """The value at a path in today's sections or an old flat name: ``value_at(c, "train.optim.lr")``."""
    node: Any = config
    for part in canonical_key(key, warn=False).split("."):
        node = getattr(node, part)
    return node


def flat(config: RunConfig) -> dict[str, Any]:
    """``{"train.optim.lr": 0.001, ...}``: every leaf, tuples as JSON lists."""
    out: dict[str, Any] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                out[f"{prefix}{key}"] = value

    walk(json.loads(json.dumps(config.to_dict())), "")
    return out


def config_diff(saved: dict, config: RunConfig) -> list[str]:
    """``section.key: X there, Y now`` for every key where a saved config.json differs (a key the saved file
    lacks was added since: its default is what that run did)."""
    then, now = flat(RunConfig.from_dict({k: saved[k] for k in TOP if k in saved})), flat(config)
    return [f"{key}: {then[key]!r} there, {value!r} now" for key, value in now.items() if then[key] != value]
