"""``crnn eval`` and ``crnn predict``: a model.onnx is read without torch; a checkpoint through torch."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crnn.atomic import partial_path
from crnn.errors import UserError
from crnn.inference.onnx_eval import evaluate_onnx
from crnn.inference.stream import OnnxModel, Writer, expand_sources, predict_stream
from crnn.progress import Progress
from crnn.provenance import provenance_line
from crnn.report import format_report
from crnn.stats import wilson


def cmd_eval(args: argparse.Namespace) -> int:
    if args.model.endswith(".onnx"):  # an exported model: onnxruntime, no torch
        report, provenance = evaluate_onnx(args.model, args.data, args.split, args.beam_width, args.limit)
    else:
        from crnn.inference.evaluate import evaluate_checkpoint  # noqa: PLC0415 - torch only for a checkpoint

        report, provenance = evaluate_checkpoint(args.model, args.data, args.split, args.beam_width, args.limit)
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
        return OnnxModel(path, threads)
    from crnn.inference.predict import open_checkpoint  # noqa: PLC0415 - torch only for a checkpoint

    return open_checkpoint(path, threads)


def cmd_predict(args: argparse.Namespace) -> int:
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
