"""Import a user's own labelled images into the dataset format.

Two sources: a folder whose file stems are the labels (``aB3x9.png``; anything after the first
``_`` is ignored, so ``aB3x9_2.png`` can coexist), or a CSV file with ``path,label`` columns (and
an optional ``split`` column), paths relative to the CSV's folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from crnn.atomic import staging_dir
from crnn.charset import NAMED_CHARSETS, parse_length, resolve_charset
from crnn.data.images import check_size, read_image
from crnn.data.store import SPLITS, is_dataset, write_dataset
from crnn.errors import UserError
from crnn.progress import Progress

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class Entry:
    path: Path
    label: str
    split: str | None = None


def image_files(folder: Path) -> list[Path]:
    """A folder's image files (by suffix), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def entries_from_folder(src: Path) -> list[Entry]:
    files = image_files(src)
    if not files:
        raise UserError(f"{src}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
    return [Entry(p, p.stem.split("_", 1)[0]) for p in files]


def entries_from_csv(src: Path) -> list[Entry]:
    try:
        with src.open(newline="") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in ("path", "label") if c not in columns]
            if missing:
                raise UserError(f"{src}: missing column(s) {', '.join(missing)}; the header must have path,label[,split]")
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{src}: unreadable CSV ({exc})") from None
    if not rows:
        raise UserError(f"{src}: the CSV has a header but no rows")
    out = []
    for line, row in enumerate(rows, start=2):
        split = row.get("split") or None
        if split is not None and split not in SPLITS:
            raise UserError(f"{src}:{line}: split {split!r} is not one of {', '.join(SPLITS)}")
        path = Path(row["path"])
        out.append(Entry(path if path.is_absolute() else src.parent / path, row["label"], split))
    return out


def _read(path: Path, colour: bool) -> np.ndarray:
    return read_image(path, "RGB" if colour else "L")  # (H, W) or (H, W, 3)


def _assign_splits(entries: list[Entry], fractions: tuple[float, float, float], seed: int) -> dict[str, list[int]]:
    """Entries with a ``split`` keep it; the rest are shuffled (seeded) and cut by ``fractions``."""
    fixed = {s: [i for i, e in enumerate(entries) if e.split == s] for s in SPLITS}
    free = [i for i, e in enumerate(entries) if e.split is None]
    random.Random(seed).shuffle(free)
    n_val, n_test = round(len(free) * fractions[1]), round(len(free) * fractions[2])
    fixed["val"] += free[:n_val]
    fixed["test"] += free[n_val : n_val + n_test]
    fixed["train"] += free[n_val + n_test :]
    return {s: sorted(ix) for s, ix in fixed.items()}


def _read_unlabeled(
    folder: Path, shape: tuple[int, ...], resize: tuple[int, int] | None, colour: bool, progress: bool
) -> np.ndarray:
    """Every image of ``folder``, of the labelled images' ``shape`` (after ``--resize``); any other is refused."""
    if not folder.is_dir():
        raise UserError(f"--unlabeled {folder}: no such folder")
    files = image_files(folder)
    if not files:
        raise UserError(f"--unlabeled {folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
    out = np.empty((len(files), *shape), dtype=np.uint8)
    for i, path in enumerate(Progress(len(files), "unlabelled", enabled=progress).wrap(files)):
        image = _read(path, colour)
        if resize is not None and image.shape[:2] != (resize[1], resize[0]):
            with Image.fromarray(image) as im:
                image = np.asarray(im.resize(resize, Image.Resampling.BILINEAR), dtype=np.uint8)
        if image.shape != shape:
            raise UserError(
                f"{path}: size {image.shape[1]}x{image.shape[0]}, the labelled images are {shape[1]}x{shape[0]}; "
                f"unlabelled images must match them (or pass --resize {shape[1]}x{shape[0]})"
            )
        out[i] = image
    return out


def import_images(
    src: Path,
    out: Path,
    charset_spec: str = "auto",
    length_spec: str = "auto",
    resize: tuple[int, int] | None = None,
    fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
    seed: int = 0,
    skip_invalid: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    colour: bool = False,
    unlabeled: Path | None = None,
) -> dict:
    """Validate and import; returns the manifest. Any invalid entry fails the import unless ``skip_invalid``.
    ``unlabeled``: a folder of the scheme's images without labels (any file names), read by the same size
    and colour rules, written as the ``unlabeled`` split."""
    if not src.exists():
        raise UserError(f"{src}: no such folder or CSV file")
    if resize is not None:
        check_size(*resize, f"--resize {resize[0]}x{resize[1]}")
    entries = entries_from_csv(src) if src.is_file() else entries_from_folder(src)

    labels = [e.label for e in entries]
    if charset_spec == "auto":
        seen = set("".join(labels))
        order = NAMED_CHARSETS["alnum"]
        charset = "".join(c for c in order if c in seen) + "".join(sorted(seen - set(order)))
        charset = "".join(c for c in charset if not c.isspace())
    else:
        charset = resolve_charset(charset_spec)
    if length_spec == "auto":
        lengths = [len(s) for s in labels if s]
        lo, hi = (min(lengths), max(lengths)) if lengths else (1, 1)
    else:
        lo, hi = parse_length(length_spec)

    problems: list[tuple[Path, str]] = []
    good: list[tuple[Entry, np.ndarray]] = []
    allowed = set(charset)
    for entry in Progress(len(entries), "importing", enabled=progress).wrap(entries):
        bad_chars = "".join(dict.fromkeys(c for c in entry.label if c not in allowed))
        if not entry.label:
            problems.append((entry.path, "empty label"))
            continue
        if bad_chars:
            problems.append((entry.path, f"label {entry.label!r} has {bad_chars!r}, not in the charset {charset!r}"))
            continue
        if not lo <= len(entry.label) <= hi:
            want = f"{lo}" if lo == hi else f"{lo}-{hi}"
            problems.append((entry.path, f"label {entry.label!r} has {len(entry.label)} characters, the task allows {want}"))
            continue
        if not entry.path.is_file():
            problems.append((entry.path, "file not found"))
            continue
        try:
            image = _read(entry.path, colour)
        except UserError as exc:
            problems.append((entry.path, str(exc).removeprefix(f"{entry.path}: ")))
            continue
        if resize is not None and image.shape[:2] != (resize[1], resize[0]):
            with Image.fromarray(image) as im:
                image = np.asarray(im.resize(resize, Image.Resampling.BILINEAR), dtype=np.uint8)
        good.append((entry, image))

    if good and resize is None:
        sizes = [img.shape for _, img in good]
        common = max(set(sizes), key=sizes.count)
        kept = []
        for entry, image in good:
            if image.shape == common:
                kept.append((entry, image))
            else:
                problems.append((
                    entry.path,
                    f"size {image.shape[1]}x{image.shape[0]} differs from the dataset's {common[1]}x{common[0]} "
                    f"(pass --resize {common[1]}x{common[0]} to resize)",
                ))  # fmt: skip
        good = kept

    if problems and not skip_invalid:
        path, why = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{path}: {why}{more}; fix it or pass --skip-invalid to import the rest")
    if not good:
        raise UserError(f"{src}: no valid images to import")

    kept_entries = [e for e, _ in good]
    images = np.stack([img for _, img in good])  # (N, H, W) or (N, H, W, 3)
    extra = _read_unlabeled(unlabeled, images.shape[1:], resize, colour, progress) if unlabeled is not None else None
    index = _assign_splits(kept_entries, fractions, seed)
    splits = {s: (images[ix], [kept_entries[i].label for i in ix]) for s, ix in index.items()}
    if extra is not None:  # an image scored in val or test must not be pseudo-labelled for training
        scored = {hashlib.blake2b(img.tobytes(), digest_size=16).digest(): s for s in ("val", "test") for img in splits[s][0]}
        for i, img in enumerate(extra):
            split = scored.get(hashlib.blake2b(img.tobytes(), digest_size=16).digest())
            if split is not None:
                name = image_files(unlabeled)[i]
                raise UserError(f"{name}: the same image is in the {split} split; unlabelled images must not include scored ones")
    source = {
        "imported_from": str(src.resolve()), "seed": seed, "fractions": list(fractions),
        "resize": list(resize) if resize else None, "skipped": len(problems),
    }  # fmt: skip
    with staging_dir(out, overwrite, is_dataset, "dataset") as tmp:
        if extra is not None:
            source["unlabeled_from"] = str(unlabeled.resolve())
        manifest = write_dataset(tmp, splits, charset, (lo, hi), source, extra)
        if problems:
            report = [{"path": str(p), "reason": why} for p, why in problems]
            (tmp / "import_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return manifest
