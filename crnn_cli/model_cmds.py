"""``crnn train | eval | predict | export``."""

from __future__ import annotations

import argparse

from crnn.config import PRESETS
from crnn_cli.flags import add_alias, add_tracking_flags, command


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a CRNN on a dataset")
    p.add_argument("--data", required=True, help="dataset folder (crnn data synth/import)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics, curves, config")
    p.add_argument("--preset", default="cpu-fast", help=f"starting config: {', '.join(PRESETS)} (default cpu-fast)")
    p.add_argument("--config", help="YAML/JSON file with model: and train: sections, applied over the preset")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.optim.lr=3e-3 (repeatable)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument(
        "--overfit", type=int, default=0, metavar="N", help="train and validate on N training samples (a sanity check)"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop after the epoch that passes this much training time")
    add_tracking_flags(p)
    p.add_argument(
        "--init-from",
        metavar="MODEL",
        help="start from this model's weights (run folder or checkpoint): tensors of matching name and shape are copied",
    )
    ray = p.add_argument_group("Ray Train (data parallel across workers; the same command again resumes the run)")
    ray.add_argument("--workers", type=int, help="number of Ray Train workers (DDP); without it, one process and no Ray")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per worker (0: CPU workers, gloo)")
    ray.add_argument("--address", help="attach to a cluster: auto or HOST:PORT (default: start a local Ray)")
    ray.add_argument("--storage", help="where Ray keeps checkpoints: a path, or s3://, gs://, file:// (shared on multi-node)")
    ray.add_argument("--max-failures", type=int, default=0, help="replace a dead worker and continue this many times")
    p.set_defaults(func=command("model", "cmd_train"))


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a model on a dataset split")
    p.add_argument("--model", required=True, help="run folder, checkpoint file, or a model.onnx from crnn export (no torch)")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", help="train, val, test or all (every split; default test)")
    p.add_argument("--beam-width", type=int, help="decoding beam width; 1 = greedy (default: the model's)")
    p.add_argument("--limit", type=int, default=0, help="score only the first N samples")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: every figure, the 95%% interval of exact, each substitution's rate",
    )
    p.set_defaults(func=command("predict", "cmd_eval"))


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="read the text in images: files, folders, globs, CSVs of paths, datasets")
    p.add_argument("--model", required=True, help="run folder, checkpoint file, or a model.onnx from crnn export (no torch)")
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SRC",
        help="image files, folders, glob patterns ('imgs/*.png'), CSV files with a path[,label] header, "
        "or dataset folders (their --split)",
    )
    p.add_argument(
        "--format",
        default="tsv",
        choices=["tsv", "csv", "jsonl"],
        help="tsv: path, prediction, confidence (+ label, correct when known); csv with a header; jsonl",
    )
    p.add_argument("--out", help="write here (atomically, with a progress bar) instead of stdout")
    p.add_argument("--batch-size", type=int, default=256, help="images read and run at once (default 256): memory is flat")
    p.add_argument("--beam-width", type=int, help="decoding beam width; 1 = greedy (default: the model's)")
    p.add_argument("--resize", action="store_true", help="resize images of another size to the model's")
    add_alias(p, "--labelled", "--labeled", "labelled", switch=True)
    p.add_argument(
        "--labeled",
        dest="labelled",
        action="store_true",
        help="file names carry the labels (LABEL_anything.png, as crnn data import reads them): "
        "adds label and correct columns and the accuracy",
    )
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="a dataset source's split (test)")
    p.add_argument("--skip-invalid", action="store_true", help="report an unreadable or wrong-size image and go on")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the model (0: the runtime's default)")
    p.set_defaults(func=command("predict", "cmd_predict"))


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model to ONNX, TorchScript or an inference-only checkpoint")
    p.add_argument("--model", required=True, help="run folder or checkpoint file")
    p.add_argument(
        "--format",
        required=True,
        choices=["onnx", "torchscript", "pt"],
        help="pt: the checkpoint without optimizer and training state (to publish; not resumable)",
    )
    p.add_argument("--out", required=True, help="output file")
    p.set_defaults(func=command("export", "cmd_export"))


def register(sub: argparse._SubParsersAction) -> None:
    _add_train(sub)
    _add_eval(sub)
    _add_predict(sub)
    _add_export(sub)
