"""The package's layers point one way: no import cycles, and no library module uses the CLI.

The graph is read from the source (AST), lazy imports inside functions included:
a lazy import keeps start-up fast, it must not hide a cycle.  Imports under
``if TYPE_CHECKING:`` never run and are left out.  An edge goes to the deepest
module an import names (``from ovis.cli import scandir`` is an edge to
``ovis.cli.scandir``), never to the parent packages Python loads on the way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ovis"

#: The one sanctioned edge from the library into the CLI: ``python -m ovis``.
ENTRY_POINTS = {"ovis.__main__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports (absolute and relative forms)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                sub = f"{prefix}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif prefix in known:
                    found.add(prefix)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    return {
        name: imported_modules(ast.parse(path.read_text(), str(path)), name,
                               path.name == "__init__.py", known) - {name}
        for name, path in files.items()
    }


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return cycles


def test_graph_is_read():
    # The reader itself must see the edges that are there, lazy ones included.
    graph = import_graph()
    assert "ovis.cli.main" in graph["ovis.__main__"]
    assert "ovis.engine.manager" in graph["ovis.cli.context"]  # a lazy import inside a function
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert find_cycles(import_graph()) == []


def test_library_never_imports_cli():
    bad = sorted(
        f"{mod} imports {dep}"
        for mod, deps in import_graph().items()
        if not (mod == "ovis.cli" or mod.startswith("ovis.cli.")) and mod not in ENTRY_POINTS
        for dep in deps
        if dep == "ovis.cli" or dep.startswith("ovis.cli.")
    )
    assert bad == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_across_packages(path: Path):
    """``from ovis.x import _name`` only inside package ovis.x itself."""
    module = module_name(path)
    here = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    bad = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("ovis"):
            source_pkg = node.module if (PACKAGE.parent / node.module.replace(".", "/")).is_dir() \
                else node.module.rsplit(".", 1)[0]
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and source_pkg != here:
                    bad.append(f"{node.module}.{alias.name}")
    assert bad == []


def test_package_never_imports_tests():
    """Test tooling (tests/vmtools, fixtures) is never part of the installed package."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            bad += [f"{module_name(path)} imports {n}" for n in names if n == "tests" or n.startswith("tests.")]
    assert bad == []


#: What every aa-* tool may share; anything else in ovis.cli is another tool (or the ovis CLI).
AA_SHARED = {"ovis.cli.aa", "ovis.cli.aa.output", "ovis.cli.aa.printer", "ovis.cli.aa.common"}


def test_aa_tools_never_import_each_other():
    bad = sorted(
        f"{mod} imports {dep}"
        for mod, deps in import_graph().items()
        if mod.startswith("ovis.cli.aa.")
        for dep in deps
        if dep.startswith("ovis.cli") and dep not in AA_SHARED
    )
    assert bad == []


def test_aa_library_does_no_io_of_a_command():
    """ovis/aa reports through Notes and raises AaError: it never prints, exits or reads stdin."""
    bad = []
    for path in sorted((PACKAGE / "aa").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("print", "exit", "input"):
                bad.append(f"{path.name}:{node.lineno}: {node.func.id}()")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id == "sys" and node.attr in ("exit", "stdin", "stdout", "stderr"):
                bad.append(f"{path.name}:{node.lineno}: sys.{node.attr}")
            if isinstance(node, ast.Name) and node.id == "SystemExit":
                bad.append(f"{path.name}:{node.lineno}: SystemExit")
    assert bad == []
