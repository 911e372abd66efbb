"""The named presets: ``tiny`` for tests and demos, ``reference`` (the report's), ``cpu-fast`` (the best
recipe for 2 CPU cores, what ``crnn train`` uses without ``--preset``) and ``base`` (the published base model)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crnn.config.overrides import RunConfig, layered
from crnn.config.sections import EvalConfig, ModelConfig, OptimConfig, ScheduleConfig, TrainConfig
from crnn.errors import UserError

PRESETS: dict[str, RunConfig] = {
    # Trains in seconds on a CPU: tests, demos and smoke runs. Batches of 16 and normalised inputs leave the
    # CTC blank plateau within about 100 steps: 300 digit images reach 87% val exact in 12 epochs (12 s, 2 cores).
    "tiny": RunConfig(
        model=ModelConfig(
            channels=(16, 32, 48), pools=("2x2", "2x2", "2x2"), hidden=64, lstm_layers=1, blank_bias=0.0, normalize=True
        ),
        train=TrainConfig(
            epochs=12, batch_size=16, early_stop_patience=0, optim=OptimConfig(lr=3e-3), eval=EvalConfig(beam_width=1)
        ),
    ),
    # The report's model and hyperparameters: 3 blocks 64-128-256, 2x BiLSTM, batch 64, 50 epochs,
    # plateau patience 3, beam 5, a negative blank bias (it started at -20 and lowered it).
    "reference": RunConfig(model=ModelConfig(blank_bias=-5.0), train=TrainConfig()),
    # The best recipe found for 2 CPU cores (README: "Training on a CPU").
    "cpu-fast": RunConfig(
        model=ModelConfig(
            channels=(16, 32, 64), pools=("2x2", "2x2", "2x2"), hidden=96, lstm_layers=2, blank_bias=0.0, normalize=True
        ),
        train=TrainConfig(
            epochs=40,
            batch_size=64,
            early_stop_patience=6,
            augment=True,  # perspective: 11% -> 65% val exact on 3,000 wheezy images (results/README.md)
            optim=OptimConfig(name="adamw", lr=2e-3, weight_decay=1e-4),
            schedule=ScheduleConfig(warmup_steps=300),
            eval=EvalConfig(beam_width=1, samples=2000),
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


def resolve_config(preset: str = "cpu-fast", config_file: str | Path | None = None, sets: list[str] | None = None) -> RunConfig:
    """Preset, then file, then --set overrides."""
    if preset not in PRESETS:
        raise UserError(f"--preset {preset!r}: unknown; accepted: {', '.join(PRESETS)}")
    return layered(PRESETS[preset], config_file, sets)
