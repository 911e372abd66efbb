"""``crnn config show | keys``: the resolved config of a preset, file and overrides; every key with
its type, default and meaning."""

from __future__ import annotations

import argparse
import json

import yaml

from crnn.config import PRESETS, flat, resolve_config
from crnn.config.keys import SECTION_NOTES, config_keys


def cmd_config_show(args: argparse.Namespace) -> int:
    config = json.loads(json.dumps(resolve_config(args.preset, args.config, args.set).to_dict()))  # tuples as lists
    print(json.dumps(config, indent=2) if args.format == "json" else yaml.safe_dump(config, sort_keys=False), end="\n")
    return 0


def cmd_config_keys(args: argparse.Namespace) -> int:
    values = flat(resolve_config(args.preset))
    keys = config_keys()
    if args.format == "json":
        rows = [
            {
                "key": k.name,
                "section": k.section,
                "type": k.type,
                "value": values[k.name],
                "default": _plain(k.default),
                "meaning": k.meaning,
            }
            for k in keys
        ]
        print(json.dumps({"preset": args.preset, "keys": rows}, indent=2))
        return 0
    note = " (what crnn train uses without --preset)" if args.preset == "cpu-fast" else ""
    print(f"# values of preset {args.preset}{note}; * where it differs from the key's own default; --preset P shows another")
    width, kind = max(len(k.name) for k in keys), max(len(k.type) for k in keys)
    section = None
    for k in keys:
        if k.section != section:
            section = k.section
            print(f"\n[{section}]  {SECTION_NOTES[section]}")
        value = values[k.name]
        shown = json.dumps(value) if not isinstance(value, str) else repr(value)
        mark = "*" if value != _plain(k.default) else " "
        print(f"{k.name:<{width}}  {k.type:<{kind}}  {mark}{shown:<24}  {k.meaning}")
    return 0


def _plain(value: object) -> object:
    return json.loads(json.dumps(value))  # tuples as lists, as the resolved config has them


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show a resolved config, or list every key with its default and meaning")
    inner = p.add_subparsers(dest="config_command", required=True, metavar="{show,keys}")
    show = inner.add_parser("show", help="the config a preset, a file and --set overrides resolve to")
    show.add_argument("--preset", default="cpu-fast", help=f"starting config: {', '.join(PRESETS)} (default cpu-fast)")
    show.add_argument("--config", help="YAML/JSON file with model: and train: sections, applied over the preset")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override (repeatable)")
    show.add_argument("--format", default="yaml", choices=["yaml", "json"], help="yaml (a file --config reads) or json")
    show.set_defaults(func=cmd_config_show)
    keys = inner.add_parser("keys", help="every key, section by section: type, value in a preset, meaning")
    keys.add_argument(
        "--preset",
        default="cpu-fast",
        choices=list(PRESETS),
        help="show the values this preset trains with (cpu-fast: crnn train without --preset)",
    )
    keys.add_argument("--format", default="table", choices=["table", "json"], help="an aligned table, or JSON")
    keys.set_defaults(func=cmd_config_keys)
