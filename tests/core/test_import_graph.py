"""The core's modules import each other without a circle, TYPE_CHECKING imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import corebp

ROOT = Path(corebp.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """The corebp modules a module imports outside its functions (its import-time graph, plus
    what the type checker reads under `if TYPE_CHECKING:`)."""
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    nodes: list[ast.stmt] = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.If | ast.Try):
            nodes.extend(node.body + node.orelse)
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    nodes.extend(handler.body)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m == "corebp" or m.startswith("corebp.")}


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        imports = _top_level_imports(tree, name, path.name == "__init__.py")
        graph[name] = {m for m in imports if m in paths and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports in `graph` ("a → b → a"), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_circle_and_passes_a_tree():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_holds_the_imports_it_should():
    graph = import_graph()
    assert "corebp.contracts.layer" in graph["corebp.layers.linear"]
    assert "corebp.contracts.counterpart" in graph["corebp.contracts.layer"]  # TYPE_CHECKING


def test_the_core_has_no_import_circle():
    circle = _cycle(import_graph())
    assert circle is None, " → ".join(circle or [])
