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

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .collections import Collection
from .encoders import with_context
from .errors import XlirError

STRATEGIES = ("mono", "cross", "hybrid")
LANG_WEIGHTINGS = ("uniform", "size")


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


class _Pool:
    """Rows of one kind (one mono language, or all cross rows), visited in a shuffled cycle."""

    def __init__(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        self.rows = rows
        self.rng = rng
        self.order = rng.permutation(rows)
        self.pos = 0

    def take(self, n: int, qid: np.ndarray) -> list[int]:
        """``n`` rows with distinct question ids, continuing the cycle."""
        batch: list[int] = []
        seen: set[int] = set()
        skipped: list[int] = []
        looked = 0
        while len(batch) < n:
            if self.pos >= len(self.order):
                self.order = self.rng.permutation(self.rows)
                self.pos = 0
            row = int(self.order[self.pos])
            self.pos += 1
            looked += 1
            g = int(qid[row])
            if g in seen:
                skipped.append(row)
                if looked > 4 * len(self.rows) + n:  # cannot happen after the size check
                    raise RuntimeError("not enough distinct question ids for a batch")
                continue
            seen.add(g)
            batch.append(row)
        # rows skipped for a repeated id go back to the front of what is left
        if skipped:
            rest = self.order[self.pos :]
            self.order = np.concatenate([np.asarray(skipped, dtype=rest.dtype), rest])
            self.pos = 0
        return batch


try:  # sentence-transformers >= 5 keeps the samplers in base.sampler
    from sentence_transformers.base.sampler import DefaultBatchSampler
except ImportError:  # pragma: no cover - older releases
    from sentence_transformers.sampler import DefaultBatchSampler  # type: ignore[no-redef]


class LanguageBatchSampler(DefaultBatchSampler):
    """Batches that follow a strategy (mono, cross, hybrid) over a :class:`PairIndex`.

    Built by the trainer as ``X(dataset, batch_size=, drop_last=, valid_label_columns=,
    generator=, seed=)``: pass ``functools.partial(LanguageBatchSampler, pairs=..., strategy=...)``
    (see :func:`sampler_factory`). ``skip`` drops the first batches of the first epoch, which is
    how a resumed run continues where it stopped.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool = True,
        valid_label_columns: list[str] | None = None,
        generator: Any = None,
        seed: int = 0,
        *,
        pairs: PairIndex,
        strategy: str = "hybrid",
        alpha: float = 0.5,
        lang_weighting: str = "uniform",
        skip: int = 0,
        epoch_offset: int = 0,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        check_sampling(pairs, strategy, alpha, lang_weighting, batch_size)
        if len(dataset) != len(pairs):
            raise ValueError("the dataset and the pair index have different lengths")
        self.pairs = pairs
        self.strategy = strategy
        self.alpha = alpha
        self.lang_weighting = lang_weighting
        self.skip = skip
        self.epoch_offset = epoch_offset
        mono = pairs.q_lang == pairs.p_lang
        self.mono_rows = {
            y: np.flatnonzero(mono & (pairs.q_lang == y)) for y in range(len(pairs.langs))
        }
        self.mono_rows = {
            y: r for y, r in self.mono_rows.items() if len(np.unique(pairs.qid[r])) >= batch_size
        }
        self.cross_rows = np.flatnonzero(~mono)

    def __len__(self) -> int:
        return max(len(self.pairs) // self.batch_size, 1)

    def batches(self, epoch: int) -> Iterator[tuple[str, list[int]]]:
        """Yield ``(kind, rows)`` for one epoch; ``kind`` is ``mono:<lang>`` or ``cross``."""
        rng = np.random.default_rng([self.seed, epoch])
        langs = sorted(self.mono_rows)
        sizes = np.array([len(self.mono_rows[y]) for y in langs], dtype=float)
        weights = sizes / sizes.sum() if self.lang_weighting == "size" and len(langs) else None
        pools = {y: _Pool(self.mono_rows[y], rng) for y in langs}
        cross = _Pool(self.cross_rows, rng) if len(self.cross_rows) else None
        for _ in range(len(self)):
            if self.strategy == "mono":
                is_mono = True
            elif self.strategy == "cross":
                is_mono = False
            else:
                is_mono = bool(rng.random() < self.alpha)
            if is_mono:
                y = langs[int(rng.choice(len(langs), p=weights))]
                yield f"mono:{self.pairs.langs[y]}", pools[y].take(self.batch_size, self.pairs.qid)
            else:
                assert cross is not None
                yield "cross", cross.take(self.batch_size, self.pairs.qid)

    def __iter__(self) -> Iterator[list[int]]:
        for i, (_, rows) in enumerate(self.batches(self.epoch + self.epoch_offset)):
            if self.epoch == 0 and i < self.skip:
                continue
            yield rows


def check_sampling(
    pairs: PairIndex, strategy: str, alpha: float, lang_weighting: str, batch_size: int
) -> None:
    """Refuse settings no batch can satisfy, with a message that says why."""
    if strategy not in STRATEGIES:
        raise XlirError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not 0.0 <= alpha <= 1.0:
        raise XlirError(f"--alpha must be between 0 and 1, got {alpha}")
    if lang_weighting not in LANG_WEIGHTINGS:
        raise XlirError(
            f"--lang-weighting must be one of {', '.join(LANG_WEIGHTINGS)}, got {lang_weighting!r}"
        )
    if batch_size < 2:
        raise XlirError(f"--batch-size must be at least 2 (in-batch negatives), got {batch_size}")
    n_qids = len(np.unique(pairs.qid))
    if batch_size > n_qids:
        raise XlirError(
            f"--batch-size {batch_size} is larger than the number of distinct "
            f"question ids ({n_qids}): no batch can avoid repeating one"
        )
    mono = pairs.q_lang == pairs.p_lang
    needs_cross = strategy == "cross" or (strategy == "hybrid" and alpha < 1.0)
    needs_mono = strategy == "mono" or (strategy == "hybrid" and alpha > 0.0)
    if needs_cross:
        if len(pairs.langs) < 2 or not (~mono).any():
            raise XlirError(
                f"--strategy {strategy} needs cross-lingual pairs, but the training "
                f"data has one language ({', '.join(pairs.langs)})"
            )
        cross_qids = len(np.unique(pairs.qid[~mono]))
        if batch_size > cross_qids:
            raise XlirError(
                f"--batch-size {batch_size} is larger than the number of question "
                f"ids with translations ({cross_qids})"
            )
    if needs_mono:
        best = max(
            len(np.unique(pairs.qid[mono & (pairs.q_lang == y)])) for y in range(len(pairs.langs))
        )
        if batch_size > best:
            raise XlirError(
                f"--batch-size {batch_size} is larger than the number of question "
                f"ids in any one language (at most {best})"
            )


def sampler_factory(
    pairs: PairIndex,
    strategy: str,
    alpha: float = 0.5,
    lang_weighting: str = "uniform",
    skip: int = 0,
    epoch_offset: int = 0,
) -> functools.partial:
    """What ``SentenceTransformerTrainingArguments(batch_sampler=...)`` takes."""
    return functools.partial(
        LanguageBatchSampler,
        pairs=pairs,
        strategy=strategy,
        alpha=alpha,
        lang_weighting=lang_weighting,
        skip=skip,
        epoch_offset=epoch_offset,
    )
