"""The contract every retrieval system keeps.

A **system** is what the bias report and the explorer compare: an encoder with its vectors (and
an hnswlib graph), a lexical retriever (``bm25``, ``chargram``), a fusion of two or more
systems, or any of them with machine-translated queries (translate-test). Every one is a
:class:`Retriever` over a collection's candidate pool, with one contract:

- ``label`` (what a person reads), ``system`` (its kind), ``describe()`` (what a report or a
  manifest records);
- ``scorer(queries, query_langs)``: the scores of a batch of queries against every candidate,
  as a function of a query range (the report scores in chunks; the queries' own preparation,
  encoding or translating, happens once, when the scorer is made); ``scores`` is its whole
  range, and ``search`` the top-k hits over the pool or some of its languages;
- ``save(folder)``: an index folder that :func:`~xlir_tui.retrieval.systems.load_system` opens
  again, by the ``format`` its manifest names.

Each kind has its module (:mod:`.dense_system`, :mod:`.lexical_system`, :mod:`.fusion_system`,
:mod:`.translated_system`); :mod:`.systems` is their registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import XlirError
from ..progress import StageProgress
from .dense import CandidatePool, Hit
from .ranking import top_k

__all__ = ["Retriever", "Scorer"]

Scorer = Callable[[int, int], np.ndarray]
"""Scores of queries ``lo:hi`` (of the batch the scorer was made for) against every candidate."""


class Retriever:
    """The contract every system keeps (see the module docstring); subclasses give ``scorer``,
    ``label``, ``describe``, ``save`` and, when they have one, a faster ``search``."""

    system: str = ""
    sparse: bool = False
    """Lexical scores: a zero means no token or n-gram in common, not a weak match."""
    query_cache: bool = True
    """Whether encoded queries go to the embedding cache: a report's questions are worth
    keeping, an explorer's keystrokes are not (each would be a cache file)."""

    def keep_queries(self, keep: bool) -> None:
        """Set :attr:`query_cache` for this system and every system it is made of."""
        self.query_cache = keep

    def __init__(self, pool: CandidatePool, collection: Any = None) -> None:
        self.pool = pool
        self._collection = collection

    @property
    def label(self) -> str:
        raise NotImplementedError

    @property
    def encoder(self) -> Any:
        """The encoder queries pass through (a dense system's, a translated or fused dense
        part's); None for a system without one."""
        return None

    def collection(self) -> Any:
        """The collection the system scores."""
        return self._collection

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "system": self.system}

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: StageProgress | None = None,
    ) -> Scorer:
        raise NotImplementedError

    def scores(
        self, queries: Sequence[str], query_langs: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """(n_queries, n_candidates) scores, exact."""
        return self.scorer(queries, query_langs)(0, len(queries))

    def searched_as(
        self, queries: Sequence[str], query_langs: Sequence[str | None] | None = None
    ) -> list[str]:
        """The text each query is searched as (translate-test rewrites it; others keep it)."""
        return list(queries)

    def search(
        self,
        query: str,
        k: int = 10,
        langs: Sequence[str] | None = None,
        query_lang: str | None = None,
        ef: int | None = None,
    ) -> list[Hit]:
        """The top ``k`` of the pool or of ``langs``; a sparse system shows only matches.
        ``ef`` is the hnsw search beam of a system that searches a graph (others need none)."""
        if not query.strip():
            raise XlirError("empty query")
        if k < 1:
            raise XlirError(f"-k must be at least 1, got {k}")
        rows = self.pool.rows_for(langs)
        scores = self.scores([query], [query_lang])[0]
        best = top_k(scores, k, rows, self.pool.tie_key, positive_only=self.sparse)
        return self.pool.hits(best, scores[best])

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        raise XlirError(f"{self.label} cannot be saved as an index")

    def check_collection(self, collection: Any, where: Any = None) -> None:
        """Refuse to score a collection other than the one this system was built over."""
        if list(self.pool.candidates["id"]) != list(collection.candidates["id"]):
            raise XlirError(
                "holds other candidates than the collection being scored "
                "(another collection, or other --langs)",
                path=where,
            )
