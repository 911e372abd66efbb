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


# Inside crnn/: the base (config, model, decoding, metrics, files), then data, training, inference.
CRNN_LAYER = {"data": 1, "training": 2, "inference": 3}
# The documented back arrows (docs/design.md), each with its reason.
BACK_ARROWS = {
    # a tracked run's end logs its best model to MLflow as ONNX; the trainer's callbacks use the tracker
    ("crnn.tracking", "crnn.training.checkpoint"),
    ("crnn.tracking", "crnn.inference.export"),
}
# The public Python API takes its options as keywords (as Lightning's Trainer does): crnn.synthesize and crnn.train
MANY_PARAMETERS = {"crnn/api.py:synthesize", "crnn/api.py:train"}


def _crnn_layer(name: str) -> int:
    parts = name.split(".")
    return CRNN_LAYER.get(parts[1], 0) if len(parts) > 1 else 0


def test_inside_crnn_each_part_imports_only_the_ones_below():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        if not name.startswith("crnn.") or name in ("crnn.__main__", "crnn.api"):
            continue
        for dep in _imports(path, modules):
            if dep.startswith("crnn.") and _crnn_layer(dep) > _crnn_layer(name) and (name, dep) not in BACK_ARROWS:
                wrong.append(f"{name} imports {dep}")
    assert not wrong, wrong
    assert all(dep in modules for _, dep in BACK_ARROWS)  # an arrow that has gone leaves this list too


def test_the_search_and_the_assessment_do_not_import_each_other():
    modules = _modules()
    crossing = [
        f"{name} imports {dep}"
        for name, path in modules.items()
        for dep in _imports(path, modules)
        for a, b in (("tune.search", "tune.assess"), ("tune.assess", "tune.search"))
        if name.startswith(a) and dep.startswith(b)
    ]
    assert not crossing, crossing
    assert {"tune.search.run", "tune.assess.run", "crnn.inference.stream", "crnn.data.pixels"} <= set(modules)


def _functions():
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{path.relative_to(ROOT)}:{node.name}", node


def _parameters(node: ast.FunctionDef) -> int:
    a = node.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    n = len(names) + bool(a.vararg) + bool(a.kwarg)
    return n - (1 if names and names[0].arg in ("self", "cls") else 0)


def test_no_function_is_longer_than_60_lines():
    long = {name: node.end_lineno - node.lineno + 1 for name, node in _functions() if node.end_lineno - node.lineno + 1 > 60}
    assert not long, long


def test_no_function_takes_more_than_8_parameters():
    many = {name: _parameters(node) for name, node in _functions() if _parameters(node) > 8}
    assert set(many) <= MANY_PARAMETERS, many
    assert len(list(_functions())) > 500  # the walk sees the packages


def test_imports_are_at_the_top_and_the_formatter_formats_the_code():
    """Fewer than 15 function-level imports (the documented lazy points, each with its reason) and no
    `fmt: skip` outside tests."""
    text = {p: p.read_text() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    lazy = [
        f"{p.relative_to(ROOT)}: {line.strip()}" for p, t in text.items() for line in t.splitlines() if "noqa: PLC0415" in line
    ]
    assert len(lazy) < 15, lazy
    assert all(" - " in line.split("noqa: PLC0415", 1)[1] or "(" in line.split("noqa: PLC0415", 1)[1] for line in lazy), lazy
    assert not [p for p, t in text.items() if "fmt: skip" in t]
