"""Merge datasets into one: each split is the concatenation of that split of every input.

Use it to grow a training pool (a second ``crnn data synth`` batch with another seed) or to put
several labelled batches of one scheme together. The inputs must share image size and colour;
the charset becomes the union (first input's order, then new characters), the label lengths the
widest range. An image that lands in two splits of the result (the same dataset merged twice,
overlapping imports) is refused: the model would be scored on images it trained on.

The output is written split by split from memory-mapped inputs into memory-mapped arrays, so
merging never holds more than one input split in memory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from crnn.atomic import atomic_write_json, staging_dir
from crnn.data.store import (
    FORMAT,
    SPLITS,
    UNLABELED,
    UNLABELED_TRUTH,
    VERSION,
    Dataset,
    is_dataset,
    load_dataset,
    load_unlabeled,
    load_unlabeled_truth,
    read_manifest,
    split_checksum,
)
from crnn.errors import UserError
from crnn.progress import Progress

CHUNK = 20_000  # images copied and hashed at a time


def _shape(manifest: dict) -> tuple[int, ...]:
    """The per-image array shape: (H, W) or (H, W, 3)."""
    data = Dataset(root=Path(), manifest=manifest)
    return data.image_size if data.channels == 1 else (*data.image_size, 3)


def merged_charset(charsets: list[str]) -> str:
    """The first charset's order, then each later charset's new characters in its order."""
    out = list(charsets[0])
    for cs in charsets[1:]:
        out += [c for c in cs if c not in out]
    return "".join(out)


Seen = dict[bytes, tuple[str, Path, int]]  # image digest -> (split, input, index) where it first went


def _check_inputs(inputs: list[Path]) -> tuple[list[dict], tuple[int, ...]]:
    """The inputs' manifests and their one image shape, or a line saying which input differs."""
    if len(inputs) < 2:
        raise UserError("crnn data merge: give at least two dataset folders to merge")
    if len({p.resolve() for p in inputs}) < len(inputs):
        raise UserError("crnn data merge: a dataset folder is listed twice; each input may appear once")
    manifests = [read_manifest(p) for p in inputs]
    shape = _shape(manifests[0])
    for path, m in zip(inputs[1:], manifests[1:], strict=True):
        if _shape(m) != shape:
            raise UserError(
                f"{path}: images are {'x'.join(map(str, _shape(m)))}, {inputs[0]} has {'x'.join(map(str, shape))}; "
                "merge only datasets of one image size and colour (re-import with --resize)"
            )
    return manifests, shape


def _merge_split(tmp: Path, split: str, parts: list[tuple[Path, dict]], size: tuple[int, ...], seen: Seen) -> str:
    """Copy every input's ``split`` into ``tmp`` in chunks, refusing an image another split already holds;
    ``size`` is (count, H, W[, 3]). Returns the split's checksum."""
    dest = open_memmap(tmp / f"{split}.npy", mode="w+", dtype=np.uint8, shape=size)
    digest, labels, at = hashlib.sha256(), [], 0
    bar = Progress(size[0], f"merge {split}")
    for path, m in parts:
        if int(m["splits"].get(split, 0)) == 0:
            continue
        part = load_dataset(path, splits=(split,), mmap=True).split(split)  # checked against its manifest
        for start in range(0, len(part.images), CHUNK):
            chunk = np.ascontiguousarray(part.images[start : start + CHUNK])
            for i, img in enumerate(chunk):
                key = hashlib.blake2b(img.tobytes(), digest_size=16).digest()
                other, other_path, j = seen.setdefault(key, (split, path, start + i))
                if other != split:
                    raise UserError(
                        f"{path}: image {start + i} of split {split!r} is image {j} of split {other!r} of {other_path}; "
                        "merging overlapping datasets would score the model on images it trained on"
                    )
            dest[at : at + len(chunk)] = chunk
            digest.update(chunk.tobytes())
            at += len(chunk)
            bar.update(len(chunk))
        labels += part.labels
    bar.close()
    dest.flush()
    del dest
    (tmp / f"{split}.txt").write_text("".join(label + "\n" for label in labels))
    digest.update("\n".join(labels).encode())
    return digest.hexdigest()


def _merge_unlabeled(tmp: Path, parts: list[tuple[Path, dict]], seen: Seen) -> tuple[int, str] | None:
    """The unlabelled images of every input, after the same overlap check: (count, checksum), or None."""
    unl_parts = [load_dataset(path, splits=()) for path, m in parts if int(m["splits"].get(UNLABELED, 0))]
    if not unl_parts:
        return None
    arrays = [load_unlabeled(d, mmap=False) for d in unl_parts]
    for d, images in zip(unl_parts, arrays, strict=True):
        for i, img in enumerate(images):
            other, other_path, j = seen.setdefault(
                hashlib.blake2b(img.tobytes(), digest_size=16).digest(), (UNLABELED, d.root, i)
            )
            if other != UNLABELED:
                raise UserError(
                    f"{d.root}: unlabelled image {i} is image {j} of split {other!r} of {other_path}; "
                    "pseudo-labelling it would train on an image the model is scored on"
                )
    unlabeled = np.concatenate(arrays)
    np.save(tmp / f"{UNLABELED}.npy", unlabeled, allow_pickle=False)
    truths = [load_unlabeled_truth(d) for d in unl_parts]
    if all(t is not None for t in truths):
        (tmp / UNLABELED_TRUTH).write_text("".join(label + "\n" for t in truths for label in t))
    return len(unlabeled), split_checksum(unlabeled, [])


def merge_datasets(inputs: list[Path], out: Path, overwrite: bool = False) -> dict:
    """Write the merge of ``inputs`` into ``out``; returns its manifest."""
    manifests, shape = _check_inputs(inputs)
    counts = {s: sum(int(m["splits"].get(s, 0)) for m in manifests) for s in SPLITS}
    parts = list(zip(inputs, manifests, strict=True))
    seen: Seen = {}
    with staging_dir(out, overwrite, is_dataset, "dataset") as tmp:
        checksums = {split: _merge_split(tmp, split, parts, (n, *shape), seen) for split, n in counts.items() if n}
        unlabeled = _merge_unlabeled(tmp, parts, seen)
        if unlabeled is not None:
            counts[UNLABELED], checksums[UNLABELED] = unlabeled
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "charset": merged_charset([m["charset"] for m in manifests]),
            "height": shape[0],
            "width": shape[1],
            "channels": 1 if len(shape) == 2 else 3,
            "length": [min(int(m["length"][0]) for m in manifests), max(int(m["length"][1]) for m in manifests)],
            "splits": {s: n for s, n in counts.items() if n},
            "source": {"merged": [{"path": str(p), "splits": m["splits"], "source": m.get("source")} for p, m in parts]},
            "checksums": checksums,
        }
        atomic_write_json(tmp / "manifest.json", manifest)
    return manifest
