"""What bench/remedies.py and bench/remedies_report.py share: where the repository is, the
translate-test ceiling's options, and the study's cells."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CEILING = ["--translate-query", "en", "--mt", "parallel"]


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
