"""One writer per folder: a run, an experiment or an assessment. A second ``crnn train --out R`` or
``crnn tune --name X`` while the first still writes would interleave checkpoints and tables; it is
refused in one line that names the holder. The lock is ``fcntl.flock`` on ``FOLDER/.crnn.lock``: the
kernel drops it when the holder exits, however it exits, so a killed run never leaves a stale lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from crnn.errors import UserError

LOCK_FILE = ".crnn.lock"


@contextlib.contextmanager
def writer_lock(folder: str | Path, what: str) -> Iterator[None]:
    """Hold ``folder``'s writer lock for the block. The folder is created if needed, and removed again
    (with any parents made for it) if the block leaves nothing in it but the lock, so a command that
    refuses its flags leaves no empty run folder behind."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: exists and is a file, not a folder; choose another")
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with _locked(folder, what):
            yield
    finally:
        if made:
            _remove_if_empty(folder, made)


def _remove_if_empty(folder: Path, made: list[Path]) -> None:
    try:
        if [p.name for p in folder.iterdir()] != [LOCK_FILE]:
            return
        (folder / LOCK_FILE).unlink()
        for p in made:  # innermost first
            p.rmdir()
    except OSError:
        return  # something else now lives there: leave it


@contextlib.contextmanager
def _locked(folder: Path, what: str) -> Iterator[None]:
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            raise UserError(
                f"{folder}: another crnn ({holder}) is writing this {what}; wait for it to end, or choose another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(info['pid'])} on {str(info['host'])[:64]}"
    except (ValueError, KeyError, TypeError, OSError):
        return "a process that did not say who it is"
