"""The packages stand in layers, and nothing imports upward (at module level or inside a function).

From the ground up: ``interviewer`` (the interview domain: plan, scripted logic, turn text, the
model's lines, report, store, settings, models) imports no package of ours; ``processors`` and
``transports`` build on it; ``bots`` assemble pipelines from them; ``candidate`` (the replay
client and scenario runner) needs the modes; ``web`` serves, with the CLI on top. A bot file's
``if __name__ == "__main__":`` block may start the server (as pipecat's examples start theirs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each package may import from the others (its own modules always).
ALLOWED: dict[str, set[str]] = {
    "interviewer": set(),
    "processors": {"interviewer"},
    "transports": {"interviewer"},
    "bots": {"interviewer", "processors", "transports"},
    "candidate": {"interviewer", "bots"},
    "web": {"interviewer", "processors", "transports", "bots", "candidate"},
}


def _is_main_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    left = node.test.left
    return isinstance(left, ast.Name) and left.id == "__name__"


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every package of ours that ``path`` imports (line, package), outside a ``__main__`` block."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for top in tree.body if _is_main_block(top) for n in ast.walk(top)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in ALLOWED]
    return found


def _modules():
    for pkg in ALLOWED:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "node_modules" not in path.parts:
                yield pkg, path


@pytest.mark.parametrize("pkg,path", list(_modules()), ids=lambda v: str(v).split(str(ROOT))[-1])
def test_no_module_imports_a_layer_above_its_own(pkg, path):
    wrong = [
        f"line {line}: {pkg} imports {other}"
        for line, other in imports_of(path)
        if other != pkg and other not in ALLOWED[pkg]
    ]
    assert not wrong, f"{path.relative_to(ROOT)}: {wrong}"


def test_the_layers_have_no_cycle():
    graph = {pkg: set() for pkg in ALLOWED}
    for pkg, path in _modules():
        graph[pkg] |= {other for _, other in imports_of(path) if other != pkg}
    done: set[str] = set()

    def visit(pkg: str, trail: tuple[str, ...]) -> None:
        assert pkg not in trail, f"import cycle: {' -> '.join((*trail, pkg))}"
        if pkg in done:
            return
        for other in graph[pkg]:
            visit(other, (*trail, pkg))
        done.add(pkg)

    for pkg in graph:
        visit(pkg, ())


def test_the_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "def f():\n    from web.server import create_app\n"
        "if __name__ == '__main__':\n    from web.cli import serve_mode\n"
    )
    assert imports_of(sample) == [(3, "web")]
