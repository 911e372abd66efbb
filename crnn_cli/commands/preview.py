"""``crnn data preview``: a contact sheet; with ``--model`` the checkpoint's config says what the model reads (torch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from crnn.data.sheet import preview
from crnn.errors import UserError
from crnn.training.checkpoint import load_checkpoint, resolve_model_path


def cmd_preview(args: argparse.Namespace) -> int:
    model = None
    if args.model:
        path = resolve_model_path(args.model)
        model = (load_checkpoint(path).get("config") or {}).get("model")
        if not isinstance(model, dict):
            raise UserError(f"--model {path}: a checkpoint without a model config; give a run folder or a crnn checkpoint")
    out = Path(args.out) if args.out else Path(f"preview-{Path(args.dir).name}-{args.split}.png")
    preview(args.dir, out, split=args.split, count=args.count, seed=args.seed, model=model)
    print(f"wrote {out}")
    return 0
