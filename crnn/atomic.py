"""Atomic file writes: a reader (or a resumed run) sees the old content or the new, never a part."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from crnn.errors import UserError


def partial_path(path: Path) -> Path:
    """Where a file is written before it is renamed into place (same folder, so the rename is atomic)."""
    return path.with_name(path.name + f".tmp{os.getpid()}")


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    tmp = partial_path(path)
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file so that a reader sees either the old content or the new, never a part."""
    atomic_write_bytes(Path(path), text.encode())


def atomic_write_json(path: str | Path, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextmanager
def staging_dir(out: str | Path, overwrite: bool, ours: Callable[[Path], bool], what: str) -> Iterator[Path]:
    """A temporary folder beside ``out`` that becomes ``out`` only when the block succeeds.

    ``--overwrite`` replaces ``out`` only if ``ours(out)`` says it is one of this tool's folders of
    kind ``what`` (e.g. a dataset): a typo in ``--out`` never deletes a home folder or a source tree.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is a file, not a folder; choose another --out")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"{out}: already exists and is not empty (pass --overwrite to replace it)")
        if not ours(out):
            raise UserError(f"{out}: is not a {what} of crnn-tune, so --overwrite will not delete it; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.chmod(0o755)  # mkdtemp makes it private; a dataset or run folder is not
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
