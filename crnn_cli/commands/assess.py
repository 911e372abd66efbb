"""``crnn assess``: runs the assessment (or compares reports) from the parsed flags of ``crnn_cli/assess_cmds.py``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from crnn.errors import UserError
from tune.assess.report import compare, write_report
from tune.assess.run import AssessOptions, home_of, pull_assessment, push_report, run_assess
from tune.assess.sizes import bracket_text


def cmd_assess(args: argparse.Namespace) -> int:
    if args.compare:
        print(compare(args.compare, Path(args.out) if args.out else None), end="")
        if args.out:
            print(f"wrote {args.out}/compare.md and compare.png")
        return 0
    if args.report_only and not args.out:
        raise UserError("--report-only needs --out REPORT, the assessment folder to rewrite the report of")
    if not args.report_only and (not args.data or not args.out):
        raise UserError("--data and --out are required (or --compare REPORT..., or --out REPORT --report-only)")

    if args.report_only:
        home = home_of(args.out, args.storage)
        pull_assessment(home)
        a = write_report(home.local)
        push_report(home)
    else:
        opts = AssessOptions(
            data=args.data,
            out=args.out,
            sizes=args.sizes,
            repeats=args.repeats,
            minutes_per_run=args.minutes_per_run,
            preset=args.preset,
            config=args.config,
            sets=tuple(args.set),
            init_from=args.init_from,
            attackers=args.attackers,
            unlabeled_count=args.unlabeled_count,
            address=args.address,
            workers_per_run=args.workers_per_run,
            gpus_per_worker=args.gpus_per_worker,
            max_epochs=args.max_epochs,
            min_images=args.min_images,
            seed=args.seed,
            max_concurrent=args.max_concurrent,
            logger=args.logger,
            tracking_uri=args.tracking_uri,
            storage=args.storage,
            trust_experiment=args.trust_experiment,
        )
        out = run_assess(opts, command="crnn " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
        a = json.loads((out / "assessment.json").read_text())
    brackets = a.get("brackets") or {t: [None, v] for t, v in a["labels_to_break"].items()}  # written before brackets
    ltb = ", ".join(f"{float(t):.0%}: {bracket_text(*b)}" for t, b in brackets.items())
    if a["verdict"] == "incomplete":
        print(
            f"verdict: incomplete ({a['finished']} of {a['planned']} runs finished; resume with: {a['resume']}); "
            f"report: {args.out}/report.md"
        )
        return 0
    who = f" by {a['strongest']}" if a.get("strongest") else ""
    print(f"verdict: {a['verdict']}{who}; labels to break {ltb}; report: {args.out}/report.md")
    return 0
