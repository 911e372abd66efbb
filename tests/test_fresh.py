"""Fresh synthetic training images every epoch, and the augmentation ops."""

import numpy as np
import pytest
import torch

from crnn.charset import Charset
from crnn.config import AUGMENT_OPS, resolve_config
from crnn.data.augment import augment
from crnn.data.batches import Sampling, Shard
from crnn.data.fresh import FreshBatches, FreshJob, FreshStream, render_fresh, spec_from_manifest
from crnn.data.store import load_dataset
from crnn.errors import UserError
from crnn.training.fit import FitOptions, fit, read_metrics
from crnn.training.inputs import training_splits
from tests.conftest import make_dataset
from tests.other_scheme import write_scheme

QUIET = {"progress": False, "log": lambda line: None}
FRESH = ["train.data.synth_per_epoch=64", "train.batch_size=16", "train.data.synth_workers=0"]


def _stream(data, per_epoch=64, batch=16, rank=0, world=1, workers=0):
    spec, stored = spec_from_manifest(data.manifest, "d")
    return FreshBatches(spec, data.charset, batch, FreshStream(per_epoch, stored), Shard(rank, world), workers=workers)


def test_fresh_batches_are_new_each_epoch_and_a_function_of_the_seed_only(digits_data):
    data = load_dataset(digits_data)
    one = _stream(data)
    epoch1 = [b.images for b in one]
    one.set_epoch(2)
    epoch2 = [b.images for b in one]
    assert len(epoch1) == len(one) == 4 and epoch1[0].shape == (16, 1, 40, 150)
    assert not torch.equal(epoch1[0], epoch2[0])  # another epoch, other images
    one.set_epoch(1)
    pooled = _stream(data, workers=2)  # rendered in two processes: the same pixels and labels
    try:
        assert all(
            torch.equal(a.images, b.images) and torch.equal(a.targets, b.targets) for a, b in zip(one, pooled, strict=True)
        )
    finally:
        pooled.close()
    stored = {bytes(img) for img in data.split("train").images}
    assert not any(bytes((img[0] * 255).round().byte().numpy()) in stored for b in epoch1 for img in b)


def test_fresh_ranks_take_disjoint_shares(digits_data):
    data = load_dataset(digits_data)
    a, b = _stream(data, rank=0, world=2, batch=8), _stream(data, rank=1, world=2, batch=8)
    whole = _stream(data, batch=8)
    assert len(a) == len(b) == 4
    labels = lambda s: [t.tolist() for batch in s for t in batch.targets]  # noqa: E731
    assert labels(a) + labels(b) == labels(whole)  # rank 0 the first half of the epoch, rank 1 the second


def test_fresh_labels_follow_the_dataset_spec():
    spec, _ = spec_from_manifest(
        {"charset": "AB", "length": [2, 4], "width": 64, "height": 32,
         "source": {"generator": "captcha.image.ImageCaptcha", "seed": 3, "count": 10}}, "d"
    )  # fmt: skip
    images, labels = render_fresh(FreshJob(spec, 10, 0, 40))
    assert images.shape == (40, 32, 64) and images.dtype == np.uint8
    assert all(set(s) <= {"A", "B"} and 2 <= len(s) <= 4 for s in labels) and len({len(s) for s in labels}) == 3


def test_fresh_training_is_seeded_and_resumes_exactly(digits_data, tmp_path):
    data = load_dataset(digits_data)
    cfg = resolve_config("tiny", None, ["train.epochs=3", *FRESH])
    fit(data, tmp_path / "a", cfg, FitOptions(**QUIET))
    fit(data, tmp_path / "b", cfg, FitOptions(max_epochs=1, **QUIET))
    fit(data, tmp_path / "b", cfg, FitOptions(resume=True, **QUIET))
    a, b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert [r["train_loss"] for r in a] == [r["train_loss"] for r in b]  # two runs, and a resumed one: the same losses
    plain = read_metrics(tmp_path / "a")[0]["train_loss"]
    fit(data, tmp_path / "c", resolve_config("tiny", None, ["train.epochs=1", "train.batch_size=16"]), FitOptions(**QUIET))
    assert read_metrics(tmp_path / "c")[0]["train_loss"] != plain  # it did not train on the stored split


def test_fresh_training_refuses_imported_data(tmp_path, cli):
    write_scheme(tmp_path / "pngs", 40, seed=1)
    assert cli("data", "import", tmp_path / "pngs", "--out", tmp_path / "d")[0] == 0
    code, _, err = cli("train", "--data", tmp_path / "d", "--out", tmp_path / "r", "--preset", "tiny",
                       "--set", "train.data.synth_per_epoch=64")  # fmt: skip
    assert code == 2 and "train.data.synth_per_epoch" in err and "was not made by `crnn data synth`" in err, err
    assert not (tmp_path / "r").exists()


def test_fresh_needs_one_global_batch(digits_data):
    with pytest.raises(UserError, match=r"train\.data\.synth_per_epoch 8: needs at least one global batch"):
        _stream(load_dataset(digits_data), per_epoch=8, batch=16)


@pytest.mark.parametrize("op", AUGMENT_OPS)
def test_each_augmentation_op_changes_the_image_and_keeps_it_in_range(op):
    x = torch.rand(6, 1, 40, 150) * 0.5 + 0.5
    x[:, :, 15:25, 40:110] = 0.0  # dark "text" on a light background
    a = augment(x, torch.Generator().manual_seed(1), (op,))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, augment(x, torch.Generator().manual_seed(1), (op,)))  # seeded
    assert not torch.equal(a, x) and a.min() >= 0 and a.max() <= 1
    if op not in ("contrast", "noise"):  # geometry and strokes keep the text where it was, near enough
        assert (a[:, :, 15:25, 45:105] < 0.5).float().mean() > 0.6


def test_all_ops_together_and_a_bad_op_is_refused(digits_data, tmp_path):
    cfg = resolve_config("tiny", None, ["train.epochs=1", "train.augment=true", f"train.augment_ops=[{','.join(AUGMENT_OPS)}]"])
    best = fit(load_dataset(digits_data), tmp_path / "r", cfg, FitOptions(**QUIET))
    assert np.isfinite(best["val_loss"])
    with pytest.raises(UserError, match=r"train\.augment_ops: 'blur' is not an op; accepted: affine, rotate"):
        resolve_config("tiny", None, ["train.augment_ops=[affine,blur]"])


def test_charset_of_fresh_stream_encodes(digits_data):
    data = load_dataset(digits_data)
    batch = next(iter(_stream(data)))
    assert batch.targets.shape == (16, 5) and int(batch.target_lengths.min()) == 5
    assert Charset(data.manifest["charset"]).num_classes == 11


def test_epochs_of_a_stream_cover_the_split_before_repeating():
    from crnn.data.batches import Batches

    images = np.zeros((10, 4, 4), dtype=np.uint8)
    labels = [str(i) for i in range(10)]
    b = Batches(images, labels, Charset("0123456789"), 2, Sampling(shuffle=True, seed=3, drop_last=True, epoch_images=4))
    seen = []
    for epoch in (1, 2, 3, 4, 5):
        b.set_epoch(epoch)
        assert len(b) == 2
        seen += [int(i) for batch in b for i in batch.index]
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))  # each pass a permutation
    assert seen[:10] != seen[10:20]  # reshuffled per pass
    b.set_epoch(2)
    assert [int(i) for batch in b for i in batch.index] == seen[4:8]  # an epoch is a function of its number: resume is exact


def test_a_merge_of_synth_batches_streams_fresh_images_and_a_merge_with_imports_is_refused(digits_data, tmp_path, cli):
    make_dataset(tmp_path / "b", count=40, seed=7)
    assert cli("data", "merge", digits_data, tmp_path / "b", "--out", tmp_path / "m")[0] == 0
    assert cli("data", "merge", tmp_path / "m", make_dataset(tmp_path / "c", count=40, seed=8), "--out", tmp_path / "mm")[0] == 0
    for merged in ("m", "mm"):  # a merge of merges too
        spec, stored = spec_from_manifest(load_dataset(tmp_path / merged).manifest, merged)
        assert (spec.seed, stored) == (0, 240)  # the first input's stream, past the 240 it stored
    code, out, err = cli("train", "--data", tmp_path / "mm", "--out", tmp_path / "r", "--preset", "tiny",
                         "--set", "train.epochs=1", *[a for s in FRESH for a in ("--set", s)])  # fmt: skip
    assert code == 0, err
    write_scheme(tmp_path / "pngs", 40, seed=1)
    assert cli("data", "import", tmp_path / "pngs", "--out", tmp_path / "i", "--resize", "150x40")[0] == 0
    assert cli("data", "merge", tmp_path / "b", tmp_path / "i", "--out", tmp_path / "mi")[0] == 0
    with pytest.raises(UserError, match=r"i was not made by `crnn data synth`"):
        spec_from_manifest(load_dataset(tmp_path / "mi").manifest, "mi")


def test_a_fresh_image_run_measures_its_input_statistics_on_training_images_not_val(digits_data, tmp_path):
    """With no stored train split, the normalisation comes from the start of the fresh stream, never the val split."""
    from crnn.data.pixels import to_input
    from crnn.training.checkpoint import load_model

    data = load_dataset(digits_data)
    cfg = resolve_config("tiny", None, [*FRESH, "train.epochs=1", "model.normalize=true"])
    fit(data, tmp_path / "r", cfg, FitOptions(**QUIET))
    mean = load_model(tmp_path / "r").model.in_mean
    spec, stored = spec_from_manifest(data.manifest, "d")
    fresh, _ = render_fresh(FreshJob(spec, stored, 0, 512))
    assert torch.allclose(mean, to_input(fresh).mean(dim=(0, 2, 3)))
    assert not torch.allclose(mean, to_input(data.split("val").images).mean(dim=(0, 2, 3)))


def test_synth_focus_oversamples_its_characters_and_leaves_the_default_stream_alone():
    from crnn.data.fresh import fresh_label
    from crnn.data.synth import SynthSpec

    spec = SynthSpec(charset="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", length=(4, 4), seed=5)
    plain = [fresh_label(spec, i) for i in range(3000)]
    assert plain == [fresh_label(spec, i, "", 0.7) for i in range(3000)]  # no focus: the stream it always was
    every = [fresh_label(spec, i, "0O", 1.0) for i in range(3000)]
    assert all(set(s) & {"0", "O"} for s in every) and all(len(s) == 4 for s in every)
    assert sum(a != b for a, b in zip(plain, every, strict=True)) > 2700  # a redrawn position, not a relabel
    assert all(sum(x != y for x, y in zip(a, b, strict=True)) <= 1 for a, b in zip(plain, every, strict=True))
    half = [fresh_label(spec, i, "0O", 0.5) for i in range(3000)]
    share = sum(set(s) & {"0", "O"} != set() for s in half) / 3000  # 0.5 + 0.5 * (1 - (34/36)^4) ~ 0.60
    assert 0.55 < share < 0.66 and half == [fresh_label(spec, i, "0O", 0.5) for i in range(3000)]


def test_synth_focus_trains_resumes_and_rejects_bad_values(digits_data, tmp_path):
    data = load_dataset(digits_data)
    cfg = resolve_config("tiny", None, ["train.epochs=2", *FRESH, "train.data.synth_focus=08", "train.data.synth_focus_share=1"])
    fit(data, tmp_path / "a", cfg, FitOptions(**QUIET))
    fit(data, tmp_path / "b", cfg, FitOptions(max_epochs=1, **QUIET))
    fit(data, tmp_path / "b", cfg, FitOptions(resume=True, **QUIET))
    assert [r["train_loss"] for r in read_metrics(tmp_path / "a")] == [r["train_loss"] for r in read_metrics(tmp_path / "b")]
    spec, stored = spec_from_manifest(data.manifest, "d")
    with pytest.raises(UserError, match=r"train.data.synth_focus '0Z': 'Z' is not in the dataset's charset"):
        FreshBatches(spec, data.charset, 16, FreshStream(64, stored, focus="0Z"), workers=0)
    outside = resolve_config("tiny", None, [*FRESH, "train.data.synth_focus=0Z"])
    with pytest.raises(UserError, match=r"train.data.synth_focus '0Z': 'Z' is not in the dataset's charset"):
        training_splits(data, outside, 0)  # fit refuses it before rendering its statistics sample
    for bad, field in (
        (["train.data.synth_focus=0O"], "train.data.synth_focus"),
        ([*FRESH, "train.data.synth_focus=00"], "train.data.synth_focus"),
        ([*FRESH, "train.data.synth_focus=0", "train.data.synth_focus_share=0"], "train.data.synth_focus_share"),
        ([*FRESH, "train.data.synth_focus=0", "train.data.synth_focus_share=1.5"], "train.data.synth_focus_share"),
    ):
        with pytest.raises((UserError, ValueError), match=field):
            resolve_config("tiny", None, bad)
