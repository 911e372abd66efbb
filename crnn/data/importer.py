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


@dataclass(frozen=True)
class ImportOptions:
    """How ``crnn data import`` reads a user's images (the CLI flags of the same names)."""

    charset: str = "auto"  # a named charset, the characters themselves, or auto: those the labels use
    length: str = "auto"  # "5", "4-6", or auto: the labels' own range
    resize: tuple[int, int] | None = None  # (width, height) every image is resized to; None: they must agree
    fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)  # train, val, test
    seed: int = 0  # the split's shuffle
    skip_invalid: bool = False  # import the rest, listing what was skipped in import_report.json
    overwrite: bool = False
    progress: bool = True
    colour: bool = False  # keep RGB, else greyscale
    unlabeled: Path | None = None  # a folder of the scheme's images without labels: the unlabeled split


Problem = tuple[Path, str]


def _task(labels: list[str], opts: ImportOptions) -> tuple[str, int, int]:
    """(charset, shortest, longest label) from the options, or read off the labels where they say auto."""
    if opts.charset == "auto":
        seen = set("".join(labels))
        order = NAMED_CHARSETS["alnum"]
        charset = "".join(c for c in order if c in seen) + "".join(sorted(seen - set(order)))
        charset = "".join(c for c in charset if not c.isspace())
    else:
        charset = resolve_charset(opts.charset)
    if opts.length == "auto":
        lengths = [len(s) for s in labels if s]
        lo, hi = (min(lengths), max(lengths)) if lengths else (1, 1)
    else:
        lo, hi = parse_length(opts.length)
    return charset, lo, hi


def _entry_problem(entry: Entry, charset: str, lo: int, hi: int) -> str | None:
    """Why a labelled entry cannot be imported, before its pixels are read (None: it can)."""
    bad_chars = "".join(dict.fromkeys(c for c in entry.label if c not in set(charset)))
    if not entry.label:
        return "empty label"
    if bad_chars:
        return f"label {entry.label!r} has {bad_chars!r}, not in the charset {charset!r}"
    if not lo <= len(entry.label) <= hi:
        want = f"{lo}" if lo == hi else f"{lo}-{hi}"
        return f"label {entry.label!r} has {len(entry.label)} characters, the task allows {want}"
    if not entry.path.is_file():
        return "file not found"
    return None


def _read_entries(entries: list[Entry], task: tuple[str, int, int], opts: ImportOptions, problems: list[Problem]):
    """The entries whose labels and pixels are good, with their images (resized where asked)."""
    good: list[tuple[Entry, np.ndarray]] = []
    for entry in Progress(len(entries), "importing", enabled=opts.progress).wrap(entries):
        why = _entry_problem(entry, *task)
        if why is not None:
            problems.append((entry.path, why))
            continue
        try:
            image = _read(entry.path, opts.colour)
        except UserError as exc:
            problems.append((entry.path, str(exc).removeprefix(f"{entry.path}: ")))
            continue
        if opts.resize is not None and image.shape[:2] != (opts.resize[1], opts.resize[0]):
            with Image.fromarray(image) as im:
                image = np.asarray(im.resize(opts.resize, Image.Resampling.BILINEAR), dtype=np.uint8)
        good.append((entry, image))
    return good


def _common_size(good: list[tuple[Entry, np.ndarray]], problems: list[Problem]) -> list[tuple[Entry, np.ndarray]]:
    """Without --resize: the images of the most common size; the others are problems naming the flag."""
    if not good:
        return good
    sizes = [img.shape for _, img in good]
    common = max(set(sizes), key=sizes.count)
    for entry, image in good:
        if image.shape != common:
            problems.append(
                (
                    entry.path,
                    f"size {image.shape[1]}x{image.shape[0]} differs from the dataset's {common[1]}x{common[0]} "
                    f"(pass --resize {common[1]}x{common[0]} to resize)",
                )
            )
    return [(e, img) for e, img in good if img.shape == common]


def _refuse_scored_in_unlabeled(extra: np.ndarray, splits: dict, unlabeled: Path) -> None:
    """An image scored in val or test must not be pseudo-labelled for training."""
    scored = {hashlib.blake2b(img.tobytes(), digest_size=16).digest(): s for s in ("val", "test") for img in splits[s][0]}
    for i, img in enumerate(extra):
        split = scored.get(hashlib.blake2b(img.tobytes(), digest_size=16).digest())
        if split is not None:
            name = image_files(unlabeled)[i]
            raise UserError(f"{name}: the same image is in the {split} split; unlabelled images must not include scored ones")


def import_images(src: Path, out: Path, opts: ImportOptions = ImportOptions()) -> dict:
    """Validate and import; returns the manifest. Any invalid entry fails the import unless ``skip_invalid``.
    ``opts.unlabeled``: a folder of the scheme's images without labels (any file names), read by the same
    size and colour rules, written as the ``unlabeled`` split."""
    if not src.exists():
        raise UserError(f"{src}: no such folder or CSV file")
    if opts.resize is not None:
        check_size(*opts.resize, f"--resize {opts.resize[0]}x{opts.resize[1]}")
    entries = entries_from_csv(src) if src.is_file() else entries_from_folder(src)
    charset, lo, hi = _task([e.label for e in entries], opts)
    problems: list[Problem] = []
    good = _read_entries(entries, (charset, lo, hi), opts, problems)
    if opts.resize is None:
        good = _common_size(good, problems)
    if problems and not opts.skip_invalid:
        path, why = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{path}: {why}{more}; fix it or pass --skip-invalid to import the rest")
    if not good:
        raise UserError(f"{src}: no valid images to import")
    kept = [e for e, _ in good]
    images = np.stack([img for _, img in good])  # (N, H, W) or (N, H, W, 3)
    unl = opts.unlabeled
    extra = _read_unlabeled(unl, images.shape[1:], opts.resize, opts.colour, opts.progress) if unl is not None else None
    index = _assign_splits(kept, opts.fractions, opts.seed)
    splits = {s: (images[ix], [kept[i].label for i in ix]) for s, ix in index.items()}
    if extra is not None:
        _refuse_scored_in_unlabeled(extra, splits, unl)
    source = {
        "imported_from": str(src.resolve()),
        "seed": opts.seed,
        "fractions": list(opts.fractions),
        "resize": list(opts.resize) if opts.resize else None,
        "skipped": len(problems),
    }
    with staging_dir(out, opts.overwrite, is_dataset, "dataset") as tmp:
        if extra is not None:
            source["unlabeled_from"] = str(unl.resolve())
        manifest = write_dataset(tmp, splits, charset, (lo, hi), source, extra)
        if problems:
            report = [{"path": str(p), "reason": why} for p, why in problems]
            (tmp / "import_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return manifest
