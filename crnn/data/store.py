"""The on-disk dataset format: one uint8 array and one label file per split, plus a manifest.

    DIR/manifest.json    charset, image size, label lengths, split counts, source settings, checksums
    DIR/train.npy        uint8 (N, H, W) greyscale, or (N, H, W, 3) RGB for a colour dataset; 0 = black
    DIR/train.txt        N labels, one per line, in the same order
    DIR/val.npy, val.txt, test.npy, test.txt
    DIR/unlabeled.npy    optional: images of the scheme without labels, for semi-supervised training
    DIR/unlabeled.truth.txt  optional, synthetic datasets only: their labels, read only to measure
                         how many pseudo-labels were right, never to train

100,000 images of 150x40 are 600 MB of uint8 and load with one ``np.load`` each: training never
decodes a PNG. A dataset is written into a sibling temporary folder and renamed into place at the
end, so an interrupted or failed write never leaves a folder that looks complete.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crnn.atomic import atomic_write_json
from crnn.charset import Charset
from crnn.errors import UserError

FORMAT = "crnn-dataset"
VERSION = 1
SPLITS = ("train", "val", "test")
UNLABELED = "unlabeled"
UNLABELED_TRUTH = "unlabeled.truth.txt"


@dataclass
class Split:
    """One split: labels in memory, images in memory or memory-mapped (``load_dataset(mmap=True)``)."""

    images: np.ndarray  # (N, H, W) or (N, H, W, 3) uint8; np.memmap when mapped
    labels: list[str]

    def __post_init__(self) -> None:
        assert len(self.images) == len(self.labels), "images and labels differ in count"

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Dataset:
    """A dataset: the manifest and the splits that were loaded."""

    root: Path
    manifest: dict
    splits: dict[str, Split] = field(default_factory=dict)

    @property
    def charset(self) -> Charset:
        return Charset(self.manifest["charset"])

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width)"""
        return int(self.manifest["height"]), int(self.manifest["width"])

    @property
    def channels(self) -> int:
        """1 (greyscale) or 3 (RGB); datasets written before colour support are greyscale."""
        return int(self.manifest.get("channels", 1))

    @property
    def length_range(self) -> tuple[int, int]:
        lo, hi = self.manifest["length"]
        return int(lo), int(hi)

    def split(self, name: str) -> Split:
        """One loaded split, or ``all``: every loaded split, in train/val/test order."""
        if name == "all" and self.splits:
            parts = [self.splits[n] for n in SPLITS if n in self.splits]
            return Split(np.concatenate([p.images for p in parts]), [label for p in parts for label in p.labels])
        if name not in self.splits:
            # the manifest's splits, not the loaded ones: a caller loads only the split it asked for
            available = ", ".join([n for n in SPLITS if n in self.manifest["splits"]] + ["all"])
            raise UserError(f"{self.root}: has no split {name!r} (available: {available})")
        return self.splits[name]

    def require_images(self, name: str) -> Split:
        """``split(name)``, refused when it holds no image (a val/test-only dataset's train split), so
        that nothing reports a score of 0.00% over 0 images."""
        split = self.split(name)
        if len(split) == 0:
            counts = self.manifest["splits"]
            full = ", ".join(f"{n} ({counts[n]})" for n in SPLITS if int(counts.get(n, 0)) > 0) or "none"
            raise UserError(f"{self.root}: split {name!r} is empty (0 images); splits with images: {full}")
        return split

    def with_train_subset(self, idx: np.ndarray | list[int]) -> Dataset:
        """The same dataset training on the images ``idx`` of its train split only (val and test kept)."""
        train = self.split("train")
        idx = np.asarray(idx, dtype=np.int64)
        subset = Split(train.images[idx], [train.labels[i] for i in idx])
        return Dataset(root=self.root, manifest=self.manifest, splits={**self.splits, "train": subset})


def split_checksum(images: np.ndarray, labels: list[str], chunk_bytes: int = 1 << 24) -> str:
    """sha256 of the images' C-order bytes, then the labels. The images are hashed a block of rows
    at a time (about ``chunk_bytes``), so a memory-mapped split of any size is never copied whole;
    the digest is the same as hashing the whole array at once."""
    digest = hashlib.sha256()
    rows = max(1, chunk_bytes // max(1, images[:1].nbytes))
    for start in range(0, len(images), rows):
        digest.update(np.ascontiguousarray(images[start : start + rows]).tobytes())
    digest.update("\n".join(labels).encode())
    return digest.hexdigest()


def is_dataset(root: Path) -> bool:
    """A folder this tool wrote as a dataset: its manifest says so (what --overwrite may replace)."""
    try:
        return json.loads((root / "manifest.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_manifest(root: str | Path) -> dict:
    root = Path(root)
    path = root / "manifest.json"
    if not root.is_dir():
        raise UserError(f"{root}: no such dataset folder (make one with `crnn data synth` or `crnn data import`)")
    if not path.is_file():
        raise UserError(f"{root}: not a dataset, it has no manifest.json (make one with `crnn data synth` or `crnn data import`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UserError(f"{path}: unreadable manifest ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: a manifest is a JSON object, this file holds a {type(manifest).__name__}")
    if manifest.get("format") != FORMAT:
        raise UserError(f"{path}: field 'format' is {manifest.get('format')!r}, expected {FORMAT!r}")
    for key in ("charset", "height", "width", "length", "splits"):
        if key not in manifest:
            raise UserError(f"{path}: missing field {key!r}")
    _check_fields(manifest, path)
    return manifest


def _whole(value: object, lo: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= lo


def _check_fields(m: dict, path: Path) -> None:
    """Each field of a manifest of the type and range the format gives, or one line naming it."""
    cs = m["charset"]
    cs_ok = isinstance(cs, str) and bool(cs) and len(set(cs)) == len(cs) and not any(c.isspace() for c in cs)
    problems = [
        ("charset", "distinct characters, no spaces", cs_ok),
        ("height", "a whole number of at least 1", _whole(m["height"], 1)),
        ("width", "a whole number of at least 1", _whole(m["width"], 1)),
        ("channels", "1 or 3", m.get("channels", 1) in (1, 3) and _whole(m.get("channels", 1))),
        (
            "length",
            "[shortest, longest], whole numbers from 1",
            isinstance(m["length"], list)
            and len(m["length"]) == 2
            and all(_whole(v, 1) for v in m["length"])
            and m["length"][0] <= m["length"][1],
        ),
        (
            "splits",
            "split name -> a whole number of images",
            isinstance(m["splits"], dict) and all(isinstance(k, str) and _whole(v) for k, v in m["splits"].items()),
        ),
        (
            "checksums",
            "split name -> a sha256 hex string",
            isinstance(m.get("checksums", {}), dict) and all(isinstance(v, str) for v in m.get("checksums", {}).values()),
        ),
    ]
    for field_name, accepted, ok in problems:
        if not ok:
            raise UserError(f"{path}: field {field_name!r} is {m.get(field_name)!r}; accepted: {accepted}")


def _load_images(path: Path, data: Dataset, mmap: bool) -> np.ndarray:
    """One image array of the dataset, refused unless it is uint8 of the manifest's image size."""
    try:
        images = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable image array ({exc})") from None
    want = data.image_size if data.channels == 1 else (*data.image_size, 3)
    if images.dtype != np.uint8 or images.shape[1:] != want:
        raise UserError(f"{path}: expected uint8 (N, {', '.join(map(str, want))}), found {images.dtype} {images.shape}")
    return images


def _read_labels(path: Path, data: Dataset) -> list[str]:
    """A split's labels, each of the manifest's charset and lengths, or one line naming the first bad one."""
    try:
        labels = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: unreadable labels ({type(exc).__name__})") from None
    allowed, (lo, hi) = set(data.manifest["charset"]), data.length_range
    for line, label in enumerate(labels, start=1):
        if not set(label) <= allowed or not lo <= len(label) <= hi:
            bad = data.charset.invalid_chars(label)
            why = (
                f"has {bad!r}, not in the manifest's charset"
                if bad
                else f"has {len(label)} characters, the manifest allows {lo}-{hi}"
            )
            raise UserError(f"{path}:{line}: label {label!r} {why}")
    return labels


def load_dataset(root: str | Path, splits: tuple[str, ...] = SPLITS, verify: bool = False, mmap: bool = False) -> Dataset:
    """Load the named splits that exist (all by default). ``verify`` recomputes the checksums;
    ``mmap`` maps the image arrays read-only instead of reading them into memory."""
    root = Path(root)
    manifest = read_manifest(root)
    data = Dataset(root=root, manifest=manifest)
    for name in splits:
        if name not in manifest["splits"]:
            continue
        img_path, txt_path = root / f"{name}.npy", root / f"{name}.txt"
        for p in (img_path, txt_path):
            if not p.is_file():
                raise UserError(f"{p}: missing; the manifest lists split {name!r}")
        images = _load_images(img_path, data, mmap)
        labels = _read_labels(txt_path, data)
        expected = int(manifest["splits"][name])
        if len(images) != expected or len(labels) != expected:
            raise UserError(
                f"{root}: split {name!r} should hold {expected} samples, found {len(images)} images and {len(labels)} labels"
            )
        if verify:
            want = manifest.get("checksums", {}).get(name)
            if want and split_checksum(images, labels) != want:
                raise UserError(f"{img_path}: checksum differs from the manifest; the dataset was modified or is corrupt")
        data.splits[name] = Split(images=images, labels=labels)
    return data


def load_unlabeled(data: Dataset, mmap: bool = True, verify: bool = False) -> np.ndarray | None:
    """The dataset's ``unlabeled`` images ((N, H, W) or (N, H, W, 3) uint8, mapped by default), or None."""
    n = int(data.manifest["splits"].get(UNLABELED, 0))
    if not n:
        return None
    path = data.root / f"{UNLABELED}.npy"
    if not path.is_file():
        raise UserError(f"{path}: missing; the manifest lists {n} unlabelled images")
    images = _load_images(path, data, mmap)
    if len(images) != n:
        raise UserError(f"{path}: holds {len(images)} images, the manifest lists {n}")
    if verify:
        expected = data.manifest.get("checksums", {}).get(UNLABELED)
        if expected and split_checksum(images, []) != expected:
            raise UserError(f"{path}: checksum differs from the manifest; the dataset was modified or is corrupt")
    return images


def load_unlabeled_truth(data: Dataset) -> list[str] | None:
    """The synthetic unlabelled images' labels, to score pseudo-labels with; None for imported data."""
    path = data.root / UNLABELED_TRUTH
    return path.read_text().splitlines() if path.is_file() else None


def write_dataset(
    out: Path,
    splits: dict[str, tuple[np.ndarray, list[str]]],
    charset: str,
    length: tuple[int, int],
    source: dict,
    unlabeled: np.ndarray | None = None,
    unlabeled_truth: list[str] | None = None,
) -> dict:
    """Write splits (and unlabelled images, with their truth when synthetic) and the manifest into
    ``out`` (a staging folder); returns the manifest."""
    heights = {imgs.shape[1] for imgs, _ in splits.values() if len(imgs)}
    widths = {imgs.shape[2] for imgs, _ in splits.values() if len(imgs)}
    assert len(heights) == 1 and len(widths) == 1, "all splits must share one image size"
    channels = {3 if imgs.ndim == 4 else 1 for imgs, _ in splits.values()}
    assert len(channels) == 1, "all splits must be greyscale or all RGB"
    checksums = {}
    for name, (images, labels) in splits.items():
        np.save(out / f"{name}.npy", np.ascontiguousarray(images, dtype=np.uint8), allow_pickle=False)
        (out / f"{name}.txt").write_text("".join(label + "\n" for label in labels))
        checksums[name] = split_checksum(images, labels)
    counts = {name: len(labels) for name, (_, labels) in splits.items()}
    if unlabeled is not None and len(unlabeled):
        assert unlabeled.shape[1:3] == (*heights, *widths) and unlabeled.ndim == (4 if 3 in channels else 3), "unlabelled size"
        np.save(out / f"{UNLABELED}.npy", np.ascontiguousarray(unlabeled, dtype=np.uint8), allow_pickle=False)
        checksums[UNLABELED] = split_checksum(unlabeled, [])
        counts[UNLABELED] = len(unlabeled)
        if unlabeled_truth is not None:
            (out / UNLABELED_TRUTH).write_text("".join(label + "\n" for label in unlabeled_truth))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "charset": charset,
        "height": next(iter(heights)),
        "width": next(iter(widths)),
        "channels": next(iter(channels)),
        "length": list(length),
        "splits": counts,
        "source": source,
        "checksums": checksums,
    }
    atomic_write_json(out / "manifest.json", manifest)
    return manifest
