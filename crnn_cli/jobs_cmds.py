"""``crnn submit`` and ``crnn jobs``: Ray's Job Submission API, with token auth and a shipped folder.

``crnn submit`` ships the user's working folder (the current directory, or ``--working-dir``) as the
job's ``working_dir``: their configs and space files, and, when it is a checkout of crnn-tune, this
code too (it then takes precedence over the cluster's installed copy). It refuses files that look
like secrets and folders over Ray's size limit before anything leaves the machine."""

from __future__ import annotations

import argparse
import os

from crnn_cli.flags import command


def default_address() -> str:
    return os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_DASHBOARD_ADDRESS") or "http://127.0.0.1:8265"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="submit a crnn command to a Ray cluster as a job (the working folder is shipped)")
    p.add_argument(
        "--address",
        default=default_address(),
        help="job API, e.g. http://HOST:8265 (default: $RAY_API_SERVER_ADDRESS, else http://127.0.0.1:8265; here %(default)s)",
    )
    p.add_argument("--token-file", help="the cluster's token file (default: $RAY_AUTH_TOKEN / $RAY_AUTH_TOKEN_PATH)")
    p.add_argument("--wait", action="store_true", help="follow the logs to the end; exit with the job's status")
    p.add_argument("--job-id", help="a submission id of your choice (default: Ray's)")
    p.add_argument("--working-dir", help="the folder to ship as the job's working directory (default: the current one)")
    p.add_argument("--exclude", action="append", default=[], help="another path or name not to ship (repeatable)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the crnn command, e.g. -- tune --data DIR --name EXP")
    p.set_defaults(func=command("jobs", "cmd_submit"))

    p = sub.add_parser("jobs", help="list, inspect, follow or stop submitted jobs")
    p.add_argument(
        "action", choices=["list", "status", "logs", "stop"], help="list every job; status, logs or stop the job JOB_ID"
    )
    p.add_argument("job_id", nargs="?", help="the job's submission id (as crnn submit printed it); not for list")
    p.add_argument("--follow", action="store_true", help="with logs: follow until the job ends")
    p.add_argument(
        "--address",
        default=default_address(),
        help="job API, e.g. http://HOST:8265 (default: $RAY_API_SERVER_ADDRESS, else http://127.0.0.1:8265; here %(default)s)",
    )
    p.add_argument("--token-file", help="the cluster's token file (default: $RAY_AUTH_TOKEN / $RAY_AUTH_TOKEN_PATH)")
    p.set_defaults(func=command("jobs", "cmd_jobs"))
