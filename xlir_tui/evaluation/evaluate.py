"""Scoring a system over a collection: every relevant pair's rank in the mono, cross and multi
settings, and the report entry of its figures.

``evaluate`` runs one system over a collection (embeddings come from the encoder's cache when
they were computed before) and returns plain data shaped as ``xlir-tui bias-report --json``
prints it; :mod:`xlir_tui.evaluation.exports` writes it out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..data.collections import Collection
from ..errors import XlirError
from ..models.encoders import Encoder
from ..progress import Progress, StageProgress, stage_callback
from ..retrieval.dense import DenseIndex
from ..retrieval.dense_system import DenseRetriever
from ..retrieval.ranking import trec_tie_key
from ..retrieval.retriever import Retriever
from .metrics import Ranked, average_precision, query_table, rank_scored, summarize

__all__ = ["Evaluation", "evaluate", "evaluate_encoder", "rank_collection", "relevance_rows"]


@dataclass
class Evaluation:
    """One system's report entry plus what the exports and comparisons need."""

    entry: dict[str, Any]
    ranked: Ranked
    question_ids: list[str]
    candidate_ids: list[str]
    baseline: str | None = None
    """The label of the system this one is compared with (None: it is compared with none)."""
    map_depth: int | None = None

    def queries(self) -> pl.DataFrame:
        """Per query and setting: AP, rank distance and, with ``map_depth``, AP cut there
        (:func:`~xlir_tui.evaluation.metrics.query_table`), with the question's id, the system's
        label and the label of its baseline (the system it is compared with, so the rows of the two
        pair up by query)."""
        table = query_table(self.ranked, self.map_depth)
        ids = pl.Series("query_id", self.question_ids, dtype=pl.String)
        return table.select(
            pl.lit(self.entry["label"]).alias("system"),
            pl.lit(self.baseline, dtype=pl.String).alias("baseline"),
            pl.col("query")
            .map_elements(lambda q: ids[q], return_dtype=pl.String)
            .alias("query_id"),
            "query_lang",
            "setting",
            "pool_lang",
            "ap",
            "rank_distance",
            *([f"ap@{self.map_depth}"] if self.map_depth is not None else []),
        )


def relevance_rows(collection: Collection) -> tuple[np.ndarray, np.ndarray]:
    """(query row, candidate row) of every relevant pair, sorted by query row."""
    q_index = pl.DataFrame(
        {"question_id": collection.questions["id"], "q": np.arange(collection.questions.height)}
    )
    c_index = pl.DataFrame(
        {"candidate_id": collection.candidates["id"], "c": np.arange(collection.candidates.height)}
    )
    pairs = (
        collection.relevance.join(q_index, on="question_id")
        .join(c_index, on="candidate_id")
        .sort("q", "c")
    )
    return pairs["q"].to_numpy().astype(np.int64), pairs["c"].to_numpy().astype(np.int64)


def unknown_token_rate(
    encoder: Encoder, collection: Collection, sample: int = 2000
) -> dict[str, float | None]:
    """Share of tokens the model's tokenizer maps to its unknown token, per language.

    An English vocabulary meets Thai or Hindi text mostly as ``[UNK]``: the encoder then sees
    almost nothing of the passage, which explains much of an English model's language bias.
    """
    tokenizer = getattr(encoder.model, "tokenizer", None)
    unk = getattr(tokenizer, "unk_token_id", None)
    rates: dict[str, float | None] = {}
    for lang in collection.languages:
        if tokenizer is None or unk is None:
            rates[lang] = None
            continue
        texts = collection.candidates.filter(pl.col("lang") == lang)["text"].to_list()[:sample]
        texts += collection.questions.filter(pl.col("lang") == lang)["text"].to_list()[:sample]
        ids = (
            tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"] if texts else []
        )
        total = sum(len(x) for x in ids)
        rates[lang] = (sum(t == unk for x in ids for t in x) / total) if total else None
    return rates


def rank_collection(
    collection: Collection,
    scorer: Callable[[int, int], np.ndarray],
    k: int,
    chunk: int,
    run_depth: int | None,
    progress: Progress | None,
) -> tuple[Ranked, np.ndarray, np.ndarray]:
    """Ranks of every relevant pair of ``collection`` under ``scorer`` (any system's scores)."""
    code = {lang: i for i, lang in enumerate(collection.languages)}
    rel_q, rel_c = relevance_rows(collection)
    ranked = rank_scored(
        scorer,
        collection.questions.height,
        np.array([code[x] for x in collection.questions["lang"]], dtype=np.int64),
        np.array([code[x] for x in collection.candidates["lang"]], dtype=np.int64),
        rel_q,
        rel_c,
        collection.languages,
        trec_tie_key(collection.candidates["id"].to_list()),
        k=k,
        chunk=chunk,
        run_depth=run_depth,
        progress=progress,
    )
    return ranked, rel_q, rel_c


def evaluate(
    collection: Collection,
    retriever: Retriever,
    *,
    k: int = 10,
    peer: bool = False,
    run_depth: int | None = None,
    chunk: int = 256,
    progress: StageProgress | None = None,
    ann: DenseIndex | None = None,
    ann_depth: int = 1000,
    build_s: float = 0.0,
    map_depth: int | None = None,
) -> Evaluation:
    """Score ``collection`` with any system in the mono, cross and multi settings.

    The retriever scores the questions in chunks against every candidate; the metrics come from
    those scores alone, whatever the system. With ``ann`` (an index of the same collection and
    model), the multi setting is also scored through hnswlib, top ``ann_depth`` per query, and
    the entry says how far that is from exact. ``build_s`` is the time the system took to build
    over the collection (encoding or indexing its candidates), recorded with the others.
    ``map_depth`` adds XTREME-R's mAP cut at that depth beside every mAP (``map@20``).
    """
    if collection.questions.is_empty() or collection.candidates.is_empty():
        raise XlirError(f"collection {collection.name} has no questions or no candidates")
    retriever.check_collection(collection)
    started = time.perf_counter()

    questions = collection.questions["text"].to_list()
    scorer = retriever.scorer(questions, collection.questions["lang"].to_list(), progress)
    prepared = time.perf_counter()
    ranked, rel_q, rel_c = rank_collection(
        collection, scorer, k, chunk, run_depth, stage_callback(progress, "scoring")
    )
    result = summarize(ranked, peer=peer, map_depth=map_depth)
    scored = time.perf_counter()
    if ann is not None and result["summary"]["multi"] is not None:
        result["ann"] = ann_multi(
            ann, retriever, questions, rel_q, rel_c, result["summary"]["multi"], ann_depth
        )
    if retriever.encoder is not None and retriever.system == "dense":
        for lang, rate in unknown_token_rate(retriever.encoder, collection).items():
            result["languages"][lang]["unk_rate"] = rate
    timings = {
        "build_s": round(build_s, 3),
        "queries_s": round(prepared - started, 3),
        "score_s": round(scored - prepared, 3),
    }
    translate_s = getattr(retriever, "translate_s", None)
    if translate_s is not None:
        timings["translate_s"] = round(translate_s, 3)
    timings.update(getattr(retriever, "debias_timings", {}))
    entry = {**retriever.describe(), **result, "timings": timings}
    return Evaluation(
        entry,
        ranked,
        collection.questions["id"].to_list(),
        collection.candidates["id"].to_list(),
        map_depth=map_depth,
    )


def evaluate_encoder(collection: Collection, encoder: Encoder, **options: Any) -> Evaluation:
    """:func:`evaluate` for the dense system of an encoder already loaded (training's
    evaluations, benchmarks)."""

    index = DenseIndex.build(collection, encoder, None, graph=False)
    return evaluate(collection, DenseRetriever(index, encoder), **options)


def ann_multi(
    index: DenseIndex,
    retriever: Retriever,
    questions: list[str],
    rel_q: np.ndarray,
    rel_c: np.ndarray,
    exact: dict[str, Any],
    depth: int,
) -> dict[str, Any]:
    """Multi-setting mAP and R@10 through the hnsw graph (relevant items past ``depth`` count 0)."""
    depth = min(depth, index.size)
    ef = max(int(index.manifest["hnsw"]["ef"]), depth)
    qvec = retriever.encoder.encode_queries(questions)  # the embedding cache has them
    rows, _ = index.search_vectors(qvec, k=depth, ef=ef, method="hnsw")
    relevant: dict[int, np.ndarray] = {}
    for q, c in zip(rel_q.tolist(), rel_c.tolist(), strict=True):
        relevant.setdefault(q, []).append(c)  # type: ignore[arg-type]
    aps, recalls = [], []
    for q, rel in relevant.items():
        found = np.flatnonzero(np.isin(rows[q], rel)) + 1  # 1-based ranks of those retrieved
        aps.append(average_precision(found, len(rel)))
        recalls.append(int((found <= 10).sum()) / len(rel))
    m, r10 = float(np.mean(aps)), float(np.mean(recalls))
    return {
        "ef": ef,
        "depth": depth,
        "multi": {"map": m, "r@10": r10},
        "difference": {"map": m - exact["map"], "r@10": r10 - exact["r@10"]},
    }
