"""train.semi: pseudo-labels from the dataset's unlabelled images (crnn/training/semi.py)."""

import math
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from crnn.charset import Charset
from crnn.config import EvalConfig, SemiConfig, TrainConfig, apply_overrides, resolve_config
from crnn.data.store import load_dataset
from crnn.data.synth import SynthSpec, synthesize
from crnn.decode import char_confidences, greedy_decode
from crnn.training.fit import FitOptions, fit, read_metrics
from crnn.training.semi import SemiSupervision, SemiTask, alignment_shift, char_prior, confident, masked_ctc
from tests.conftest import wait_for

QUIET = {"progress": False, "log": lambda line: None}
EPOCHS = 100


@pytest.fixture(scope="module")
def semi_data(tmp_path_factory):
    """120 labelled 5-digit CAPTCHAs (108 train) and 96 unlabelled ones, with their truth kept apart."""
    out = tmp_path_factory.mktemp("semi") / "d"
    synthesize(out, SynthSpec(charset="0123456789", seed=3), 120, workers=1, progress=False, unlabeled=96)
    return out


@pytest.mark.parametrize(
    ("ids", "conf", "keep"),
    [
        ([[1, 2, 3]], [0.96], [True]),
        ([[1, 2, 3]], [0.94], [False]),  # not sure enough
        ([[1, 2]], [0.99], [False]),  # too short for a 3-4 character task
        ([[1, 2, 3, 4, 5]], [0.99], [False]),  # too long
        ([[1, 2, 3, 4], []], [0.95, 0.999], [True, False]),  # the threshold is inclusive; an empty answer never kept
    ],
)
def test_confident_keeps_sure_answers_of_an_allowed_length(ids, conf, keep):
    assert confident(ids, conf, (3, 4), 0.95) == keep


def test_the_char_gate_keeps_an_answer_only_when_every_character_is_sure():
    assert confident([[1, 2, 3]], [[0.99, 0.96, 0.95]], (3, 4), 0.95) == [True]  # a path of 0.90: the string gate drops it
    assert confident([[1, 2, 3]], [[0.99, 0.99, 0.94]], (3, 4), 0.95) == [False]  # one unsure character
    assert confident([[1, 2]], [[0.99, 0.99]], (3, 4), 0.95) == [False]  # still too short
    assert confident([[]], [[]], (0, 4), 0.95) == [False]  # nothing read, nothing sure


def test_char_confidences_are_each_emitted_characters_best_frame():
    # frames: a a - b - b c c  ->  "abbc"; blank = 0
    ids = [1, 1, 0, 2, 0, 2, 3, 3]
    probs = [0.6, 0.9, 0.99, 0.7, 0.99, 0.8, 0.5, 0.55]
    log_probs = torch.full((8, 1, 4), -30.0)
    for t, (i, p) in enumerate(zip(ids, probs, strict=True)):
        log_probs[t, 0, i] = math.log(p)
    (conf,) = char_confidences(log_probs)
    assert greedy_decode(log_probs)[0] == [[1, 2, 2, 3]]
    assert conf == pytest.approx([0.9, 0.7, 0.8, 0.55])  # one per character of the answer, blanks in none
    assert char_confidences(torch.log_softmax(torch.tensor([[[9.0, 0, 0]]]), -1)) == [[]]  # all blank: no characters


def test_the_char_gate_keeps_every_answer_the_string_gate_keeps_and_more():
    """A path's probability is at most any of its frames': what the string gate keeps, the char gate keeps."""
    gen = torch.Generator().manual_seed(0)
    log_probs = torch.log_softmax(15 * torch.randn(20, 512, 11, generator=gen), -1)  # (T, B, K), peaked
    ids, path = greedy_decode(log_probs)
    for threshold in (0.5, 0.9, 0.95):
        by_string = confident(ids, path, (1, 20), threshold)
        by_char = confident(ids, char_confidences(log_probs), (1, 20), threshold)
        assert all(c for s, c in zip(by_string, by_char, strict=True) if s)
        assert sum(by_char) > sum(by_string)  # 400 against 24 at 0.5; 4 against 0 at 0.95


def test_masked_ctc_counts_only_kept_rows_over_the_whole_batch():
    torch.manual_seed(0)
    lp = torch.randn(8, 3, 5).log_softmax(-1).requires_grad_()  # (T, B, K)
    ids = [[1, 2], [3], [4, 4]]
    none = masked_ctc(lp, ids, [False, False, False])
    assert none.item() == 0.0
    one = masked_ctc(lp, ids, [False, True, False])
    alone = torch.nn.functional.ctc_loss(lp[:, 1:2], torch.tensor([[3]]), torch.tensor([8]), torch.tensor([1]), reduction="sum")
    assert one.item() == pytest.approx(alone.item() / 3, rel=1e-5)  # over the batch of 3, per target character
    one.backward()
    assert lp.grad[:, 0].abs().sum() == 0 and lp.grad[:, 1].abs().sum() > 0


def test_the_labelled_mix_and_the_alignment_factors():
    zero_oh = Charset("0O")
    assert char_prior(["00O"], zero_oh).tolist() == pytest.approx([3 / 5, 2 / 5])  # add-one: 1+2 zeros, 1+1 O
    assert char_prior([], zero_oh).tolist() == pytest.approx([0.5, 0.5])  # no character is ever ruled out
    shift = alignment_shift(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 3.0]))  # the teacher reads O 3x as often
    assert shift.tolist() == pytest.approx([0.0, np.log(2.0), np.log(2 / 3)])  # the blank is never moved
    assert alignment_shift(torch.tensor([0.5, 0.5]), torch.tensor([0.0, 1.0])).exp().tolist() == pytest.approx(
        [1.0, 4.0, 0.5]
    )  # a character the teacher never reads is raised at most 4x, not without bound


def test_alignment_turns_a_teacher_biased_towards_o_back_to_zero():
    """Frames that read "O" at 0.55 and "0" at 0.4: the teacher's own answer is O, but it reads O three times as
    often as the labels hold it; aligned, the answer is 0, and only with alignment on."""
    frame = torch.tensor([[0.05, 0.40, 0.55]]).log()  # (1, K): blank, "0", "O"
    blank = torch.tensor([[0.98, 0.01, 0.01]]).log()
    lp = torch.stack([frame, blank, frame, blank, frame])  # (T=5, B=1, K=3): three characters
    pool = np.zeros((1, 8, 8), np.uint8)
    answers = {}
    for align in (False, True):
        tc = TrainConfig(eval=EvalConfig(ema_decay=0.9), semi=SemiConfig(method="fixmatch", threshold=0.01, align=align))
        semi = SemiSupervision(tc, SemiTask(pool, Charset("0O"), (3, 3), prior=char_prior(["0O"], Charset("0O"))), 4)
        semi.mass = torch.tensor([1.0, 3.0])
        ids, keep = semi._answers(lp)
        answers[align] = (Charset("0O").decode(ids[0]), keep[0], semi.alignment())
    assert answers[False] == ("OOO", True, None)
    assert answers[True][:2] == ("000", True) and answers[True][2] == pytest.approx(2.0)


def test_the_teachers_shares_count_answers_not_frames():
    """A wide "O" over four frames and a narrow "0" in one are one character each: per-frame probability
    would call the teacher four times as fond of O and push every O towards 0."""
    wide, narrow, blank = (torch.tensor([[p]]).log() for p in ([0.02, 0.02, 0.96], [0.02, 0.96, 0.02], [0.96, 0.02, 0.02]))
    lp = torch.cat([wide, wide, wide, wide, blank, narrow, blank])  # (T=7, B=1, K=3): "O0"
    tc = TrainConfig(eval=EvalConfig(ema_decay=0.9), semi=SemiConfig(method="fixmatch", align=True))
    semi = SemiSupervision(tc, SemiTask(np.zeros((1, 8, 8), np.uint8), Charset("0O"), (2, 2), prior=torch.tensor([0.5, 0.5])), 4)
    semi.start_epoch(1)
    semi._counts += semi._count(lp)
    semi.end_epoch()
    assert semi.mass.tolist() == pytest.approx([0.5, 0.5]) and semi.alignment() == pytest.approx(1.0)
    semi.start_epoch(2)
    semi._counts += semi._count(torch.cat([narrow, blank, narrow]))  # "00": shares averaged with the epoch before
    semi.end_epoch()
    assert semi.mass.tolist() == pytest.approx([(0.5 + 3 / 4) / 2, (0.5 + 1 / 4) / 2])


def test_semi_needs_an_unlabeled_split(digits_data, tmp_path, cli):
    code, _, err = cli(
        "train", "--data", digits_data, "--out", tmp_path / "r", "--preset", "tiny", "--set", "train.semi.method=pseudo"
    )
    assert code == 2 and "has no unlabeled split" in err and "--unlabeled" in err
    code, _, err = cli(
        "train", "--data", digits_data, "--out", tmp_path / "r", "--preset", "tiny", "--set", "train.semi.method=fixmatch"
    )
    assert code == 2 and "set train.eval.ema_decay" in err


def _config(semi: str, align: bool = False):
    return apply_overrides(resolve_config("tiny"), {
        "train.epochs": 4, "train.semi.method": semi, "train.semi.threshold": 1e-6, "train.semi.round_epochs": 1,
        "train.eval.ema_decay": 0.9, "train.semi.align": align,
    })  # fmt: skip


@pytest.mark.parametrize("semi", ["fixmatch", "pseudo"])
def test_a_semi_run_logs_its_pseudo_labels_and_resumes_exactly(semi_data, tmp_path, semi, monkeypatch):
    """Aligned, so the teacher's character mass has to travel in the checkpoint too: every answer a resumed run
    reads is aligned against the mass the uninterrupted run used at that step."""
    masses = []
    answers = SemiSupervision._answers

    def spy(self, log_probs):
        masses.append(None if self.mass is None else self.mass.clone())
        return answers(self, log_probs)

    monkeypatch.setattr(SemiSupervision, "_answers", spy)
    data = load_dataset(semi_data, mmap=True)
    cfg = _config(semi, align=True)
    fit(data, tmp_path / "whole", cfg, FitOptions(**QUIET))
    whole_masses, masses[:] = list(masses), []
    fit(data, tmp_path / "parts", cfg, FitOptions(max_epochs=2, **QUIET))
    masses.clear()
    fit(data, tmp_path / "parts", cfg, FitOptions(resume=True, **QUIET))
    assert masses and all(m is not None for m in masses)  # epochs 3-4 align against a mass from before them
    assert all(torch.equal(a, b) for a, b in zip(whole_masses[-len(masses) :], masses, strict=True))
    whole, parts = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "parts")
    assert [r["epoch"] for r in parts] == [1, 2, 3, 4]
    for a, b in zip(whole, parts, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert (a["pseudo_kept"], a["pseudo_right"]) == (b["pseudo_kept"], b["pseudo_right"])
        assert (a["pseudo_align"] or 0.0) == pytest.approx(b["pseudo_align"] or 0.0, rel=1e-5)
    assert all(0.0 <= r["pseudo_kept"] <= 1.0 and r["pseudo_right"] is not None for r in whole)
    assert all(r["pseudo_align"] >= 1.0 for r in whole[1:])
    assert "pseudo_kept" in (tmp_path / "whole/metrics.csv").read_text().splitlines()[0]


@pytest.mark.slow
def test_a_killed_semi_run_resumes_and_repeats_no_epoch(semi_data, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "crnn", "train", "--data", str(semi_data), "--out", str(out), "--preset", "tiny",
           "--set", "train.epochs=40", "--set", "train.semi.method=pseudo", "--set", "train.semi.round_epochs=1",
           "--set", "train.semi.threshold=0.000001"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(read_metrics(out)) >= 3, 120, "three epochs of the semi-supervised run")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = len(read_metrics(out))
    resumed = subprocess.run([*cmd[:-8], "--set", "train.epochs=6", *cmd[-6:], "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    epochs = [r["epoch"] for r in read_metrics(out)]
    assert epochs == list(range(1, max(done, 6) + 1)), epochs  # every epoch once: none repeated, none lost


@pytest.fixture(scope="module")
def few_labels(tmp_path_factory):
    """64 labelled 2-character CAPTCHAs of '0123' (100 val), and 400 unlabelled ones."""
    out = tmp_path_factory.mktemp("few") / "d"
    synthesize(out, SynthSpec(charset="0123", length=(2, 2), seed=5), 264, (64 / 264, 100 / 264, 100 / 264), workers=1,
               progress=False, unlabeled=400)  # fmt: skip
    return load_dataset(out, mmap=True)


@pytest.mark.slow
def test_pseudo_labels_teach_what_the_labels_alone_do_not(few_labels, tmp_path):
    """Seeded: the same tiny recipe on the same 64 labels, with and without the 400 unlabelled images."""
    cfg = apply_overrides(resolve_config("tiny"), {
        "train.epochs": EPOCHS, "train.batch_size": 16, "train.augment": True, "train.eval.ema_decay": 0.99,
        "train.semi.threshold": 0.5,
    })  # fmt: skip
    best = {}
    for semi in ("", "fixmatch"):
        fit(few_labels, tmp_path / (semi or "labels"), apply_overrides(cfg, {"train.semi.method": semi}), FitOptions(**QUIET))
        rows = read_metrics(tmp_path / (semi or "labels"))
        best[semi] = max(r["exact_acc"] for r in rows)
    assert best["fixmatch"] >= best[""] + 0.03, best
    assert max(r["pseudo_kept"] for r in rows) > 0.3 and min(r["pseudo_right"] for r in rows[-5:]) > 0.9
