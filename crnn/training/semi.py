"""Semi-supervised training on the dataset's unlabelled images (``train.semi``).

Unlabelled images cost an attacker nothing, so the attacker that matters has a few hundred labels and
thousands of unlabelled images. Two methods, both adding a loss on pseudo-labelled images to every step:

- ``fixmatch`` (teacher/student, after Sohn et al. 2020 and GeeSolver's decoder): the teacher, the weight
  average (``train.ema_decay``), reads the clean image; its greedy whole-string answer becomes the target
  when its confidence (the best path's probability) reaches ``train.semi_threshold`` and its length is
  within the task's range; the student learns it on a strongly augmented view (``semi_strong_ops``).
- ``pseudo`` (iterative pseudo-labelling, after Stark et al. 2015): every ``semi_round_epochs`` epochs the
  scored model labels the whole unlabelled pool once; the confident answers are trained on, with the
  usual augmentation, as if labelled, until the next round relabels them.

The unlabelled loss is the CTC loss per target character of each kept image, summed and divided by the
unlabelled batch (so few confident answers weigh little), times ``semi_weight`` ramped up linearly over
``semi_rampup`` epochs. Every draw is seeded by (seed, epoch, rank) and the pseudo-label table travels
in the checkpoint, so a resumed run repeats exactly what an uninterrupted one does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crnn.charset import Charset
from crnn.config import TrainConfig
from crnn.data.augment import augment
from crnn.data.batches import to_input
from crnn.decode import greedy_decode


def confident(ids: list[list[int]], conf: list[float], lengths: tuple[int, int], threshold: float) -> list[bool]:
    """Which answers become pseudo-labels: confidence at least ``threshold`` and a length the task allows."""
    lo, hi = lengths
    return [c >= threshold and lo <= len(s) <= hi for s, c in zip(ids, conf, strict=True)]


def masked_ctc(log_probs: torch.Tensor, ids: list[list[int]], keep: list[bool]) -> torch.Tensor:
    """CTC loss per target character of the kept samples, summed, over the batch size. ``log_probs`` (T, B, K)."""
    rows = [i for i, k in enumerate(keep) if k]
    if not rows:
        return log_probs.sum() * 0.0  # keeps the graph (DDP expects every parameter to get a gradient)
    t = log_probs.shape[0]
    lengths = torch.tensor([len(ids[i]) for i in rows], dtype=torch.long)
    targets = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
    for j, i in enumerate(rows):
        targets[j, : len(ids[i])] = torch.tensor(ids[i])
    picked = log_probs[:, rows].float()  # (T, R, K)
    with torch.autocast(device_type=log_probs.device.type, enabled=False):
        per = F.ctc_loss(
            picked, targets.to(picked.device), torch.full((len(rows),), t, dtype=torch.long), lengths.to(picked.device),
            blank=0, reduction="none", zero_infinity=True,
        )  # fmt: skip
    return (per / lengths.to(per.device)).sum() / log_probs.shape[1]


@dataclass
class PseudoCounts:
    """One epoch's pseudo-labels: how many unlabelled images were read, kept, and (with the truth) right."""

    seen: int = 0
    kept: int = 0
    right: int = 0

    def row(self, truth_known: bool) -> dict:
        return {
            "pseudo_kept": self.kept / max(self.seen, 1),
            "pseudo_right": (self.right / self.kept if self.kept else 0.0) if truth_known else None,
        }


class SemiSupervision:
    """The unlabelled half of each training step: a batch, its targets, the view the student learns on."""

    def __init__(
        self,
        tc: TrainConfig,
        pool: np.ndarray,
        charset: Charset,
        lengths: tuple[int, int],
        batch_size: int,
        channels: int,
        rank: int = 0,
        world_size: int = 1,
        truth: list[str] | None = None,
        crop: tuple[int, ...] = (0, 0, 0, 0),
    ) -> None:
        self.tc = tc
        self.crop = crop  # the model's margins: views transform only what it reads
        self.pool = pool  # (N, H, W[, 3]) uint8, memory-mapped: never copied whole
        self.charset = charset
        self.lengths = lengths
        self.batch_size = max(1, round(batch_size * tc.semi_ratio))
        self.channels = channels
        self.rank, self.world_size = rank, world_size
        self.truth = truth
        self.table: list[str] = []  # pseudo mode: the round's answer for every pool image ("" = not kept)
        self.counts = PseudoCounts()
        self._order = np.arange(0)
        self._at = 0
        self._gen: torch.Generator | None = None
        self.weight = 0.0

    def start_epoch(self, epoch: int) -> None:
        """This rank's seeded share of a fresh permutation of the pool, the epoch's augmentation draws and weight."""
        order = np.random.default_rng([self.tc.seed, epoch, 7919]).permutation(len(self.pool))
        self._order, self._at = order[self.rank :: self.world_size], 0
        self._gen = torch.Generator().manual_seed(self.tc.seed * 104729 + epoch * 131 + self.rank)
        self.counts = PseudoCounts()
        self.weight = self.tc.semi_weight * min(1.0, epoch / max(self.tc.semi_rampup, 1))

    def _take(self) -> np.ndarray:
        idx = np.take(self._order, np.arange(self._at, self._at + self.batch_size), mode="wrap")
        self._at += self.batch_size
        return np.sort(idx)  # sorted: a memory-mapped gather reads forward

    @property
    def active(self) -> bool:
        """Whether a step has anything to learn from the pool: always for fixmatch; for pseudo, once a round labelled it."""
        return self.tc.semi == "fixmatch" or bool(self.table)

    def _answers(self, model: nn.Module, x: torch.Tensor, autocast) -> tuple[list[list[int]], list[bool]]:
        """The model's greedy answers on ``x`` (B, C, H, W) and which of them are confident pseudo-labels."""
        model.eval()
        with autocast():
            ids, conf = greedy_decode(model(x))  # (T, B, K) -> B id lists
        return ids, confident(ids, conf, self.lengths, self.tc.semi_threshold)

    def round_due(self, epoch: int) -> bool:
        """Pseudo mode: relabel the pool before this epoch (the first round trains on the labels alone)."""
        every = self.tc.semi_round_epochs
        return self.tc.semi == "pseudo" and epoch > every and (epoch - 1) % every == 0

    @torch.no_grad()
    def relabel(self, model: nn.Module, device: torch.device, autocast: Callable[[], contextlib.AbstractContextManager]) -> int:
        """Pseudo mode: the model's confident answer for every pool image; returns how many were kept."""
        table: list[str] = []
        for start in range(0, len(self.pool), 256):
            x = to_input(np.asarray(self.pool[start : start + 256]), self.channels).to(device)  # (B, C, H, W)
            ids, keep = self._answers(model, x, autocast)
            table += [self.charset.decode(s) if k else "" for s, k in zip(ids, keep, strict=True)]
        self.table = table
        return sum(bool(s) for s in table)

    def batch(
        self, teacher: nn.Module | None, device: torch.device, autocast, channels_last: bool
    ) -> tuple[torch.Tensor, list[list[int]], list[bool]]:
        """The student's view (B_u, C, H, W), the targets and which of them are kept."""
        idx = self._take()
        clean = to_input(np.asarray(self.pool[idx]), self.channels).to(device)  # (B_u, C, H, W)
        if self.tc.semi == "fixmatch":
            assert teacher is not None, "fixmatch reads its targets from the weight average"
            with torch.no_grad():
                ids, keep = self._answers(teacher, clean, autocast)
            view = augment(clean, self._gen, self.tc.semi_strong_ops, self.crop)
        else:
            answers = [self.table[i] if self.table else "" for i in idx]
            keep = [bool(a) for a in answers]
            ids = [self.charset.encode(a) if a else [] for a in answers]
            view = augment(clean, self._gen, self.tc.augment_ops, self.crop) if self.tc.augment else clean
        self.counts.seen += len(idx)
        self.counts.kept += sum(keep)
        if self.truth is not None:
            self.counts.right += sum(
                k and self.charset.decode(s) == self.truth[i] for s, k, i in zip(ids, keep, idx, strict=True)
            )
        if channels_last:
            view = view.contiguous(memory_format=torch.channels_last)
        return view, ids, keep
