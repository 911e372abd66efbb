"""Every config key with its section, type, default and meaning, read from the dataclasses themselves (the
meaning is the comment on the field's line in ``crnn/config/sections.py``), for ``crnn config keys``."""

from __future__ import annotations

import inspect
import io
import tokenize
from dataclasses import MISSING, dataclass, fields, is_dataclass
from typing import get_args, get_type_hints

from crnn.config.overrides import RunConfig

SECTION_NOTES = {  # the sections' one-line headings in `crnn config keys`
    "model": "the network",
    "train": "the loop",
    "train.data": "which training images each epoch sees",
    "train.optim": "the optimiser",
    "train.schedule": "the learning rate over the run",
    "train.eval": "how each epoch is scored, and which weights",
    "train.semi": "learning from the unlabelled split",
}


@dataclass(frozen=True)
class Key:
    name: str  # section.key, e.g. train.optim.lr
    section: str  # train.optim
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


def config_keys(cls: type = RunConfig, prefix: str = "") -> list[Key]:
    """Every leaf of the config, section by section in the order the dataclasses declare them."""
    keys = []
    hints, notes = get_type_hints(cls), _comments(cls)
    for f in fields(cls):
        if is_dataclass(hints[f.name]):
            keys += config_keys(hints[f.name], f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not MISSING else f.default_factory()
        keys.append(Key(f"{prefix}{f.name}", prefix.rstrip("."), _type_name(hints[f.name]), default, notes.get(f.name, "")))
    return keys
