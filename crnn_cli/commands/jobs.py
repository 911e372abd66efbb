"""``crnn submit`` and ``crnn jobs``: Ray's Job Submission API, with token auth and the shipped working folder."""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import logging
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from crnn.errors import UserError

EXCLUDES = [".git", ".venv", "data", "experiments", "runs", "demo", "results", "**/__pycache__", ".pytest_cache", ".ruff_cache"]


MAX_WORKING_DIR = 100 * 1024 * 1024  # Ray refuses a bigger working_dir, with an opaque error


SECRET_PATTERNS = (".env", ".env.*", "*token*", "*.pem", "*.key", "*.p12", "id_rsa*", "id_ed25519*", ".netrc", "*credentials*")


JOB_COMMANDS = ("tune", "results", "retrain", "train", "assess", "eval", "predict", "export", "data")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


TOKEN_HELP = (
    "set RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH to the token file (cluster/start-local.sh prints it), or pass --token-file"
)


def _auth_env(address: str, token_file: str | None) -> None:
    """Say RAY_AUTH_MODE=token when a token is configured: before anything imports Ray, which reads
    its auth settings once, at import (the client sends no token otherwise)."""
    if token_file:
        if not Path(token_file).is_file():
            raise UserError(f"--token-file {token_file}: no such file")
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(Path(token_file).resolve())
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        os.environ["RAY_AUTH_MODE"] = "token"
        warn_plain_http(address)


def _client(address: str, token_file: str | None, auth_set: bool = False):
    """A client that sends the token when one is configured (the client must say RAY_AUTH_MODE=token)."""
    if not auth_set:
        _auth_env(address, token_file)
    # Ray reads its auth settings once, when first imported: every Ray import of this module waits for _auth_env
    from ray.job_submission import JobSubmissionClient  # noqa: PLC0415 - after _auth_env

    try:
        return JobSubmissionClient(address)
    except Exception as exc:
        raise UserError(_explain(address, exc)) from None


def warn_plain_http(address: str) -> bool:
    """The token is a bearer secret: say so when it is about to cross a network unencrypted."""
    url = urlparse(address if "://" in address else f"http://{address}")
    if url.scheme == "https" or (url.hostname or "") in LOOPBACK:
        return False
    print(
        f"warning: sending the cluster token to {address} over plain HTTP, readable on the network; put the head's "
        "dashboard behind a TLS reverse proxy and use https://, or an SSH tunnel to 127.0.0.1 (README: Security)",
        file=sys.stderr,
    )
    return True


def _explain(address: str, exc: Exception) -> str:
    text = str(exc)
    if "401" in text or "Unauthorized" in text or "Missing authentication token" in text:
        return f"{address} requires a token and none was sent: {TOKEN_HELP}"
    if "403" in text or "Forbidden" in text or "Invalid authentication token" in text:
        return f"{address} refused the token (403): it is not this cluster's; {TOKEN_HELP}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"cannot reach the Ray job API at {address}: {first}"


def shipped_files(root: Path, excludes: list[str]) -> list[Path]:
    """The files Ray's working_dir upload ships from ``root``, by Ray's own walk: the ``excludes`` and
    every ``.gitignore`` and ``.rayignore`` on the way (unless RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1), so
    the size, secrets and path checks here see exactly what the job will."""
    files: list[Path] = []
    quiet = logging.getLogger("crnn.submit.scan")
    quiet.setLevel(logging.WARNING)  # Ray logs each ignore file it honours at INFO
    include_gitignore = os.environ.get("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "0") != "1"  # as Ray's job SDK decides
    root = root.resolve()
    from ray._private.runtime_env.packaging import _dir_travel, _get_excludes  # noqa: PLC0415 - Ray's walk; after _auth_env

    _dir_travel(
        root,
        [_get_excludes(root, excludes)],
        lambda p: files.append(p) if p.is_file() else None,
        include_gitignore=include_gitignore,
        logger=quiet,
    )
    return files


@dataclass
class Shipment:
    """What ``crnn submit`` would upload from ``root``."""

    root: Path
    files: int = 0
    size: int = 0
    per_entry: dict[str, int] = field(default_factory=dict)  # top-level name -> bytes
    paths: set[str] = field(default_factory=set)  # every shipped file, relative to root
    secrets: list[str] = field(default_factory=list)

    def biggest(self) -> list[tuple[int, str]]:
        return sorted(((size, name) for name, size in self.per_entry.items()), reverse=True)[:5]


def scan_working_dir(root: Path, excludes: list[str]) -> Shipment:
    shipment = Shipment(root)
    shipped = shipped_files(root, excludes)
    shipment.paths = {p.relative_to(root.resolve()).as_posix() for p in shipped}
    for path in shipped:
        rel = path.relative_to(root.resolve())
        size = path.stat().st_size
        shipment.files += 1
        shipment.size += size
        shipment.per_entry[rel.parts[0]] = shipment.per_entry.get(rel.parts[0], 0) + size
        if any(fnmatch.fnmatch(path.name.lower(), p) for p in SECRET_PATTERNS):
            shipment.secrets.append(rel.as_posix())
    return shipment


def _check_shipment(shipment: Shipment) -> None:
    if shipment.secrets:
        listing = ", ".join(shipment.secrets[:5])
        raise UserError(
            f"--working-dir {shipment.root}: would ship files that look like secrets ({listing}); "
            "add --exclude NAME for each, or submit from a folder without them"
        )
    if shipment.size > MAX_WORKING_DIR:
        listing = ", ".join(f"{name} ({s / 2**20:.0f} MiB)" for s, name in shipment.biggest())
        raise UserError(
            f"--working-dir {shipment.root} would ship {shipment.size / 2**20:.0f} MiB, over Ray's 100 MiB working_dir "
            f"limit; biggest: {listing}; add --exclude NAME for what the job does not need"
        )


def cmd_submit(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command or command[0] not in JOB_COMMANDS:
        raise UserError(
            f"give the crnn command after --, one of {', '.join(JOB_COMMANDS)}; "
            "e.g. crnn submit --wait -- tune --data DIR --name EXP"
        )
    root = Path(args.working_dir or os.getcwd()).resolve()
    if not root.is_dir():
        raise UserError(f"--working-dir {root}: no such folder")
    excludes = EXCLUDES + list(args.exclude)
    _auth_env(args.address, args.token_file)  # before the scan imports Ray's packaging (and with it Ray's auth settings)
    shipment = scan_working_dir(root, excludes)
    _check_shipment(shipment)
    _check_paths_are_shipped(command, shipment, excludes)
    client = _client(args.address, args.token_file, auth_set=True)
    entrypoint = " ".join(["python", "-m", "crnn", *(_quote(c) for c in command)])
    runtime_env = {"working_dir": str(root), "excludes": excludes}
    print(f"shipping {root}: {shipment.files} files, {shipment.size / 2**20:.1f} MiB (not shipped: {', '.join(excludes)})")
    job_id = _submit_when_ready(client, args.address, entrypoint, runtime_env, args.job_id)
    print(f"submitted {job_id}: {entrypoint}", flush=True)
    if not args.wait:
        print(f"follow it: crnn jobs logs {job_id} --follow --address {args.address}")
        return 0
    return _follow(client, job_id)


def _check_paths_are_shipped(command: list[str], shipment: Shipment, excludes: list[str]) -> None:
    """A relative path whose files are not all shipped exists here but not (whole) in the job's working folder."""
    root = shipment.root.resolve()
    for arg in command[1:]:  # command[0] is the crnn subcommand: `results` or `data` is a word, not a folder
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        if not value or value.startswith("-") or Path(value).is_absolute() or not (root / value).exists():
            continue
        here = root / value
        files = [here] if here.is_file() else [f for f in here.rglob("*") if f.is_file()]
        missing = [f.relative_to(root).as_posix() for f in files if f.relative_to(root).as_posix() not in shipment.paths]
        if missing:
            raise UserError(
                f"{value}: {missing[0]} is not shipped to the job (excluded by {', '.join(excludes)} or a .gitignore), "
                f"so the job cannot read it; give its absolute path on storage every node can read (e.g. {here.resolve()} "
                "on a single machine), or --working-dir a folder that holds it"
            )


def _submit_when_ready(client, address: str, entrypoint: str, runtime_env: dict, job_id: str | None, wait_s: float = 90.0) -> str:
    """Submit; a head that has just started answers 'No available agent' until its job agent is up: retry that."""

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env, submission_id=job_id)
        except Exception as exc:
            if "No available agent" not in str(exc) or time.monotonic() > deadline:
                raise UserError(_explain(address, exc)) from None
            time.sleep(2.0)


def _quote(arg: str) -> str:
    return shlex.quote(arg)


def _follow(client, job_id: str) -> int:
    async def tail() -> None:
        async for lines in client.tail_job_logs(job_id):
            sys.stdout.write(lines)
            sys.stdout.flush()

    asyncio.run(tail())
    status = str(client.get_job_status(job_id))
    print(f"job {job_id}: {status}", flush=True)
    return 0 if status.endswith("SUCCEEDED") else 1


def cmd_jobs(args: argparse.Namespace) -> int:
    client = _client(args.address, args.token_file)
    try:
        if args.action == "list":
            for job in client.list_jobs():
                print(f"{job.submission_id}\t{job.status}\t{job.entrypoint}")
            return 0
        if not args.job_id:
            raise UserError(f"crnn jobs {args.action} needs a job id (see crnn jobs list)")
        if args.action == "status":
            print(client.get_job_status(args.job_id))
        elif args.action == "logs":
            if args.follow:
                return _follow(client, args.job_id)
            print(client.get_job_logs(args.job_id), end="")
        elif args.action == "stop":
            print("stop requested" if client.stop_job(args.job_id) else "already finished")
    except UserError:
        raise
    except Exception as exc:
        raise UserError(_explain(args.address, exc)) from None
    return 0
