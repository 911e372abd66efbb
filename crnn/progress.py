"""Progress of long data work: a tqdm bar on a terminal, and elsewhere (a log file, a Ray job's
output, CI) a line per tenth of the work with the rate and the time left, so that a 15-minute
`crnn data synth` into a log is not silent."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


class Progress:
    """``update(n)`` after each piece of ``total``; use as a context manager. Off a terminal, work
    done within ``QUIET_SECONDS`` prints nothing (a small import stays one line of output)."""

    QUIET_SECONDS = 5.0

    def __init__(self, total: int, desc: str, unit: str = "img", enabled: bool = True, file: TextIO | None = None) -> None:
        self.total, self.desc, self.unit, self.file = total, desc, unit, file or sys.stderr
        self.enabled = enabled and total > 0
        tty = self.enabled and hasattr(self.file, "isatty") and self.file.isatty()
        self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.file) if tty else None
        self.done, self.start = 0, time.monotonic()
        self.step = max(1, -(-total // 10))  # a line per tenth
        self.next_line = self.step

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)
            return
        self.done += n
        if not self.enabled or self.done < min(self.next_line, self.total):
            return
        while self.next_line <= self.done:
            self.next_line += self.step
        elapsed = time.monotonic() - self.start
        if elapsed < self.QUIET_SECONDS:
            return
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        print(
            f"{self.desc}: {self.done}/{self.total} {self.unit} ({self.done / self.total:.0%}), "
            f"{rate:.0f} {self.unit}/s, {_minutes(elapsed)}, eta {_minutes(eta)}",
            file=self.file,
            flush=True,
        )

    def wrap(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items``, counting one each."""
        with self:
            for item in items:
                yield item
                self.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
