"""Fresh training images for every epoch, rendered while the model trains.

A dataset made by ``crnn data synth`` records its generator settings. With ``train.data.synth_per_epoch``
set, training draws that many new images per epoch from the same generator instead of reusing the
stored train split; val and test stay the stored, fixed splits.

Sample ``k`` of the fresh stream is a pure function of (dataset seed, k): its label comes from
``random.Random("fresh:SEED:k")`` and its pixels from the renderer's per-index seed, with ``k``
counted from past the stored samples so no stored image is ever drawn again. Epoch ``e`` takes
indices ``[(e - 1) * N, e * N)`` of the stream and rank ``r`` of ``W`` the ``r``-th contiguous
share. The same seed therefore gives the same images whatever the number of render processes,
and ``--resume`` after epoch ``e`` continues with exactly the images epoch ``e + 1`` would have had.

Rendering runs in ``workers`` spawned processes, a few batches ahead of the training step, so on
a GPU box generation overlaps the step; with ``workers=0`` it renders in the training process.
"""

from __future__ import annotations

import multiprocessing as mp
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from crnn.charset import Charset
from crnn.data.batches import Batch, Shard, encode_labels
from crnn.data.pixels import to_input
from crnn.data.synth import GENERATORS, SynthSpec, render
from crnn.errors import UserError


def fresh_label(spec: SynthSpec, index: int, focus: str = "", share: float = 0.0) -> str:
    """Label ``index`` of the fresh stream. With ``focus``, a ``share`` of the labels (drawn after the
    label, from the same seeded stream) get one position redrawn uniformly from ``focus``: the rest
    of such a label is still the task's own mix, so the images of the focus characters look as the
    task draws them, only more often. Without it the stream is what it always was."""
    rng = random.Random(f"fresh:{spec.seed}:{index}")
    lo, hi = spec.length
    label = "".join(rng.choices(spec.charset, k=rng.randint(lo, hi)))
    if focus and label and rng.random() < share:
        k = rng.randrange(len(label))
        label = label[:k] + rng.choice(focus) + label[k + 1 :]
    return label


@dataclass(frozen=True)
class FreshJob:
    """One batch of the fresh stream: samples ``[start, start + count)``, rendered past ``offset`` stored ones."""

    spec: SynthSpec
    offset: int
    start: int
    count: int
    focus: str = ""  # see ``fresh_label``
    share: float = 0.0


def render_fresh(job: FreshJob) -> tuple[np.ndarray, list[str]]:
    """The job's samples of the fresh stream: uint8 (n, H, W) and their labels."""
    labels = [fresh_label(job.spec, job.start + i, job.focus, job.share) for i in range(job.count)]
    images = np.stack([render(job.spec, label, job.offset + job.start + i) for i, label in enumerate(labels)])  # (n, H, W)
    return images, labels


def _synth_sources(source: dict, where: str) -> list[dict]:
    """The generator records behind a dataset: its own, or each merged input's (``crnn data merge``), in order."""
    if "merged" in source:
        return [s for part in source["merged"] for s in _synth_sources(part.get("source") or {}, part.get("path", where))]
    if source.get("generator") not in GENERATORS.values():
        raise UserError(
            f"train.data.synth_per_epoch: {where} was not made by `crnn data synth` "
            f"(source {source.get('generator', 'import')!r}); "
            "fresh images need the generator's settings, so set train.data.synth_per_epoch=0 for imported data"
        )
    return [source]


def spec_from_manifest(manifest: dict, where: str) -> tuple[SynthSpec, int]:
    """The generator settings a synthesized dataset was made with, and how many samples it stored.

    A merge of ``crnn data synth`` batches streams on from its first input's seed, past every sample
    stored under that seed; the other inputs were rendered from other seeds, so nothing stored is drawn
    again. Charset and lengths are the merged dataset's (the union and the widest range)."""
    sources = _synth_sources(manifest.get("source") or {}, where)
    seed = int(sources[0]["seed"])
    spec = SynthSpec(
        charset=manifest["charset"],
        length=tuple(manifest["length"]),
        width=int(manifest["width"]),
        height=int(manifest["height"]),
        seed=seed,
        colour=int(manifest.get("channels", 1)) == 3,
        generator=next(k for k, v in GENERATORS.items() if v == sources[0]["generator"]),
    )
    return spec, max(int(s["count"]) for s in sources if int(s["seed"]) == seed)


def check_focus(focus: str, charset: Charset) -> None:
    """Refuse a ``train.data.synth_focus`` character the dataset's charset lacks (a label it could never hold)."""
    outside = sorted(set(focus) - set(charset.chars))
    if outside:
        raise UserError(f"train.data.synth_focus {focus!r}: {outside[0]!r} is not in the dataset's charset {charset.chars!r}")


@dataclass(frozen=True)
class FreshStream:
    """The fresh images a run trains on: ``per_epoch`` an epoch, drawn from the generator's stream past the
    ``offset`` images the dataset stores, a ``focus_share`` of them given one of the ``focus`` characters."""

    per_epoch: int
    offset: int
    focus: str = ""
    focus_share: float = 0.5


class FreshBatches:
    """An iterable of ``Batch`` of never-seen images; the same interface as ``Batches`` for training."""

    def __init__(
        self,
        spec: SynthSpec,
        charset: Charset,
        batch_size: int,
        stream: FreshStream,
        shard: Shard | None = None,
        workers: int = 1,
        channels: int = 1,
    ) -> None:
        shard = shard or Shard()
        per_epoch, offset, world_size, rank = stream.per_epoch, stream.offset, shard.world_size, shard.rank
        focus, focus_share = stream.focus, stream.focus_share
        check_focus(focus, charset)
        if per_epoch < batch_size * world_size:
            raise UserError(
                f"train.data.synth_per_epoch {per_epoch}: needs at least one global batch ({batch_size * world_size}) per epoch"
            )
        self.spec, self.charset = spec, charset
        self.batch_size = batch_size
        self.share = per_epoch // world_size // batch_size * batch_size  # this rank's images per epoch, whole batches
        self.per_epoch, self.offset, self.rank = per_epoch, offset, rank
        self.workers = workers
        self.channels = channels
        self.focus, self.focus_share = focus, focus_share
        self.epoch = 1
        self._pool = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.share // self.batch_size

    def _jobs(self) -> list[FreshJob]:
        first = (self.epoch - 1) * self.per_epoch + self.rank * self.share
        return [
            FreshJob(self.spec, self.offset, first + s, self.batch_size, self.focus, self.focus_share)
            for s in range(0, self.share, self.batch_size)
        ]

    def _results(self) -> Iterator[tuple[np.ndarray, list[str]]]:
        jobs = self._jobs()
        if self.workers <= 0:
            yield from map(render_fresh, jobs)
            return
        if self._pool is None:
            self._pool = mp.get_context("spawn").Pool(self.workers)
        ahead: deque = deque()  # a bounded read-ahead: memory stays a few batches whatever the epoch size
        todo = iter(jobs)
        for job in todo:
            ahead.append(self._pool.apply_async(render_fresh, (job,)))
            if len(ahead) >= 2 * self.workers + 2:
                break
        while ahead:
            result = ahead.popleft().get()
            job = next(todo, None)
            if job is not None:
                ahead.append(self._pool.apply_async(render_fresh, (job,)))
            yield result

    def __iter__(self) -> Iterator[Batch]:
        for images, labels in self._results():
            targets, lengths = encode_labels(labels, self.charset)
            batch_images = to_input(images, self.channels)  # (B, C, H, W)
            yield Batch(batch_images, targets, lengths, torch.arange(len(labels)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
