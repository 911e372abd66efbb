"""``crnn data synth | import | merge | check | preview | export``."""

from __future__ import annotations

import argparse

from crnn.charset import NAMED_CHARSETS
from crnn_cli.flags import add_alias, command


def _add_synth(dsub: argparse._SubParsersAction, charsets: str) -> None:
    p = dsub.add_parser("synth", help="generate CAPTCHAs with the captcha package's ImageCaptcha")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--count", type=int, required=True, help="number of images in all splits")
    p.add_argument("--seed", type=int, default=0, help="fixes labels and pixels (default 0)")
    p.add_argument("--length", default="5", help="characters per label: N or LO-HI (default 5)")
    p.add_argument("--charset", default="alnum", help=f"a named set ({charsets}) or the characters (default alnum, 62)")
    p.add_argument("--width", type=int, default=150, help="image width (default 150)")
    p.add_argument("--height", type=int, default=40, help="image height (default 40)")
    p.add_argument(
        "--split-sizes",
        dest="split",
        default="90/5/5",
        metavar="TRAIN/VAL/TEST",
        help="train/val/test proportions (90/5/5) or counts (1600/400/1000)",
    )
    add_alias(p, "--split", "--split-sizes", "split")
    p.add_argument("--color", dest="colour", action="store_true", help="keep the generator's RGB images (default: greyscale)")
    add_alias(p, "--colour", "--color", "colour", switch=True)
    p.add_argument(
        "--generator",
        default="captcha",
        help="captcha (the captcha package, default) or family (a wide family of styles: base models)",
    )
    p.add_argument(
        "--unlabeled",
        type=int,
        default=0,
        metavar="N",
        help="also write N more images without labels (the unlabeled split, for train.semi)",
    )
    p.add_argument("--processes", dest="workers", type=int, default=0, help="rendering processes (default: one per CPU)")
    add_alias(p, "--workers", "--processes", "workers", type=int)
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    p.set_defaults(func=command("data", "cmd_synth"))


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
    p.add_argument(
        "--split-sizes",
        dest="split",
        default="90/5/5",
        metavar="TRAIN/VAL/TEST",
        help="train/val/test proportions (90/5/5) or counts (1600/400/1000) of rows with no split column",
    )
    add_alias(p, "--split", "--split-sizes", "split")
    p.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    p.add_argument("--color", dest="colour", action="store_true", help="keep RGB (default: convert to greyscale)")
    add_alias(p, "--colour", "--color", "colour", switch=True)
    p.add_argument(
        "--unlabeled", metavar="DIR", help="a folder of the scheme's unlabelled images (any names): the unlabeled split"
    )
    p.add_argument("--skip-invalid", action="store_true", help="import the valid images, list the rest in import_report.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    p.set_defaults(func=command("data", "cmd_import"))


def _add_merge(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("merge", help="merge datasets: each split is that split of every input, in order")
    p.add_argument("inputs", nargs="+", metavar="DATASET", help="dataset folders (one image size and colour)")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    p.set_defaults(func=command("data", "cmd_merge"))


def _add_check(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("check", help="validate a dataset and print its summary")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=command("data", "cmd_check"))


def _add_preview(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("preview", help="a contact sheet (PNG) of a split's images with their labels")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--split", default="train", help="train, val, test or unlabeled")
    p.add_argument("--count", type=int, default=16, help="images on the sheet (a seeded sample; only these are read)")
    p.add_argument("--seed", type=int, default=0, help="which images the sample takes")
    p.add_argument(
        "--model", metavar="RUN|CKPT", help="also show each image as this model reads it (its crop, colour and input height)"
    )
    p.add_argument("--out", metavar="PNG", help="sheet to write (default: preview-DATASET-SPLIT.png here)")
    p.set_defaults(func=command("preview", "cmd_preview"))


def _add_export(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("export", help="write a dataset's images as PNGs that `crnn data import` reads back")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--out", required=True, help="folder to create: LABEL_SPLITi.png files and labels.csv")
    p.add_argument("--split", default="all", help="train, val, test, unlabeled or all")
    p.add_argument("--limit", type=int, default=0, help="at most this many images of each split (0: all)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    p.set_defaults(func=command("data", "cmd_export"))


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
