import json
import math
import os
import signal
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from crnn.config import EvalConfig, resolve_config
from crnn.data.store import load_dataset
from crnn.model import build_model
from crnn.training import amp
from crnn.training.amp import choose_precision
from crnn.training.checkpoint import load_checkpoint, load_model
from crnn.training.fit import FitOptions, fit, read_metrics
from tests.conftest import wait_for

QUIET = {"progress": False, "log": lambda line: None}


def test_overfit_tiny_model_memorises_16_samples(digits_data, tmp_path):
    """The reference's overfit test: 16 samples, learnt by heart."""
    cfg = resolve_config("tiny", None, ["train.epochs=150", "train.batch_size=16"])
    best = fit(load_dataset(digits_data), tmp_path / "run", cfg, FitOptions(overfit=16, **QUIET))
    assert best["exact_acc"] == 1.0


def test_seeded_tiny_run_pins_its_first_losses(digits_data, tmp_path):
    """A refactor that should not change the math must keep these numbers."""
    # the tiny preset as it was when these were pinned (batch 32, no normalisation): the math, not the preset
    cfg = resolve_config("tiny", None, ["train.epochs=2", "train.batch_size=32", "model.normalize=false"])
    data = load_dataset(digits_data)
    fit(data, tmp_path / "a", cfg, FitOptions(**QUIET))
    fit(data, tmp_path / "b", cfg, FitOptions(**QUIET))
    rows_a, rows_b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert [r["train_loss"] for r in rows_a] == [r["train_loss"] for r in rows_b]  # deterministic
    # tolerances cover thread counts and CPU kernels (1 vs 2 threads moves val loss by 0.2%)
    assert [r["train_loss"] for r in rows_a] == pytest.approx(PINNED_TRAIN_LOSS, rel=1e-3)
    assert [r["val_loss"] for r in rows_a] == pytest.approx(PINNED_VAL_LOSS, rel=1e-2)


PINNED_TRAIN_LOSS = [3.52204, 2.64765]
PINNED_VAL_LOSS = [3.6230, 2.8203]


def test_a_memory_mapped_split_trains_exactly_as_one_in_memory(digits_data, tmp_path):
    cfg = resolve_config("tiny", None, ["train.epochs=2"])
    fit(load_dataset(digits_data), tmp_path / "read", cfg, FitOptions(**QUIET))
    fit(load_dataset(digits_data, mmap=True), tmp_path / "mapped", cfg, FitOptions(**QUIET))
    losses = [[r["train_loss"] for r in read_metrics(tmp_path / run)] for run in ("read", "mapped")]
    assert losses[0] == losses[1]


def test_crnn_train_maps_the_stored_train_split_instead_of_reading_it(digits_data, tmp_path, cli, monkeypatch):
    """A 1 M-image pool is 6 GB: read whole, every trial and worker on a node held its own copy."""
    import numpy as np

    import crnn.training.launch as launch_module  # where crnn train's in-process path calls fit

    seen = []

    def spy(data, out, config, opts=None):
        seen.append(isinstance(data.split("train").images, np.memmap))
        return fit(data, out, config, opts)

    monkeypatch.setattr(launch_module, "fit", spy)
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "run", "--preset", "tiny", "--set", "train.epochs=1")
    assert code == 0, err
    assert seen == [True]


def test_resume_continues_exactly_where_it_stopped(digits_data, tmp_path):
    cfg = resolve_config("tiny", None, ["train.epochs=4"])
    data = load_dataset(digits_data)
    fit(data, tmp_path / "whole", cfg, FitOptions(**QUIET))
    fit(data, tmp_path / "parts", cfg, FitOptions(max_epochs=2, **QUIET))
    assert [r["epoch"] for r in read_metrics(tmp_path / "parts")] == [1, 2]
    fit(data, tmp_path / "parts", cfg, FitOptions(resume=True, **QUIET))
    whole, parts = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "parts")
    assert [r["epoch"] for r in parts] == [1, 2, 3, 4]
    for a, b in zip(whole, parts, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["exact_acc"] == b["exact_acc"]
    a = load_checkpoint(tmp_path / "whole/checkpoints/last.pt")["model"]
    b = load_checkpoint(tmp_path / "parts/checkpoints/last.pt")["model"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k


def test_weight_ema_averages_weights_and_buffers_with_a_ramped_decay():
    from crnn.training.ema import WeightEMA

    net = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1))
    ema = WeightEMA(net, decay=0.5)
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[1].running_mean.fill_(2.0)
        net[1].num_batches_tracked.fill_(7)
    start = ema.model[0].weight.clone()
    ema.update(net)  # step 0: decay min(0.5, 1/10) = 0.1 -> 0.1 * start + 0.9 * 1
    assert torch.allclose(ema.model[0].weight, 0.1 * start + 0.9)
    assert ema.model[1].running_mean.item() == pytest.approx(0.1 * 0 + 0.9 * 2)
    assert ema.model[1].num_batches_tracked.item() == 7
    for _ in range(50):
        ema.update(net)
    assert ema.current_decay() == 0.5 and torch.allclose(ema.model[0].weight, torch.ones(1, 2))
    assert not any(p.requires_grad for p in ema.model.parameters())
    with pytest.raises(ValueError, match=r"train\.eval\.ema_decay 1\.0: must be in \[0, 1\)"):
        EvalConfig(ema_decay=1.0)


def test_ema_run_scores_and_saves_the_average_and_resumes_exactly(digits_data, tmp_path):
    cfg = resolve_config("tiny", None, ["train.epochs=3", "train.eval.ema_decay=0.9"])
    data = load_dataset(digits_data)
    fit(data, tmp_path / "whole", cfg, FitOptions(**QUIET))
    fit(data, tmp_path / "parts", cfg, FitOptions(max_epochs=1, **QUIET))
    fit(data, tmp_path / "parts", cfg, FitOptions(resume=True, **QUIET))
    whole, parts = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "parts")
    for a, b in zip(whole, parts, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)  # the average resumed too, not restarted
    last = load_checkpoint(tmp_path / "whole/checkpoints/last.pt")
    assert last["ema"]["steps"] > 0
    assert not torch.equal(last["model"]["head.weight"], last["train_model"]["head.weight"])  # saved: the average
    # what crnn eval loads is the average: scoring it gives the val loss the run logged
    loaded = load_model(tmp_path / "whole")
    split = data.split("val")
    from crnn.data.batches import Batches
    from crnn.training.loop import evaluate
    from crnn.training.step import StepContext

    ctx = StepContext(data.charset, autocast=choose_precision(cfg.train.amp, torch.device("cpu")).autocast)  # as the run scored
    metrics, _ = evaluate(loaded.model, Batches(split.images, split.labels, data.charset, 256), split.labels, ctx)
    best = next(r for r in whole if r["epoch"] == loaded.state["metrics"]["epoch"])
    assert metrics["loss"] == pytest.approx(best["val_loss"], rel=1e-4)


def test_a_killed_run_resumes_from_its_last_checkpoint(digits_data, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "crnn", "train", "--data", str(digits_data), "--out", str(out), "--preset", "tiny",
           "--set", "train.epochs=40"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: len(read_metrics(out)) >= 2, 120, "two finished epochs in metrics.jsonl")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = load_checkpoint(out / "checkpoints/last.pt")["train_state"]["epoch"]
    assert 2 <= done < 40
    cmd[-1] = "train.epochs=" + str(done + 2)
    again = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"resuming {out} after epoch {done}" in again.stdout
    assert [r["epoch"] for r in read_metrics(out)] == list(range(1, done + 3))
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == done + 2


def test_refuses_to_overwrite_a_run_without_resume(digits_data, tmp_path, cli):
    args = ("train", "--data", digits_data, "--out", tmp_path / "r", "--preset", "tiny", "--set", "train.epochs=1")
    assert cli(*args)[0] == 0
    code, _, err = cli(*args)
    assert code == 2 and "--resume" in err


def test_precision_is_chosen_by_device(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(amp, "cpu_has_bf16_matmul", lambda: False)
    assert choose_precision("auto", cpu).mode == "off"  # bf16 emulated in software is slower than fp32
    monkeypatch.setattr(amp, "cpu_has_bf16_matmul", lambda: True)
    assert choose_precision("auto", cpu).mode == "bf16"  # AMX: about twice as fast
    assert choose_precision("off", cpu).mode == "off"
    with pytest.warns(UserWarning, match="fp16 needs a CUDA device"):
        assert choose_precision("fp16", cpu).mode == "off"
    bf16 = choose_precision("bf16", cpu)
    with bf16.autocast():
        y = torch.nn.Linear(4, 4)(torch.rand(2, 4))
    assert y.dtype == torch.bfloat16
    assert not bf16.scaler().is_enabled()


@pytest.mark.parametrize(
    ("flags", "amx", "expected"),
    [
        ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", False, "bf16"),  # AMD EPYC Zen 4: AVX512-BF16, no AMX
        ("fpu sse2 avx2 avx512f amx_bf16 amx_tile", False, "bf16"),  # Intel Sapphire Rapids
        ("fpu sse2 avx2 avx512f avx512_vnni", False, "off"),  # AVX-512 without bf16: emulated, slower
        ("fpu sse2 avx2", False, "off"),  # AMD EPYC Zen 3
        (None, True, "bf16"),  # no /proc/cpuinfo: torch's AMX probe decides
        (None, False, "off"),
    ],
)
def test_bf16_is_picked_from_the_cpu_flags(monkeypatch, tmp_path, flags, amx, expected):
    cpuinfo = tmp_path / "cpuinfo"
    if flags is not None:
        cpuinfo.write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: {flags}\n\n")
    monkeypatch.setattr(amp, "CPUINFO", cpuinfo)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert choose_precision("auto", torch.device("cpu")).mode == expected
    assert choose_precision("off", torch.device("cpu")).mode == "off"


def test_bf16_on_cpu_trains(digits_data, tmp_path):
    cfg = resolve_config("tiny", None, ["train.epochs=1", "train.amp=bf16"])
    best = fit(load_dataset(digits_data), tmp_path / "r", cfg, FitOptions(**QUIET))
    assert best["epoch"] == 1 and math.isfinite(best["val_loss"]) and math.isfinite(best["train_loss"])


@pytest.fixture(scope="module")
def one_char(tmp_path_factory):
    """1-character labels of '0'/'1': a model with blank bias -5 reads half of them from epoch 1 on."""
    from tests.conftest import make_dataset

    return load_dataset(make_dataset(tmp_path_factory.mktemp("data") / "01", count=200, charset="01", length=(1, 1)))


FROZEN = ["train.epochs=8", "train.optim.lr=1e-12", "train.early_stop_patience=2", "model.norm=group",  # no BN drift either
          "train.batch_size=32", "model.normalize=false"]  # fmt: skip


def test_early_stopping_counts_from_the_end_of_warmup_off_the_plateau(digits_data, one_char, tmp_path):
    lines: list[str] = []
    quiet = {"progress": False, "log": lines.append}
    fit(one_char, tmp_path / "a", resolve_config("tiny", None, [*FROZEN, "model.blank_bias=-5"]), FitOptions(**quiet))
    assert [r["epoch"] for r in read_metrics(tmp_path / "a")] == [1, 2, 3]  # off the plateau at 1, no better epoch after
    warm = resolve_config("tiny", None, [*FROZEN, "model.blank_bias=-5", "train.schedule.warmup_steps=15"])  # 5 steps/epoch
    fit(one_char, tmp_path / "b", warm, FitOptions(**quiet))
    assert [r["epoch"] for r in read_metrics(tmp_path / "b")] == [1, 2, 3, 4]  # counting starts after warmup (epoch 3)
    assert not any("blank plateau" in line for line in lines)
    fit(load_dataset(digits_data), tmp_path / "c", resolve_config("tiny", None, FROZEN), FitOptions(**quiet))
    assert len(read_metrics(tmp_path / "c")) == 8  # never off the plateau: no early stop, and it says so
    assert any("never left the CTC blank plateau" in line for line in lines)
    assert load_checkpoint(tmp_path / "c/checkpoints/last.pt")["train_state"]["plateau_exit"] == 0


def test_the_plateau_schedule_keeps_its_rate_while_on_the_blank_plateau(digits_data, one_char, tmp_path):
    """A frozen model's val loss never improves: off the blank plateau that halves the rate (patience 0);
    on it, the rate stays, or a small new dataset would reach ~0 before it could learn."""
    # 1e-7: still frozen for the val loss (ReduceLROnPlateau needs a relative gain of 1e-4), and large
    # enough for it to change the rate at all (it skips changes under 1e-8)
    frozen = [*FROZEN, "train.optim.lr=1e-7", "train.schedule.patience=0", "train.early_stop_patience=0", "train.epochs=4"]
    fit(load_dataset(digits_data), tmp_path / "on", resolve_config("tiny", None, frozen), FitOptions(**QUIET))
    assert [r["lr"] for r in read_metrics(tmp_path / "on")] == pytest.approx([1e-7] * 4)
    fit(one_char, tmp_path / "off", resolve_config("tiny", None, [*frozen, "model.blank_bias=-5"]), FitOptions(**QUIET))
    assert [r["lr"] for r in read_metrics(tmp_path / "off")] == pytest.approx([1e-7, 5e-8, 2.5e-8, 1.25e-8])


def test_one_cycle_anneals(digits_data, tmp_path):
    data = load_dataset(digits_data)
    cycle = resolve_config("tiny", None, ["train.epochs=2", "train.schedule.name=onecycle", "train.schedule.warmup_steps=3"])
    fit(data, tmp_path / "cycle", cycle, FitOptions(**QUIET))
    lrs = [r["lr"] for r in read_metrics(tmp_path / "cycle")]
    assert lrs[0] > lrs[1]  # one-cycle anneals towards zero by the last step


def test_augmentation_is_seeded_and_keeps_shape():
    from crnn.data.augment import augment

    x = torch.rand(4, 1, 40, 150)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, x) and a.min() >= -1e-6 and a.max() <= 1 + 1e-6


def test_augmentation_transforms_only_what_a_cropping_model_reads():
    from crnn.data.augment import augment

    x = torch.rand(4, 1, 144, 256)
    ops = ("rotate", "affine", "lines", "noise")
    a = augment(x, torch.Generator().manual_seed(1), ops, crop=(40, 40, 0, 6))
    band = augment(x[:, :, 40:104, :250], torch.Generator().manual_seed(1), ops)
    assert torch.equal(a[:, :, 40:104, :250], band)  # the band is transformed as an image of its own
    assert torch.equal(a[:, :, :40], x[:, :, :40]) and torch.equal(a[:, :, 104:], x[:, :, 104:])  # margins untouched
    assert torch.equal(a[:, :, :, 250:], x[:, :, :, 250:])


def test_resume_refuses_a_config_that_changes_the_math_and_allows_more_epochs(digits_data, tmp_path, cli):
    base = ("train", "--data", digits_data, "--out", tmp_path / "r", "--preset", "tiny")
    assert cli(*base, "--set", "train.epochs=1")[0] == 0
    for change, key in (("model.hidden=32", "model.hidden"), ("train.batch_size=32", "train.batch_size"),
                        ("train.schedule.name=onecycle", "train.schedule")):  # fmt: skip
        code, _, err = cli(*base, "--resume", "--set", "train.epochs=2", "--set", change)
        assert code == 2 and "holds a run of another configuration" in err and key in err, err
    assert [r["epoch"] for r in read_metrics(tmp_path / "r")] == [1]  # nothing ran
    code, out, err = cli(*base, "--resume", "--set", "train.epochs=2")
    assert code == 0, err
    assert "resuming" in out and [r["epoch"] for r in read_metrics(tmp_path / "r")] == [1, 2]


def test_a_diverging_run_stops_before_saving_the_bad_epoch(digits_data, tmp_path):
    from crnn.errors import UserError

    cfg = resolve_config(
        "tiny", None, ["train.epochs=3", "train.optim.name=sgd", "train.optim.lr=1e12", "train.optim.grad_clip=0"]
    )
    with pytest.raises(UserError, match="training diverged at epoch 1"):
        fit(load_dataset(digits_data), tmp_path / "r", cfg, FitOptions(**QUIET))
    assert not (tmp_path / "r/checkpoints/last.pt").exists() and read_metrics(tmp_path / "r") == []


def test_eval_all_splits_and_a_time_limit(digits_data, tmp_path, cli):
    run = tmp_path / "r"
    code, out, err = cli("train", "--data", digits_data, "--out", run, "--preset", "tiny", "--set", "train.epochs=5",
                         "--max-minutes", "0.0001")  # fmt: skip
    assert code == 0, err
    assert [r["epoch"] for r in read_metrics(run)] == [1] and "time limit" in out  # stopped after the first epoch
    code, out, err = cli("eval", "--model", run, "--data", digits_data, "--split", "all", "--json")
    assert code == 0, err
    assert json.loads(out)["count"] == 240  # 216 train + 12 val + 12 test


def test_augmentation_runs_inside_training(digits_data, tmp_path):
    data = load_dataset(digits_data)
    plain = resolve_config("tiny", None, ["train.epochs=1"])
    fit(data, tmp_path / "plain", plain, FitOptions(**QUIET))
    fit(data, tmp_path / "aug", resolve_config("tiny", None, ["train.epochs=1", "train.augment=true"]), FitOptions(**QUIET))
    fit(data, tmp_path / "aug2", resolve_config("tiny", None, ["train.epochs=1", "train.augment=true"]), FitOptions(**QUIET))
    losses = [read_metrics(tmp_path / n)[0]["train_loss"] for n in ("plain", "aug", "aug2")]
    assert losses[1] == losses[2]  # seeded: the same augmented views each run
    assert losses[0] != losses[1]  # and they are not the plain images
    assert all(math.isfinite(x) for x in losses)


def test_train_init_from_starts_from_a_trained_model(digits_data, tmp_path, cli):
    base = ("train", "--data", digits_data, "--preset", "tiny", "--set", "train.epochs=2")
    assert cli(*base, "--out", tmp_path / "src")[0] == 0
    code, out, err = cli(*base, "--out", tmp_path / "warm", "--init-from", tmp_path / "src")
    assert code == 0, err
    assert "--init-from: kept" in out and "re-initialised: nothing" in out
    scratch, warm = read_metrics(tmp_path / "src"), read_metrics(tmp_path / "warm")
    assert warm[0]["train_loss"] < scratch[0]["train_loss"]  # it started where the source model ended
    # the command one re-runs after an interruption (--resume) starts its first run from the model too
    code, out, err = cli(*base, "--out", tmp_path / "warm2", "--init-from", tmp_path / "src", "--resume")
    assert code == 0 and "--init-from: kept" in out, err + out
    assert read_metrics(tmp_path / "warm2")[0]["train_loss"] == warm[0]["train_loss"]
    code, _, err = cli(*base, "--out", tmp_path / "bad", "--init-from", tmp_path / "nothing")
    assert code == 2 and "nothing" in err and not (tmp_path / "bad").exists()


def test_init_from_a_shallower_model_starts_deeper_blocks_as_the_identity(digits_data, tmp_path, cli):
    """crnn train --init-from a shallower model: the appended blocks (same channels, 1x1 pool) start as the identity."""
    base = ("train", "--data", digits_data, "--preset", "tiny", "--set", "train.epochs=2")
    assert cli(*base, "--out", tmp_path / "src")[0] == 0
    deeper = ("--set", "model.channels=[16,32,48,48,48]", "--set", "model.pools=[2x2,2x2,2x2,1x1,1x1]")
    code, out, err = cli(*base, *deeper, "--out", tmp_path / "deep", "--init-from", tmp_path / "src")
    assert code == 0, err
    assert "appended conv block(s) 4, 5 start as the identity" in out
    assert load_model(tmp_path / "deep").config.model.channels == (16, 32, 48, 48, 48)


def test_identity_blocks_compute_the_source_function():
    from crnn.training.transfer import appended_blocks, init_identity_blocks, transfer_weights

    cfg = resolve_config("tiny").model
    torch.manual_seed(0)
    source = build_model(cfg, 11, 40, 150, 5).eval()
    x = torch.rand(16, 1, 40, 150)  # (B, 1, H, W)
    with torch.no_grad():
        source.train()(x)  # move batch norm's running statistics off their defaults
    source.eval()
    deep_cfg = replace(cfg, channels=(*cfg.channels, cfg.channels[-1], 8), pools=(*cfg.pools, "1x1", "1x1"))
    deep = build_model(deep_cfg, 11, 40, 150, 5)
    transfer_weights(deep, source.state_dict())
    blocks = appended_blocks(deep, source.state_dict())
    assert blocks == [3, 4]
    assert init_identity_blocks(deep, blocks, x) == [3]  # block 5 changes the width (48 -> 8): it cannot be the identity
    ident_cfg = replace(cfg, channels=(*cfg.channels, cfg.channels[-1]), pools=(*cfg.pools, "1x1"))
    ident = build_model(ident_cfg, 11, 40, 150, 5)
    transfer_weights(ident, source.state_dict())
    assert init_identity_blocks(ident, appended_blocks(ident, source.state_dict()), x) == [3]
    with torch.no_grad():
        assert torch.allclose(ident.eval()(x), source(x), atol=1e-4)
    # a source whose blocks are not a prefix of the model (another first block): nothing is appended
    other = {k: v for k, v in source.state_dict().items() if not k.startswith("cnn.0.")}
    assert appended_blocks(ident, other) == []


def test_a_greyscale_source_starts_a_colour_model_as_its_own_function_of_the_luma():
    from crnn.data.pixels import to_input
    from crnn.training.transfer import transfer_weights

    cfg = resolve_config("tiny").model
    torch.manual_seed(0)
    grey = build_model(cfg, 11, 40, 150, 5)
    rgb = torch.randint(0, 256, (4, 40, 150, 3), dtype=torch.uint8)  # (B, H, W, 3): colours a grey model reads as luma
    with torch.no_grad():
        grey.set_input_stats(to_input(rgb, 1))
        grey.train()(to_input(rgb, 1))  # batch norm's running statistics off their defaults
    grey.eval()
    colour = build_model(replace(cfg, in_channels=3), 11, 40, 150, 5)
    kept, fresh = transfer_weights(colour, grey.state_dict())
    assert "cnn.0.weight" in kept and "in_mean" in kept and fresh == []
    with torch.no_grad():
        assert torch.allclose(colour.eval()(to_input(rgb, 3)), grey(to_input(rgb, 1)), atol=1e-4)
    assert not torch.equal(colour.cnn[0].weight[:, 0], colour.cnn[0].weight[:, 1])  # R and G weighted apart, to learn from


def test_resume_continues_the_run_as_configured_after_a_preset_changed(digits_data, tmp_path, cli):
    run = tmp_path / "r"
    assert cli("train", "--data", digits_data, "--out", run, "--preset", "tiny", "--set", "train.epochs=1")[0] == 0
    saved = json.loads((run / "config.json").read_text())
    saved["train"]["augment_ops"] = ["affine"]  # what an older version's default wrote; the default has changed since
    (run / "config.json").write_text(json.dumps(saved))
    code, out, err = cli("train", "--data", digits_data, "--out", run, "--preset", "tiny", "--resume", "--set", "train.epochs=2")
    assert code == 0 and "resuming" in out, err
    after = json.loads((run / "config.json").read_text())
    assert after["train"]["augment_ops"] == ["affine"] and after["train"]["epochs"] == 2


def test_plateau_advice_leaves_out_what_the_run_already_used():
    from crnn.training.state import plateau_advice

    assert plateau_advice("more epochs", False, False).startswith("more epochs, train.augment=true, --init-from")
    used = plateau_advice("more epochs", True, True)
    assert "augment" not in used and "--init-from" not in used and used.endswith("or a more negative model.blank_bias")


def test_more_characters_read_at_zero_exact_accuracy_is_progress():
    """A hard scheme (transfer to wheezy at 1,000 labels) read 20% -> more characters with exact 0%
    for many epochs; counting only exact accuracy, early stopping ended it 6 epochs off the plateau."""
    from crnn.training.state import TrainState

    state = TrainState()
    rows = [{"epoch": e, "exact_acc": 0.0, "char_acc": c} for e, c in enumerate([0.21, 0.25, 0.3, 0.3], start=1)]
    assert [state.record(r, warmed_up=True) for r in rows] == [True, True, True, False]
    assert state.best_epoch == 3 and state.epochs_without_progress() == 1
    assert state.record({"epoch": 5, "exact_acc": 0.01, "char_acc": 0.1}, warmed_up=True)  # exact first
    old = {k: v for k, v in state.to_dict().items() if k != "best_char"}  # a checkpoint from before best_char
    assert TrainState.from_dict(old).best_char == -1.0


def test_init_from_another_charset_keeps_the_head_rows_of_shared_characters():
    from crnn.config import ModelConfig
    from crnn.training.transfer import transfer_weights

    cfg = ModelConfig(channels=(8, 8, 8), hidden=8, input_height=32)
    source = build_model(cfg, 1 + 4, 40, 150, 5)  # blank + "abcd"
    target = build_model(cfg, 1 + 3, 75, 200, 5)  # blank + "dxa": another size too, read at the same height
    before = target.state_dict()["head.weight"].clone()
    kept, fresh = transfer_weights(target, source.state_dict(), "abcd", "dxa")
    head, src = target.state_dict()["head.weight"], source.state_dict()["head.weight"]
    assert torch.equal(head[0], src[0]) and torch.equal(head[1], src[4]) and torch.equal(head[3], src[1])  # blank, d, a
    assert torch.equal(head[2], before[2])  # x: never read by the source, fresh
    assert "head.weight" in kept and "rnn.weight_ih_l0" in kept and not [k for k in fresh if "num_batches" not in k]


def test_sharded_validation_puts_each_ranks_answers_back_in_the_splits_order():
    from crnn.training.validate import interleave

    assert interleave([["a", "c", "e"], ["b", "d"]]) == ["a", "b", "c", "d", "e"]  # rank r read images r, r + 2, ...
    assert interleave([["x"], [], []]) == ["x"]  # more ranks than images


def test_a_callback_of_the_caller_sees_every_epoch_and_can_stop_the_run(digits_data, tmp_path):
    """FitOptions.callbacks: the Lightning-style hook a Python user adds; setting t.stop ends the run after the epoch."""
    from crnn.training.trainer import Callback

    class StopAtTwo(Callback):
        def __init__(self):
            self.seen = []

        def on_fit_start(self, t):
            self.seen.append("start")

        def on_epoch_end(self, t, row, improved):
            self.seen.append(row["epoch"])
            if row["epoch"] == 2:
                t.stop = "stopped by the caller's callback"

        def on_fit_end(self, t):
            self.seen.append("end")

    lines, stop = [], StopAtTwo()
    cfg = resolve_config("tiny", None, ["train.epochs=5"])
    fit(load_dataset(digits_data), tmp_path / "r", cfg, FitOptions(progress=False, log=lines.append, callbacks=[stop]))
    assert stop.seen == ["start", 1, 2, "end"]
    assert [r["epoch"] for r in read_metrics(tmp_path / "r")] == [1, 2]  # the stopping epoch is saved as usual
    assert "stopped by the caller's callback" in lines
