import json

import numpy as np
import pytest
from PIL import Image

from crnn.charset import NAMED_CHARSETS, parse_length, resolve_charset
from crnn.data.check import check_dataset
from crnn.data.store import load_dataset, load_unlabeled, load_unlabeled_truth, split_checksum, write_dataset
from crnn.data.synth import SynthSpec, make_labels, render
from crnn.errors import UserError
from tests.conftest import make_dataset


def test_same_seed_same_pixels_and_checksum(tmp_path):
    a = make_dataset(tmp_path / "a", count=40, seed=7)
    b = make_dataset(tmp_path / "b", count=40, seed=7)
    c = make_dataset(tmp_path / "c", count=40, seed=8)
    ma, mb, mc = (json.loads((p / "manifest.json").read_text()) for p in (a, b, c))
    assert ma["checksums"] == mb["checksums"]
    assert ma["checksums"]["train"] != mc["checksums"]["train"]
    assert np.array_equal(np.load(a / "train.npy"), np.load(b / "train.npy"))
    assert (a / "train.txt").read_text() == (b / "train.txt").read_text()


def test_rendering_does_not_depend_on_order_or_process():
    spec = SynthSpec(charset="abc", seed=3)
    first = render(spec, "abcab", 5)
    render(spec, "ccccc", 6)
    assert np.array_equal(first, render(spec, "abcab", 5))
    assert not np.array_equal(first, render(spec, "abcab", 4))  # another sample of the stream


def test_synth_defaults_are_the_reference_task(tmp_path, cli):
    code, out, _ = cli("data", "synth", "--out", tmp_path / "d", "--count", 20, "--processes", 1, "--split-sizes", "80/10/10")
    assert code == 0, out
    data = load_dataset(tmp_path / "d")
    assert data.image_size == (40, 150)
    assert data.charset.chars == NAMED_CHARSETS["alnum"] and len(data.charset.chars) == 62
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 16, "val": 2, "test": 2}
    assert all(len(s) == 5 for split in data.splits.values() for s in split.labels)
    assert data.split("train").images.dtype == np.uint8


def test_variable_lengths_and_named_charsets():
    labels = make_labels(SynthSpec(charset=resolve_charset("alnum-upper"), length=(4, 6)), 300)
    assert {len(s) for s in labels} == {4, 5, 6}
    assert set("".join(labels)) <= set(NAMED_CHARSETS["alnum-upper"])
    assert len(NAMED_CHARSETS["alnum-upper"]) == 36
    assert parse_length("4-6") == (4, 6) and parse_length("5") == (5, 5)
    with pytest.raises(UserError, match="--length"):
        parse_length("six")
    with pytest.raises(UserError, match="repeats"):
        resolve_charset("aab")


def test_data_check_prints_the_summary(digits_data, cli):
    code, out, _ = cli("data", "check", digits_data)
    assert code == 0
    assert "train 216, val 12, test 12" in out and "150x40" in out and "5: 240" in out
    code, out, _ = cli("data", "check", digits_data, "--json")
    summary = json.loads(out)
    assert summary["classes"] == 10 and summary["length_histogram"] == {"5": 240}


def test_data_check_catches_tampering(tmp_path, cli):
    d = make_dataset(tmp_path / "d", count=20)
    images = np.load(d / "val.npy")
    images[0, 0, 0] ^= 1
    np.save(d / "val.npy", images)
    code, _, err = cli("data", "check", d)
    assert code == 2 and "checksum" in err and "val.npy" in err


# --- import -----------------------------------------------------------------


def write_png(path, size=(150, 40), value=200):
    Image.new("L", size, value).save(path)


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, label in enumerate(["ab12c", "ab12c", "zz9aa", "q1w2e", "r4t5y", "u6i7o", "p8a9s", "d0f1g"]):
        write_png(src / (f"{label}_{i}.png" if i else f"{label}.png"), value=10 * i)
    return src


def test_import_folder_labels_from_stems(folder, tmp_path, cli):
    code, out, err = cli("data", "import", folder, "--out", tmp_path / "ds", "--split-sizes", "50/25/25")
    assert code == 0, err
    data = load_dataset(tmp_path / "ds")
    labels = sorted(label for s in data.splits.values() for label in s.labels)
    assert labels == sorted(["ab12c", "ab12c", "zz9aa", "q1w2e", "r4t5y", "u6i7o", "p8a9s", "d0f1g"])
    assert data.image_size == (40, 150)
    assert sum(len(s) for s in data.splits.values()) == 8


def test_import_csv_with_splits(tmp_path, cli):
    (tmp_path / "img").mkdir()
    rows = ["path,label,split"]
    for i, (label, split) in enumerate([("abc", "train"), ("bca", "train"), ("cab", "val"), ("aac", "test")]):
        write_png(tmp_path / "img" / f"{i}.png", size=(60, 20))
        rows.append(f"img/{i}.png,{label},{split}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli("data", "import", tmp_path / "labels.csv", "--out", tmp_path / "ds", "--charset", "abc", "--length", "3")
    assert code == 0, err
    data = load_dataset(tmp_path / "ds")
    assert data.split("val").labels == ["cab"] and data.split("test").labels == ["aac"]
    assert data.charset.chars == "abc" and data.image_size == (20, 60)


@pytest.mark.parametrize(
    ("setup", "flags", "message"),
    [
        ("corrupt", [], "corrupt.png: unreadable or corrupt image"),
        ("wrong_size", [], "size 100x30 differs from the dataset's 150x40 (pass --resize 150x40"),
        ("bad_char", ["--charset", "alnum"], "has '#', not in the charset"),
        ("bad_length", ["--length", "5"], "has 3 characters, the task allows 5"),
    ],
)
def test_import_refuses_bad_input_and_writes_nothing(folder, tmp_path, cli, setup, flags, message):
    if setup == "corrupt":
        (folder / "corrupt.png").write_bytes(b"\x89PNG not really")
    elif setup == "wrong_size":
        write_png(folder / "small.png", size=(100, 30))
    elif setup == "bad_char":
        write_png(folder / "ab#cd.png")
    elif setup == "bad_length":
        write_png(folder / "abc.png")
    out = tmp_path / "ds"
    code, _, err = cli("data", "import", folder, "--out", out, *flags)
    assert code == 2
    assert message in err and "--skip-invalid" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.partial")]  # no half-written leftovers
    code, out_text, err = cli("data", "import", folder, "--out", out, *flags, "--skip-invalid")
    assert code == 0, err
    report = json.loads((out / "import_report.json").read_text())
    assert len(report) == 1 and message.split(":")[0] in report[0]["path"] + ": " + report[0]["reason"]
    assert sum(len(s) for s in load_dataset(out).splits.values()) == 8


def test_import_resize(folder, tmp_path, cli):
    write_png(folder / "small.png", size=(100, 30))
    code, _, err = cli("data", "import", folder, "--out", tmp_path / "ds", "--resize", "150x40")
    assert code == 0, err
    assert sum(len(s) for s in load_dataset(tmp_path / "ds").splits.values()) == 9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file,text\na.png,abc\n", "missing column(s) path, label"),
        ("path,label\nmissing.png,abc\n", "missing.png: file not found"),
        ("path,label\n", "no rows"),
    ],
)
def test_import_csv_errors(tmp_path, cli, content, message):
    (tmp_path / "m.csv").write_text(content)
    code, _, err = cli("data", "import", tmp_path / "m.csv", "--out", tmp_path / "ds")
    assert code == 2 and message in err
    assert not (tmp_path / "ds").exists()


def test_import_empty_folder_and_missing_source(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("data", "import", tmp_path / "empty", "--out", tmp_path / "ds")
    assert code == 2 and "no images" in err
    code, _, err = cli("data", "import", tmp_path / "nope", "--out", tmp_path / "ds")
    assert code == 2 and "no such folder" in err


def test_not_a_dataset(tmp_path, cli):
    code, _, err = cli("data", "check", tmp_path)
    assert code == 2 and "not a dataset" in err


def test_existing_output_is_not_overwritten_silently(digits_data, tmp_path, cli):
    out = tmp_path / "d"
    assert cli("data", "synth", "--out", out, "--count", 5, "--processes", 1)[0] == 0
    code, _, err = cli("data", "synth", "--out", out, "--count", 5, "--processes", 1)
    assert code == 2 and "--overwrite" in err
    assert cli("data", "synth", "--out", out, "--count", 6, "--processes", 1, "--overwrite")[0] == 0


def test_overwrite_never_deletes_a_folder_that_is_not_a_dataset(tmp_path, cli):
    home = tmp_path / "home"  # what `--out ~ --overwrite` would have pointed at
    (home / "projects").mkdir(parents=True)
    (home / "notes.txt").write_text("keep me")
    code, _, err = cli("data", "synth", "--out", home, "--count", 5, "--processes", 1, "--overwrite")
    assert code == 2 and f"{home}: is not a dataset of crnn-tune" in err and "Traceback" not in err
    assert (home / "notes.txt").read_text() == "keep me" and (home / "projects").is_dir()
    src = tmp_path / "imgs"  # importing a folder onto itself would delete the source images
    src.mkdir()
    Image.new("L", (60, 20), 255).save(src / "12345.png")
    code, _, err = cli("data", "import", src, "--out", src, "--overwrite")
    assert code == 2 and "is not a dataset of crnn-tune" in err and (src / "12345.png").is_file()
    (tmp_path / "afile").write_text("x")
    code, _, err = cli("data", "synth", "--out", tmp_path / "afile", "--count", 5, "--processes", 1, "--overwrite")
    assert code == 2 and "is a file, not a folder" in err


def test_pixels_do_not_depend_on_the_number_of_rendering_processes(tmp_path):
    from crnn.data.synth import synthesize

    spec = SynthSpec(charset="0123456789abc", seed=11)
    one = synthesize(tmp_path / "one", spec, 24, workers=1, progress=False)
    two = synthesize(tmp_path / "two", spec, 24, workers=2, progress=False)
    assert one["checksums"] == two["checksums"]
    assert np.array_equal(np.load(tmp_path / "one/train.npy"), np.load(tmp_path / "two/train.npy"))


def test_checksum_in_blocks_is_the_whole_array_digest():
    """Hashing a block of rows at a time gives the digest of the whole C-order array (the one that
    manifests already store), for any block size and for a strided view."""
    import hashlib

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (37, 8, 12), dtype=np.uint8)
    labels = [f"{i:05d}" for i in range(37)]
    whole = hashlib.sha256(images.tobytes() + "\n".join(labels).encode()).hexdigest()
    for chunk in (1, 96, 96 * 5 + 7, 1 << 24):
        assert split_checksum(images, labels, chunk_bytes=chunk) == whole
    view = images[:, :, ::2]
    strided = hashlib.sha256(view.tobytes() + "\n".join(labels).encode()).hexdigest()
    assert split_checksum(view, labels, chunk_bytes=200) == strided


def test_data_check_never_holds_a_split_in_memory(tmp_path, cli):
    """`crnn data check` maps the arrays and hashes them in blocks: its peak allocation stays far
    below the 36 MB train split (reading it whole, then copying it to bytes, peaked at twice that)."""
    import tracemalloc

    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (3000, 64, 192), dtype=np.uint8)
    labels = ["".join(rng.choice(list("0123456789"), 4)) for _ in range(3000)]
    root = tmp_path / "big"
    root.mkdir()
    write_dataset(root, {"train": (train, labels), "val": (train[:10], labels[:10])}, "0123456789", (4, 4), {"test": True})
    del train
    tracemalloc.start()
    try:
        summary = check_dataset(root)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary["splits"] == {"train": 3000, "val": 10}
    assert peak < 3000 * 64 * 192 / 2, f"peak {peak / 1e6:.1f} MB"
    code, out, _ = cli("data", "check", str(root))
    assert code == 0 and "ok: checksums" in out
    # the streamed checksum still catches a changed pixel
    arr = np.load(root / "train.npy", mmap_mode="r+")
    arr[2999, 63, 191] ^= 1
    arr.flush()
    del arr
    code, _, err = cli("data", "check", str(root))
    assert code == 2 and "train.npy" in err and "checksum" in err


# --- unlabelled images ---------------------------------------------------------


def test_import_unlabeled_folder_becomes_the_unlabeled_split(folder, tmp_path, cli):
    unl = tmp_path / "unl"
    unl.mkdir()
    for i, name in enumerate(["x.png", "any name.png", "007.jpg"]):
        Image.new("RGB", (150, 40), (10 * i, 0, 0)).save(unl / name)
    code, out, err = cli("data", "import", folder, "--out", tmp_path / "ds", "--unlabeled", unl)
    assert code == 0, err
    assert "unlabeled 3" in out
    data = load_dataset(tmp_path / "ds")
    images = load_unlabeled(data)
    assert images.shape == (3, 40, 150) and images.dtype == np.uint8  # greyscale, as the labelled ones
    assert data.manifest["splits"]["unlabeled"] == 3 and load_unlabeled_truth(data) is None
    assert sum(len(s) for s in data.splits.values()) == 8  # the labelled splits are untouched
    code, out, _ = cli("data", "check", tmp_path / "ds")
    assert code == 0 and "unlabeled 3" in out


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("wrong_size", "size 100x30, the labelled images are 150x40"),
        ("empty", "--unlabeled {unl}: no images"),
        ("corrupt", "bad.png: unreadable or corrupt image"),
        ("missing", "--unlabeled {unl}: no such folder"),
    ],
)
def test_import_refuses_bad_unlabeled_images_and_writes_nothing(folder, tmp_path, cli, setup, message):
    unl = tmp_path / "unl"
    if setup != "missing":
        unl.mkdir()
        write_png(unl / "ok.png")
    if setup == "wrong_size":
        write_png(unl / "small.png", size=(100, 30))
    elif setup == "empty":
        (unl / "ok.png").unlink()
    elif setup == "corrupt":
        (unl / "bad.png").write_bytes(b"\x89PNG not really")
    code, _, err = cli("data", "import", folder, "--out", tmp_path / "ds", "--unlabeled", unl)
    assert code == 2 and message.format(unl=unl) in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "ds").exists()


def test_synth_unlabeled_are_the_streams_next_images_without_labels(tmp_path, cli):
    code, _, err = cli("data", "synth", "--out", tmp_path / "d", "--count", 20, "--unlabeled", 6, "--charset", "digits",
                       "--workers", 1)  # fmt: skip
    assert code == 0, err
    data = load_dataset(tmp_path / "d")
    spec = SynthSpec(charset="0123456789", seed=0)
    truth = make_labels(spec, 26)[20:]
    assert load_unlabeled_truth(data) == truth
    assert np.array_equal(load_unlabeled(data)[0], render(spec, truth[0], 20))
    assert data.manifest["source"]["count"] == 26  # a fresh stream starts past them
    stored = load_dataset(make_dataset(tmp_path / "plain", count=20))
    assert stored.split("train").labels == data.split("train").labels  # the labelled part is unchanged


def test_an_unlabeled_image_that_is_scored_is_refused(folder, tmp_path, cli):
    unl = tmp_path / "unl"
    unl.mkdir()
    for p in folder.iterdir():  # every labelled image again: some of them land in val or test
        (unl / p.name).write_bytes(p.read_bytes())
    code, _, err = cli("data", "import", folder, "--out", tmp_path / "ds", "--split-sizes", "50/25/25", "--unlabeled", unl)
    assert code == 2 and "unlabelled images must not include scored ones" in err


def test_merge_keeps_every_inputs_unlabeled_images(tmp_path, cli):
    for seed in (1, 2):
        code, _, err = cli("data", "synth", "--out", tmp_path / f"d{seed}", "--count", 20, "--unlabeled", 4,
                           "--charset", "digits", "--workers", 1, "--seed", seed)  # fmt: skip
        assert code == 0, err
    code, out, err = cli("data", "merge", tmp_path / "d1", tmp_path / "d2", "--out", tmp_path / "m")
    assert code == 0 and "unlabeled 8" in out, err
    merged = load_dataset(tmp_path / "m")
    parts = [load_dataset(tmp_path / f"d{s}") for s in (1, 2)]
    assert np.array_equal(load_unlabeled(merged), np.concatenate([load_unlabeled(p) for p in parts]))
    assert load_unlabeled_truth(merged) == load_unlabeled_truth(parts[0]) + load_unlabeled_truth(parts[1])
    assert cli("data", "check", tmp_path / "m")[0] == 0


def test_constant_margins_are_found_with_a_pixel_kept_either_side():
    from crnn.data.margins import KEEP, quiet_margins

    rng = np.random.default_rng(0)
    images = np.zeros((50, 144, 256, 3), np.uint8)  # black margins, as multicolorcaptcha draws them
    images[:, 40:104, 3:250] = rng.integers(0, 256, (50, 64, 247, 3))  # the band where the scheme draws
    images[:, :40] += rng.integers(0, 8, (50, 40, 256, 3), dtype=np.uint8)  # JPEG-like noise stays a margin
    assert quiet_margins(images) == (40 - KEEP, 40 - KEEP, 0, 0)  # 3 + 6 columns are under 10% of 256: kept
    assert quiet_margins(images[:, :, :, 0]) == (40 - KEEP, 40 - KEEP, 0, 0)  # greyscale alike
    assert quiet_margins(images[:1]) == (0, 0, 0, 0)  # one image shows nothing about what varies
    assert quiet_margins(np.zeros((5, 40, 150), np.uint8)) == (0, 0, 0, 0)  # nothing varies: nothing to read
    images[:, 10:40, 20:60] = 255  # a logo every image draws the same tells nothing: still cut
    assert quiet_margins(images)[0] == 40 - KEEP
    images[::2, 10:40, 20:60] = 0  # drawn in half of them: read
    assert quiet_margins(images)[0] == 10 - KEEP


def test_margins_a_noise_curve_crosses_now_and_then_are_still_cut():
    """wheezy's way: text in rows 22-56 and columns 25-175 of 200x75 on a flat background, with a
    curve and specks that cross the edges in some images. Before, one stray pixel kept a margin."""
    from crnn.data.margins import quiet_margins

    rng = np.random.default_rng(1)
    images = np.full((300, 75, 200), 234, np.uint8)
    images[:, 22:57, 25:175] = np.where(rng.random((300, 35, 150)) < 0.3, 92, 234)  # the glyphs' ink
    for image in images[::3]:  # a third of them: a curve from the top edge to the bottom one
        col = rng.integers(0, 200)
        image[:, col : col + 2] = 92
    images[5, 0:3, 0:3] = 0  # and a speck in a corner
    top, bottom, left, right = quiet_margins(images)
    assert 22 - 6 <= top <= 22 and 18 - 6 <= bottom <= 18  # the band, padded by 10% of it
    assert 25 - 17 <= left <= 25 and 25 - 17 <= right <= 25
    noisy = (images - rng.integers(0, 40, images.shape)).clip(0, 255).astype(np.uint8)  # white noise everywhere
    assert quiet_margins(noisy) == (top, bottom, left, right)
    images[:, 2:22, 25:175] = np.where(rng.random((300, 20, 150)) < 0.3, 92, 234)  # text that reaches the top
    assert quiet_margins(images)[0] < 2


def test_faint_text_is_kept_even_where_only_a_speck_strays_past_the_tolerance():
    """Text 10 grey levels off its background never counts as varying; a speck at the edge does. The
    band is still the text's rows, not a crop that runs past itself."""
    from crnn.data.margins import quiet_margins

    rng = np.random.default_rng(2)
    images = np.full((100, 60, 160), 240, np.uint8)
    images[:, 20:40, 20:140] = np.where(rng.random((100, 20, 120)) < 0.4, 230, 240)  # faint glyphs
    images[3, 0:2, 0:2] = 0
    top, bottom, left, right = quiet_margins(images)
    assert 20 - 2 - 2 <= top <= 20 and 20 - 2 - 2 <= bottom <= 20  # the band, padded by 10% of its 20 rows
    assert 20 - 12 - 2 <= left <= 20 and 20 - 12 - 2 <= right <= 20


def test_data_check_names_the_margins_a_scheme_never_draws_in(tmp_path, cli):
    from PIL import Image

    from tests.other_scheme import write_scheme

    for path in write_scheme(tmp_path / "pngs", 12, seed=2).iterdir():  # 200x75, framed by 20 black rows
        framed = Image.new("RGB", (200, 115))
        framed.paste(Image.open(path), (0, 20))
        framed.save(path)
    assert cli("data", "import", tmp_path / "pngs", "--out", tmp_path / "d", "--split-sizes", "8/2/2")[0] == 0
    code, out, _ = cli("data", "check", tmp_path / "d")
    assert code == 0 and "margins     top 18, bottom 18, left 0, right 0 px lie outside the text band" in out
    assert "--set model.crop=[18,18,0,0]" in out
    assert json.loads(cli("data", "check", tmp_path / "d", "--json")[1])["margins"] == [18, 18, 0, 0]
    train = ("train", "--data", tmp_path / "d", "--preset", "tiny", "--set", "train.epochs=1", "--logger", "none")
    code, out, err = cli(*train, "--out", tmp_path / "plain")
    assert code == 0 and "--set model.crop=[18,18,0,0] would read only the rest" in out + err  # training says so too
    code, out, err = cli(*train, "--out", tmp_path / "cropped", "--set", "model.crop=[18,18,0,0]")
    assert code == 0 and "model.crop" not in out + err
    code, out, err = cli("eval", "--model", tmp_path / "cropped", "--data", tmp_path / "d", "--json")
    assert code == 0 and json.loads(out)["count"] == 2, err  # the checkpoint rebuilds its crop to read the images
