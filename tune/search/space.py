"""The search space: read from YAML, checked entry by entry, turned into Optuna distributions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna.distributions as d
import yaml

from crnn.config import PRESETS, RunConfig, apply_overrides, canonical_key, value_at
from crnn.errors import UserError

DEFAULT_SPACE = Path(__file__).with_name("space.yaml")
KINDS = ("uniform", "loguniform", "int", "choice")


@dataclass(frozen=True)
class Param:
    key: str  # a config key, e.g. "train.optim.lr"
    kind: str  # one of KINDS
    args: tuple  # (low, high) or the choices

    @property
    def name(self) -> str:
        """The column name in tables and in Optuna: the key's last part, e.g. "lr"."""
        return self.key.rsplit(".", 1)[1]

    def distribution(self):
        if self.kind == "uniform":
            return d.FloatDistribution(*self.args)
        if self.kind == "loguniform":
            return d.FloatDistribution(*self.args, log=True)
        if self.kind == "int":
            return d.IntDistribution(*self.args)
        return d.CategoricalDistribution(list(self.args))

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in self.args
        return self.args[0] <= value <= self.args[1]


def _parse_param(where: str, key: str, spec: Any) -> Param:
    try:
        key = canonical_key(str(key), where)
    except UserError:
        raise UserError(
            f"{where}: {key!r} is not a config key (crnn config keys lists them), e.g. train.optim.lr or model.blank_bias"
        ) from None
    if not isinstance(spec, dict) or len(spec) != 1:
        raise UserError(f"{where}: {key}: expected one distribution, e.g. {{uniform: [-20, 0]}} ({', '.join(KINDS)})")
    kind, args = next(iter(spec.items()))
    if kind not in KINDS:
        raise UserError(f"{where}: {key}: unknown distribution {kind!r}; accepted: {', '.join(KINDS)}")
    if not isinstance(args, list) or not args:
        raise UserError(f"{where}: {key}: {kind} needs a list, e.g. [low, high] or [a, b, c]")
    if kind != "choice":
        if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            raise UserError(f"{where}: {key}: {kind} needs two numbers [low, high], got {args}")
        if not args[0] < args[1]:
            raise UserError(f"{where}: {key}: {kind} needs low < high, got {args}")
        if kind == "loguniform" and args[0] <= 0:
            raise UserError(f"{where}: {key}: loguniform needs low > 0, got {args}")
        if kind == "int" and not all(float(a).is_integer() for a in args):
            raise UserError(f"{where}: {key}: int needs whole numbers, got {args}")
        args = [int(a) for a in args] if kind == "int" else [float(a) for a in args]
    param = Param(key, kind, tuple(args))
    probe = args[0]
    try:
        apply_overrides(RunConfig(), {key: probe})  # the value type fits the config field
    except (UserError, ValueError) as exc:
        raise UserError(f"{where}: {key}: {exc}") from None
    return param


def load_space(path: str | Path | None = None) -> list[Param]:
    """The default space, or a user's file that replaces or extends it."""
    default = _read(DEFAULT_SPACE)
    if path is None:
        return list(default.values())
    user_path = Path(path)
    if not user_path.is_file():
        raise UserError(f"--space {user_path}: no such file")
    raw = _load_yaml(user_path)
    mode = raw.get("mode", "replace")
    if mode not in ("replace", "extend"):
        raise UserError(f"--space {user_path}: mode {mode!r}; accepted: replace, extend")
    user = _read(user_path)
    merged = {**default, **user} if mode == "extend" else user
    names = [p.name for p in merged.values()]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise UserError(f"--space {user_path}: two parameters are both called {dup!r}")
    return list(merged.values())


def _load_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"--space {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("params"), dict) or not raw["params"]:
        raise UserError(f"--space {path}: expected a mapping with a non-empty 'params:' section")
    unknown = set(raw) - {"mode", "params"}
    if unknown:
        raise UserError(f"--space {path}: unknown top-level key {sorted(unknown)[0]!r}; accepted: mode, params")
    return raw


def _read(path: Path) -> dict[str, Param]:
    raw = _load_yaml(path)
    params = [_parse_param(f"--space {path}", key, spec) for key, spec in raw["params"].items()]
    return {p.key: p for p in params}  # by today's key, so an old flat name overrides the default it renamed


def apply_params(base: RunConfig, space: list[Param], values: dict[str, Any]) -> RunConfig:
    """The trial's RunConfig: ``base`` with the sampled ``{name: value}`` set at each param's key."""
    # a search stored by an earlier release names its keys the old flat way: read them as a stored file is
    return apply_overrides(base, {p.key: values[p.name] for p in space}, warn=False)


def reference_point(space: list[Param], base: RunConfig) -> dict[str, Any]:
    """The reference report's hyperparameters for every searched key that has one in the space.

    Keys the reference did not set take the base preset's value; a value outside the space is
    clipped to it (a choice falls back to its first entry)."""
    ref = PRESETS["reference"]
    point = {}
    for p in space:
        value = value_at(ref, p.key)
        if p.key.startswith("model.") and p.key != "model.blank_bias":
            value = value_at(base, p.key)  # the architecture stays the base preset's
        if not p.contains(value):
            value = p.args[0] if p.kind == "choice" else min(max(value, p.args[0]), p.args[1])
        point[p.name] = value
    return point
