"""Atomic, durable file writes: a reader (or a resumed run) sees the old content or the new, never a
part, and what was written survives a power loss once the call returns (the file and then its folder
are fsync'd: a rename alone can reach the disk before the data it names)."""

from __future__ import annotations

import contextlib
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


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (a no-op where the OS cannot open folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path = Path(path)
    tmp = partial_path(path)
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_stream(path: Path, src, chunk: int = 8 << 20) -> None:
    """``atomic_write_bytes`` from a readable stream, ``chunk`` bytes at a time."""
    tmp = partial_path(path)
    with open(tmp, "wb") as fh:
        while block := src.read(chunk):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` so that ``dest`` is the old file or the whole new one, on disk."""
    tmp = partial_path(dest)
    shutil.copy2(src, tmp)
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file so that a reader sees either the old content or the new, never a part."""
    atomic_write_bytes(Path(path), text.encode())


def atomic_write_json(path: str | Path, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (a staged dataset before it is renamed into place)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fsync_file(Path(folder) / name)
        fsync_dir(Path(folder))


@contextmanager
def staging_dir(out: str | Path, overwrite: bool, ours: Callable[[Path], bool], what: str) -> Iterator[Path]:
    """A temporary folder beside ``out`` that becomes ``out`` only when the block succeeds.

    ``--overwrite`` replaces ``out`` only if ``ours(out)`` says it is one of this tool's folders of
    kind ``what`` (e.g. a dataset): a typo in ``--out`` never deletes a home folder or a source tree.
    The old folder is renamed aside before the new one is renamed in, and deleted only after: a crash
    at any point leaves the old folder, the new one, or both (the old one as ``.NAME.old-*``).
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
    fsync_tree(tmp)
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(tmp, out)
    fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old)
