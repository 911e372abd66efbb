"""``crnn data synth | import | merge | check | preview | export``: what each does with the parsed flags."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from crnn.charset import parse_length, resolve_charset
from crnn.data.check import check_dataset, format_summary
from crnn.data.importer import ImportOptions, import_images
from crnn.data.merge import merge_datasets
from crnn.data.png_export import export_pngs, import_command
from crnn.data.synth import SynthSpec, synthesize
from crnn.errors import UserError


def parse_fractions(text: str) -> tuple[float, float, float]:
    """``90/5/5`` or ``0.9,0.05,0.05`` -> fractions that sum to 1."""
    parts = re.split(r"[/,]", text)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UserError(f"--split-sizes {text!r}: expected train/val/test such as 90/5/5") from None
    if len(values) != 3 or any(v < 0 for v in values) or sum(values) <= 0:
        raise UserError(f"--split-sizes {text!r}: expected three non-negative numbers train/val/test such as 90/5/5")
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


def parse_size(text: str) -> tuple[int, int]:
    """``150x40`` -> (150, 40): width x height."""
    m = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserError(f"--resize {text!r}: expected WIDTHxHEIGHT such as 150x40")
    return int(m.group(1)), int(m.group(2))


def cmd_synth(args: argparse.Namespace) -> int:
    spec = SynthSpec(
        charset=resolve_charset(args.charset),
        length=parse_length(args.length),
        width=args.width,
        height=args.height,
        seed=args.seed,
        colour=args.colour,
        generator=args.generator,
    )
    workers = args.workers or max(1, os.cpu_count() or 1)
    manifest = synthesize(
        Path(args.out),
        spec,
        args.count,
        parse_fractions(args.split),
        workers=workers,
        overwrite=args.overwrite,
        unlabeled=args.unlabeled,
    )
    splits = ", ".join(f"{k} {v}" for k, v in manifest["splits"].items())
    kind = "RGB" if spec.colour else "greyscale"
    print(f"wrote {args.out}: {splits} ({spec.width}x{spec.height} {kind}, {len(spec.charset)} classes, seed {spec.seed})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    opts = ImportOptions(
        charset=args.charset,
        length=args.length,
        resize=parse_size(args.resize) if args.resize else None,
        fractions=parse_fractions(args.split),
        seed=args.seed,
        skip_invalid=args.skip_invalid,
        overwrite=args.overwrite,
        colour=args.colour,
        unlabeled=Path(args.unlabeled) if args.unlabeled else None,
    )
    manifest = import_images(Path(args.src), Path(args.out), opts)
    splits = ", ".join(f"{k} {v}" for k, v in manifest["splits"].items())
    skipped = manifest["source"]["skipped"]
    note = f"; skipped {skipped}, see {Path(args.out) / 'import_report.json'}" if skipped else ""
    print(f"wrote {args.out}: {splits} ({manifest['width']}x{manifest['height']}, charset {manifest['charset']}){note}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    manifest = merge_datasets([Path(p) for p in args.inputs], Path(args.out), overwrite=args.overwrite)
    splits = ", ".join(f"{k} {v}" for k, v in manifest["splits"].items())
    print(f"wrote {args.out}: {splits} ({manifest['width']}x{manifest['height']}, {len(manifest['charset'])} classes)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    summary = check_dataset(args.dir)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    counts = export_pngs(args.dir, args.out, split=args.split, limit=args.limit, overwrite=args.overwrite)
    wrote = f"wrote {args.out}: {', '.join(f'{k} {v}' for k, v in counts.items())} PNGs"
    if set(counts) == {"unlabeled"}:  # nothing labelled to import on its own: the folder joins an import
        print(f"{wrote}; give them to an import of labelled images with --unlabeled {Path(args.out) / 'unlabeled'}")
        return 0
    print(f"{wrote}; import them back with:\n  {import_command(args.dir, args.out)}")
    return 0
