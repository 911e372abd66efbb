"""``fit``: train one config on one dataset, on one process or as one rank of a Ray Train run.

The pieces it wires together each live elsewhere: the epoch and evaluation loops (``loop``), the
learning-rate schedule (``schedule``), the run's progress (``state``) and the run folder (``rundir``).
``crnn train`` calls ``fit`` in-process; the Ray Train worker calls the same ``fit`` on every worker
with its rank and a ``wrap_model`` (DDP). Only rank 0 evaluates, writes and logs.

``train.batch_size`` is the global batch: with N workers each takes ``batch_size / N`` per step, so
a config trains the same way whatever the number of workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from crnn.config import RunConfig, TrainConfig
from crnn.data.batches import to_input
from crnn.data.margins import quiet_margins
from crnn.data.store import Dataset, load_unlabeled, load_unlabeled_truth
from crnn.errors import UserError
from crnn.model import build_model, count_parameters
from crnn.provenance import provenance
from crnn.tracking import Tracker
from crnn.training.amp import choose_precision
from crnn.training.checkpoint import load_checkpoint
from crnn.training.ema import WeightEMA
from crnn.training.inputs import statistics_sample, train_batches_for, training_splits
from crnn.training.loop import train_one_epoch
from crnn.training.rundir import RunDir, read_metrics, run_record
from crnn.training.schedule import LRSchedule
from crnn.training.semi import SemiSupervision, char_prior
from crnn.training.state import TrainState, left_plateau, plateau_advice
from crnn.training.transfer import appended_blocks, init_identity_blocks, summarize, transfer_weights
from crnn.training.validate import val_shard, validate

__all__ = ["FitOptions", "fit", "pick_device", "read_metrics", "worker_batch_size"]


@dataclass
class FitOptions:
    """How to run, as opposed to what to learn (that is ``RunConfig``)."""

    resume: bool = False  # continue from out/checkpoints/last.pt
    resume_from: Path | None = None  # continue from this checkpoint file (Ray Train hands one over)
    overfit: int = 0  # train and validate on the first N training samples (the reference's overfit test)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    progress: bool = True  # a per-step bar on stderr when it is a terminal
    max_epochs: int = 0  # stop after this many epochs of this invocation (0 = the config's epochs)
    max_minutes: float = 0.0  # stop after the epoch that passes this much training time (0 = no limit)
    rank: int = 0
    world_size: int = 1
    wrap_model: Callable[[nn.Module], nn.Module] | None = None  # e.g. Ray Train's prepare_model (DDP)
    init_from: dict | None = None  # a state_dict to start from (transfer): tensors of matching name and shape
    init_charset: str = ""  # the init_from model's charset: its head rows are mapped to this dataset's characters
    on_epoch_end: Callable[[dict, Path | None, bool], None] | None = None  # (row, last.pt on rank 0, improved)
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    tracker: Tracker | None = None  # TensorBoard / MLflow (crnn.tracking): each epoch's row, then the hparams and best


METRIC_KEYS = ("exact_acc", "char_acc", "edit_distance", "cer", "exact_acc_nocase", "char_acc_nocase")
PLOT_EVERY_S = 30.0  # seconds between redraws of a run's curves.png
# CTC loss per character past which the weights have blown up: an untrained model scores ~15. In fp32 such a
# run overflows to inf or nan; in bf16 autocast the logits stay finite and the loss only becomes absurd
DIVERGED_LOSS = 1e4


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


def _optimizer(model: nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    if tc.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=0.9, weight_decay=tc.weight_decay)
    cls = torch.optim.AdamW if tc.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)


def _stop_reason(tc: TrainConfig, state: TrainState, opts: FitOptions) -> str:
    if tc.early_stop_patience and not opts.overfit and state.epochs_without_progress() >= tc.early_stop_patience:
        return f"early stop: no better val exact accuracy for {tc.early_stop_patience} epochs"
    if opts.max_minutes and state.elapsed_s >= opts.max_minutes * 60:
        return f"time limit: stopping after {state.elapsed_s / 60:.1f} minutes of training"
    return ""


def _semi_supervision(
    data: Dataset, tc: TrainConfig, per_worker: int, channels: int, opts: FitOptions, crop: tuple[int, ...],
    labels: list[str],
) -> SemiSupervision:  # fmt: skip
    """The unlabelled pool (its first ``train.semi_unlabeled``), on synthetic data its truth, and with
    ``train.semi_align`` the training labels' character mix."""
    pool = load_unlabeled(data)
    if pool is None:
        raise UserError(
            f"train.semi={tc.semi}: {data.root} has no unlabeled split; add one with "
            "`crnn data import SRC --unlabeled DIR` or `crnn data synth --unlabeled N`"
        )
    truth = load_unlabeled_truth(data)
    if tc.semi_unlabeled:
        pool, truth = pool[: tc.semi_unlabeled], truth[: tc.semi_unlabeled] if truth is not None else None
    return SemiSupervision(
        tc, pool, data.charset, data.length_range, per_worker, channels, opts.rank, opts.world_size, truth, crop,
        char_prior(labels, data.charset) if tc.semi_align else None,
    )  # fmt: skip


def _pseudo_text(row: dict) -> str:
    if "pseudo_kept" not in row:
        return ""
    right = f", {row['pseudo_right']:.0%} right" if row.get("pseudo_right") is not None else ""
    align = f", aligned <= {row['pseudo_align']:.2f}x" if row.get("pseudo_align") is not None else ""
    return f" pseudo {row['pseudo_kept']:.0%} kept{right}{align}"


def fit(data: Dataset, out: str | Path, config: RunConfig, opts: FitOptions | None = None) -> dict:
    """Train ``config`` on ``data``, writing the run into ``out``; returns the best epoch's metrics."""
    opts = opts or FitOptions()
    main = opts.rank == 0
    tc = config.train
    device = pick_device(opts.device)
    precision = choose_precision(tc.amp, device)
    height, width = data.image_size
    charset = data.charset
    train, val = training_splits(data, tc, opts.overfit)
    per_worker = worker_batch_size(tc.batch_size, opts.world_size)

    channels = config.model.in_channels
    if channels == 3 and data.channels == 1:
        raise UserError(
            f"model.in_channels 3: {data.root} is greyscale; make it with --color (crnn data synth/import) "
            "or train with model.in_channels=1"
        )
    torch.manual_seed(tc.seed + opts.rank)
    model = build_model(config.model, charset.num_classes, height, width, data.length_range[1]).to(device)
    if tc.channels_last:
        model = model.to(memory_format=torch.channels_last)
    sample = statistics_sample(data, train, tc) if config.model.normalize or opts.init_from is not None else None
    if config.model.normalize:
        model.set_input_stats(to_input(sample, channels))
    run = RunDir(out)
    resume_from, saved = opts.resume_from, None
    if resume_from is None and opts.resume and run.has_checkpoint():
        resume_from, saved = run.load_resumable(opts.log if main else lambda line: None)
    if opts.init_from is not None and resume_from is None:  # a resumed run has its own weights
        init = opts.init_from
        if "in_mean" not in init:  # a model from before input normalisation: it saw raw pixels, keep it that way
            init = {**init, "in_mean": torch.zeros(channels), "in_std": torch.ones(channels)}
        kept, fresh = transfer_weights(model, init, opts.init_charset, charset.chars)
        identity = init_identity_blocks(model, appended_blocks(model, init), to_input(sample[:512], channels).to(device))
        if main:
            opts.log(f"--init-from: {summarize(kept, fresh, identity)}")
    optimizer = _optimizer(model, tc)
    train_batches = train_batches_for(data, train, config, per_worker, opts.rank, opts.world_size)
    val_batches = val_shard(val, charset, max(per_worker, 256), channels, opts.rank, opts.world_size)
    steps_per_epoch = len(train_batches)
    semi = _semi_supervision(data, tc, per_worker, channels, opts, config.model.crop, train.labels) if tc.semi else None
    schedule = LRSchedule(optimizer, tc, steps_per_epoch)
    scaler = precision.scaler()

    state = TrainState()
    if resume_from is not None:
        if main and opts.resume_from is None:
            run.check_resumable(config)
        saved = saved or load_checkpoint(resume_from)
        if "train_state" not in saved or saved.get("inference_only"):
            raise UserError(
                f"{resume_from}: an inference-only checkpoint (crnn export --format pt, or an older crnn-tune's); "
                "it can be evaluated, exported and used with --init-from, not resumed"
            )
        model.load_state_dict(saved["train_model" if tc.ema_decay else "model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        scaler.load_state_dict(saved["scaler"])
        state = TrainState.from_dict(saved["train_state"])
        if semi is not None:
            semi.load_state_dict(saved)  # the round's pseudo-labels and the aligning shares, as they were
        state.resumed_after.append(state.epoch)
        if main:
            best = f"best val exact {state.best:.2%} at epoch {state.best_epoch}"
            opts.log(f"resuming {run.out} after epoch {state.epoch} ({best})")
    elif main and opts.resume:
        opts.log(f"nothing to resume in {run.out}; starting a new run")
    elif main and run.has_checkpoint():
        raise UserError(f"{run.out}: already holds a run; pass --resume to continue it or choose another --out")

    ema = WeightEMA(model, tc.ema_decay) if tc.ema_decay else None
    if ema is not None and resume_from is not None:
        ema.model.load_state_dict(saved["model"])  # the average; the trained weights are "train_model"
        ema.steps = saved["ema_steps"]
    scored = ema.model if ema is not None else model  # what is evaluated, selected and saved as "model"
    net = opts.wrap_model(model) if opts.wrap_model else model
    n_train = tc.synth_per_epoch or len(train)
    what_train = f"{n_train} fresh images per epoch" if tc.synth_per_epoch else f"{n_train} images"
    what_train += f" in epochs of {tc.epoch_images}" if tc.epoch_images else ""
    what_train += f", {tc.synth_focus_share:.0%} given one of {tc.synth_focus!r}" if tc.synth_focus else ""
    what_train += f" + {len(semi.pool)} unlabelled ({tc.semi})" if semi is not None else ""
    if main:
        run.write_config(run_record(
            config, data, n_train, len(val), overfit=opts.overfit, parameters=count_parameters(model),
            device=device.type, precision=precision.mode, world_size=opts.world_size,
        ))  # fmt: skip
        if state.epoch == 0:
            opts.log(
                f"training {count_parameters(model) / 1e6:.2f}M parameters on {what_train} "
                f"({steps_per_epoch} steps/epoch of {tc.batch_size} = {opts.world_size} worker(s) x {per_worker}), "
                f"device {device}, precision {precision.mode}"
            )
            margins = (0, 0, 0, 0) if any(config.model.crop) or tc.synth_per_epoch else quiet_margins(train.images)
            if any(margins):
                opts.log(
                    f"note: margins of {', '.join(map(str, margins))} px (top, bottom, left, right) lie outside where the "
                    f"training images draw their text; --set model.crop=[{','.join(map(str, margins))}] would read only the rest"
                )

    first = tc.epochs + 1 if state.early_stopped else state.epoch + 1  # it had stopped improving: nothing left
    last_epoch = tc.epochs if not opts.max_epochs else min(tc.epochs, state.epoch + opts.max_epochs)
    session_start, elapsed_before = time.perf_counter(), state.elapsed_s
    plotted_at = -math.inf  # curves.png costs ~0.6 s: redrawn at most every PLOT_EVERY_S, and at the end
    try:
        for epoch in range(first, last_epoch + 1):
            train_batches.set_epoch(epoch)
            torch.manual_seed(tc.seed * 1000 + epoch * 10 + opts.rank)  # dropout: same per epoch on resume
            aug_gen = torch.Generator().manual_seed(tc.seed * 7919 + epoch * 31 + opts.rank) if tc.augment else None
            bar = tqdm(
                total=steps_per_epoch * per_worker, desc=f"epoch {epoch}/{tc.epochs}", unit="img", leave=False,
                disable=None if (opts.progress and main) else True,
            )  # fmt: skip  # images of this rank: the rate is images/s, the ETA the epoch's

            def on_step(n: int, loss: float, bar: tqdm = bar) -> None:
                schedule.after_step()
                if ema is not None:
                    ema.update(model)
                bar.update(n)
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

            if semi is not None:
                semi.start_epoch(epoch)
                if semi.round_due(epoch):
                    kept = semi.relabel(scored, device, precision.autocast)
                    if main:
                        opts.log(f"pseudo-label round: {kept} of {len(semi.pool)} unlabelled images kept")
            stats = train_one_epoch(
                net, train_batches, optimizer, device, precision.autocast, scaler, tc.grad_clip,
                on_step=on_step, augment_gen=aug_gen, channels_last=tc.channels_last, augment_ops=tc.augment_ops,
                crop=config.model.crop,
                semi=semi if semi is not None and semi.active else None,  # pseudo's first round: labels only
                teacher=ema.model if ema is not None else None,
            )  # fmt: skip
            bar.close()
            if semi is not None:
                semi.end_epoch()
            if not stats.loss < DIVERGED_LOSS:  # before anything is saved or reported: the last good epoch stays the last
                raise UserError(f"training diverged at epoch {epoch} (loss {stats.loss}); lower train.lr or raise grad_clip")
            metrics = validate(
                scored, val_batches, val.labels, charset, device, precision.autocast, tc.beam_width, tc.channels_last,
                world_size=opts.world_size,
            )  # fmt: skip  # every rank scores its share and gets the whole split's metrics
            if not opts.overfit:  # an overfit check keeps its learning rate: memorising is the point
                schedule.after_epoch(metrics["loss"], off_blank_plateau=bool(state.plateau_exit) or left_plateau(metrics))
            state.elapsed_s = elapsed_before + time.perf_counter() - session_start
            row = {
                "epoch": epoch, "train_loss": stats.loss, "val_loss": metrics["loss"],
                **{k: metrics[k] for k in METRIC_KEYS},
                "lr": schedule.lr, "images_per_s": stats.images_per_s * opts.world_size,
                "epoch_s": stats.seconds, "elapsed_min": state.elapsed_s / 60,
            }  # fmt: skip
            if semi is not None:
                row |= semi.counts.row(semi.truth is not None)
                if semi.prior is not None:
                    row["pseudo_align"] = semi.alignment()
            improved = state.record(row, schedule.warmed_up)
            stop = _stop_reason(tc, state, opts)
            state.early_stopped = stop.startswith("early stop")
            if main:
                checkpoint = {
                    "model": scored.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                    "scaler": scaler.state_dict(), "train_state": state.to_dict(), "config": config.to_dict(),
                    "charset": charset.chars, "height": height, "width": width, "max_label_len": data.length_range[1],
                    "min_label_len": data.length_range[0], "metrics": row, "provenance": provenance(),
                    "precision": precision.mode,
                }  # fmt: skip
                if ema is not None:  # what a resume continues to train, and how far the average's decay has ramped
                    checkpoint |= {"train_model": model.state_dict(), "ema_steps": ema.steps}
                if semi is not None:
                    checkpoint |= semi.state_dict()
                plot = bool(stop) or epoch == last_epoch or time.perf_counter() - plotted_at >= PLOT_EVERY_S
                plotted_at = time.perf_counter() if plot else plotted_at
                run.save_epoch(checkpoint, improved, state.history, plot)
                if opts.tracker is not None:
                    opts.tracker.log_epoch(row)
                eta = (last_epoch - epoch) * (time.perf_counter() - session_start) / (epoch - first + 1)
                opts.log(
                    f"epoch {epoch}/{tc.epochs} loss {stats.loss:.4f} val_loss {metrics['loss']:.4f} "
                    f"exact {row['exact_acc']:.2%} char {row['char_acc']:.2%} nocase {row['exact_acc_nocase']:.2%} "
                    f"ed {row['edit_distance']:.3f}{_pseudo_text(row)} | {row['images_per_s']:.0f} img/s lr {row['lr']:.2e} "
                    f"{state.elapsed_s / 60:.1f} min, eta {eta / 60:.1f} min"
                )
            if opts.on_epoch_end is not None:
                opts.on_epoch_end(row, run.last_pt if main else None, improved)
            if stop:
                if main:
                    opts.log(stop)
                break
    finally:
        train_batches.close()
    if main and opts.tracker is not None:
        opts.tracker.finish(config.to_dict(), state.best_row or {})
    if main and not state.plateau_exit and state.epoch >= tc.epochs:
        advice = plateau_advice("more epochs", tc.augment, opts.init_from is not None)
        opts.log(
            f"warning: the model never left the CTC blank plateau (val char accuracy under 20% in all {state.epoch} "
            f"epochs): this run measures the recipe, not the scheme; try {advice}"
        )
    return state.best_row
