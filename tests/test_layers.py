"""The import structure docs/design.md describes: crnn -> tune -> crnn_cli, no cycles."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crnn", "tune", "crnn_cli")
LAYER = {"crnn": 0, "tune": 1, "crnn_cli": 2}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in modules}
    return found


def test_each_layer_imports_only_the_ones_below():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        if name in ("crnn.__main__", "crnn.api"):  # `python -m crnn` and the Python API reach up; nothing below imports them
            continue
        for dep in _imports(path, modules):
            if LAYER[dep.split(".")[0]] > LAYER[name.split(".")[0]]:
                wrong.append(f"{name} imports {dep}")
    assert not wrong, wrong


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    graph = {k: {d for d in v if not k.startswith(d + ".")} for k, v in graph.items()}  # a package's own __init__
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(dep) :], dep]))
            if dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_nothing_in_the_layers_imports_the_two_that_reach_up():
    modules = _modules()
    users = [f"{n} imports {d}" for n, p in modules.items() for d in _imports(p, modules) if d in ("crnn.__main__", "crnn.api")]
    assert users == ["crnn imports crnn.api"], users  # only crnn/__init__, lazily: `crnn.load_model` is the facade's
