"""Semi-supervised training on the dataset's unlabelled images (``train.semi.method``).

Unlabelled images cost an attacker nothing, so the attacker that matters has a few hundred labels and
thousands of unlabelled images. Two methods, both adding a loss on pseudo-labelled images to every step:

- ``fixmatch`` (teacher/student, after Sohn et al. 2020 and GeeSolver's decoder): the teacher, the weight
  average (``train.eval.ema_decay``), reads the clean image; its greedy whole-string answer becomes the target
  when its confidence reaches ``train.semi.threshold`` and its length is within the task's range; the
  student learns it on a strongly augmented view (``semi_strong_ops``). The confidence is the best path's
  probability (``train.semi.gate=string``), or with ``gate=char`` each character's own (the highest frame
  probability of the frames that emit it), every one of which must reach the threshold: GeeSolver gates
  characters, and a five-character answer read at 0.95 a character is 0.77 as a path.
- ``pseudo`` (iterative pseudo-labelling, after Stark et al. 2015): every ``semi_round_epochs`` epochs the
  scored model labels the whole unlabelled pool once; the confident answers are trained on, with the
  usual augmentation, as if labelled, until the next round relabels them.

With ``semi_align`` (distribution alignment, after ReMixMatch, Berthelot et al. 2020) the teacher's
per-frame character probabilities are multiplied by (labelled share / share in the teacher's own answers)
and renormalised before they are decoded, so a teacher that reads too many ``O`` for ``0`` (or ``7`` for
``Z``) does not teach the student its bias ever more surely. The shares count the characters of the
teacher's plain greedy answers, not its per-frame probabilities, which favour wide characters that span
more frames. In ``fixmatch`` they are the previous epoch's answers on every unlabelled batch (summed over
workers, averaged with the epoch before, kept in the checkpoint); in ``pseudo`` the round's own pass over
the pool.

The unlabelled loss is the CTC loss per target character of each kept image, summed and divided by the
unlabelled batch (so few confident answers weigh little), times ``semi_weight`` ramped up linearly over
``semi_rampup`` epochs. Every draw is seeded by (seed, epoch, rank) and the pseudo-label table travels
in the checkpoint, so a resumed run repeats exactly what an uninterrupted one does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from crnn.charset import Charset
from crnn.config import TrainConfig
from crnn.data.augment import augment
from crnn.data.pixels import to_input
from crnn.decode import char_confidences, greedy_decode
from crnn.training.step import StepContext


def confident(ids: list[list[int]], conf: list, lengths: tuple[int, int], threshold: float) -> list[bool]:
    """Which answers become pseudo-labels: a length the task allows, and a confidence of at least ``threshold``:
    the answer's (a float) or every character's (a list of floats per answer)."""
    lo, hi = lengths

    def sure(c: float | list[float]) -> bool:
        return min(c, default=0.0) >= threshold if isinstance(c, list) else c >= threshold

    return [sure(c) and lo <= len(s) <= hi for s, c in zip(ids, conf, strict=True)]


ALIGN_LIMIT = 4.0  # distribution alignment moves a character's probability by at most this factor either way


def char_counts(ids: list[list[int]], classes: int) -> torch.Tensor:
    """(classes,) how often each character (ids 1..classes) occurs in the answers ``ids``."""
    flat = torch.tensor([i - 1 for s in ids for i in s], dtype=torch.long)
    return torch.bincount(flat, minlength=classes).double()


def shares(counts: torch.Tensor) -> torch.Tensor:
    """Each character's share of ``counts``, add-one smoothed (no character is ever ruled out)."""
    return ((counts + 1) / (counts + 1).sum()).float()


def char_prior(labels: list[str], charset: Charset) -> torch.Tensor:
    """(K-1,) each character's share of the labelled characters."""
    return shares(char_counts([charset.encode(label) for label in labels], charset.num_classes - 1))


def alignment_shift(prior: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """(K,) log-factors for distribution alignment: 0 for the blank, log(prior / mass) per character, limited."""
    ratio = (prior / (mass / mass.sum()).clamp_min(1e-12)).clamp(1 / ALIGN_LIMIT, ALIGN_LIMIT)
    return torch.cat([torch.zeros(1), ratio.log()])


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
            picked,
            targets.to(picked.device),
            torch.full((len(rows),), t, dtype=torch.long),
            lengths.to(picked.device),
            blank=0,
            reduction="none",
            zero_infinity=True,
        )
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


@dataclass
class SemiTask:
    """The unlabelled pool and what its answers must fit: the task's characters and lengths, the model's
    input channels and margins, and (synthetic data only) the pool's truth, which scores the pseudo-labels."""

    pool: np.ndarray  # (N, H, W[, 3]) uint8
    charset: Charset
    lengths: tuple[int, int]
    channels: int = 1
    truth: list[str] | None = None
    crop: tuple[int, ...] = (0, 0, 0, 0)
    prior: torch.Tensor | None = None  # (K-1,) the labelled characters' mix (train.semi.align)


class SemiSupervision:
    """The unlabelled half of each training step: a batch, its targets, the view the student learns on."""

    def __init__(self, tc: TrainConfig, task: SemiTask, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.tc = tc
        self.prior = task.prior if tc.semi.align else None  # (K-1,) the labelled characters' mix: what alignment aims at
        self.mass: torch.Tensor | None = None  # (K-1,) the teacher's character shares the answers are aligned against
        # (K-1,) this epoch's characters in the teacher's plain answers
        self._counts = torch.zeros(task.charset.num_classes - 1, dtype=torch.float64)
        self.crop = task.crop  # the model's margins: views transform only what it reads
        self.pool = task.pool  # (N, H, W[, 3]) uint8, memory-mapped: never copied whole
        self.charset = task.charset
        self.lengths = task.lengths
        self.batch_size = max(1, round(batch_size * tc.semi.ratio))
        self.channels = task.channels
        self.rank, self.world_size = rank, world_size
        self.truth = task.truth
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
        self.weight = self.tc.semi.weight * min(1.0, epoch / max(self.tc.semi.rampup, 1))
        self._counts = torch.zeros(self.charset.num_classes - 1, dtype=torch.float64)

    def end_epoch(self) -> None:
        """Fixmatch with alignment: the epoch's teacher answers, counted over every worker and averaged with
        the shares before them, align the next epoch's."""
        if self.prior is None or self.tc.semi.method != "fixmatch":
            return
        counts = self._counts.clone()
        if self.world_size > 1 and dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)  # every rank aligns alike, and the checkpoint's copy is every rank's
        now = shares(counts)
        self.mass = now if self.mass is None else (self.mass + now) / 2

    def state_dict(self) -> dict:
        """What a resumed run needs to go on exactly: the round's pseudo-labels and the aligning shares."""
        return {"semi_table": self.table, "semi_mass": None if self.mass is None else self.mass.tolist()}

    def load_state_dict(self, saved: dict) -> None:
        self.table = list(saved.get("semi_table") or [])
        self.mass = torch.tensor(saved["semi_mass"]) if saved.get("semi_mass") is not None else None

    def alignment(self) -> float | None:
        """The largest factor alignment applies to a character (>= 1), or None while it is off."""
        if self.prior is None or self.mass is None:
            return None
        return float(alignment_shift(self.prior, self.mass).abs().max().exp())

    def _read(self, model: nn.Module, x: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """The model's (T, B, K) log-probabilities of ``x``, in float."""
        model.eval()
        with ctx.autocast():
            return model(x).float()

    def _take(self) -> np.ndarray:
        idx = np.take(self._order, np.arange(self._at, self._at + self.batch_size), mode="wrap")
        self._at += self.batch_size
        return np.sort(idx)  # sorted: a memory-mapped gather reads forward

    @property
    def active(self) -> bool:
        """Whether a step has anything to learn from the pool: always for fixmatch; for pseudo, once a round labelled it."""
        return self.tc.semi.method == "fixmatch" or bool(self.table)

    def _answers(self, log_probs: torch.Tensor) -> tuple[list[list[int]], list[bool]]:
        """Greedy answers from (T, B, K) log-probabilities (aligned, where alignment is on and has a mass) and
        which of them are confident pseudo-labels."""
        if self.prior is not None and self.mass is not None:
            shift = alignment_shift(self.prior, self.mass).to(log_probs.device)
            log_probs = torch.log_softmax(log_probs + shift, dim=-1)
        ids, conf = greedy_decode(log_probs)  # (T, B, K) -> B id lists
        if self.tc.semi.gate == "char":
            conf = char_confidences(log_probs)
        return ids, confident(ids, conf, self.lengths, self.tc.semi.threshold)

    def _count(self, log_probs: torch.Tensor) -> torch.Tensor:
        """(K-1,) the characters of the plain greedy answers on (T, B, K) ``log_probs``."""
        return char_counts(greedy_decode(log_probs)[0], self.charset.num_classes - 1)

    def round_due(self, epoch: int) -> bool:
        """Pseudo mode: relabel the pool before this epoch (the first round trains on the labels alone)."""
        every = self.tc.semi.round_epochs
        return self.tc.semi.method == "pseudo" and epoch > every and (epoch - 1) % every == 0

    @torch.no_grad()
    def relabel(self, model: nn.Module, ctx: StepContext) -> int:
        """Pseudo mode: the model's confident answer for every pool image; returns how many were kept."""
        chunks = range(0, len(self.pool), 256)

        def read(start: int) -> torch.Tensor:
            x = to_input(np.asarray(self.pool[start : start + 256]), self.channels).to(ctx.device)  # (B, C, H, W)
            return self._read(model, x, ctx)  # (T, B, K)

        if self.prior is not None:  # a first pass for the round's character shares, which the answers align against
            self.mass = shares(sum(self._count(read(start)) for start in chunks))
        table: list[str] = []
        for start in chunks:
            ids, keep = self._answers(read(start))
            table += [self.charset.decode(s) if k else "" for s, k in zip(ids, keep, strict=True)]
        self.table = table
        return sum(bool(s) for s in table)

    def batch(self, teacher: nn.Module | None, ctx: StepContext) -> tuple[torch.Tensor, list[list[int]], list[bool]]:
        """The student's view (B_u, C, H, W), the targets and which of them are kept."""
        idx = self._take()
        clean = to_input(np.asarray(self.pool[idx]), self.channels).to(ctx.device)  # (B_u, C, H, W)
        if self.tc.semi.method == "fixmatch":
            assert teacher is not None, "fixmatch reads its targets from the weight average"
            with torch.no_grad():
                log_probs = self._read(teacher, clean, ctx)  # (T, B_u, K)
                if self.prior is not None:
                    self._counts += self._count(log_probs)
                ids, keep = self._answers(log_probs)
            view = augment(clean, self._gen, self.tc.semi.strong_ops, self.crop)
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
        return ctx.layout(view), ids, keep
