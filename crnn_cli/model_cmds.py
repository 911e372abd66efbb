"""``crnn train | eval | predict | export``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crnn.config import PRESETS
from crnn.errors import UserError
from crnn_cli.flags import add_alias, add_tracking_flags


def cmd_train(args: argparse.Namespace) -> int:
    from crnn.lock import writer_lock  # noqa: PLC0415

    with writer_lock(args.out, "run"):
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from crnn.tracking import make_tracker  # noqa: PLC0415 - keep `crnn --help` fast
    from crnn.training.launch import Launch, run, run_config  # noqa: PLC0415
    from crnn.training.options import FitOptions  # noqa: PLC0415

    if args.overfit < 0:
        raise UserError(f"--overfit {args.overfit}: must be a positive number of samples")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1 (leave it out to train in this process)")
    config = run_config(args.out, args.preset, args.config, args.set, args.resume)
    launch = Launch(
        workers=args.workers or 0, gpus_per_worker=args.gpus_per_worker, address=args.address, storage=args.storage,
        max_failures=args.max_failures,
    )  # fmt: skip
    opts = FitOptions(
        resume=args.resume, overfit=args.overfit, device=args.device, max_minutes=args.max_minutes,
        tracker=make_tracker(args.logger, args.out, args.tracking_uri),  # checked before anything starts
    )  # fmt: skip
    best = run(args.data, Path(args.out), config, launch, opts, init_from=args.init_from)
    if best:
        print(
            f"best epoch {best['epoch']}: val exact {best['exact_acc']:.2%}, char {best['char_acc']:.2%}, "
            f"edit distance {best['edit_distance']:.3f}; model in {Path(args.out) / 'checkpoints' / 'best.pt'}"
        )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from crnn.provenance import provenance_line  # noqa: PLC0415
    from crnn.report import format_report  # noqa: PLC0415

    if args.model.endswith(".onnx"):  # an exported model: onnxruntime, no torch
        from crnn.inference.onnx_eval import evaluate_onnx  # noqa: PLC0415

        report, provenance = evaluate_onnx(args.model, args.data, args.split, args.beam_width, args.limit)
    else:
        from crnn.inference.evaluate import evaluate_dataset  # noqa: PLC0415
        from crnn.training.checkpoint import load_model  # noqa: PLC0415

        loaded = load_model(args.model)
        report = evaluate_dataset(loaded, args.data, args.split, args.beam_width, args.limit)
        provenance = loaded.state.get("provenance")
    if args.json:
        report["provenance"] = provenance
        print(json.dumps({k: v for k, v in report.items() if k != "confusions"}))  # pair_rates carries them, with rates
    else:
        print(format_report(report, f"{args.data} [{args.split}]", report["beam_width"]))
        print(provenance_line(provenance))
    return 0


def _predict_model(path: str, threads: int):
    """``model.onnx``: onnxruntime from the file alone (no torch import); anything else: a checkpoint."""
    if path.endswith(".onnx"):
        from crnn.inference.stream import OnnxModel  # noqa: PLC0415

        return OnnxModel(path, threads)
    from crnn.inference.predict import TorchModel  # noqa: PLC0415
    from crnn.training.checkpoint import load_model  # noqa: PLC0415

    if threads:
        import torch  # noqa: PLC0415

        torch.set_num_threads(threads)
    return TorchModel(load_model(path))


def cmd_predict(args: argparse.Namespace) -> int:
    import sys  # noqa: PLC0415

    from crnn.atomic import partial_path  # noqa: PLC0415
    from crnn.inference.stream import Writer, expand_sources, predict_stream  # noqa: PLC0415
    from crnn.progress import Progress  # noqa: PLC0415
    from crnn.stats import wilson  # noqa: PLC0415

    for value, flag in ((args.batch_size, "--batch-size"), (args.beam_width, "--beam-width")):
        if value is not None and value < 1:
            raise UserError(f"{flag} {value}: must be at least 1" + (" (1 = greedy)" if flag == "--beam-width" else ""))
    model = _predict_model(args.model, args.threads)
    items = expand_sources(args.sources, labelled=args.labelled, split=args.split)
    with_labels = any(item.label is not None for item in items)
    tmp = partial_path(Path(args.out)) if args.out else None
    out = tmp.open("w", newline="") if tmp else sys.stdout
    right = answered = skipped = 0
    try:
        writer = Writer(out, args.format, with_labels)
        with Progress(len(items), "predict", enabled=args.out is not None) as progress:
            for row in predict_stream(model, items, args.batch_size, args.beam_width, args.resize, args.skip_invalid):
                writer.write(row)
                if row.error:
                    skipped += 1
                    print(f"skipped {row.error}", file=sys.stderr)
                elif row.label is not None:
                    answered += 1
                    right += row.prediction == row.label
                progress.update(1)
    finally:
        if tmp:
            out.close()
    if tmp:
        tmp.replace(args.out)  # whole or not at all
        print(f"wrote {args.out}: {len(items) - skipped} predictions ({args.format})", file=sys.stderr)
    if skipped:
        print(f"{skipped} of {len(items)} images skipped (--skip-invalid)", file=sys.stderr)
    if answered:
        lo, hi = wilson(right, answered)
        print(f"exact accuracy {right / answered:.2%} [{lo:.2%}, {hi:.2%}] on {answered} labelled images", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from crnn.inference.export import export_model  # noqa: PLC0415
    from crnn.training.checkpoint import load_model  # noqa: PLC0415

    out = export_model(load_model(args.model), args.format, args.out)
    if args.format == "pt":
        print(f"wrote {out} (inference-only checkpoint, {out.stat().st_size / 2**20:.1f} MiB: weights, config, charset)")
    else:
        print(f"wrote {out} ({args.format}; input images (B, C, H, W) in [0, 1], output log-probs (T, B, K))")
    return 0


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
        "--init-from", metavar="MODEL",
        help="start from this model's weights (run folder or checkpoint): tensors of matching name and shape are copied",
    )  # fmt: skip
    ray = p.add_argument_group("Ray Train (data parallel across workers; the same command again resumes the run)")
    ray.add_argument("--workers", type=int, help="number of Ray Train workers (DDP); without it, one process and no Ray")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per worker (0: CPU workers, gloo)")
    ray.add_argument("--address", help="attach to a cluster: auto or HOST:PORT (default: start a local Ray)")
    ray.add_argument("--storage", help="where Ray keeps checkpoints: a path, or s3://, gs://, file:// (shared on multi-node)")
    ray.add_argument("--max-failures", type=int, default=0, help="replace a dead worker and continue this many times")
    p.set_defaults(func=cmd_train)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a model on a dataset split")
    p.add_argument("--model", required=True, help="run folder, checkpoint file, or a model.onnx from crnn export (no torch)")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", help="train, val, test or all (every split; default test)")
    p.add_argument("--beam-width", type=int, help="decoding beam width; 1 = greedy (default: the model's)")
    p.add_argument("--limit", type=int, default=0, help="score only the first N samples")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: every figure, the 95%% interval of exact, each substitution's rate")  # fmt: skip
    p.set_defaults(func=cmd_eval)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="read the text in images: files, folders, globs, CSVs of paths, datasets")
    p.add_argument("--model", required=True, help="run folder, checkpoint file, or a model.onnx from crnn export (no torch)")
    p.add_argument("sources", nargs="+", metavar="SRC",
                   help="image files, folders, glob patterns ('imgs/*.png'), CSV files with a path[,label] header, "
                   "or dataset folders (their --split)")  # fmt: skip
    p.add_argument("--format", default="tsv", choices=["tsv", "csv", "jsonl"],
                   help="tsv: path, prediction, confidence (+ label, correct when known); csv with a header; jsonl")  # fmt: skip
    p.add_argument("--out", help="write here (atomically, with a progress bar) instead of stdout")
    p.add_argument("--batch-size", type=int, default=256, help="images read and run at once (default 256): memory is flat")
    p.add_argument("--beam-width", type=int, help="decoding beam width; 1 = greedy (default: the model's)")
    p.add_argument("--resize", action="store_true", help="resize images of another size to the model's")
    add_alias(p, "--labelled", "--labeled", "labelled", switch=True)
    p.add_argument("--labeled", dest="labelled", action="store_true",
                   help="file names carry the labels (LABEL_anything.png, as crnn data import reads them): "
                   "adds label and correct columns and the accuracy")  # fmt: skip
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="a dataset source's split (test)")
    p.add_argument("--skip-invalid", action="store_true", help="report an unreadable or wrong-size image and go on")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the model (0: the runtime's default)")
    p.set_defaults(func=cmd_predict)


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model to ONNX, TorchScript or an inference-only checkpoint")
    p.add_argument("--model", required=True, help="run folder or checkpoint file")
    p.add_argument("--format", required=True, choices=["onnx", "torchscript", "pt"],
                   help="pt: the checkpoint without optimizer and training state (to publish; not resumable)")  # fmt: skip
    p.add_argument("--out", required=True, help="output file")
    p.set_defaults(func=cmd_export)


def register(sub: argparse._SubParsersAction) -> None:
    _add_train(sub)
    _add_eval(sub)
    _add_predict(sub)
    _add_export(sub)
