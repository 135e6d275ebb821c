"""What the explorer does, without a UI: panes of results across languages, and bias statistics.

A :class:`Workspace` holds one or two retrieval systems over a collection (the main one and the
one it is compared with; :mod:`xlir_tui.systems`). :meth:`Workspace.run` answers one request, a
free-text query or a question id of the collection, for 2 to 4 panes, each a (language, system)
pair:

- free text: each pane searches its language's pool (or the whole pool) with the typed query;
- a question id: each pane runs the question's own translation in its language against the whole
  multilingual pool (or its language's pool when restricted) and marks the relevant candidates.

Every pane also gets statistics from the exact scores of its query over the whole pool: the share
of each language in the top k against the pool's composition, the share of the query's own
language, the AP of the pane's pool, and the rank distance of the relevant items (when known).
:class:`SessionStats` accumulates them over a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .errors import XlirError
from .index import CandidatePool, Hit
from .metrics import average_precision, ranks_in_pool, top_k
from .progress import StageProgress
from .systems import (
    LEXICAL,
    FusionRetriever,
    Models,
    Retriever,
    SystemSpec,
    TranslatedRetriever,
    load_system,
    open_system,
)


@dataclass
class Pane:
    """One column of results: a language (None: the whole pool) and which of the workspace's
    systems answers (0: the main one, 1: the one it is compared with)."""

    lang: str | None
    system: int = 0
    restrict: bool = False  # question mode: search only this language's pool


@dataclass
class PaneResult:
    pane: Pane
    query: str
    query_lang: str | None
    hits: list[Hit]
    relevant_ids: set[str]
    shares: dict[str, float]  # language -> share of the top k over the whole pool
    own_share: float | None  # share of the query's language in that top k
    ap: float | None  # AP over the pane's pool, when relevant items are known
    rank_distance: int | None  # multi pool, when relevant items are known
    system_name: str
    note: str = ""


@dataclass
class SessionStats:
    """Running per-language statistics of a session, per system."""

    queries: int = 0
    top_counts: dict[str, int] = field(default_factory=dict)
    top_total: int = 0
    own: list[float] = field(default_factory=list)
    distances: list[int] = field(default_factory=list)
    aps: list[float] = field(default_factory=list)

    def add(self, result: PaneResult, k: int) -> None:
        self.queries += 1
        for lang, share in result.shares.items():
            self.top_counts[lang] = self.top_counts.get(lang, 0) + round(share * k)
        self.top_total += k
        if result.own_share is not None:
            self.own.append(result.own_share)
        if result.rank_distance is not None:
            self.distances.append(result.rank_distance)
        if result.ap is not None:
            self.aps.append(result.ap)

    def shares(self) -> dict[str, float]:
        if not self.top_total:
            return {}
        return {lang: n / self.top_total for lang, n in sorted(self.top_counts.items())}

    def summary(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "shares": self.shares(),
            "own_share": float(np.mean(self.own)) if self.own else None,
            "rank_distance": float(np.mean(self.distances)) if self.distances else None,
            "map": float(np.mean(self.aps)) if self.aps else None,
        }


def shown_name(system: Retriever) -> str:
    """A system as the explorer names it: a model by its name (a folder by its last part), a
    translated system with ``(via LANG)``, a fusion with its parts."""
    if isinstance(system, TranslatedRetriever):
        return f"{shown_name(system.inner)} (via {system.to})"
    if isinstance(system, FusionRetriever):
        dense = system.dense
        return system.spec.label(shown_name(dense) if dense is not None else None)
    label = system.label
    return Path(label).name if label.startswith("/") else label


def stage_label(stage: str, name: str) -> str:
    """A progress stage of loading the system ``name`` (its display name), as the explorer shows
    it: ``encoding candidates for runs/hybrid``, but ``loading model runs/hybrid`` as it is (the
    stage names the model already)."""
    return stage if name in stage else f"{stage} for {name}"


def choice_spec(choice: str, main: Retriever) -> SystemSpec:
    """The system a person names in the compare dialog: ``bm25``, ``chargram``, ``fusion`` (with
    the main system's model, or the default) or a model (``default``, a folder, a hub name)."""
    choice = choice.strip()
    if choice in LEXICAL or choice == "fusion":
        encoder = main.encoder
        return SystemSpec(choice, encoder.spec if encoder is not None else "default")
    return SystemSpec("dense", choice)


class Workspace:
    """Systems, models and the session's statistics behind the explorer."""

    def __init__(self, system: Retriever, collection: Any, k: int = 10) -> None:
        self.systems: list[Retriever] = [system]
        self.k = k
        self.stats: list[SessionStats] = [SessionStats()]
        self.collection = collection
        self.models = Models()
        if system.encoder is not None:
            self.models.keep(system.encoder)  # compare with fusion reuses the loaded model
        # typing writes a query per keystroke: none goes to the embedding cache (each would be
        # a parquet file, a tenth of a second or more); the candidates are kept in the index
        system.keep_queries(False)
        # rows, languages and hits, shared by every system
        self.pool = CandidatePool(collection.candidates)
        self.languages = self.pool.languages
        sizes = collection.candidates.group_by("lang").len()
        total = self.pool.size
        self.expected = {lang: n / total for lang, n in sizes.iter_rows()}
        q = self.collection.questions
        self._question_text = {
            (qid, lang): text for qid, lang, text in q.select("qid", "lang", "text").iter_rows()
        }
        rel = self.collection.relevance.join(
            q.select(pl.col("id").alias("question_id"), "qid"), on="question_id"
        )
        self._relevant: dict[str, set[str]] = {}
        for qid, cid in rel.select("qid", "candidate_id").iter_rows():
            self._relevant.setdefault(qid, set()).add(cid)
        self._row_of = {cid: i for i, cid in enumerate(collection.candidates["id"].to_list())}
        self._contexts = dict(collection.candidates.select("id", "context").iter_rows())
        self.question_ids: list[str] = sorted(set(q["qid"].to_list()))
        self.query_lang: str | None = None
        """The language free text is written in (what a translating system translates from)."""

    @property
    def names(self) -> list[str]:
        """Each system as the panes name it."""
        return [shown_name(s) for s in self.systems]

    # -- systems -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        *,
        index: str | Path | None = None,
        collection: Sequence[str] | None = None,
        spec: SystemSpec | None = None,
        encoder_options: dict[str, Any] | None = None,
        query_lang: str | None = None,
        progress: StageProgress | None = None,
    ) -> Workspace:
        """From an index folder of any system, or from a collection and a system (dense
        indexes built once and kept in the cache). With ``spec.translate_query``, the main
        system translates queries first; free text is taken as ``query_lang``."""
        spec = spec or SystemSpec()
        say = (lambda text: progress(text.rstrip(" ."), 0, 1)) if progress else None
        models = Models({k: v for k, v in (encoder_options or {}).items() if v is not None}, say)
        if index is not None:
            system = load_system(index, models)
            c = system.collection()
            if spec.translate_query is not None:
                t = spec.translate_query
                system = TranslatedRetriever(system, models.translator(t.mt), t.to)
        else:
            from .collections import load_collection

            c = load_collection(list(collection or []))
            system = open_system(c, spec, models, progress, cached=True)
        ws = cls(system, c)
        ws.models = models
        ws.query_lang = query_lang
        return ws

    def add_system(self, spec: SystemSpec, progress: StageProgress | None = None) -> int:
        """Load a second system over the same collection (for comparison); return its place."""
        if progress is not None:
            self.models.notify = lambda text: progress(text.rstrip(" ."), 0, 1)
        system = open_system(self.collection, spec, self.models, progress, cached=True)
        # typing writes a query per keystroke: none goes to the embedding cache (each would be
        # a parquet file, a tenth of a second or more); the candidates are kept in the index
        system.keep_queries(False)
        if len(self.systems) > 1:
            self.systems[1] = system
            self.stats[1] = SessionStats()
        else:
            self.systems.append(system)
            self.stats.append(SessionStats())
        return len(self.systems) - 1

    # -- questions ---------------------------------------------------------------------------
    def question(self, qid: str, lang: str) -> str | None:
        return self._question_text.get((qid, lang))

    def questions_matching(
        self, text: str, lang: str | None = None, limit: int = 200
    ) -> list[tuple[str, str]]:
        """(qid, question text) pairs whose text or id contains ``text``, for a picker."""
        needle = text.casefold().strip()
        out = []
        for qid in self.question_ids:
            shown = self.question(qid, lang) if lang else None
            shown = shown or next(
                (self.question(qid, x) for x in self.languages if self.question(qid, x)), ""
            )
            if not needle or needle in qid.casefold() or needle in shown.casefold():
                out.append((qid, shown))
                if len(out) >= limit:
                    break
        return out

    def context_of(self, candidate_id: str) -> str:
        return self._contexts.get(candidate_id, "")

    # -- running -----------------------------------------------------------------------------
    def run(
        self,
        panes: Sequence[Pane],
        *,
        text: str | None = None,
        qid: str | None = None,
        k: int | None = None,
        record: bool = True,
    ) -> list[PaneResult]:
        """Answer a free-text query (``text``) or a question of the collection (``qid``)."""
        k = k or self.k
        if (text is None) == (qid is None):
            raise XlirError("give a query text or a question id")
        if text is not None and not text.strip():
            return [self._empty(p, "", "empty query") for p in panes]
        relevant = self._relevant.get(qid, set()) if qid is not None else set()
        requests: dict[int, list[tuple[int, str, str | None]]] = {}
        results: list[PaneResult | None] = [None] * len(panes)
        for i, pane in enumerate(panes):
            if pane.system >= len(self.systems):
                raise XlirError(f"no system loaded in place {pane.system + 1}")
            if pane.lang is not None and pane.lang not in self.languages:
                results[i] = self._empty(pane, text or "", f"no candidates in {pane.lang}")
                continue
            query = text if text is not None else self.question(qid, pane.lang or "")
            if qid is not None and query is None:
                results[i] = self._empty(pane, "", f"question {qid} has no {pane.lang} version")
                continue
            query_lang = pane.lang if qid is not None else self.query_lang
            requests.setdefault(pane.system, []).append((i, query, query_lang))
        for place, items in requests.items():
            system = self.systems[place]
            # the same query in the same language is scored once (free text: one encoding
            # however many panes show it)
            unique = list(dict.fromkeys((q, lang) for _, q, lang in items))
            asked = [q for q, _ in unique]
            langs = [lang for _, lang in unique]
            searched_once = system.searched_as(asked, langs)
            scores_once = system.scores(asked, langs)
            where = {pair: j for j, pair in enumerate(unique)}
            scores = [scores_once[where[(q, lang)]] for _, q, lang in items]
            searched = [searched_once[where[(q, lang)]] for _, q, lang in items]
            for (i, query, lang), row_scores, sent in zip(items, scores, searched, strict=True):
                results[i] = self._pane_result(
                    system, panes[i], query, row_scores, relevant, k, text is None
                )
                if isinstance(system, TranslatedRetriever):
                    if sent != query:
                        results[i].note = f"searched as: {sent}"
                    elif lang is None:
                        results[
                            i
                        ].note = "not translated: the query's language is unknown (--query-lang)"
        final = [r for r in results if r is not None]
        if record:
            for r in final:
                if r.hits:
                    self.stats[r.pane.system].add(r, k)
        return final

    def _empty(self, pane: Pane, query: str, note: str) -> PaneResult:
        name = self.names[pane.system] if pane.system < len(self.systems) else ""
        return PaneResult(pane, query, None, [], set(), {}, None, None, None, name, note)

    def _pane_result(
        self,
        system: Retriever,
        pane: Pane,
        query: str,
        scores: np.ndarray,
        relevant: set[str],
        k: int,
        question_mode: bool,
    ) -> PaneResult:
        """Hits, shares and AP from one query's exact scores, ranked by the report's own rule
        (:mod:`xlir_tui.metrics`), so a pane's AP is the report's AP for that query."""
        pool = self.pool
        tie_key = pool.tie_key
        query_lang = pane.lang if question_mode else None
        if question_mode:
            langs = [pane.lang] if pane.restrict and pane.lang else None
        else:
            langs = [pane.lang] if pane.lang else None
        pool_rows = pool.rows_for(langs)
        best = top_k(scores, k, pool_rows, tie_key, positive_only=system.sparse)
        hits = pool.hits(best, scores[best])
        note = "no candidate shares a word or n-gram with the query" if not hits else ""
        # language shares of the whole pool's top k (what the bias panel shows)
        k_all = min(k, pool.size)
        top = top_k(scores, k_all, None, tie_key)
        top_langs = pool.candidates["lang"].gather(top).to_list()
        shares = {lang: top_langs.count(lang) / k_all for lang in self.languages}
        own = shares.get(query_lang) if query_lang else None
        ap = distance = None
        rel_rows = np.array([self._row_of[c] for c in relevant if c in self._row_of], dtype=int)
        if len(rel_rows):
            ranks_all = ranks_in_pool(scores, rel_rows, tie_key)
            distance = int(ranks_all.max() - ranks_all.min())
            ranks = ranks_in_pool(scores, rel_rows, tie_key, pool_rows)
            ap = average_precision(ranks)
        return PaneResult(
            pane,
            query,
            query_lang,
            hits,
            relevant,
            shares,
            own,
            ap,
            distance,
            shown_name(system),
            note,
        )
