"""Every config key with its type, default and meaning, read from the dataclasses themselves (the
meaning is the comment on the field's line in ``crnn/config.py``), for ``crnn config keys``."""

from __future__ import annotations

import inspect
import io
import tokenize
from dataclasses import MISSING, dataclass, fields
from typing import get_args

from crnn.config import ModelConfig, TrainConfig, _field_types


@dataclass(frozen=True)
class Key:
    name: str  # section.key
    type: str
    default: object
    meaning: str


def _comments(cls: type) -> dict[str, str]:
    """field name -> the comment at the end of its line in the class body."""
    source = inspect.getsource(cls)
    out, line_field = {}, {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and tok.start[0] not in line_field:
            line_field[tok.start[0]] = tok.string  # a name at the class body's indentation starts a field line
        elif tok.type == tokenize.COMMENT and tok.start[0] in line_field:
            out[line_field[tok.start[0]]] = tok.string.lstrip("# ").strip()
    return out


def _type_name(hint: object) -> str:
    return str(hint) if get_args(hint) else getattr(hint, "__name__", str(hint))  # tuple[int, ...] | int


def config_keys() -> list[Key]:
    keys = []
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        hints, notes = _field_types(section), _comments(cls)
        for f in fields(cls):
            default = f.default if f.default is not MISSING else f.default_factory()
            keys.append(Key(f"{section}.{f.name}", _type_name(hints[f.name]), default, notes.get(f.name, "")))
    return keys
