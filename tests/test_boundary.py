"""The core imports neither Textual nor Typer; only the CLI imports Typer, only tui/ Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "xlir_tui"


def test_declared_import_contracts_are_kept() -> None:
    """The contracts in pyproject.toml (import-linter): the core imports neither Textual nor
    Typer nor the layers above it; the explorer does not import Typer or the command line."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint) if lint.exists() else "lint-imports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "2 kept, 0 broken" in done.stdout


def test_core_runs_without_ui_packages() -> None:
    """Importing every core module pulls in neither textual nor typer at run time."""
    core = sorted(
        p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "cli", "__main__")
    )
    code = (
        "import sys\n"
        + "".join(f"import xlir_tui.{m}\n" for m in core)
        + "bad = [m for m in ('textual', 'typer') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
