"""Character sets: named sets, label encoding and the case-folding used by the metrics."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cached_property

from crnn.errors import UserError

NAMED_CHARSETS: dict[str, str] = {
    "alnum": string.digits + string.ascii_uppercase + string.ascii_lowercase,  # 62, the reference task
    "alnum-upper": string.digits + string.ascii_uppercase,  # 36, what most published solvers use
    "alnum-lower": string.digits + string.ascii_lowercase,
    "digits": string.digits,
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
}


def resolve_charset(spec: str) -> str:
    """A named set (``alnum``, ``digits``...) or a literal string of distinct characters."""
    chars = NAMED_CHARSETS.get(spec, spec)
    if not chars:
        raise UserError("charset is empty: give a name (" + ", ".join(NAMED_CHARSETS) + ") or the characters")
    if len(set(chars)) != len(chars):
        raise UserError(f"charset {spec!r} repeats characters; each character may appear once")
    if any(c.isspace() for c in chars):
        raise UserError(f"charset {spec!r} contains whitespace, which cannot be part of a label")
    return chars


@dataclass(frozen=True)
class Charset:
    """Maps characters to class indices. Index 0 is the CTC blank, characters start at 1."""

    chars: str

    @property
    def num_classes(self) -> int:
        return len(self.chars) + 1  # + blank

    @cached_property
    def _index(self) -> dict[str, int]:
        return {c: i + 1 for i, c in enumerate(self.chars)}

    def encode(self, label: str) -> list[int]:
        return [self._index[c] for c in label]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i - 1] for i in ids if i > 0)

    def invalid_chars(self, label: str) -> str:
        """The characters of ``label`` that are not in the set, in order, without repeats."""
        allowed = set(self.chars)
        return "".join(dict.fromkeys(c for c in label if c not in allowed))


def parse_length(spec: str | int) -> tuple[int, int]:
    """``5`` -> (5, 5); ``4-6`` -> (4, 6)."""
    text = str(spec).strip()
    try:
        if "-" in text:
            lo_s, hi_s = text.split("-", 1)
            lo, hi = int(lo_s), int(hi_s)
        else:
            lo = hi = int(text)
    except ValueError:
        raise UserError(f"--length {spec!r} is not a length: give N (e.g. 5) or a range LO-HI (e.g. 4-6)") from None
    if lo < 1 or hi < lo:
        raise UserError(f"--length {spec!r}: need 1 <= LO <= HI")
    return lo, hi
