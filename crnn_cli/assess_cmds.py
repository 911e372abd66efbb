"""``crnn assess``: how many labels and how much compute break a CAPTCHA scheme."""

from __future__ import annotations

import argparse

from crnn_cli.flags import add_alias, add_tracking_flags, add_trust_flag, command


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assess", help="labels-to-break curve of a CAPTCHA scheme: how many labels break it")
    p.add_argument("--data", help="the scheme's dataset folder (crnn data synth/import); its test split scores every run")
    p.add_argument("--out", help="report folder: assessment.json, report.md, curve.png, coverage.png, runs/")
    p.add_argument(
        "--sizes",
        help="training-set sizes, nested: auto (default: 25, 100, 400, ... then refined until every labels-to-break "
        "is known within 2x) or a list such as 250,1000,4000",
    )
    p.add_argument(
        "--attackers",
        help="comma-separated: scratch, base, semi, base+semi (default: base+semi if the dataset has an unlabeled "
        "split, else base), and ddddocr (a free OCR off the shelf, 0 labels; the ddddocr extra); each runs its own "
        "curve and the strongest gives the verdict",
    )
    p.add_argument(
        "--unlabeled-count", type=int, default=5000, help="unlabelled images the semi attackers use at most (default 5000)"
    )
    p.add_argument("--repeats", type=int, default=1, help="runs per size, each on its own nested subsets (default 1)")
    p.add_argument("--minutes-per-run", type=float, default=0.0, help="stop a run after the epoch past this (0: no limit)")
    p.add_argument("--max-epochs", type=int, default=200, help="epochs per run at most (default 200)")
    p.add_argument("--min-images", type=int, default=200_000, help="images each run sees at least: epochs = this / size")
    p.add_argument("--preset", default="cpu-fast", help="the recipe's training preset (default cpu-fast)")
    p.add_argument("--config", help="a search's best_config.json, or a YAML/JSON config over the preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the recipe (repeatable)")
    p.add_argument("--init-from", help="start the scratch and semi attackers' runs from this model (run folder or checkpoint)")
    p.add_argument("--seed", type=int, default=0, help="seed of the nested subsets")
    p.add_argument("--address", help="attach to a Ray cluster: auto or HOST:PORT (default: a local Ray)")
    p.add_argument(
        "--storage",
        help="s3://bucket/path or gs://...: the assessment's home is STORAGE/<name of --out> (runs, plan, report); "
        "--out is its local working copy. S3-compatible servers: AWS_ENDPOINT_URL",
    )
    p.add_argument(
        "--workers",
        dest="workers_per_run",
        type=int,
        default=1,
        help="Ray Train (DDP) workers per run; >1: each run is a Train run under REPORT/train_runs",
    )
    add_alias(p, "--workers-per-run", "--workers", "workers_per_run", type=int)
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per run")
    p.add_argument("--max-concurrent", type=int, help="runs at once (default: what the cluster fits)")
    add_trust_flag(p, "assessment")
    add_tracking_flags(p)
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the finished runs, train nothing")
    p.add_argument("--compare", nargs="+", metavar="REPORT", help="one table and one plot across assessments")
    p.set_defaults(func=command("assess", "cmd_assess"))
