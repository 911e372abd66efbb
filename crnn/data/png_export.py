"""``crnn data export``: a dataset's split(s) as PNG files that ``crnn data import`` reads back.

Each labelled image is ``LABEL_INDEX.png`` (the importer takes the label from the name, up to the first
``_``) when every label is a safe file name; ``labels.csv`` (``path,label,split``) is written beside
them in every case, so labels with ``_``, ``/`` or other characters a name cannot carry round-trip too,
split by split: ``crnn data import DIR/labels.csv`` restores the same splits. Unlabelled images go to
``unlabeled/INDEX.png`` (``crnn data import ... --unlabeled DIR/unlabeled``). No name is built from
anything but a checked label and a number, so every file stays inside ``--out``.
"""

from __future__ import annotations

import csv
import io
import shlex
from pathlib import Path

import numpy as np
from PIL import Image

from crnn.atomic import staging_dir
from crnn.data.store import SPLITS, UNLABELED, load_dataset, load_unlabeled, read_manifest
from crnn.errors import UserError
from crnn.progress import Progress

EXPORT_MARK = "labels.csv"
UNSAFE = set('/\\_:*?"<>|') | {chr(c) for c in range(32)}


def safe_name(label: str) -> bool:
    """A label that can be a file name's stem as it is: no separator, no ``_``, no control character, no dot first."""
    return bool(label) and not label.startswith(".") and not (set(label) & UNSAFE)


def _splits(requested: str, manifest: dict) -> list[str]:
    present = [s for s in (*SPLITS, UNLABELED) if int(manifest["splits"].get(s, 0)) > 0]
    if requested == "all":
        return present
    if requested not in (*SPLITS, UNLABELED):
        raise UserError(f"--split {requested!r}: accepted: {', '.join((*SPLITS, UNLABELED, 'all'))}")
    if requested not in present:
        raise UserError(f"--split {requested}: the dataset has no {requested} images (it has: {', '.join(present)})")
    return [requested]


def export_pngs(
    data: str | Path, out: str | Path, split: str = "all", limit: int = 0, overwrite: bool = False, progress: bool = True
) -> dict[str, int]:
    """Write ``split`` (train, val, test, unlabeled or all) of ``data`` to ``out`` as PNGs; returns images per split.
    ``limit`` > 0 writes at most that many of each split (the first ones)."""
    if limit < 0:
        raise UserError(f"--limit {limit}: must be 0 (every image) or more")
    names = _splits(split, read_manifest(data))
    labelled = [s for s in names if s != UNLABELED]
    loaded = load_dataset(data, splits=tuple(labelled), mmap=True, verify=True)
    by_name = all(safe_name(label) for s in labelled for label in loaded.split(s).labels)
    counts: dict[str, int] = {}
    rows: list[tuple[str, str, str]] = []
    total = sum(min(int(loaded.manifest["splits"][s]), limit or 1 << 62) for s in names)
    with (
        staging_dir(out, overwrite, lambda p: (p / EXPORT_MARK).is_file(), "crnn data export folder") as tmp,
        Progress(total, "exporting", enabled=progress) as bar,
    ):
        for name in names:
            if name == UNLABELED:
                images, labels = load_unlabeled(loaded, mmap=True, verify=True), None
                folder = tmp / UNLABELED
                folder.mkdir()
            else:
                images, labels, folder = loaded.split(name).images, loaded.split(name).labels, tmp
            n = len(images) if not limit else min(limit, len(images))
            width = len(str(max(n - 1, 0)))
            for i in range(n):
                if labels is None:
                    path = folder / f"{i:0{width}d}.png"
                else:
                    stem = f"{labels[i]}_{name}{i:0{width}d}" if by_name else f"{name}{i:0{width}d}"
                    path = folder / f"{stem}.png"
                    rows.append((path.name, labels[i], name))
                Image.fromarray(np.asarray(images[i])).save(path)  # (H, W) or (H, W, 3) uint8
                bar.update(1)
            counts[name] = n
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(("path", "label", "split"))
        writer.writerows(rows)
        (tmp / EXPORT_MARK).write_text(buf.getvalue())
    return counts


def import_command(data: str | Path, out: str | Path) -> str:
    """The ``crnn data import`` line that reads an export of ``data`` back as the same dataset."""
    manifest = read_manifest(data)
    lo, hi = (int(v) for v in manifest.get("length", (0, 0)))
    words = ["crnn", "data", "import", str(Path(out) / EXPORT_MARK), "--out", "DATASET", f"--charset={manifest['charset']}"]
    words += ["--length", str(lo) if lo == hi else f"{lo}-{hi}"] if lo else []
    words += ["--color"] if manifest.get("channels", 1) == 3 else []
    words += ["--unlabeled", str(Path(out) / UNLABELED)] if (Path(out) / UNLABELED).is_dir() else []
    return shlex.join(words)
