"""Bad inputs from files a user was given: each gets one line naming the file or field and what is
accepted, with exit 2; never a traceback. Ends with a bounded, seeded fuzz of the importer, of
``crnn predict`` and ``crnn eval`` on ONNX models, and of dataset manifests."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_dataset

MUTATIONS = 200


def one_line_or_ok(code: int, err: str) -> bool:
    lines = [line for line in err.strip().splitlines() if not line.startswith(("skipped ", "warning:"))]
    return code == 0 or (code == 2 and len(lines) == 1 and "Traceback" not in err)


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (no pixel data to speak of)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def onnx_model(digits_data, tmp_path_factory) -> Path:
    from crnn_cli.main import main

    out = tmp_path_factory.mktemp("onnx")
    assert (
        main(["train", "--data", str(digits_data), "--out", str(out / "run"), "--preset", "tiny", "--set", "train.epochs=1"]) == 0
    )
    assert main(["export", "--model", str(out / "run"), "--format", "onnx", "--out", str(out / "model.onnx")]) == 0
    return out / "model.onnx"


def _png(tmp_path: Path, name: str, size=(150, 40)) -> Path:
    path = tmp_path / name
    Image.new("L", size, 200).save(path)
    return path


def test_a_decompression_bomb_is_one_line_in_import_and_predict_and_skipped_when_asked(tmp_path, onnx_model, cli):
    src = tmp_path / "imgs"
    src.mkdir()
    for label in ("12345", "23456", "34567"):
        _png(src, f"{label}.png")
    (src / "99999.png").write_bytes(bomb_png())
    assert len((src / "99999.png").read_bytes()) < 200
    code, _, err = cli("data", "import", src, "--out", tmp_path / "d")
    assert code == 2 and "99999.png" in err and "decompression bomb" in err and one_line_or_ok(code, err)
    code, _, err = cli("data", "import", src, "--out", tmp_path / "d", "--skip-invalid")
    assert code == 0, err
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["source"]["skipped"] == 1
    code, _, err = cli("predict", "--model", onnx_model, src / "99999.png")
    assert code == 2 and "decompression bomb" in err and one_line_or_ok(code, err)
    code, out, err = cli("predict", "--model", onnx_model, src, "--skip-invalid")
    assert code == 0 and len(out.strip().splitlines()) == 4 and "1 of 4 images skipped" in err


def test_an_absurd_resize_is_refused_before_any_memory_is_taken(tmp_path, cli):
    src = tmp_path / "imgs"
    src.mkdir()
    _png(src, "12345.png")
    code, _, err = cli("data", "import", src, "--out", tmp_path / "d", "--resize", "40000x40000")
    assert code == 2 and "--resize 40000x40000" in err and one_line_or_ok(code, err)


def _with_metadata(src: Path, dest: Path, **changes: str) -> Path:
    import onnx

    model = onnx.load(str(src))
    for prop in model.metadata_props:
        key = prop.key.removeprefix("crnn.")
        if key in changes:
            prop.value = changes[key]
    onnx.save(model, str(dest))
    return dest


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"height": "abc"}, "crnn.height"), ({"channels": "7"}, "crnn.channels"),
     ({"height": "40000", "width": "40000"}, "crnn.height"), ({"charset": "aa"}, "crnn.charset"),
     ({"charset": "0123"}, "metadata says")],
)  # fmt: skip
def test_onnx_metadata_is_checked_as_strictly_as_a_checkpoint(onnx_model, digits_data, tmp_path, cli, changes, named):
    bad = _with_metadata(onnx_model, tmp_path / "bad.onnx", **changes)
    img = _png(tmp_path, "12345.png")
    for args in (("predict", "--model", bad, img, "--resize"), ("eval", "--model", bad, "--data", digits_data)):
        code, _, err = cli(*args)
        assert code == 2 and named in err and one_line_or_ok(code, err), (args, err)


def test_eval_scores_an_onnx_model_as_it_scores_its_checkpoint(onnx_model, digits_data, cli):
    code, out, err = cli("eval", "--model", onnx_model, "--data", digits_data, "--json", "--split", "all")
    assert code == 0, err
    onnx_report = json.loads(out)
    code, out, _ = cli("eval", "--model", onnx_model.parent / "run", "--data", digits_data, "--json", "--split", "all")
    torch_report = json.loads(out)
    for key in ("count", "exact_acc", "char_acc", "edit_distance", "cer", "wrong"):
        assert onnx_report[key] == pytest.approx(torch_report[key]), key
    assert onnx_report["provenance"]["versions"]["crnn-tune"]


def _copy_dataset(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest)
    return dest


def test_a_label_outside_the_charset_is_one_line_naming_the_file_and_line(digits_data, tmp_path, cli):
    data = _copy_dataset(digits_data, tmp_path / "d")
    labels = (data / "train.txt").read_text().splitlines()
    labels[3] = "12X45"
    (data / "train.txt").write_text("\n".join(labels) + "\n")
    code, _, err = cli("train", "--data", data, "--out", tmp_path / "run", "--preset", "tiny")
    assert code == 2 and "train.txt:4" in err and "'X'" in err and one_line_or_ok(code, err)


@pytest.mark.parametrize(
    ("field", "value"), [("splits", {"train": "lots"}), ("height", "40"), ("length", [5]), ("channels", 7), ("charset", "")]
)
def test_a_malformed_manifest_field_is_named_in_data_check(digits_data, tmp_path, cli, field, value):
    data = _copy_dataset(digits_data, tmp_path / "d")
    manifest = json.loads((data / "manifest.json").read_text())
    manifest[field] = value
    (data / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = cli("data", "check", data)
    assert code == 2 and f"field {field!r}" in err and one_line_or_ok(code, err)


def test_rows_removed_with_the_count_edited_are_refused_by_train_and_eval(digits_data, onnx_model, tmp_path, cli):
    data = _copy_dataset(digits_data, tmp_path / "d")
    manifest = json.loads((data / "manifest.json").read_text())
    for split in ("train", "test"):
        images = np.load(data / f"{split}.npy")
        labels = (data / f"{split}.txt").read_text().splitlines()
        np.save(data / f"{split}.npy", images[:-2])
        (data / f"{split}.txt").write_text("\n".join(labels[:-2]) + "\n")
        manifest["splits"][split] -= 2
    (data / "manifest.json").write_text(json.dumps(manifest))
    for args in (
        ("train", "--data", data, "--out", tmp_path / "run", "--preset", "tiny"),
        ("eval", "--model", onnx_model.parent / "run", "--data", data),
        ("eval", "--model", onnx_model, "--data", data),
    ):
        code, _, err = cli(*args)
        assert code == 2 and "checksum" in err and one_line_or_ok(code, err), (args, err)


# The bounded fuzz: seeded byte mutations; every outcome is exit 0 or 2 with one line.


def _mutate(payload: bytes, rng: random.Random) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(data)) if data else 0
        if op < 0.5 and data:
            data[pos] = rng.randrange(256)
        elif op < 0.7:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op < 0.9 and data:
            del data[pos : pos + rng.randint(1, 64)]
        else:
            data = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


def _fix_crcs(png: bytes) -> bytes:
    """Recompute each chunk's CRC, so that a mutation reaches the decoder and not only the checksum test."""
    out, pos = bytearray(png[:8]), 8
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        body = png[pos + 4 : pos + 8 + length]
        if len(body) < 4 + length:
            out += png[pos:]
            break
        out += png[pos : pos + 4] + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        pos += 12 + length
    return bytes(out)


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    image = Image.new("L", (150, 40), 230)  # flat with a bar: a short IDAT, so mutations reach every chunk
    image.paste(40, (30, 12, 120, 28))
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_fuzz_the_importer_and_predict_with_mutated_pngs(onnx_model, tmp_path, cli):
    rng, base, outcomes = random.Random(0), _png_bytes(), {"ok": 0, "refused": 0}
    for i in range(MUTATIONS):
        src = tmp_path / f"m{i}"
        src.mkdir()
        mutated = _mutate(base, rng)
        (src / "12345.png").write_bytes(_fix_crcs(mutated) if i % 2 else mutated)
        code, _, err = cli("data", "import", src, "--out", tmp_path / f"d{i}")
        assert one_line_or_ok(code, err), (i, code, err)
        code2, _, err2 = cli("predict", "--model", onnx_model, src / "12345.png", "--resize")
        assert one_line_or_ok(code2, err2), (i, code2, err2)
        outcomes["ok" if code == 0 else "refused"] += 1
    print(f"PNG fuzz: {outcomes}")
    assert outcomes["refused"] > 0 and outcomes["ok"] > 0  # both the decoder's error paths and its success


def test_fuzz_predict_and_eval_with_mutated_onnx_models(onnx_model, digits_data, tmp_path, cli):
    rng, base, outcomes = random.Random(1), onnx_model.read_bytes(), {"ok": 0, "refused": 0}
    img = _png(tmp_path, "12345.png")
    for i in range(MUTATIONS):
        bad = tmp_path / f"m{i}.onnx"
        bad.write_bytes(_mutate(base, rng))
        code, _, err = cli("predict", "--model", bad, img)
        assert one_line_or_ok(code, err), (i, code, err)
        outcomes["ok" if code == 0 else "refused"] += 1
        if i % 10 == 0:
            code, _, err = cli("eval", "--model", bad, "--data", digits_data)
            assert one_line_or_ok(code, err), (i, code, err)
        bad.unlink()
    print(f"ONNX fuzz: {outcomes}")
    assert outcomes["refused"] > 0


def test_fuzz_data_check_with_mutated_manifests(tmp_path, cli):
    data = make_dataset(tmp_path / "d", count=12)
    rng, base, outcomes = random.Random(2), (data / "manifest.json").read_bytes(), {"ok": 0, "refused": 0}
    for _ in range(MUTATIONS):
        (data / "manifest.json").write_bytes(_mutate(base, rng))
        code, _, err = cli("data", "check", data)
        assert one_line_or_ok(code, err), (code, err)
        outcomes["ok" if code == 0 else "refused"] += 1
    print(f"manifest fuzz: {outcomes}")
    assert outcomes["refused"] > 0
