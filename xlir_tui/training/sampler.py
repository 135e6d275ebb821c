"""Training pairs from parallel QA collections, and the hybrid-batch samplers.

Rows: for every question id ``g``, its question in each language and its answer sentence in each
language, so every (query language, passage language) combination is a row. The dataset handed
to the loss holds only texts (``query``, ``passage`` and optionally ``negative``): sentence-
transformers tokenises every column, so language metadata lives beside the dataset in
:class:`PairIndex`, and the samplers read it from there.

Strategies (Elmahdy et al. 2024):

- ``mono``: every pair in a batch has query and passage in one language, the same for the whole
  batch; the language is drawn per batch, uniformly or weighted by its number of rows;
- ``cross``: every pair in a batch has query language != passage language;
- ``hybrid``: each batch is mono with probability ``alpha``, else cross.

No question id appears twice in a batch (its translations would be false negatives). Batches are
a pure function of ``(seed, epoch)``, so the same seed gives the same batches on every rank; under
DDP, accelerate hands each rank a different subset of whole batches, so every batch keeps its
strategy's property.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..data.collections import Collection
from ..errors import XlirError
from ..models.encoders import with_context
from .config import LANG_WEIGHTINGS, STRATEGIES  # declared with the other settings


@dataclass
class PairIndex:
    """Language metadata of the training rows, aligned with the dataset's row order."""

    qid: np.ndarray  # (n,) int code of the question id
    q_lang: np.ndarray  # (n,) int code of the query language
    p_lang: np.ndarray  # (n,) int code of the passage language
    langs: list[str]

    def __len__(self) -> int:
        return len(self.qid)


def build_pairs(
    collection: Collection,
    *,
    hard_negatives: bool = False,
    seed: int = 0,
    passage_context: bool = False,
) -> tuple[pl.DataFrame, PairIndex]:
    """Every (question in X, answer sentence in Y) pair of every question id.

    With ``passage_context``, passages (and negatives) are the sentence followed by its
    paragraph, the way the trained model will then read every candidate.

    With ``hard_negatives``, each row also gets a ``negative``: another sentence of the answer's
    own paragraph (or, for one-sentence paragraphs, a sentence of another paragraph in the same
    language), drawn with ``seed``.
    """
    q = collection.questions.select(
        "id", "qid", pl.col("lang").alias("q_lang"), pl.col("text").alias("query")
    )
    answers = (
        collection.relevance.join(
            q.select(pl.col("id").alias("question_id"), "qid", "q_lang"), on="question_id"
        )
        .filter(pl.col("candidate_id").str.starts_with(pl.col("q_lang") + "/"))
        .select("qid", "candidate_id")
        .unique(subset=["qid", "candidate_id"], keep="first")
        .join(
            collection.candidates.select(
                pl.col("id").alias("candidate_id"),
                pl.col("lang").alias("p_lang"),
                pl.col("text").alias("passage"),
                "context",
                "paragraph_id",
                "sentence_index",
            ),
            on="candidate_id",
        )
        .unique(subset=["qid", "p_lang"], keep="first")
    )
    rows = q.join(answers, on="qid").sort("qid", "q_lang", "p_lang")
    if rows.is_empty():
        raise XlirError(f"collection {collection.name} yields no training pairs")
    langs = sorted(set(rows["q_lang"].to_list()) | set(rows["p_lang"].to_list()))
    code = {x: i for i, x in enumerate(langs)}
    qcodes = {g: i for i, g in enumerate(sorted(set(rows["qid"].to_list())))}
    index = PairIndex(
        qid=np.array([qcodes[g] for g in rows["qid"]], dtype=np.int64),
        q_lang=np.array([code[x] for x in rows["q_lang"]], dtype=np.int64),
        p_lang=np.array([code[x] for x in rows["p_lang"]], dtype=np.int64),
        langs=langs,
    )
    data = rows.select("query", "passage")
    if hard_negatives:
        data = data.with_columns(pl.Series("negative", _negatives(collection, rows, seed)))
    if passage_context:
        contexts = rows["context"].to_list()
        data = data.with_columns(
            pl.Series(
                "passage",
                [with_context(p, c) for p, c in zip(data["passage"], contexts, strict=True)],
            ),
            *(
                [
                    pl.Series(
                        "negative",
                        [
                            with_context(n, c)
                            for n, c in zip(data["negative"], contexts, strict=True)
                        ],
                    )
                ]
                if hard_negatives
                else []
            ),
        )
    return data, index


def _negatives(collection: Collection, rows: pl.DataFrame, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    by_para: dict[str, list[tuple[int, str]]] = {}
    by_lang: dict[str, list[str]] = {}
    for pid, lang, idx, text in collection.candidates.select(
        "paragraph_id", "lang", "sentence_index", "text"
    ).iter_rows():
        by_para.setdefault(pid, []).append((idx, text))
        by_lang.setdefault(lang, []).append(text)
    out = []
    for pid, idx, lang, passage in rows.select(
        "paragraph_id", "sentence_index", "p_lang", "passage"
    ).iter_rows():
        others = [t for i, t in by_para[pid] if i != idx and t != passage]
        if not others:
            others = [t for t in by_lang[lang] if t != passage] or [passage]
        out.append(others[int(rng.integers(len(others)))])
    return out


def _flag_error(name: str, problem: str) -> XlirError:
    return XlirError(f"--{name.replace('_', '-')} {problem}")


def check_sampling(
    pairs: PairIndex,
    strategy: str,
    alpha: float,
    lang_weighting: str,
    batch_size: int,
    *,
    error: Callable[[str, str], XlirError] = _flag_error,
) -> None:
    """Refuse settings no batch can satisfy, with a message that says why. ``error(setting,
    problem)`` makes the one-line error (``--batch-size 64 is larger ...``; ``train`` names a
    setting from a config file with its file and key instead)."""
    if strategy not in STRATEGIES:
        raise error("strategy", f"must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not 0.0 <= alpha <= 1.0:
        raise error("alpha", f"must be between 0 and 1, got {alpha}")
    if lang_weighting not in LANG_WEIGHTINGS:
        raise error(
            "lang_weighting",
            f"must be one of {', '.join(LANG_WEIGHTINGS)}, got {lang_weighting!r}",
        )
    if batch_size < 2:
        raise error("batch_size", f"must be at least 2 (in-batch negatives), got {batch_size}")
    n_qids = len(np.unique(pairs.qid))
    if batch_size > n_qids:
        raise error(
            "batch_size",
            f"{batch_size} is larger than the number of distinct question ids ({n_qids}): "
            "no batch can avoid repeating one",
        )
    mono = pairs.q_lang == pairs.p_lang
    needs_cross = strategy == "cross" or (strategy == "hybrid" and alpha < 1.0)
    needs_mono = strategy == "mono" or (strategy == "hybrid" and alpha > 0.0)
    if needs_cross:
        if len(pairs.langs) < 2 or not (~mono).any():
            raise error(
                "strategy",
                f"{strategy} needs cross-lingual pairs, but the training data has one "
                f"language ({', '.join(pairs.langs)})",
            )
        cross_qids = len(np.unique(pairs.qid[~mono]))
        if batch_size > cross_qids:
            raise error(
                "batch_size",
                f"{batch_size} is larger than the number of question ids with translations "
                f"({cross_qids})",
            )
    if needs_mono:
        best = max(
            len(np.unique(pairs.qid[mono & (pairs.q_lang == y)])) for y in range(len(pairs.langs))
        )
        if batch_size > best:
            raise error(
                "batch_size",
                f"{batch_size} is larger than the number of question ids in any one language "
                f"(at most {best})",
            )
