"""What the explorer does, without a UI: panes of results across languages, and bias statistics.

A :class:`Workspace` holds a collection's index for one or more models (slot 0 is the main model,
slot 1 the one it is compared with). :meth:`Workspace.run` answers one request, a free-text query
or a question id of the collection, for 2 to 4 panes, each a (language, model) pair:

- free text: each pane searches its language's pool (or the whole pool) with the typed query;
- a question id: each pane runs the question's own translation in its language against the whole
  multilingual pool (or its language's pool when restricted) and marks the relevant candidates.

Every pane also gets statistics from the exact scores of its query over the whole pool: the share
of each language in the top k against the pool's composition, the share of the query's own
language, the AP of the pane's pool, and the rank distance of the relevant items (when known).
:class:`SessionStats` accumulates them over a session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .errors import XlirError
from .index import CandidatePool, DenseIndex, Hit, scores_of

if TYPE_CHECKING:
    from .systems import FusionSpec

Progress = Callable[[str, int, int], None]


@dataclass
class Pane:
    """One column of results: a language (None: the whole pool) and a model slot."""

    lang: str | None
    model: int = 0
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
    model_name: str
    note: str = ""


@dataclass
class SessionStats:
    """Running per-language statistics of a session, per model slot."""

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


@dataclass
class Slot:
    """A system that scores the workspace's collection: an encoder with its index, a lexical
    retriever (``bm25``, ``chargram``), or a fusion of such slots."""

    encoder: Any = None
    index: DenseIndex | None = None
    lexical: Any = None
    system: str = "dense"
    parts: list[Slot] = field(default_factory=list)
    fusion: FusionSpec | None = None
    translator: Any = None
    """With ``pivot``: queries are machine-translated into ``pivot`` first (translate-test)."""
    pivot: str | None = None

    @property
    def name(self) -> str:
        """As a person reads it: ``default``, a hub name, a folder's name, or the system."""
        if self.fusion is not None:
            dense = next((p for p in self.parts if p.system == "dense"), None)
            return self.fusion.label(dense.name if dense is not None else None)
        if self.lexical is not None:
            return self.system
        name = str(self.encoder.name)
        name = Path(name).name if name.startswith("/") else name
        return f"{name} (via {self.pivot})" if self.translator is not None else name

    def translate(self, queries: list[str], langs: list[str | None]) -> list[str]:
        """Each query in the pivot language (unchanged without a translator, when the query's
        language is unknown, or when it is the pivot already)."""
        if self.translator is None:
            return queries
        from .translation import translate_queries

        known = [i for i, lang in enumerate(langs) if lang is not None]
        done = translate_queries(
            self.translator, [queries[i] for i in known], [langs[i] for i in known], self.pivot
        )
        out = list(queries)
        for i, text in zip(known, done, strict=True):
            out[i] = text
        return out

    @property
    def sparse(self) -> bool:
        """Lexical scores: a zero means no token or n-gram in common, not a weak match."""
        return self.lexical is not None

    def scores(self, queries: list[str]) -> np.ndarray:
        """Scores of ``queries`` against every candidate (exact: the statistics need ranks)."""
        if self.fusion is not None:
            return self.fusion.combine([p.scores(queries) for p in self.parts])
        if self.lexical is not None:
            return self.lexical.scores(queries)
        vectors = self.encoder.encode_queries(queries, cache=False)
        return scores_of(vectors, self.index.vectors)


def cached_index(
    collection: Any, encoder: Any, progress: Callable[[int, int], None] | None = None
) -> DenseIndex:
    """The index of ``collection`` for ``encoder``, built once and kept in the cache folder."""
    from .paths import cache_root, text_digest

    key = text_digest(
        collection.fingerprint,
        encoder.fingerprint,
        encoder.passage_prompt,
        str(encoder.passage_context),
    )
    folder = cache_root() / "indexes" / key
    if (folder / "manifest.json").exists():
        try:
            index = DenseIndex.load(folder)
            index.check_encoder(encoder)
            return index
        except XlirError:
            pass  # a damaged cache entry is rebuilt
    return DenseIndex.build(collection, encoder, folder, overwrite=True, progress=progress)


def build_slot(
    collection: Any,
    system: str,
    *,
    model: str | None = "default",
    encoder: Any = None,
    fusion: FusionSpec | None = None,
    encoder_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Slot:
    """A slot scoring ``collection`` with ``system`` (dense indexes are cached; lexical ones
    take seconds to build, so they are built each time)."""
    from .systems import SYSTEMS, FusionSpec, lexical_retriever

    if system not in SYSTEMS:
        raise XlirError(f"unknown system {system!r} (known: {', '.join(SYSTEMS)})")
    if system == "fusion":
        spec = fusion or FusionSpec()
        parts = [
            build_slot(
                collection,
                p,
                model=model,
                encoder=encoder,
                encoder_options=encoder_options,
                progress=progress,
            )
            for p in spec.parts
        ]
        return Slot(system="fusion", parts=parts, fusion=spec)
    if system != "dense":
        if progress:
            progress(f"indexing with {system}", 0, 1)
        retriever = lexical_retriever(system, collection.candidates["text"].to_list())
        return Slot(lexical=retriever, system=system)
    if encoder is None:
        from .encoders import load_encoder

        if progress:
            progress(f"loading model {model}", 0, 1)
        options = {k: v for k, v in (encoder_options or {}).items() if v is not None}
        encoder = load_encoder(model or "default", **options)
    step = (lambda d, t: progress("indexing", d, t)) if progress else None
    return Slot(encoder, cached_index(collection, encoder, step))


def slot_of_index(index: Any, model: str | None = None) -> Slot:
    """A slot over a loaded index of any system (the dense model is the index's own)."""
    from .encoders import load_encoder_of
    from .systems import FusionIndex

    if isinstance(index, FusionIndex):
        parts = [slot_of_index(p, model) for p in index.parts.values()]
        return Slot(system="fusion", parts=parts, fusion=index.spec)
    if isinstance(index, DenseIndex):
        encoder = load_encoder_of(index.manifest["model"], model)
        index.check_encoder(encoder)
        return Slot(encoder, index)
    return Slot(lexical=index.retriever, system=index.system)


class Workspace:
    """Indexes, models and the session's statistics behind the explorer."""

    def __init__(self, slot: Slot, collection: Any, k: int = 10) -> None:
        self.slots: list[Slot] = [slot]
        self.k = k
        self.stats: list[SessionStats] = [SessionStats()]
        self.collection = collection
        # rows, languages and hits, shared by every slot
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
        """The language free text is written in (what a translating slot translates from)."""

    # -- models ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        *,
        index: str | Path | None = None,
        collection: Sequence[str] | None = None,
        model: str = "default",
        system: str = "dense",
        fusion: FusionSpec | None = None,
        encoder_options: dict[str, Any] | None = None,
        translate_query: str | None = None,
        mt: str | None = None,
        query_lang: str | None = None,
        progress: Progress | None = None,
    ) -> Workspace:
        """From an index folder of any system, or from a collection, a system and a model
        (dense indexes built and cached). With ``translate_query`` and ``mt``, the main slot
        translates queries into that language first; free text is taken as ``query_lang``."""
        if index is not None:
            from .systems import load_index

            loaded = load_index(index)
            if progress:
                progress("loading model", 0, 1)
            slot, c = slot_of_index(loaded), loaded.collection()
        else:
            from .collections import load_collection

            c = load_collection(list(collection or []))
            slot = build_slot(
                c,
                system,
                model=model,
                fusion=fusion,
                encoder_options=encoder_options,
                progress=progress,
            )
        if translate_query is not None and mt is not None:
            from .translation import Translator

            if progress:
                progress(f"loading translation model {mt}", 0, 1)
            slot.translator, slot.pivot = Translator.load(mt), translate_query
        ws = cls(slot, c)
        ws.query_lang = query_lang
        return ws

    def add_model(self, model: str, progress: Progress | None = None) -> int:
        """Load a second system over the same collection (for comparison); return its slot.

        ``model`` is a model (``default``, a folder, a hub name) or a system: ``bm25``,
        ``chargram``, or ``fusion`` (the main slot's model, or the default, with character
        n-grams).
        """
        if model in ("bm25", "chargram", "fusion"):
            encoder = self._first_encoder()
            slot = build_slot(self.collection, model, encoder=encoder, progress=progress)
        else:
            slot = build_slot(self.collection, "dense", model=model, progress=progress)
        if len(self.slots) > 1:
            self.slots[1] = slot
            self.stats[1] = SessionStats()
        else:
            self.slots.append(slot)
            self.stats.append(SessionStats())
        return len(self.slots) - 1

    def _first_encoder(self) -> Any:
        """The main slot's encoder, whether it is dense or the dense part of a fusion."""
        main = self.slots[0]
        for slot in [main, *main.parts]:
            if slot.encoder is not None:
                return slot.encoder
        return None

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
            if pane.model >= len(self.slots):
                raise XlirError(f"no model loaded in slot {pane.model + 1}")
            if pane.lang is not None and pane.lang not in self.languages:
                results[i] = self._empty(pane, text or "", f"no candidates in {pane.lang}")
                continue
            query = text if text is not None else self.question(qid, pane.lang or "")
            if qid is not None and query is None:
                results[i] = self._empty(pane, "", f"question {qid} has no {pane.lang} version")
                continue
            query_lang = pane.lang if qid is not None else self.query_lang
            requests.setdefault(pane.model, []).append((i, query, query_lang))
        for slot_no, items in requests.items():
            slot = self.slots[slot_no]
            asked = [q for _, q, _ in items]
            searched = slot.translate(asked, [lang for _, _, lang in items])
            scores = slot.scores(searched)
            for (i, query, lang), row_scores, sent in zip(items, scores, searched, strict=True):
                results[i] = self._pane_result(
                    slot, panes[i], query, row_scores, relevant, k, text is None
                )
                if slot.translator is not None and sent != query:
                    results[i].note = f"searched as: {sent}"
                elif slot.translator is not None and lang is None:
                    results[
                        i
                    ].note = "not translated: the query's language is unknown (--query-lang)"
        final = [r for r in results if r is not None]
        if record:
            for r in final:
                if r.hits:
                    self.stats[r.pane.model].add(r, k)
        return final

    def _empty(self, pane: Pane, query: str, note: str) -> PaneResult:
        name = self.slots[pane.model].name if pane.model < len(self.slots) else ""
        return PaneResult(pane, query, None, [], set(), {}, None, None, None, name, note)

    def _pane_result(
        self,
        slot: Slot,
        pane: Pane,
        query: str,
        scores: np.ndarray,
        relevant: set[str],
        k: int,
        question_mode: bool,
    ) -> PaneResult:
        index = self.pool
        query_lang = pane.lang if question_mode else None
        if question_mode:
            langs = [pane.lang] if pane.restrict and pane.lang else None
        else:
            langs = [pane.lang] if pane.lang else None
        # the pane's hits: exact top k of its pool, from the scores the statistics use anyway
        pool_rows = index.rows_for(langs)
        if pool_rows is None:
            pool_rows = np.arange(index.size)
        pool_scores = scores[pool_rows]
        keep = np.flatnonzero(pool_scores > 0) if slot.sparse else None
        candidates = keep if keep is not None else np.arange(len(pool_rows))
        best = candidates[np.lexsort((candidates, -pool_scores[candidates]))][:k]
        hits = index.hits(pool_rows[best], pool_scores[best])
        note = "no candidate shares a word or n-gram with the query" if not hits else ""
        # language shares of the whole pool's top k (what the bias panel shows)
        k_all = min(k, index.size)
        top = np.argpartition(-scores, k_all - 1)[:k_all]
        top_langs = index.candidates["lang"].gather(top).to_list()
        shares = {lang: top_langs.count(lang) / k_all for lang in self.languages}
        own = shares.get(query_lang) if query_lang else None
        ap = distance = None
        rel_rows = np.array([self._row_of[c] for c in relevant if c in self._row_of], dtype=int)
        if len(rel_rows):
            order_scores = scores[rel_rows]
            # rank = 1 + candidates scoring higher (ties counted against the item)
            ranks_all = np.array([(scores > s).sum() + 1 for s in order_scores])
            distance = int(ranks_all.max() - ranks_all.min())
            if langs:
                pool = index.rows_for(langs)
                in_pool = np.isin(rel_rows, pool)
                pool_scores = scores[pool]
                ranks = np.sort([(pool_scores > s).sum() + 1 for s in order_scores[in_pool]])
            else:
                ranks = np.sort(ranks_all)
            if len(ranks):
                ap = float(np.mean([(i + 1) / r for i, r in enumerate(ranks)]))
        return PaneResult(
            pane, query, query_lang, hits, relevant, shares, own, ap, distance, slot.name, note
        )
