"""Ranking: the one rule by which scores become an order, ties broken as trec_eval breaks them.

Every list a person sees (the explorer's panes, ``search``) and every rank a metric counts
(:mod:`xlir_tui.evaluation.metrics`) comes from here, so a list shown and an exported run agree
to the last tie.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def trec_tie_key(candidate_ids: Sequence[str]) -> np.ndarray:
    """Position of each candidate when ties are broken as trec_eval does (id, descending)."""
    order = sorted(
        range(len(candidate_ids)), key=lambda i: candidate_ids[i].encode("utf-8"), reverse=True
    )
    key = np.empty(len(candidate_ids), dtype=np.int64)
    key[np.asarray(order, dtype=np.int64)] = np.arange(len(candidate_ids))
    return key


def order_by_score(
    scores: np.ndarray, tie_key: np.ndarray | None = None, k: int | None = None
) -> np.ndarray:
    """Positions of ``scores`` best first (the top ``k`` only, when given).

    Equal scores are ordered by ``tie_key`` (:func:`trec_tie_key`: trec_eval's order, so a list
    shown to a person ranks items exactly as the report and an exported run do), or by position
    without one. The one ranking rule of the project; :func:`rank_scored` is its vectorised form
    for ranks.
    """
    scores = np.asarray(scores)
    n = len(scores)
    k = n if k is None else max(0, min(k, n))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    cand = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    if k < n:
        # every position tied with the k-th best competes for the last places
        cand = np.union1d(cand, np.flatnonzero(scores == scores[cand].min()))
    second = tie_key[cand] if tie_key is not None else cand
    return cand[np.lexsort((second, -scores[cand]))][:k].astype(np.int64)


def top_k(
    scores: np.ndarray,
    k: int,
    rows: np.ndarray | None = None,
    tie_key: np.ndarray | None = None,
    positive_only: bool = False,
) -> np.ndarray:
    """The ``k`` best candidate rows of one query among ``rows`` (None: every candidate).

    ``positive_only`` leaves out scores of zero and below: under a lexical system a zero means
    the candidate shares nothing with the query, which is no match rather than a weak one.
    """
    if k < 1:
        from ..errors import XlirError

        raise XlirError(f"-k must be at least 1, got {k}")
    rows = np.arange(len(scores)) if rows is None else np.asarray(rows, dtype=np.int64)
    pool = np.asarray(scores)[rows]
    if positive_only:
        keep = np.flatnonzero(pool > 0)
        rows, pool = rows[keep], pool[keep]
    order = order_by_score(pool, tie_key[rows] if tie_key is not None else None, k)
    return rows[order]
