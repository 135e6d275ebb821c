"""What the benchmark scripts share: where the repository and its data are, the arguments that
name a collection and a model, the machine's load, percentiles."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
XQUAD_R = ROOT.parent / "shared" / "data" / "xquad-r"


def use_this_checkout() -> None:
    """Import ``xlir_tui`` from this checkout, not from wherever it is installed."""
    sys.path.insert(0, str(ROOT))


def collection_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the arguments every collection benchmark takes first: ``--data`` (default
    XQuAD-R beside the repository) and ``--model`` (default: the embedded default model)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=str(XQUAD_R))
    parser.add_argument("--model", default="default")
    return parser


def uptime() -> str:
    """The machine's load (``uptime``), printed at a benchmark's start and end: it is shared."""
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return "uptime unavailable"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))
