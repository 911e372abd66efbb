"""``crnn data check``: validate a dataset folder and summarise it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from crnn.data.margins import quiet_margins
from crnn.data.store import UNLABELED, load_dataset, load_unlabeled, load_unlabeled_truth
from crnn.errors import UserError


def check_dataset(root: str | Path) -> dict:
    """Verify every split's checksums, labels and lengths; returns the summary. The images are
    memory-mapped and hashed in blocks, so checking a dataset larger than memory works."""
    data = load_dataset(root, verify=True, mmap=True)
    charset, (lo, hi) = data.charset, data.length_range
    lengths: Counter[int] = Counter()
    chars: Counter[str] = Counter()
    for name, split in data.splits.items():
        for i, label in enumerate(split.labels):
            bad = charset.invalid_chars(label)
            if bad:
                raise UserError(f"{data.root}/{name}.txt:{i + 1}: label {label!r} has {bad!r}, not in the manifest's charset")
            if not lo <= len(label) <= hi:
                raise UserError(f"{data.root}/{name}.txt:{i + 1}: label {label!r} is not {lo}-{hi} characters long")
            lengths[len(label)] += 1
            chars.update(label)
    unlabeled = load_unlabeled(data, verify=True)
    truth = load_unlabeled_truth(data)
    if unlabeled is not None and truth is not None and len(truth) != len(unlabeled):
        raise UserError(f"{data.root}: {len(truth)} truth labels for {len(unlabeled)} unlabelled images")
    height, width = data.image_size
    counts = {name: len(split) for name, split in data.splits.items()}
    return {
        "path": str(data.root),
        "splits": counts | ({UNLABELED: len(unlabeled)} if unlabeled is not None else {}),
        "image_size": f"{width}x{height}",
        "colour": "RGB" if data.channels == 3 else "greyscale",
        "charset": charset.chars,
        "classes": len(charset.chars),
        "length_histogram": dict(sorted(lengths.items())),
        "char_frequencies": dict(sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))),
        "unused_chars": "".join(c for c in charset.chars if c not in chars),
        "margins": list(quiet_margins(data.splits["train"].images)) if "train" in data.splits else [0, 0, 0, 0],
        "source": data.manifest.get("source", {}),
    }


def format_summary(s: dict) -> str:
    total = sum(v for k, v in s["splits"].items() if k != UNLABELED)
    freq = s["char_frequencies"]
    n_chars = sum(freq.values()) or 1
    top = ", ".join(f"{c}:{n / n_chars:.2%}" for c, n in list(freq.items())[:5])
    rare = ", ".join(f"{c}:{n / n_chars:.2%}" for c, n in list(freq.items())[-5:])
    lines = [
        f"dataset     {s['path']}  (ok: checksums, labels and lengths verified)",
        "splits      " + ", ".join(f"{k} {v}" for k, v in s["splits"].items()) + f"  (labelled {total})",
        f"image size  {s['image_size']} {s['colour']}",
        f"charset     {s['classes']} classes: {s['charset']}",
        "lengths     " + ", ".join(f"{k}: {v}" for k, v in s["length_histogram"].items()),
        f"most common {top}",
        f"least       {rare}",
    ]
    if s["unused_chars"]:
        lines.append(f"unused      {s['unused_chars']} (in the charset, never in a label)")
    if any(s.get("margins", ())):
        top, bottom, left, right = s["margins"]
        lines.append(
            f"margins     top {top}, bottom {bottom}, left {left}, right {right} px lie outside the text band: "
            f"--set model.crop=[{top},{bottom},{left},{right}] reads only the rest (crnn assess cuts them itself)"
        )
    src = s["source"]
    if "generator" in src:
        version = src.get("captcha_version") or src.get("family_version", "")
        lines.append(f"source      {src['generator']} {version}, seed {src.get('seed')}")
    elif "imported_from" in src:
        lines.append(f"source      imported from {src['imported_from']} ({src.get('skipped', 0)} skipped)")
    return "\n".join(lines)
