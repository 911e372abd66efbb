"""Tune's own experiment state, read without running anything from it, and the rule for when Ray may.

``experiment_state-*.json`` is JSON, but Tune embeds cloudpickle blobs in it (``CLOUDPICKLE_FALLBACK``
values, and each trial's hex-pickled fields), and ``Tuner.restore`` / ``ExperimentAnalysis`` unpickle
them: a crafted state file runs code. So:

- the results table takes each trial's id and status with ``json.loads`` alone (strings stay strings);
- a resume, which must let Ray load the state, is allowed without ``--trust-experiment`` only for a
  folder on this machine whose state files this user owns and nobody else can write. A remote
  experiment (anyone who can write the bucket can plant a state file) or a folder of someone else's
  needs the flag.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from crnn.errors import UserError

STATE_GLOB = "experiment_state-*.json"
TRUST_FLAG = "--trust-experiment"


def is_tune_state(rel: str) -> bool:
    """Files Ray unpickles on a resume (what ``pull`` leaves out unless a trusted resume asks)."""
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(".pkl") or (name.startswith(("experiment_state-", "searcher-state-")) and "/" not in rel)


def trial_statuses(folder: Path) -> dict[str, str]:
    """trial id -> Tune status from the newest state file, by ``json.loads`` only; {} before Tune has
    saved any state or where the file is unreadable (a table still shows every trial's own files)."""
    files = sorted(folder.glob(STATE_GLOB))
    if not files:
        return {}
    try:
        state = json.loads(files[-1].read_text())
        out = {}
        for entry in state.get("trial_data", []):
            trial = json.loads(entry[0]) if isinstance(entry, list) and entry and isinstance(entry[0], str) else {}
            if isinstance(trial, dict) and isinstance(trial.get("trial_id"), str) and isinstance(trial.get("status"), str):
                out[trial["trial_id"]] = trial["status"]
        return out
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def foreign_state(folder: Path) -> list[Path]:
    """The state files in ``folder`` that another user owns or that others may write."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    bad = []
    for path in [*folder.glob(STATE_GLOB), *folder.glob("*.pkl")]:
        st = path.stat()
        if (uid is not None and st.st_uid != uid) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            bad.append(path)
    return bad


def check_restore(folder: Path, remote: str | None, trusted: bool, what: str = "experiment") -> None:
    """Refuse, in one line, to let Ray load a state that someone else could have written, unless the
    user passed ``--trust-experiment``."""
    if trusted:
        return
    if remote is not None:
        where = f"{remote} is in remote storage, where anyone who can write the bucket can change it"
    else:
        foreign = foreign_state(folder)
        if not foreign:
            return
        where = f"{foreign[0]} belongs to another user or others can write it"
    raise UserError(
        f"resuming this {what} lets Ray load Tune's state, which is pickled (it can run code), and {where}; "
        f"pass {TRUST_FLAG} if you trust who wrote it (reading its table with `crnn results` needs no trust)"
    )
