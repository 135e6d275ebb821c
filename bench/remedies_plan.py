"""The remedies study's plan: its cells, what each scores, and the settings every trained run
shares with the training study; read by ``bench/remedies.py`` (which runs the cells) and
``bench/remedies_report.py`` (which writes the page), so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from study import LEGACY, SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REMEDIES = "none,center,lir,leace,subspace"
CEILING = ["--translate-query", "en", "--mt", "parallel"]
TRAINED = "study-scale100-hardneg"
"""The records folder of the best training setting of docs/training.md (its ``study.json``
holds the settings every trained run must have been trained with)."""
TRAINING_KEYS = tuple(k for k in SETTINGS if k != "backend" and k not in LEGACY)
"""The training settings a run folder's ``xlir_train.json`` must share with that study."""
LATENCY_QUERIES = 200
"""Questions of the one-query latency of the cost cell (``bench/bench_debias.py``)."""
INPUTS = ("sentence", "context")
KINDS = ("remedies", "ceiling", "costs")


@dataclass(frozen=True)
class Cell:
    """One command of the study: which model (``default`` or a seed ``s0``...), which candidate
    input, and what is scored (the five systems, the translate-test ceiling, or the costs)."""

    model: str
    input: str
    kind: str

    @property
    def name(self) -> str:
        return f"{self.model}-{self.input}-{self.kind}"

    @property
    def seed(self) -> int | None:
        return None if self.model == "default" else int(self.model[1:])


def plan(seeds: list[int]) -> list[Cell]:
    """Every cell, in the order they run: the untrained default first (its vectors are in the
    cache), its in-context cells next, then the trained seeds, their in-context cells last."""
    cells = [
        Cell("default", "sentence", "remedies"),
        Cell("default", "sentence", "ceiling"),
        Cell("default", "sentence", "costs"),
        Cell("default", "context", "remedies"),
        Cell("default", "context", "ceiling"),
    ]
    cells += [Cell(f"s{seed}", "sentence", "remedies") for seed in seeds]
    cells += [Cell(f"s{seed}", "context", "remedies") for seed in seeds]
    return cells
