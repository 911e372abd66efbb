"""``build_trainer``: a ``Trainer`` assembled from a config, a dataset and ``FitOptions``.

The order matters where randomness does: the seed is set before the model is built, and every draw of
an epoch is seeded by (seed, epoch, rank), so a resumed run repeats what an uninterrupted one does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from crnn.config import OptimConfig, RunConfig
from crnn.data.margins import quiet_margins
from crnn.data.pixels import to_input
from crnn.data.store import Dataset, Split
from crnn.errors import UserError
from crnn.model import build_model, count_parameters
from crnn.training.amp import choose_precision
from crnn.training.callbacks import default_callbacks
from crnn.training.checkpoint import load_checkpoint
from crnn.training.ema import WeightEMA
from crnn.training.inputs import statistics_sample, train_batches_for, training_splits
from crnn.training.loop import Optimization
from crnn.training.objectives import ObjectiveSetup, build_objective
from crnn.training.options import FitOptions
from crnn.training.rundir import RunDir, run_record
from crnn.training.schedule import LRSchedule
from crnn.training.step import StepContext
from crnn.training.trainer import Trainer
from crnn.training.transfer import appended_blocks, init_identity_blocks, summarize, transfer_weights
from crnn.training.validate import val_shard


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return torch.device(name)


def worker_batch_size(batch_size: int, world_size: int) -> int:
    """Each worker's share of the global ``train.batch_size``."""
    if batch_size % world_size:
        raise UserError(
            f"train.batch_size {batch_size} is the global batch and must divide evenly over {world_size} workers "
            f"(e.g. {batch_size - batch_size % world_size or world_size})"
        )
    return batch_size // world_size


def _optimizer(model: nn.Module, oc: OptimConfig) -> torch.optim.Optimizer:
    if oc.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=oc.lr, momentum=0.9, weight_decay=oc.weight_decay)
    cls = torch.optim.AdamW if oc.name == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=oc.lr, weight_decay=oc.weight_decay)


def _model(
    data: Dataset, config: RunConfig, train: Split, opts: FitOptions, device: torch.device
) -> tuple[nn.Module, np.ndarray | None]:
    """The seeded model, with its input statistics measured on training images where it normalises, and
    those images (uint8), which a transfer measures appended blocks on."""
    channels = config.model.in_channels
    if channels == 3 and data.channels == 1:
        raise UserError(
            f"model.in_channels 3: {data.root} is greyscale; make it with --color (crnn data synth/import) "
            "or train with model.in_channels=1"
        )
    torch.manual_seed(config.train.seed + opts.rank)
    height, width = data.image_size
    model = build_model(config.model, data.charset.num_classes, height, width, data.length_range[1]).to(device)
    if config.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    sample = statistics_sample(data, train, config.train.data) if config.model.normalize or opts.init_from is not None else None
    if config.model.normalize:
        model.set_input_stats(to_input(sample, channels))
    return model, sample


def _transfer(model: nn.Module, data: Dataset, config: RunConfig, sample: np.ndarray, opts: FitOptions) -> None:
    """``--init-from``: the given weights where names and shapes match, the head mapped by character, and
    blocks the source lacks started as identities."""
    channels = config.model.in_channels
    init = opts.init_from
    if "in_mean" not in init:  # a model from before input normalisation: it saw raw pixels, keep it that way
        init = {**init, "in_mean": torch.zeros(channels), "in_std": torch.ones(channels)}
    kept, fresh = transfer_weights(model, init, opts.init_charset, data.charset.chars)
    device = next(model.parameters()).device
    identity = init_identity_blocks(model, appended_blocks(model, init), to_input(sample[:512], channels).to(device))
    if opts.main:
        opts.log(f"--init-from: {summarize(kept, fresh, identity)}")


def _resume_source(run: RunDir, config: RunConfig, opts: FitOptions) -> tuple[Path | None, dict | None]:
    """(the checkpoint a run continues from, its loaded state) or (None, None) for a new run."""
    if opts.resume_from is not None:
        return opts.resume_from, load_checkpoint(opts.resume_from)
    if opts.resume and run.has_checkpoint():
        path, saved = run.load_resumable(opts.log if opts.main else lambda line: None)
        if opts.main:
            run.check_resumable(config)
        return path, saved
    if opts.main and opts.resume:
        opts.log(f"nothing to resume in {run.out}; starting a new run")
    elif opts.main and run.has_checkpoint():
        raise UserError(f"{run.out}: already holds a run; pass --resume to continue it or choose another --out")
    return None, None


def _restore(trainer: Trainer, path: Path, saved: dict) -> None:
    if "train_state" not in saved or saved.get("inference_only"):
        raise UserError(
            f"{path}: an inference-only checkpoint (crnn export --format pt, or an older crnn-tune's); "
            "it can be evaluated, exported and used with --init-from, not resumed"
        )
    trainer.restore(saved, str(path))
    state = trainer.state
    state.resumed_after.append(state.epoch)
    best = f"best val exact {state.best:.2%} at epoch {state.best_epoch}"
    trainer.log(f"resuming {trainer.run.out} after epoch {state.epoch} ({best})")


def _context(config: RunConfig, data: Dataset, device: torch.device, autocast) -> StepContext:
    tc = config.train
    return StepContext(data.charset, device, autocast, tc.eval.beam_width, tc.channels_last, config.model.crop)


def build_trainer(data: Dataset, out: str | Path, config: RunConfig, opts: FitOptions) -> Trainer:
    """A trainer ready to ``fit``: its parts made (or restored from the run's checkpoint) and its run announced."""
    tc = config.train
    device = pick_device(opts.device)
    precision = choose_precision(tc.amp, device)
    train, val = training_splits(data, config, opts.overfit)
    per_worker = worker_batch_size(tc.batch_size, opts.world_size)
    model, sample = _model(data, config, train, opts, device)
    run = RunDir(out)
    resume_from, saved = _resume_source(run, config, opts)
    if opts.init_from is not None and resume_from is None:  # a resumed run has its own weights
        _transfer(model, data, config, sample, opts)
    optimizer = _optimizer(model, tc.optim)
    train_batches = train_batches_for(data, train, config, per_worker, opts.rank, opts.world_size)
    ema = WeightEMA(model, tc.eval.ema_decay) if tc.eval.ema_decay else None
    setup = ObjectiveSetup(data, config, train.labels, per_worker, opts.rank, opts.world_size, ema.model if ema else None)
    trainer = Trainer(
        config,
        data,
        run,
        opts,
        _context(config, data, device, precision.autocast),
        precision,
        model,
        net=model,
        optim=Optimization(optimizer, precision.scaler(), tc.optim.grad_clip),
        schedule=LRSchedule(optimizer, tc, len(train_batches)),
        objective=build_objective(setup),
        train_batches=train_batches,
        val_batches=val_shard(val, data.charset, max(per_worker, 256), config.model.in_channels, opts.rank, opts.world_size),
        val_labels=val.labels,
        ema=ema,
        callbacks=default_callbacks(opts.main, opts.tracker, opts.on_epoch_end, opts.callbacks),
    )
    if resume_from is not None:
        _restore(trainer, resume_from, saved)
    if opts.wrap_model is not None:  # after the restore: DDP starts every rank from rank 0's weights
        trainer.net = opts.wrap_model(model)
    if opts.main:
        _announce(trainer, train, len(val))
    return trainer


def _announce(t: Trainer, train: Split, n_val: int) -> None:
    """config.json, and on a new run the opening line and a note on margins the text never reaches."""
    config, data, opts, tc, dc = t.config, t.data, t.opts, t.config.train, t.config.train.data
    n_train = dc.synth_per_epoch or len(train)
    runtime = {
        "parameters": count_parameters(t.model),
        "device": t.ctx.device.type,
        "precision": t.precision.mode,
        "world_size": opts.world_size,
    }
    t.run.write_config(run_record(config, data, {"train": n_train, "val": n_val, "overfit": opts.overfit}, runtime))
    if t.state.epoch:
        return
    what = f"{n_train} fresh images per epoch" if dc.synth_per_epoch else f"{n_train} images"
    what += f" in epochs of {dc.epoch_images}" if dc.epoch_images else ""
    what += f", {dc.synth_focus_share:.0%} given one of {dc.synth_focus!r}" if dc.synth_focus else ""
    steps, per_worker = len(t.train_batches), t.train_batches.batch_size
    opts.log(
        f"training {count_parameters(t.model) / 1e6:.2f}M parameters on {what}{t.objective.describe()} "
        f"({steps} steps/epoch of {tc.batch_size} = {opts.world_size} worker(s) x {per_worker}), "
        f"device {t.ctx.device}, precision {t.precision.mode}"
    )
    margins = (0, 0, 0, 0) if any(config.model.crop) or dc.synth_per_epoch else quiet_margins(train.images)
    if any(margins):
        opts.log(
            f"note: margins of {', '.join(map(str, margins))} px (top, bottom, left, right) lie outside where the "
            f"training images draw their text; --set model.crop=[{','.join(map(str, margins))}] would read only the rest"
        )
