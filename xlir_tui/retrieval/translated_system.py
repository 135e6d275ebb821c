"""Translate-test: any system whose queries are first translated into one language, by a
machine-translation model or by the collection's own human translations."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..progress import StageProgress
from .dense import Hit
from .retriever import Retriever, Scorer

__all__ = ["ParallelRetriever", "TranslatedRetriever"]


class TranslatedRetriever(Retriever):
    """Any system whose queries are first machine-translated into one language (translate-test).
    Queries already in that language, or in no known language, are searched as they are."""

    def __init__(self, inner: Retriever, translator: Any, to: str) -> None:
        super().__init__(inner.pool, None)
        self.inner = inner
        self.translator = translator
        self.to = to
        self.system = inner.system
        self.sparse = inner.sparse

    @property
    def label(self) -> str:
        return f"{self.inner.label} (queries translated to {self.to} by {self.translator.name})"

    def keep_queries(self, keep: bool) -> None:
        super().keep_queries(keep)
        self.inner.keep_queries(keep)

    @property
    def encoder(self) -> Any:
        return self.inner.encoder

    def collection(self) -> Any:
        return self.inner.collection()

    def describe(self) -> dict[str, Any]:
        return {
            **self.inner.describe(),
            "label": self.label,
            "translate_query": {"to": self.to, "mt": self.translator.name},
        }

    def translate(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None,
        progress: StageProgress | None = None,
    ) -> list[str]:
        """Each query in the target language (unchanged when its language is unknown or is the
        target already)."""
        from ..models.translator import translate_queries

        queries = list(queries)
        langs = list(query_langs) if query_langs is not None else [None] * len(queries)
        known = [i for i, lang in enumerate(langs) if lang is not None]
        done = translate_queries(
            self.translator,
            [queries[i] for i in known],
            [langs[i] for i in known],  # type: ignore[misc]
            self.to,
            progress,
        )
        for i, text in zip(known, done, strict=True):
            queries[i] = text
        return queries

    def searched_as(
        self, queries: Sequence[str], query_langs: Sequence[str | None] | None = None
    ) -> list[str]:
        return self.translate(queries, query_langs)

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: StageProgress | None = None,
    ) -> Scorer:
        started = time.perf_counter()
        translated = self.translate(queries, query_langs, progress)
        self.translate_s = time.perf_counter() - started
        return self.inner.scorer(translated, query_langs, progress)

    def search(
        self,
        query: str,
        k: int = 10,
        langs: Sequence[str] | None = None,
        query_lang: str | None = None,
        ef: int | None = None,
    ) -> list[Hit]:
        searched = self.translate([query], [query_lang])[0]
        return self.inner.search(searched, k, langs, query_lang, ef)


class ParallelRetriever(TranslatedRetriever):
    """Translate-test with a perfect translator: each of a collection's questions searched as
    its own human translation in one language
    (:class:`~xlir_tui.models.parallel.ParallelQuestions`, ``--mt parallel``). Reported as any
    translated system, with ``translate_query: {to, mt: "parallel"}``."""

    def __init__(self, inner: Retriever, parallel: Any) -> None:
        super().__init__(inner, parallel, parallel.to)

    @property
    def label(self) -> str:
        return f"{self.inner.label} (queries: their own {self.to} version)"

    def translate(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None,
        progress: StageProgress | None = None,
    ) -> list[str]:
        langs = list(query_langs) if query_langs is not None else [None] * len(queries)
        return self.translator.translate_questions(queries, langs)
