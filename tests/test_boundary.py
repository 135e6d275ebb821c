"""The package's layers: import contracts kept, no import cycle, modules and functions small.

The layers (``pyproject.toml``, import-linter): the command line over the explorer over the use
cases (``app``) over training over evaluation over retrieval over models over data over storage,
with ``progress``, ``errors``, ``langs``, ``cells`` and ``safe_text`` under them all. Only the
command line imports Typer, only the explorer (and the command line that starts it) Textual.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from conftest import ROOT

PACKAGE = ROOT / "xlir_tui"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 800


def test_declared_import_contracts_are_kept() -> None:
    """import-linter's contracts in pyproject.toml, the layers contract among them."""
    assert 'type = "layers"' in (ROOT / "pyproject.toml").read_text()
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint) if lint.exists() else "lint-imports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "3 kept, 0 broken" in done.stdout


def _core_modules() -> list[str]:
    """Every module below the interfaces (not ``cli``, not ``tui``), by dotted name."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[1] in ("cli", "tui") or parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.slow
def test_core_runs_without_ui_packages() -> None:
    """Importing every core module pulls in neither textual nor typer at run time."""
    core = _core_modules()
    assert "xlir_tui.retrieval.systems" in core and len(core) > 20
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in core)
        + "bad = [m for m in ('textual', 'typer') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm): each is
    a set of modules that import one another, directly or through others."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycles_are_found() -> None:
    """The cycle finder itself: a two-module circle and a three-module one, and none in a chain."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_in_the_package() -> None:
    """No module imports, directly or through others, one that imports it: imports inside
    functions and under TYPE_CHECKING count too (grimp reads every import statement)."""
    graph = grimp.build_graph("xlir_tui")
    modules = [m for m in graph.modules if m.startswith("xlir_tui")]
    edges = {
        m: {d for d in graph.find_modules_directly_imported_by(m) if d.startswith("xlir_tui")}
        for m in modules
    }
    assert _cycles(edges) == []


def test_no_import_cycle_in_the_benchmarks() -> None:
    """The scripts of ``bench/`` import one another without a circle either."""
    bench = ROOT / "bench"
    names = {p.stem for p in bench.glob("*.py")}
    edges: dict[str, set[str]] = {}
    for path in bench.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
        edges[path.stem] = (found & names) - {path.stem}
    assert _cycles(edges) == []


def test_modules_and_functions_stay_small() -> None:
    """No module over 800 lines and no function over 80 (``def`` to its last line, docstring
    included): a module holds one idea, a function one step a reader can follow."""
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        name = path.relative_to(ROOT)
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {lines} lines")
    assert too_long == [], "\n".join(too_long)
