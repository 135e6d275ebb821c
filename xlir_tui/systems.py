"""Retrieval systems by name, and fusion as a system of its own.

Every place that chooses a system (``index``, ``search``, ``bias-report``, the explorer) names
it from :data:`SYSTEMS`: ``dense`` (an encoder), ``bm25`` and ``chargram`` (lexical), and
``fusion``, which combines two or more of the others. A :class:`FusionSpec` says which parts are
fused, how (reciprocal ranks or interpolated scores) and with what weights; the same spec is
parsed from the CLI, written in a fusion index's manifest and shown in reports, so a fusion
reads the same everywhere.

A :class:`FusionIndex` folder holds one ordinary index per part (``dense/``, ``chargram/``,
...) beside a manifest with the spec, so each part is checked on load exactly as it is alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexFormatError, XlirError
from .index import CandidatePool, DenseIndex, collection_manifest, scores_of
from .lexical import SYSTEMS, BM25Retriever, CharGramRetriever, LexicalIndex, fuse

__all__ = ["FUSABLE", "SYSTEMS", "FusionIndex", "FusionSpec", "index_format", "load_index"]

FUSABLE = ("dense", "bm25", "chargram")
FUSION_FORMAT = "xlir-tui/fusion-index"
FUSION_FORMAT_VERSION = 1
FUSION_METHODS = ("rrf", "interpolate")
Scorer = Callable[[Sequence[str]], np.ndarray]


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


def lexical_retriever(system: str, texts: Sequence[str]) -> Any:
    """A ``bm25`` or ``chargram`` retriever built over ``texts``."""
    if system == "bm25":
        return BM25Retriever.build(list(texts))
    if system == "chargram":
        return CharGramRetriever.build(list(texts))
    raise XlirError(f"{system} is not a lexical system (bm25, chargram)")


def part_scorer(
    part: str, texts: Sequence[str], encoder: Any = None, vectors: Any = None
) -> Scorer:
    """A function scoring queries against every candidate under one fusable system.

    ``dense`` needs the ``encoder`` and the candidates' ``vectors``; the lexical systems are
    built here over ``texts``.
    """
    if part in ("bm25", "chargram"):
        return lexical_retriever(part, texts).scores
    if part == "dense":
        if encoder is None or vectors is None:
            raise XlirError("fusion with dense needs a --model")
        return lambda queries: scores_of(
            encoder.encode_queries(list(queries), cache=False), vectors
        )
    raise XlirError(f"{part} cannot be fused (fusion combines {', '.join(FUSABLE)})")


class FusionIndex:
    """A saved fusion: one index folder per part and the :class:`FusionSpec` that joins them."""

    def __init__(
        self, folder: Path | None, manifest: dict[str, Any], parts: dict[str, Any]
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.spec = FusionSpec.from_dict(manifest["fusion"])
        self.parts = parts
        first = next(iter(parts.values()))
        self.pool: CandidatePool = first if isinstance(first, CandidatePool) else first.pool

    @property
    def system(self) -> str:
        return "fusion"

    @property
    def dense(self) -> DenseIndex | None:
        return self.parts.get("dense")

    def collection(self) -> Any:
        return next(iter(self.parts.values())).collection()

    @classmethod
    def build(
        cls,
        collection: Any,
        spec: FusionSpec,
        out: Path,
        *,
        encoder: Any = None,
        overwrite: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> FusionIndex:
        """Index ``collection`` once per part into ``out/<part>/``, written atomically."""
        from .paths import atomic_dir, write_json

        if "dense" in spec.parts and encoder is None:
            raise XlirError("fusion with dense needs a --model")
        with atomic_dir(Path(out), overwrite=overwrite) as tmp:
            for part in spec.parts:
                if part == "dense":
                    DenseIndex.build(collection, encoder, tmp / part, progress=progress)
                else:
                    LexicalIndex.build(collection, part, tmp / part)
            manifest = {
                "format": FUSION_FORMAT,
                "format_version": FUSION_FORMAT_VERSION,
                "system": "fusion",
                "fusion": spec.to_dict(),
                "collection": collection_manifest(collection),
            }
            write_json(tmp / "manifest.json", manifest)
        return cls.load(out)

    @classmethod
    def load(cls, folder: str | Path) -> FusionIndex:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexFormatError(f"unreadable manifest: {e}", path=folder) from None
        if manifest.get("format") != FUSION_FORMAT:
            raise IndexFormatError("not an xlir-tui fusion index", path=folder)
        if manifest.get("format_version") != FUSION_FORMAT_VERSION:
            raise IndexFormatError(
                "unsupported fusion index format; rebuild with xlir-tui index", path=folder
            )
        try:
            spec = FusionSpec.from_dict(manifest["fusion"])
        except (KeyError, TypeError, XlirError) as e:
            raise IndexFormatError(f"bad fusion block in the manifest: {e}", path=folder) from None
        fingerprint = manifest.get("collection", {}).get("fingerprint")
        parts: dict[str, Any] = {}
        for part in spec.parts:
            sub = folder / part
            parts[part] = DenseIndex.load(sub) if part == "dense" else LexicalIndex.load(sub)
            if parts[part].manifest["collection"]["fingerprint"] != fingerprint:
                raise IndexFormatError(f"part {part} was built from another collection", path=sub)
        return cls(folder, manifest, parts)

    def scorer(self, encoder: Any = None) -> Scorer:
        """Fused scores of queries against every candidate (``encoder`` for the dense part)."""
        scorers = []
        for part, index in self.parts.items():
            if part == "dense":
                if encoder is None:
                    raise XlirError("fusion with dense needs its model to encode queries")
                index.check_encoder(encoder)
                scorers.append(part_scorer("dense", [], encoder, index.vectors))
            else:
                scorers.append(index.retriever.scores)
        return lambda queries: self.spec.combine([s(queries) for s in scorers])

    def search(
        self, query: str, k: int = 10, langs: Sequence[str] | None = None, encoder: Any = None
    ) -> list[Any]:
        """Top-``k`` of the fused scores over the pool or ``langs`` (ties by row)."""
        if not query.strip():
            raise XlirError("empty query")
        if k < 1:
            raise XlirError(f"-k must be at least 1, got {k}")
        rows = self.pool.rows_for(langs)
        scores = self.scorer(encoder)([query])[0]
        if rows is None:
            rows = np.arange(self.pool.size)
        pool_scores = scores[rows]
        order = np.lexsort((rows, -pool_scores))[:k]
        return self.pool.hits(rows[order], pool_scores[order])


def index_format(folder: Path) -> str | None:
    """The ``format`` of an index folder's manifest (None when there is none to read)."""
    try:
        return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8")).get(
            "format"
        )
    except (OSError, ValueError, AttributeError):
        return None


def load_index(folder: str | Path) -> DenseIndex | LexicalIndex | FusionIndex:
    """Open any index folder that ``xlir-tui index`` writes, by the format in its manifest."""
    kind = index_format(Path(folder))
    if kind == FUSION_FORMAT:
        return FusionIndex.load(folder)
    if kind == "xlir-tui/lexical-index":
        return LexicalIndex.load(folder)
    return DenseIndex.load(folder)


def system_of(index: Any) -> str:
    """``dense``, ``bm25``, ``chargram`` or ``fusion`` for a loaded index."""
    return "dense" if isinstance(index, DenseIndex) else str(index.system)
