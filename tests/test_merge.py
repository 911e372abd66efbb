import json

import numpy as np

from crnn.data.store import load_dataset, write_dataset
from crnn.data.synth import SynthSpec, synthesize
from tests.conftest import make_dataset


def test_merge_concatenates_each_split_and_its_checksums_verify(tmp_path, cli):
    a = make_dataset(tmp_path / "a", count=40, seed=1, charset="0123456789")
    b = tmp_path / "b"
    synthesize(b, SynthSpec(charset="ABC", length=(4, 4), seed=2), 30, fractions=(1.0, 0.0, 0.0), workers=1, progress=False)
    code, out, err = cli("data", "merge", a, b, "--out", tmp_path / "m")
    assert code == 0, err
    merged = load_dataset(tmp_path / "m", verify=True)  # checksums of the streamed write match the arrays
    da, db = load_dataset(a), load_dataset(b)
    assert merged.charset.chars == "0123456789ABC"
    assert merged.length_range == (4, 5)
    assert len(merged.split("train")) == len(da.split("train")) + 30
    assert np.array_equal(merged.split("train").images, np.concatenate([da.split("train").images, db.split("train").images]))
    assert merged.split("train").labels == da.split("train").labels + db.split("train").labels
    assert np.array_equal(merged.split("test").images, da.split("test").images)  # b has no test split
    assert "train" in out and str(tmp_path / "m") in out


def test_merge_refuses_a_test_image_in_train_and_writes_nothing(tmp_path, cli):
    a = make_dataset(tmp_path / "a", count=40, seed=1)
    test = load_dataset(a).split("test")
    (tmp_path / "leak").mkdir()  # a second batch whose training images include a's test images
    write_dataset(tmp_path / "leak", {"train": (test.images, test.labels)}, "0123456789", (5, 5), {"kind": "test"})
    code, _, err = cli("data", "merge", a, tmp_path / "leak", "--out", tmp_path / "m")
    assert code != 0
    assert f"{a}: image 0 of split 'test' is image 0 of split 'train' of {tmp_path / 'leak'}" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".m")] == []  # no staging folder left


def test_merge_refuses_another_image_size(tmp_path, cli):
    a = make_dataset(tmp_path / "a", count=20, seed=1)
    b = tmp_path / "b"
    synthesize(b, SynthSpec(charset="0123456789", width=100, height=32, seed=2), 20, workers=1, progress=False)
    code, _, err = cli("data", "merge", a, b, "--out", tmp_path / "m")
    assert code != 0 and str(b) in err and "--resize" in err
    code, _, err = cli("data", "merge", a, "--out", tmp_path / "m")
    assert code != 0 and "at least two" in err


def test_merge_names_a_missing_label_file(tmp_path, cli):
    a = make_dataset(tmp_path / "a", count=20, seed=1)
    b = make_dataset(tmp_path / "b", count=20, seed=2)
    (b / "val.txt").unlink()
    code, _, err = cli("data", "merge", a, b, "--out", tmp_path / "m")
    assert code != 0 and f"{b / 'val.txt'}: missing; the manifest lists split 'val'" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_merge_refuses_a_split_that_differs_from_its_manifest(tmp_path, cli):
    a = make_dataset(tmp_path / "a", count=20, seed=1)
    b = make_dataset(tmp_path / "b", count=20, seed=2)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["splits"]["train"] += 1  # one image and label short of what the manifest promises
    (b / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = cli("data", "merge", a, b, "--out", tmp_path / "m")
    assert code != 0 and f"{b}: split 'train' should hold" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()
