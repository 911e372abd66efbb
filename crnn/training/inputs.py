"""What a run trains and validates on: the splits it uses and this rank's training batches."""

from __future__ import annotations

import numpy as np

from crnn.config import RunConfig, TrainConfig
from crnn.data.batches import Batches
from crnn.data.fresh import FreshBatches, FreshJob, check_focus, render_fresh, spec_from_manifest
from crnn.data.store import Dataset, Split
from crnn.errors import UserError


def training_splits(data: Dataset, tc: TrainConfig, overfit: int) -> tuple[Split, Split]:
    """The train and val splits a run uses: ``--overfit``, ``train.train_samples`` and ``eval_samples`` applied."""
    train, val = data.split("train"), data.split("val")
    if tc.synth_per_epoch:
        if overfit:
            raise UserError("--overfit memorises the stored train split; set train.synth_per_epoch=0 for it")
        train = Split(train.images[:0], [])  # fresh images replace it (train_batches_for refuses imported data)
        check_focus(tc.synth_focus, data.charset)  # before the statistics sample renders any focus label
    elif overfit:
        train = val = Split(train.images[:overfit], train.labels[:overfit])
    elif tc.train_samples:
        train = Split(train.images[: tc.train_samples], train.labels[: tc.train_samples])
    if tc.eval_samples and not overfit:
        val = Split(val.images[: tc.eval_samples], val.labels[: tc.eval_samples])
    if len(val) == 0 or (len(train) == 0 and not tc.synth_per_epoch):
        raise UserError(f"{data.root}: training needs non-empty train and val splits")
    return train, val


def train_batches_for(
    data: Dataset, train: Split, config: RunConfig, per_worker: int, rank: int, world_size: int
) -> Batches | FreshBatches:
    """This rank's training batches: fresh images, a stream through the split, or the split's epochs."""
    tc = config.train
    if tc.synth_per_epoch:
        spec, stored = spec_from_manifest(data.manifest, str(data.root))
        return FreshBatches(
            spec, tc.synth_per_epoch, data.charset, per_worker, offset=stored, rank=rank,
            world_size=world_size, workers=tc.synth_workers, channels=config.model.in_channels,
            focus=tc.synth_focus, focus_share=tc.synth_focus_share,
        )  # fmt: skip
    return Batches(
        train.images, train.labels, charset=data.charset, batch_size=per_worker, shuffle=True, seed=tc.seed,
        rank=rank, world_size=world_size, drop_last=(tc.epoch_images or len(train)) >= 2 * tc.batch_size,
        epoch_images=tc.epoch_images, channels=config.model.in_channels,
    )  # fmt: skip


def statistics_sample(data: Dataset, train: Split, tc: TrainConfig) -> np.ndarray:
    """Training images (uint8, (N, H, W) or (N, H, W, 3)) to measure the input statistics and an appended
    block's on: the stored split's first 2,048, or with fresh images the stream's first 512 (the start of
    epoch 1, the same on every rank; about a second of rendering), never the val split that selects."""
    if not tc.synth_per_epoch:
        return train.images[:2048]
    spec, stored = spec_from_manifest(data.manifest, str(data.root))
    images, _ = render_fresh(FreshJob(spec, stored, 0, 512, tc.synth_focus, tc.synth_focus_share))
    return images
