"""``train.semi.method``: FixMatch or rounds of pseudo-labels on the unlabelled split, added to every CTC step.

The method itself (teacher answers, confidence gate, alignment, the pool's order) is
``crnn.training.semi.SemiSupervision``; this objective puts its batch into the step's forward pass.
"""

from __future__ import annotations

import torch
from torch import nn

from crnn.data.batches import Batch
from crnn.data.store import load_unlabeled, load_unlabeled_truth
from crnn.errors import UserError
from crnn.training.objectives.base import Objective, ObjectiveSetup
from crnn.training.objectives.ctc import CTCObjective, ctc_loss
from crnn.training.semi import SemiSupervision, SemiTask, char_prior, masked_ctc
from crnn.training.step import StepContext


class SemiObjective(Objective):
    def __init__(self, semi: SemiSupervision, teacher: nn.Module | None) -> None:
        self.semi, self.teacher = semi, teacher
        self.name = semi.tc.semi.method

    def loss(self, net: nn.Module, images: torch.Tensor, batch: Batch, ctx: StepContext) -> torch.Tensor:
        if not self.semi.active:  # pseudo's first round: the labels alone
            return CTCObjective().loss(net, images, batch, ctx)
        n = images.shape[0]  # one forward over both halves, so batch norm sees them together (as FixMatch does)
        view, ids, keep = self.semi.batch(self.teacher, ctx)
        with ctx.autocast():
            log_probs = net(ctx.layout(torch.cat([images, view])))  # (T, B + B_u, K)
        return ctc_loss(log_probs[:, :n], batch) + self.semi.weight * masked_ctc(log_probs[:, n:], ids, keep)

    def start_epoch(self, epoch: int, scored: nn.Module, ctx: StepContext) -> list[str]:
        self.semi.start_epoch(epoch)
        if not self.semi.round_due(epoch):
            return []
        kept = self.semi.relabel(scored, ctx)
        return [f"pseudo-label round: {kept} of {len(self.semi.pool)} unlabelled images kept"]

    def end_epoch(self) -> dict:
        self.semi.end_epoch()
        row = self.semi.counts.row(self.semi.truth is not None)
        if self.semi.prior is not None:
            row["pseudo_align"] = self.semi.alignment()
        return row

    def describe(self) -> str:
        return f" + {len(self.semi.pool)} unlabelled ({self.name})"

    def state_dict(self) -> dict:
        return self.semi.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.semi.load_state_dict(state)


def build_semi(setup: ObjectiveSetup) -> SemiObjective:
    """The unlabelled pool (its first ``train.semi.unlabeled``), on synthetic data its truth, and with
    ``train.semi.align`` the training labels' character mix."""
    data, tc = setup.data, setup.config.train
    pool = load_unlabeled(data)
    if pool is None:
        raise UserError(
            f"train.semi.method={tc.semi.method}: {data.root} has no unlabeled split; add one with "
            "`crnn data import SRC --unlabeled DIR` or `crnn data synth --unlabeled N`"
        )
    truth = load_unlabeled_truth(data)
    if tc.semi.unlabeled:
        pool, truth = pool[: tc.semi.unlabeled], truth[: tc.semi.unlabeled] if truth is not None else None
    task = SemiTask(
        pool,
        data.charset,
        data.length_range,
        setup.config.model.in_channels,
        truth,
        setup.config.model.crop,
        char_prior(setup.train_labels, data.charset) if tc.semi.align else None,
    )
    return SemiObjective(SemiSupervision(tc, task, setup.per_worker, setup.rank, setup.world_size), setup.teacher)
