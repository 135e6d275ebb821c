"""Systems and remedies as a person asks for them, checked before anything loads.

A :class:`SystemSpec` names a system (``--system``, ``--model``, ``--fuse``,
``--translate-query``, ``--debias``); :func:`xlir_tui.retrieval.systems.open_system` builds it
over a collection. A :class:`FusionSpec` says how a fusion fuses, a :class:`TranslateQuery`
how queries are translated first, a :class:`DebiasSpec` which language-bias remedy the dense
vectors pass through and where it is fitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import XlirError
from .debias import DEFAULT_LIR_RANK, METHODS
from .lexical import fuse

__all__ = [
    "FUSABLE",
    "LEXICAL",
    "SYSTEMS",
    "DebiasSpec",
    "FusionSpec",
    "SystemSpec",
    "TranslateQuery",
]

SYSTEMS = ("dense", "bm25", "chargram", "fusion")
"""The kinds a person names with ``--system``."""
LEXICAL = ("bm25", "chargram")
FUSABLE = ("dense", "bm25", "chargram")
FUSION_METHODS = ("rrf", "interpolate")


@dataclass(frozen=True)
class FusionSpec:
    """Which systems are fused (``parts``), by which ``method``, with one weight per part."""

    parts: tuple[str, ...] = ("dense", "chargram")
    method: str = "rrf"
    weights: tuple[float, ...] = (0.5, 0.5)

    @classmethod
    def parse(
        cls, fuse: str | None = None, method: str = "rrf", weight: str | float | None = None
    ) -> FusionSpec:
        """From the CLI's ``--fuse dense,chargram``, ``--fusion-method`` and ``--fusion-weight``.

        ``--fusion-weight`` is one number, the first part's weight (the others share the rest
        equally), or one number per part, comma-separated. Without it the parts weigh the same.
        """
        parts = tuple(p.strip() for p in (fuse or "dense,chargram").split(",") if p.strip())
        bad = [p for p in parts if p not in FUSABLE]
        if bad:
            raise XlirError(
                f"--fuse {','.join(bad)}: fusion combines {', '.join(FUSABLE)}, two or more of them"
            )
        if len(parts) < 2 or len(set(parts)) != len(parts):
            raise XlirError(f"--fuse {','.join(parts)}: name two or more different systems")
        if method not in FUSION_METHODS:
            raise XlirError(f"unknown fusion method {method!r} (rrf, interpolate)")
        if weight is None or weight == "":
            weights = tuple(1.0 / len(parts) for _ in parts)
        else:
            try:
                given = [float(w) for w in str(weight).split(",")]
            except ValueError:
                raise XlirError(f"--fusion-weight {weight!r} is not a number or a list") from None
            if any(not 0.0 <= w <= 1.0 for w in given):
                raise XlirError(f"--fusion-weight must be between 0 and 1, got {weight}")
            if len(given) == 1:
                rest = (1.0 - given[0]) / (len(parts) - 1)
                weights = (given[0], *[rest] * (len(parts) - 1))
            elif len(given) == len(parts):
                weights = tuple(given)
            else:
                raise XlirError(
                    f"--fusion-weight gives {len(given)} weights for {len(parts)} fused systems"
                )
        return cls(parts, method, tuple(round(w, 6) for w in weights))

    def to_dict(self) -> dict[str, Any]:
        return {"parts": list(self.parts), "method": self.method, "weights": list(self.weights)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionSpec:
        return cls.parse(
            ",".join(data["parts"]), data["method"], ",".join(map(str, data["weights"]))
        )

    def label(self, model: str | None = None) -> str:
        """``fusion(default+chargram, rrf, 0.5/0.5)``: the dense part is named by its model."""
        names = [model if p == "dense" and model else p for p in self.parts]
        weights = "/".join(f"{w:g}" for w in self.weights)
        return f"fusion({'+'.join(names)}, {self.method}, {weights})"

    def combine(self, score_sets: Sequence[np.ndarray]) -> np.ndarray:
        return fuse(score_sets, self.method, self.weights)


@dataclass(frozen=True)
class TranslateQuery:
    """Translate-test: queries are machine-translated ``to`` a language by ``mt`` first."""

    to: str
    mt: str

    def to_dict(self, mt_name: str | None = None) -> dict[str, Any]:
        return {"to": self.to, "mt": mt_name or self.mt}


@dataclass(frozen=True)
class DebiasSpec:
    """A remedy as a person asks for it: ``method``, its parameters, and where it is fitted
    (``fit``: the paths of ``--debias-fit``, a collection or one fit file; empty: the collection
    being indexed or scored)."""

    method: str = "none"
    lir_rank: tuple[int, int] = DEFAULT_LIR_RANK
    subspace_rank: int | None = None
    fit: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise XlirError(
                f"unknown --debias method {self.method!r} (known: {', '.join(METHODS)})"
            )
        if any(r < 1 for r in self.lir_rank):
            raise XlirError(
                f"--lir-rank {','.join(map(str, self.lir_rank))}: each rank must be at least 1"
            )
        if self.subspace_rank is not None and self.subspace_rank < 1:
            raise XlirError(f"--subspace-rank must be at least 1, got {self.subspace_rank}")

    @property
    def plain(self) -> bool:
        return self.method == "none"

    @classmethod
    def parse(
        cls,
        methods: str | Sequence[str] | None,
        lir_rank: str | None = None,
        subspace_rank: int | None = None,
        fit: Sequence[str | Path] | None = None,
    ) -> list[DebiasSpec]:
        """``--debias none,center`` (and the other flags) as one spec per method, in order,
        each once. Every value is checked here, before anything loads."""
        if methods is None:
            return []
        text = methods if isinstance(methods, str) else ",".join(methods)
        names = [m.strip() for m in text.split(",") if m.strip()]
        if not names:
            raise XlirError("--debias names no method (none, center, lir, leace, subspace)")
        unknown = [m for m in names if m not in METHODS]
        if unknown:
            raise XlirError(
                f"unknown --debias method {', '.join(unknown)} (known: {', '.join(METHODS)})"
            )
        ranks = DEFAULT_LIR_RANK
        if lir_rank is not None:
            try:
                given = tuple(int(x) for x in str(lir_rank).split(","))
            except ValueError:
                raise XlirError(
                    f"--lir-rank {lir_rank!r}: one number, or two (queries,candidates)"
                ) from None
            if len(given) not in (1, 2):
                raise XlirError(f"--lir-rank {lir_rank!r}: one number, or two (queries,candidates)")
            if any(r < 1 for r in given):
                raise XlirError(f"--lir-rank {lir_rank}: each rank must be at least 1")
            ranks = (given[0], given[-1])
        return [
            cls(m, ranks, subspace_rank, tuple(str(p) for p in fit or ()))
            for m in dict.fromkeys(names)
        ]


@dataclass(frozen=True)
class SystemSpec:
    """A system as a person asks for it: its kind, the model of its dense part, how a fusion
    fuses, whether queries are translated first, and the language-bias remedy of its dense
    part (``debias``; None or ``none``: the plain vectors)."""

    system: str = "dense"
    model: str = "default"
    fusion: FusionSpec | None = None
    translate_query: TranslateQuery | None = None
    debias: DebiasSpec | None = None

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise XlirError(f"unknown --system {self.system!r} (known: {', '.join(SYSTEMS)})")
        if self.system == "fusion" and self.fusion is None:
            object.__setattr__(self, "fusion", FusionSpec())
        if self.debias is not None and self.debias.plain:
            object.__setattr__(self, "debias", None)  # one spec for the plain system
        if self.debias is not None and not self.uses_model:
            raise XlirError(
                f"--debias {self.debias.method} transforms a dense system's vectors; "
                f"{self.system} has none"
            )

    @property
    def uses_model(self) -> bool:
        """Whether building the system loads ``model`` (dense, or a fusion with a dense part)."""
        return self.system == "dense" or (
            self.system == "fusion" and self.fusion is not None and "dense" in self.fusion.parts
        )

    def part(self, system: str) -> SystemSpec:
        """The spec of one part of a fusion (same model and remedy, no translation of its
        own)."""
        return SystemSpec(system, self.model, debias=self.debias if system == "dense" else None)

    @property
    def plain(self) -> SystemSpec:
        """The same system without its remedy (what a debiased system is compared with)."""
        return SystemSpec(self.system, self.model, self.fusion, self.translate_query)
