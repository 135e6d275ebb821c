"""Lexical systems: BM25 or character n-grams over the candidates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..models.store import Models
from ..progress import StageProgress
from .lexical import LexicalIndex
from .retriever import Retriever, Scorer
from .specs import SystemSpec

__all__ = ["LexicalRetriever"]


class LexicalRetriever(Retriever):
    """BM25 or character n-grams over the candidates
    (:class:`~xlir_tui.retrieval.lexical.LexicalIndex`)."""

    sparse = True

    def __init__(self, index: LexicalIndex) -> None:
        super().__init__(index.pool, None)
        self.index = index
        self.system = index.system

    @property
    def label(self) -> str:
        return self.system

    def collection(self) -> Any:
        return self.index.collection()

    @classmethod
    def build(
        cls,
        collection: Any,
        spec: SystemSpec,
        models: Models,
        progress: StageProgress | None = None,
        **_: Any,
    ) -> LexicalRetriever:
        if progress:
            progress(f"indexing with {spec.system}", 0, 1)
        return cls(LexicalIndex.build(collection, spec.system))

    @classmethod
    def load(cls, folder: Path, models: Models, model: str | None = None) -> LexicalRetriever:
        return cls(LexicalIndex.load(folder))

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: StageProgress | None = None,
    ) -> Scorer:
        queries = list(queries)
        score = self.index.retriever.scores
        return lambda lo, hi: score(queries[lo:hi])

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        self.index.save(Path(folder), overwrite=overwrite)
