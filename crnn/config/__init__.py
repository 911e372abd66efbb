"""Typed configs, one per concern, and the named presets.

A run's config is ``RunConfig(model=..., train=...)``, ``train`` holding its ``data``, ``optim``,
``schedule``, ``eval`` and ``semi`` sections. It is built from a preset, then a YAML/JSON file, then
``--set section.key=value`` overrides (``train.optim.lr=3e-3``), and written beside the run as ``config.json``.
"""

from crnn.config.overrides import (
    RENAMED,
    RunConfig,
    apply_overrides,
    canonical_key,
    config_diff,
    flat,
    load_config_file,
    parse_set,
    resumed_config,
    value_at,
)
from crnn.config.presets import PRESETS, resolve_config
from crnn.config.sections import (
    AUGMENT_OPS,
    POOLS,
    DataConfig,
    EvalConfig,
    ModelConfig,
    OptimConfig,
    ScheduleConfig,
    SemiConfig,
    TrainConfig,
)

__all__ = [
    "AUGMENT_OPS",
    "POOLS",
    "PRESETS",
    "RENAMED",
    "DataConfig",
    "EvalConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "ScheduleConfig",
    "SemiConfig",
    "TrainConfig",
    "apply_overrides",
    "canonical_key",
    "config_diff",
    "flat",
    "load_config_file",
    "parse_set",
    "resolve_config",
    "resumed_config",
    "value_at",
]
