"""``crnn data synth | import | merge | check | preview | export``."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from crnn.charset import NAMED_CHARSETS, parse_length, resolve_charset
from crnn.errors import UserError
from crnn_cli.flags import add_alias


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
    from crnn.data.synth import SynthSpec, synthesize  # noqa: PLC0415 - keep `crnn --help` fast

    spec = SynthSpec(
        charset=resolve_charset(args.charset), length=parse_length(args.length),
        width=args.width, height=args.height, seed=args.seed, colour=args.colour, generator=args.generator,
    )  # fmt: skip
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
    from crnn.data.importer import ImportOptions, import_images  # noqa: PLC0415

    opts = ImportOptions(
        charset=args.charset, length=args.length, resize=parse_size(args.resize) if args.resize else None,
        fractions=parse_fractions(args.split), seed=args.seed, skip_invalid=args.skip_invalid, overwrite=args.overwrite,
        colour=args.colour, unlabeled=Path(args.unlabeled) if args.unlabeled else None,
    )  # fmt: skip
    manifest = import_images(Path(args.src), Path(args.out), opts)
    splits = ", ".join(f"{k} {v}" for k, v in manifest["splits"].items())
    skipped = manifest["source"]["skipped"]
    note = f"; skipped {skipped}, see {Path(args.out) / 'import_report.json'}" if skipped else ""
    print(f"wrote {args.out}: {splits} ({manifest['width']}x{manifest['height']}, charset {manifest['charset']}){note}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from crnn.data.merge import merge_datasets  # noqa: PLC0415

    manifest = merge_datasets([Path(p) for p in args.inputs], Path(args.out), overwrite=args.overwrite)
    splits = ", ".join(f"{k} {v}" for k, v in manifest["splits"].items())
    print(f"wrote {args.out}: {splits} ({manifest['width']}x{manifest['height']}, {len(manifest['charset'])} classes)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from crnn.data.check import check_dataset, format_summary  # noqa: PLC0415

    summary = check_dataset(args.dir)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from crnn.data.sheet import preview  # noqa: PLC0415

    model = None
    if args.model:
        from crnn.training.checkpoint import load_checkpoint, resolve_model_path  # noqa: PLC0415 - torch only with --model

        path = resolve_model_path(args.model)
        model = (load_checkpoint(path).get("config") or {}).get("model")
        if not isinstance(model, dict):
            raise UserError(f"--model {path}: a checkpoint without a model config; give a run folder or a crnn checkpoint")
    out = Path(args.out) if args.out else Path(f"preview-{Path(args.dir).name}-{args.split}.png")
    preview(args.dir, out, split=args.split, count=args.count, seed=args.seed, model=model)
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from crnn.data.png_export import export_pngs, import_command  # noqa: PLC0415

    counts = export_pngs(args.dir, args.out, split=args.split, limit=args.limit, overwrite=args.overwrite)
    wrote = f"wrote {args.out}: {', '.join(f'{k} {v}' for k, v in counts.items())} PNGs"
    if set(counts) == {"unlabeled"}:  # nothing labelled to import on its own: the folder joins an import
        print(f"{wrote}; give them to an import of labelled images with --unlabeled {Path(args.out) / 'unlabeled'}")
        return 0
    print(f"{wrote}; import them back with:\n  {import_command(args.dir, args.out)}")
    return 0


def _add_synth(dsub: argparse._SubParsersAction, charsets: str) -> None:
    p = dsub.add_parser("synth", help="generate CAPTCHAs with the captcha package's ImageCaptcha")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--count", type=int, required=True, help="number of images in all splits")
    p.add_argument("--seed", type=int, default=0, help="fixes labels and pixels (default 0)")
    p.add_argument("--length", default="5", help="characters per label: N or LO-HI (default 5)")
    p.add_argument("--charset", default="alnum", help=f"a named set ({charsets}) or the characters (default alnum, 62)")
    p.add_argument("--width", type=int, default=150, help="image width (default 150)")
    p.add_argument("--height", type=int, default=40, help="image height (default 40)")
    p.add_argument("--split-sizes", dest="split", default="90/5/5", metavar="TRAIN/VAL/TEST",
                   help="train/val/test proportions (90/5/5) or counts (1600/400/1000)")  # fmt: skip
    add_alias(p, "--split", "--split-sizes", "split")
    p.add_argument("--color", dest="colour", action="store_true", help="keep the generator's RGB images (default: greyscale)")
    add_alias(p, "--colour", "--color", "colour", switch=True)
    p.add_argument("--generator", default="captcha",
                   help="captcha (the captcha package, default) or family (a wide family of styles: base models)")  # fmt: skip
    p.add_argument("--unlabeled", type=int, default=0, metavar="N",
                   help="also write N more images without labels (the unlabeled split, for train.semi)")  # fmt: skip
    p.add_argument("--processes", dest="workers", type=int, default=0, help="rendering processes (default: one per CPU)")
    add_alias(p, "--workers", "--processes", "workers", type=int)
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    p.set_defaults(func=cmd_synth)


def _add_import(dsub: argparse._SubParsersAction, charsets: str) -> None:
    p = dsub.add_parser("import", help="import your own labelled images (a folder or a CSV)")
    p.add_argument("src", help="folder of images named LABEL.png / LABEL_anything.png, or a CSV with path,label[,split]")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument(
        "--charset",
        default="auto",
        help=f"allowed characters: auto (from the labels), a named set ({charsets}) or the characters",
    )
    p.add_argument("--length", default="auto", help="allowed label length: auto (from the labels), N or LO-HI")
    p.add_argument("--resize", metavar="WxH", help="resize every image to WxH; without it all images must share one size")
    p.add_argument("--split-sizes", dest="split", default="90/5/5", metavar="TRAIN/VAL/TEST",
                   help="train/val/test proportions (90/5/5) or counts (1600/400/1000) of rows with no split column")  # fmt: skip
    add_alias(p, "--split", "--split-sizes", "split")
    p.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    p.add_argument("--color", dest="colour", action="store_true", help="keep RGB (default: convert to greyscale)")
    add_alias(p, "--colour", "--color", "colour", switch=True)
    p.add_argument("--unlabeled", metavar="DIR",
                   help="a folder of the scheme's unlabelled images (any names): the unlabeled split")  # fmt: skip
    p.add_argument("--skip-invalid", action="store_true", help="import the valid images, list the rest in import_report.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    p.set_defaults(func=cmd_import)


def _add_merge(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("merge", help="merge datasets: each split is that split of every input, in order")
    p.add_argument("inputs", nargs="+", metavar="DATASET", help="dataset folders (one image size and colour)")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    p.set_defaults(func=cmd_merge)


def _add_check(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("check", help="validate a dataset and print its summary")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_check)


def _add_preview(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("preview", help="a contact sheet (PNG) of a split's images with their labels")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--split", default="train", help="train, val, test or unlabeled")
    p.add_argument("--count", type=int, default=16, help="images on the sheet (a seeded sample; only these are read)")
    p.add_argument("--seed", type=int, default=0, help="which images the sample takes")
    p.add_argument("--model", metavar="RUN|CKPT",
                   help="also show each image as this model reads it (its crop, colour and input height)")  # fmt: skip
    p.add_argument("--out", metavar="PNG", help="sheet to write (default: preview-DATASET-SPLIT.png here)")
    p.set_defaults(func=cmd_preview)


def _add_export(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("export", help="write a dataset's images as PNGs that `crnn data import` reads back")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--out", required=True, help="folder to create: LABEL_SPLITi.png files and labels.csv")
    p.add_argument("--split", default="all", help="train, val, test, unlabeled or all")
    p.add_argument("--limit", type=int, default=0, help="at most this many images of each split (0: all)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    p.set_defaults(func=cmd_export)


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="make, import, check, preview and export datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    charsets = ", ".join(NAMED_CHARSETS)
    _add_synth(dsub, charsets)
    _add_import(dsub, charsets)
    _add_merge(dsub)
    _add_check(dsub)
    _add_preview(dsub)
    _add_export(dsub)
