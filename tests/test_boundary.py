"""The core imports neither Textual nor Typer; only the CLI imports Typer, only tui/ Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "xlir_tui"
CORE = [
    "collections",
    "embedded",
    "encoders",
    "errors",
    "index",
    "langs",
    "lexical",
    "metrics",
    "paths",
    "render",
    "report",
    "sampling",
    "segment",
    "session",
    "sources",
    "systems",
    "training",
    "translation",
]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_static_boundary() -> None:
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        roots = imported_roots(path)
        if rel.parts[0] != "tui":
            assert "textual" not in roots, f"{rel} imports textual outside xlir_tui/tui"
        if rel.as_posix() != "cli.py":
            assert "typer" not in roots, f"{rel} imports typer outside the CLI"


def test_core_runs_without_ui_packages() -> None:
    """Importing every core module pulls in neither textual nor typer at run time."""
    code = (
        "import sys\n"
        + "".join(f"import xlir_tui.{m}\n" for m in CORE)
        + "bad = [m for m in ('textual', 'typer') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
