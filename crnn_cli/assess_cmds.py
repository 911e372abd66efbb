"""``crnn assess``: how many labels and how much compute break a CAPTCHA scheme."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from crnn.errors import UserError
from crnn_cli.flags import add_alias, add_tracking_flags, add_trust_flag


def cmd_assess(args: argparse.Namespace) -> int:
    if args.compare:
        from tune.assess.report import compare  # noqa: PLC0415

        print(compare(args.compare, Path(args.out) if args.out else None), end="")
        if args.out:
            print(f"wrote {args.out}/compare.md and compare.png")
        return 0
    if args.report_only and not args.out:
        raise UserError("--report-only needs --out REPORT, the assessment folder to rewrite the report of")
    if not args.report_only and (not args.data or not args.out):
        raise UserError("--data and --out are required (or --compare REPORT..., or --out REPORT --report-only)")
    from tune.assess.report import write_report  # noqa: PLC0415
    from tune.assess.run import AssessOptions, home_of, pull_assessment, push_report, run_assess  # noqa: PLC0415
    from tune.assess.sizes import bracket_text  # noqa: PLC0415

    if args.report_only:
        home = home_of(args.out, args.storage)
        pull_assessment(home)
        a = write_report(home.local)
        push_report(home)
    else:
        opts = AssessOptions(
            data=args.data, out=args.out, sizes=args.sizes, repeats=args.repeats, minutes_per_run=args.minutes_per_run,
            preset=args.preset, config=args.config, sets=tuple(args.set), init_from=args.init_from, attackers=args.attackers,
            unlabeled_count=args.unlabeled_count, address=args.address,
            workers_per_run=args.workers_per_run, gpus_per_worker=args.gpus_per_worker, max_epochs=args.max_epochs,
            min_images=args.min_images, seed=args.seed, max_concurrent=args.max_concurrent, logger=args.logger,
            tracking_uri=args.tracking_uri, storage=args.storage, trust_experiment=args.trust_experiment,
        )  # fmt: skip
        out = run_assess(opts, command="crnn " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
        a = json.loads((out / "assessment.json").read_text())
    brackets = a.get("brackets") or {t: [None, v] for t, v in a["labels_to_break"].items()}  # written before brackets
    ltb = ", ".join(f"{float(t):.0%}: {bracket_text(*b)}" for t, b in brackets.items())
    if a["verdict"] == "incomplete":
        print(f"verdict: incomplete ({a['finished']} of {a['planned']} runs finished; resume with: {a['resume']}); "
              f"report: {args.out}/report.md")  # fmt: skip
        return 0
    who = f" by {a['strongest']}" if a.get("strongest") else ""
    print(f"verdict: {a['verdict']}{who}; labels to break {ltb}; report: {args.out}/report.md")
    return 0


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
        "split, else base); each runs its own curve and the strongest gives the verdict",
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
    p.add_argument("--workers", dest="workers_per_run", type=int, default=1,
                   help="Ray Train (DDP) workers per run; >1: each run is a Train run under REPORT/train_runs")  # fmt: skip
    add_alias(p, "--workers-per-run", "--workers", "workers_per_run", type=int)
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per run")
    p.add_argument("--max-concurrent", type=int, help="runs at once (default: what the cluster fits)")
    add_trust_flag(p, "assessment")
    add_tracking_flags(p)
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the finished runs, train nothing")
    p.add_argument("--compare", nargs="+", metavar="REPORT", help="one table and one plot across assessments")
    p.set_defaults(func=cmd_assess)
