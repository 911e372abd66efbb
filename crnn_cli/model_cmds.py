"""``crnn train | eval | predict | export``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crnn.config import PRESETS
from crnn.errors import UserError


def cmd_train(args: argparse.Namespace) -> int:
    from crnn.config import resolve_config, resumed_config  # noqa: PLC0415 - keep `crnn --help` fast
    from crnn.data.store import load_dataset  # noqa: PLC0415
    from crnn.train.checkpoint import init_source  # noqa: PLC0415
    from crnn.train.fit import FitOptions, fit  # noqa: PLC0415
    from crnn.train.rundir import RunDir  # noqa: PLC0415

    if args.overfit < 0:
        raise UserError(f"--overfit {args.overfit}: must be a positive number of samples")
    config = resolve_config(args.preset, args.config, args.set)
    saved = RunDir(args.out).saved_config() if args.resume else None
    if saved is not None:  # continue the run as configured, not as the preset reads today
        config = resumed_config(saved, args.config, args.set)
    init_from, source = None, {}
    if args.init_from:
        source = init_source(args.init_from)  # also a clear error for a bad path, before anything starts
        init_from = str(Path(args.init_from).resolve())  # Ray Train workers load it themselves
    if args.workers is not None:
        from crnn.train.ray_train import Cluster, train_distributed  # noqa: PLC0415

        if args.overfit:
            raise UserError("--overfit runs in one process; drop --workers")
        cluster = Cluster(
            workers=args.workers, gpus_per_worker=args.gpus_per_worker, address=args.address,
            storage=args.storage, max_failures=args.max_failures,
        )  # fmt: skip
        best = train_distributed(args.data, args.out, config, cluster, max_minutes=args.max_minutes, init_from=init_from)
    else:
        for flag in ("address", "storage"):
            if getattr(args, flag) is not None:
                raise UserError(f"--{flag} needs --workers N (Ray Train); without it training runs in this process")
        data = load_dataset(args.data, splits=("train", "val"), mmap=True)
        opts = FitOptions(
            resume=args.resume, overfit=args.overfit, device=args.device, max_minutes=args.max_minutes,
            **source,
        )  # fmt: skip
        best = fit(data, Path(args.out), config, opts)
    if best:
        print(
            f"best epoch {best['epoch']}: val exact {best['exact_acc']:.2%}, char {best['char_acc']:.2%}, "
            f"edit distance {best['edit_distance']:.3f}; model in {Path(args.out) / 'checkpoints' / 'best.pt'}"
        )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from crnn.data.store import SPLITS, load_dataset  # noqa: PLC0415
    from crnn.evaluate import evaluate_model, format_report  # noqa: PLC0415
    from crnn.train.checkpoint import load_model  # noqa: PLC0415

    loaded = load_model(args.model)
    # mapped, not read: `--split train` of a million-image pool is scored a batch at a time
    data = load_dataset(args.data, splits=SPLITS if args.split == "all" else (args.split,), mmap=True)
    split = data.require_images(args.split)
    unknown = loaded.charset.invalid_chars("".join(split.labels))
    if unknown:
        raise UserError(f"--data {args.data}: labels use {unknown!r}, which the model's charset {loaded.charset.chars!r} lacks")
    if data.image_size != (loaded.height, loaded.width):
        h, w = data.image_size
        raise UserError(f"--data {args.data}: images are {w}x{h}, the model takes {loaded.width}x{loaded.height}")
    beam = args.beam_width if args.beam_width is not None else loaded.beam_width
    if beam < 1:
        raise UserError(f"--beam-width {beam}: must be at least 1 (1 = greedy)")
    report = evaluate_model(loaded, split, beam, limit=args.limit)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "confusions"}))  # pair_rates carries them, with rates
    else:
        print(format_report(report, f"{args.data} [{args.split}]", beam))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from crnn.predict import predict_arrays, read_images  # noqa: PLC0415
    from crnn.train.checkpoint import load_model  # noqa: PLC0415

    loaded = load_model(args.model)
    beam = args.beam_width if args.beam_width is not None else loaded.beam_width
    if beam < 1:
        raise UserError(f"--beam-width {beam}: must be at least 1 (1 = greedy)")
    images = read_images(args.images, loaded.height, loaded.width, resize=args.resize, channels=loaded.channels)
    preds, confs = predict_arrays(loaded, images, beam)
    for path, pred, conf in zip(args.images, preds, confs, strict=True):
        print(f"{path}\t{pred}\t{conf:.4f}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from crnn.export import export_model  # noqa: PLC0415
    from crnn.train.checkpoint import load_model  # noqa: PLC0415

    out = export_model(load_model(args.model), args.format, args.out)
    if args.format == "pt":
        print(f"wrote {out} (inference-only checkpoint, {out.stat().st_size / 2**20:.1f} MiB: weights, config, charset)")
    else:
        print(f"wrote {out} ({args.format}; input images (B, C, H, W) in [0, 1], output log-probs (T, B, K))")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a CRNN on a dataset")
    p.add_argument("--data", required=True, help="dataset folder (crnn data synth/import)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics, curves, config")
    p.add_argument("--preset", default="cpu-fast", help=f"starting config: {', '.join(PRESETS)} (default cpu-fast)")
    p.add_argument("--config", help="YAML/JSON file with model: and train: sections, applied over the preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.lr=3e-3 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument(
        "--overfit", type=int, default=0, metavar="N", help="train and validate on N training samples (a sanity check)"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop after the epoch that passes this much training time")
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

    p = sub.add_parser("eval", help="score a model on a dataset split")
    p.add_argument("--model", required=True, help="run folder or checkpoint file")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", help="train, val, test or all (every split; default test)")
    p.add_argument("--beam-width", type=int, help="decoding beam width; 1 = greedy (default: the model's)")
    p.add_argument("--limit", type=int, default=0, help="score only the first N samples")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: every figure, the 95%% interval of exact, each substitution's rate")  # fmt: skip
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="read the text in image files")
    p.add_argument("--model", required=True, help="run folder or checkpoint file")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--beam-width", type=int, help="decoding beam width; 1 = greedy (default: the model's)")
    p.add_argument("--resize", action="store_true", help="resize images of another size to the model's")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="export a model to ONNX, TorchScript or an inference-only checkpoint")
    p.add_argument("--model", required=True, help="run folder or checkpoint file")
    p.add_argument("--format", required=True, choices=["onnx", "torchscript", "pt"],
                   help="pt: the checkpoint without optimizer and training state (to publish; not resumable)")  # fmt: skip
    p.add_argument("--out", required=True, help="output file")
    p.set_defaults(func=cmd_export)
