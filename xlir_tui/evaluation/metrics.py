"""LAReQA metrics and language-bias statistics, computed exactly over the full pool.

Definitions (see the project's METHOD notes; Roy et al. 2020, Huang et al. 2023, Yang et al. 2024):

- **mono**: queries in language X, pool = the candidates in X; **cross**: queries in X, pool = the
  candidates in Y, for every ordered pair X != Y; **multi**: queries in X, pool = every candidate.
- **AP(q)** = (1/|R_q|) * sum over q's relevant items of the precision at that item's rank, over
  the full pool (every relevant item is ranked, so none is "not retrieved"). mAP of a setting is the
  mean over its queries. The mono figure is the macro average over languages, the cross figure the
  macro average over ordered pairs, and the multi figure the mean over every query (one pool), which
  is what ``trec_eval -m map`` prints on the exported run and qrels.
- **mAP@K** (``--map-depth K``; ``map@20`` in report JSON) is XTREME-R's cut mAP (Ruder et al.
  2021): its LAReQA evaluation (google-research/xtreme, ``third_party/utils_lareqa.py``,
  ``average_precision_at_k``, called with k = 20 by ``third_party/evaluate_retrieval.py``) sums,
  over the relevant items ranked in the top K, the precision at each one's rank, and divides by
  **min(|R_q|, K)**. trec_eval's ``map_cut_K`` sums the same terms but divides by |R_q|: the two
  agree whenever a query has at most K relevant items (every query of XQuAD-R and MLQA-R at
  K = 20: one relevant sentence per language) and differ otherwise (3 relevant items at ranks 1
  and 2 of a cut at 2: XTREME-R 1.0, trec_eval 0.667). XTREME-R's LAReQA figure is the multi
  setting's mAP@20; LAReQA and the hybrid-batch paper report mAP over the whole pool. The two are
  not comparable: a report says which it shows.
- **R@k** = |relevant items in the top k| / |R_q| (trec_eval's ``recall_k``): R@1 for mono and
  cross, R@10 for multi.
- **rank distance** (multi): max minus min rank of a query's relevant items; mean over the queries
  of a language, then the macro average over languages.
- **top-k language shares** (multi): the share of each language among a query's top k, averaged
  over the queries of a language, against the share of that language in the pool (what an
  unbiased retriever would show on average); **same-language preference** is the share of the
  query's own language.
- **PEER** (optional; after Yang et al., SIGIR 2024, pooled over queries): for the queries of a
  language, the Kruskal-Wallis test (``scipy.stats.kruskal``, which ranks the observations and
  corrects for ties) over the multi-setting ranks of their relevant items grouped by the items'
  language; the p-value is high when no language's relevant items rank systematically better.
  This is not the paper's per-query PEER, and says so on purpose. The paper (and its authors'
  package ``peer-measure``) tests, for each query and relevance level, the ranks of that query's
  documents grouped by language, then averages the weighted p-values over queries. In XQuAD-R
  and MLQA-R a question has exactly one relevant sentence per language, so each language group
  holds one rank, the statistic is H = n - 1 whatever the ranking, and the per-query p-value is
  the constant chi2.sf(n - 1, n - 1) (0.44 for 11 languages): it cannot tell a biased retriever
  from a fair one. Pooling a language's queries gives each group one rank per query, which the
  test can compare. ``tests/test_protocol.py`` checks both facts against ``peer-measure`` on the
  same run. (Its non-relevant level, with a cut, tests only where the retrieved non-relevant
  documents sit and leaves out those never retrieved: a top 20 of own-language distractors is
  one group, and scores as fair.)

Ties: candidates with equal scores are ordered the way trec_eval orders them, by candidate id in
descending byte order, so the ranks here are the ranks trec_eval sees in an exported run.

Scoring is chunked: at most ``chunk`` queries at a time against all candidates, and fewer for a
large pool (:func:`queries_per_chunk`), so the block of scores and what ranking it takes stay
within a fixed size (:data:`SCORE_BLOCK`) whatever the pool's size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ..progress import Progress

SCORE_BLOCK = 1 << 25
"""Most scores ranked at once (queries x candidates): 128 MB of float32. Ranking a block takes
about twice its scores' memory more (a language's columns, one comparison at a time):
``bench/bench_scale.py`` measured 0.25 GB above the loaded index for 256 queries against 10^5
candidates, against 2.3 GB for 256 queries against 3x10^5 before the block was bounded and the
comparisons made slot by slot."""


@dataclass
class Ranked:
    """The ranks of every (query, relevant candidate) pair, plus top-k language counts."""

    langs: list[str]
    q_lang: np.ndarray  # (n_q,) language index of each query
    c_lang: np.ndarray  # (n_c,) language index of each candidate
    rel_q: np.ndarray  # (P,) query row of each relevant pair
    rel_c: np.ndarray  # (P,) candidate row of each relevant pair
    rank_lang: np.ndarray  # (P,) 1-based rank among the candidates of the item's own language
    rank_all: np.ndarray  # (P,) 1-based rank in the whole pool
    topk_counts: np.ndarray  # (n_q, L) languages among each query's top k (whole pool)
    k: int
    run: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    """Per chunk of queries: (query rows, candidate rows, scores), best first, for TREC export."""

    @property
    def pool_sizes(self) -> np.ndarray:
        return np.bincount(self.c_lang, minlength=len(self.langs))


def ranks_in_pool(
    scores: np.ndarray,
    relevant: np.ndarray,
    tie_key: np.ndarray,
    pool: np.ndarray | None = None,
) -> np.ndarray:
    """1-based ranks of the ``relevant`` rows among ``pool`` (None: every candidate) for one
    query's ``scores``: 1 + the candidates scoring higher + the tied ones that trec_eval's order
    puts first. Relevant rows outside the pool are left out. The same rule as
    :func:`rank_scored`, for one query."""
    pool = np.arange(len(scores)) if pool is None else np.asarray(pool, dtype=np.int64)
    relevant = np.asarray(relevant, dtype=np.int64)
    relevant = relevant[np.isin(relevant, pool)]
    s_pool, key_pool = scores[pool], tie_key[pool]
    s_rel, key_rel = scores[relevant], tie_key[relevant]
    ahead = (s_pool[None, :] > s_rel[:, None]) | (
        (s_pool[None, :] == s_rel[:, None]) & (key_pool[None, :] < key_rel[:, None])
    )
    return np.sort(ahead.sum(axis=1) + 1)


def average_precision(ranks: np.ndarray, relevant: int | None = None) -> float | None:
    """AP of one query from the 1-based ranks of its relevant items that were ranked: the mean,
    over ``relevant`` items (default: those ranked), of the precision at each item's rank; an
    item never ranked (past an ANN search's depth) counts 0. None without relevant items.
    :func:`summarize` computes the same definition vectorised over every query."""
    ranks = np.sort(np.asarray(ranks, dtype=np.float64))
    n = len(ranks) if relevant is None else relevant
    if n == 0:
        return None
    return float((np.arange(1, len(ranks) + 1) / ranks).sum() / n)


def queries_per_chunk(n_candidates: int, most: int = 256) -> int:
    """How many queries to score at once against ``n_candidates``: ``most``, or fewer, so that
    a block holds at most :data:`SCORE_BLOCK` scores (never fewer than one query)."""
    return max(1, min(most, SCORE_BLOCK // max(1, n_candidates)))


def rank_scored(
    scorer: Callable[[int, int], np.ndarray],
    n_q: int,
    q_lang: np.ndarray,
    c_lang: np.ndarray,
    rel_q: np.ndarray,
    rel_c: np.ndarray,
    langs: list[str],
    tie_key: np.ndarray,
    *,
    k: int = 10,
    chunk: int = 256,
    run_depth: int | None = None,
    progress: Progress | None = None,
) -> Ranked:
    """Exact ranks of every relevant pair, per language pool and in the whole pool.

    ``scorer(lo, hi)`` returns the scores of queries ``lo:hi`` against every candidate, any
    retriever's (dense, lexical, fused). ``rel_q``/``rel_c`` must be sorted by query row.
    ``run_depth`` keeps each query's top ``run_depth`` (0: the whole pool) for a TREC run;
    None keeps nothing. At most ``chunk`` queries are scored at once, fewer for a large pool
    (:func:`queries_per_chunk`).
    """
    n_c = len(c_lang)
    chunk = queries_per_chunk(n_c, chunk)
    n_lang = len(langs)
    lang_cols = [np.flatnonzero(c_lang == y) for y in range(n_lang)]
    rank_lang = np.zeros(len(rel_q), dtype=np.int64)
    rank_all = np.zeros(len(rel_q), dtype=np.int64)
    topk = np.zeros((n_q, n_lang), dtype=np.int32)
    k_eff = min(k, n_c)
    starts = np.searchsorted(
        rel_q, np.arange(0, n_q + 1)
    )  # pairs of query q: starts[q]:starts[q+1]
    run: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    if progress:
        progress(0, n_q)  # the start: an ETA from the first chunk on
    for lo in range(0, n_q, chunk):
        hi = min(lo + chunk, n_q)
        scores = np.asarray(scorer(lo, hi), dtype=np.float32)  # (b, n_c)
        p_lo, p_hi = starts[lo], starts[hi]
        pq = rel_q[p_lo:p_hi] - lo  # local query row of each pair
        pc = rel_c[p_lo:p_hi]
        # pad the pairs into a (b, R) block so each comparison is one vectorised pass
        counts = np.bincount(pq, minlength=hi - lo)
        width = int(counts.max()) if len(counts) and counts.max() > 0 else 0
        if width:
            slot = np.arange(len(pq)) - np.repeat(np.cumsum(counts) - counts, counts)
            block_c = np.zeros((hi - lo, width), dtype=np.int64)
            block_c[pq, slot] = pc
            s_rel = np.take_along_axis(scores, block_c, axis=1)  # (b, R)
            key_rel = tie_key[block_c]
            own = c_lang[block_c]
            ahead = np.zeros((hi - lo, width, n_lang), dtype=np.int64)
            for y, cols in enumerate(lang_cols):
                if len(cols):
                    ahead[:, :, y] = _ahead(
                        scores[:, cols], s_rel, key_rel, tie_key[cols], own == y
                    )
            r_lang = np.take_along_axis(ahead, own[:, :, None], axis=2)[:, :, 0] + 1
            r_all = ahead.sum(axis=2) + 1
            rank_lang[p_lo:p_hi] = r_lang[pq, slot]
            rank_all[p_lo:p_hi] = r_all[pq, slot]
        # top-k languages of the whole pool
        top = top_k_sets(scores, k_eff)
        np.add.at(topk, (np.repeat(np.arange(lo, hi), top.shape[1]), c_lang[top].ravel()), 1)
        if run_depth is not None:
            run.append(_top_of_chunk(scores, tie_key, run_depth, lo))
        if progress:
            progress(hi, n_q)
    return Ranked(langs, q_lang, c_lang, rel_q, rel_c, rank_lang, rank_all, topk, k_eff, run)


def _ahead(
    pool: np.ndarray,
    s_rel: np.ndarray,
    key_rel: np.ndarray,
    pool_key: np.ndarray,
    inside: np.ndarray,
) -> np.ndarray:
    """For each query (row) and relevant slot: how many of ``pool``'s candidates rank ahead of
    the slot's item, ``s_rel`` its score and ``key_rel`` its tie key; ``inside`` says where the
    item is one of ``pool``'s own candidates.

    Ahead means a higher score, or the same score and an earlier place in trec_eval's order.
    Counting strictly higher and at-least-as-high scores, slot by slot, is two passes over the
    block of scores, half of what comparing keys everywhere took (``bench/bench_scale.py``);
    keys are compared only where other candidates share the item's score (every zero, under a
    lexical system). The item itself is never ahead of itself.
    """
    ahead = np.empty(s_rel.shape, dtype=np.int64)
    for j in range(s_rel.shape[1]):
        score = s_rel[:, j : j + 1]
        higher = np.count_nonzero(pool > score, axis=1)
        tied = np.count_nonzero(pool >= score, axis=1) - higher - inside[:, j]
        rows = np.flatnonzero(tied > 0)
        if len(rows):
            same = pool[rows] == score[rows]
            first = pool_key[None, :] < key_rel[rows, j][:, None]
            higher[rows] += np.count_nonzero(same & first, axis=1)
        ahead[:, j] = higher
    return ahead


def top_k_sets(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` best positions, as a set in no particular order: the set that
    ``np.argpartition`` gives, found by ``torch.topk`` (ten times faster on a large pool,
    ``bench/bench_scale.py``). Where the ``k``-th best score is shared by more positions than
    fit, which of them make the set is ``np.argpartition``'s choice, as before, so the rows with
    such ties are passed to it."""
    import warnings

    import torch

    b, n = scores.shape
    if k >= n:
        return np.tile(np.arange(n), (b, 1))
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*")
        values, top = torch.topk(torch.from_numpy(scores), k, dim=1, sorted=False)
    out = top.numpy().astype(np.int64)
    kth = values.min(dim=1).values.numpy()
    tied = np.flatnonzero(np.count_nonzero(scores >= kth[:, None], axis=1) > k)
    if len(tied):
        out[tied] = np.argpartition(-scores[tied], k - 1, axis=1)[:, :k]
    return out


def _top_of_chunk(
    scores: np.ndarray, tie_key: np.ndarray, depth: int, lo: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b, n = scores.shape
    depth = n if depth <= 0 else min(depth, n)
    if depth < n:
        cand = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    else:
        cand = np.tile(np.arange(n), (b, 1))
    cand_scores = np.take_along_axis(scores, cand, axis=1)
    order = np.lexsort((tie_key[cand], -cand_scores), axis=1)
    cand = np.take_along_axis(cand, order, axis=1)
    cand_scores = np.take_along_axis(cand_scores, order, axis=1)
    rows = np.repeat(np.arange(lo, lo + b), depth)
    return rows, cand.ravel(), cand_scores.ravel()


def map_key(depth: int) -> str:
    """The name of mAP cut at ``depth`` in report JSON and tables: ``map@20``."""
    return f"map@{depth}"


def _ap_frame(
    ranked: Ranked, rank_col: str, by_pool: bool, depth: int | None = None
) -> pl.DataFrame:
    """Per query (and pool language when ``by_pool``): AP, recall at 1 and 10, rank spread, and
    with ``depth`` XTREME-R's AP@depth (``ap@depth``; see the module docstring), sorted by query
    (and pool language).

    Summed in numpy over rows in a fixed order rather than by a polars ``group_by``: polars
    aggregates a group's rows in parts on several threads and adds the parts in whatever order
    they finish, so a mean's last digit could change from run to run.
    """
    q = ranked.rel_q
    q_lang = ranked.q_lang[q]
    c_lang = ranked.c_lang[ranked.rel_c]
    rank = np.asarray(ranked.rank_lang if rank_col == "lang" else ranked.rank_all)
    order = np.lexsort((rank, c_lang, q) if by_pool else (rank, q))
    q, q_lang, c_lang, rank = q[order], q_lang[order], c_lang[order], rank[order]
    n = len(q)
    new = np.ones(n, dtype=bool)
    new[1:] = q[1:] != q[:-1]
    if by_pool:
        new[1:] |= c_lang[1:] != c_lang[:-1]
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, n))
    frame: dict[str, Any] = {"q": q[starts], "q_lang": q_lang[starts]}
    if by_pool:
        frame["c_lang"] = c_lang[starts]
    if n:
        position = np.arange(1, n + 1) - np.repeat(starts, counts)  # 1-based within a group
        precision = position / rank
        frame |= {
            "ap": np.add.reduceat(precision, starts) / counts,
            "r@1": np.add.reduceat((rank <= 1).astype(np.int64), starts) / counts,
            "r@10": np.add.reduceat((rank <= 10).astype(np.int64), starts) / counts,
            "rank_distance": np.maximum.reduceat(rank, starts) - np.minimum.reduceat(rank, starts),
        }
        if depth is not None:
            within = np.where(rank <= depth, precision, 0.0)
            frame[f"ap@{depth}"] = np.add.reduceat(within, starts) / np.minimum(counts, depth)
    else:
        frame |= {
            "ap": np.zeros(0),
            "r@1": np.zeros(0),
            "r@10": np.zeros(0),
            "rank_distance": np.zeros(0, dtype=np.int64),
        }
        if depth is not None:
            frame[f"ap@{depth}"] = np.zeros(0)
    frame["relevant"] = counts
    return pl.DataFrame(frame)


def _means(frame: pl.DataFrame, keys: list[str], columns: list[str]) -> list[dict[str, Any]]:
    """Per distinct key, sorted by key: the key values, the mean of each column and ``rows``;
    numpy means over each key's rows in the frame's order (the same sums in every run)."""
    if frame.is_empty():
        return []
    key_values = np.stack([frame[k].to_numpy() for k in keys], axis=1)
    values = {c: frame[c].to_numpy().astype(np.float64) for c in columns}
    out = []
    for key in np.unique(key_values, axis=0):
        rows = np.all(key_values == key, axis=1)
        out.append(
            {
                **{k: int(v) for k, v in zip(keys, key, strict=True)},
                **{c: float(np.mean(values[c][rows])) for c in columns},
                "rows": int(rows.sum()),
            }
        )
    return out


def query_table(ranked: Ranked, depth: int | None = None) -> pl.DataFrame:
    """Every query's AP in each setting: ``query`` (row), ``setting`` (mono, cross, multi),
    ``query_lang``, ``pool_lang`` (null for multi), ``ap``, ``rank_distance`` (multi only), and
    with ``depth`` the AP cut there (``ap@20``).

    The unit of paired comparisons between systems, and what ``--out`` writes for others'
    tests (ranx, R).
    """
    names = pl.Series("name", ranked.langs, dtype=pl.String)

    def lang(col: str) -> pl.Expr:
        return pl.col(col).map_elements(lambda i: names[i], return_dtype=pl.String)

    per_pool = _ap_frame(ranked, "lang", by_pool=True, depth=depth)
    cut = [pl.col(f"ap@{depth}")] if depth is not None else []
    frames = [
        per_pool.select(
            pl.col("q").alias("query"),
            pl.when(pl.col("q_lang") == pl.col("c_lang"))
            .then(pl.lit("mono"))
            .otherwise(pl.lit("cross"))
            .alias("setting"),
            lang("q_lang").alias("query_lang"),
            lang("c_lang").alias("pool_lang"),
            pl.col("ap"),
            pl.lit(None, dtype=pl.Int64).alias("rank_distance"),
            *cut,
        )
    ]
    if len(ranked.langs) > 1:
        frames.append(
            _ap_frame(ranked, "all", by_pool=False, depth=depth).select(
                pl.col("q").alias("query"),
                pl.lit("multi").alias("setting"),
                lang("q_lang").alias("query_lang"),
                pl.lit(None, dtype=pl.String).alias("pool_lang"),
                pl.col("ap"),
                pl.col("rank_distance").cast(pl.Int64),
                *cut,
            )
        )
    return pl.concat(frames).sort("setting", "query", "pool_lang", nulls_last=True)


def summarize(
    ranked: Ranked, *, peer: bool = False, map_depth: int | None = None
) -> dict[str, Any]:
    """Settings, per-language and per-pair figures, and bias statistics as plain data. With
    ``map_depth`` every mAP (settings, pairs, languages) has XTREME-R's mAP@depth beside it
    (``map@20``)."""
    langs = ranked.langs
    n_lang = len(langs)
    cut = map_key(map_depth) if map_depth is not None else None
    pair_rows = _pair_rows(ranked, map_depth)
    mono = [p for p in pair_rows if p["setting"] == "mono"]
    cross = [p for p in pair_rows if p["setting"] == "cross"]
    multi, per_lang_multi = _multi(ranked, map_depth)
    summary: dict[str, Any] = {
        "mono": _mean_setting(mono, "r@1", cut),
        "cross": _mean_setting(cross, "r@1", cut) if n_lang > 1 else None,
        "multi": multi,
    }
    multi_by = {langs[r["q_lang"]]: r for r in per_lang_multi}
    # language shares in the top k of the whole pool
    sizes = ranked.pool_sizes
    expected = sizes / sizes.sum()
    languages: dict[str, Any] = {}
    for x, lang in enumerate(langs):
        mono_x = next((p for p in mono if p["query_lang"] == lang), None)
        entry: dict[str, Any] = {
            "questions": int((ranked.q_lang == x).sum()),
            "candidates": int(sizes[x]),
            "mono": (
                {"map": mono_x["map"], **({cut: mono_x[cut]} if cut else {}), "r@1": mono_x["r@1"]}
                if mono_x
                else None
            ),
            "cross": (
                {
                    "map_as_query": _mean([p["map"] for p in cross if p["query_lang"] == lang]),
                    "map_as_pool": _mean([p["map"] for p in cross if p["pool_lang"] == lang]),
                }
                if n_lang > 1
                else None
            ),
            "multi": _language_multi(ranked, x, multi_by.get(lang), expected, cut),
        }
        languages[lang] = entry
    if peer and n_lang > 1:
        for x, lang in enumerate(langs):
            if languages[lang]["multi"] is not None:
                languages[lang]["multi"]["peer"] = _peer(ranked, x)
    return {
        "summary": summary,
        "languages": languages,
        "pairs": pair_rows,
        "bias": _bias(ranked, languages, expected),
    }


def _pair_rows(ranked: Ranked, map_depth: int | None) -> list[dict[str, Any]]:
    """mAP and R@1 of each (query language, pool language) pair: mono on the diagonal."""
    langs = ranked.langs
    cut = map_key(map_depth) if map_depth is not None else None
    cut_ap = [f"ap@{map_depth}"] if cut else []
    per_pool = _ap_frame(ranked, "lang", by_pool=True, depth=map_depth)
    return [
        {
            "query_lang": langs[row["q_lang"]],
            "pool_lang": langs[row["c_lang"]],
            "setting": "mono" if row["q_lang"] == row["c_lang"] else "cross",
            "map": row["ap"],
            **({cut: row[cut_ap[0]]} if cut else {}),
            "r@1": row["r@1"],
            "questions": row["rows"],
        }
        for row in _means(per_pool, ["q_lang", "c_lang"], ["ap", *cut_ap, "r@1"])
    ]


def _multi(
    ranked: Ranked, map_depth: int | None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The multi setting over the whole pool: its figures, and the same per query language."""
    cut = map_key(map_depth) if map_depth is not None else None
    cut_ap = [f"ap@{map_depth}"] if cut else []
    multi_q = _ap_frame(ranked, "all", by_pool=False, depth=map_depth)
    per_lang = [
        {
            "q_lang": r["q_lang"],
            "map": r["ap"],
            **({cut: r[cut_ap[0]]} if cut else {}),
            "r@10": r["r@10"],
            "rank_distance": r["rank_distance"],
            "questions": r["rows"],
        }
        for r in _means(multi_q, ["q_lang"], ["ap", *cut_ap, "r@10", "rank_distance"])
    ]
    if len(ranked.langs) < 2:
        return None, per_lang
    multi = {
        "map": float(np.mean(multi_q["ap"].to_numpy())),
        **({cut: float(np.mean(multi_q[cut_ap[0]].to_numpy()))} if cut else {}),
        "r@10": float(np.mean(multi_q["r@10"].to_numpy())),
        "rank_distance": float(np.mean([r["rank_distance"] for r in per_lang])),
        "questions": multi_q.height,
    }
    return multi, per_lang


def _language_multi(
    ranked: Ranked, x: int, row: dict[str, Any] | None, expected: np.ndarray, cut: str | None
) -> dict[str, Any] | None:
    """Language ``x``'s questions in the multi setting: their figures (``row``) and the shares
    of each language in their top k, against the shares the pool sizes would give."""
    langs = ranked.langs
    rows = ranked.q_lang == x
    n_q = int(rows.sum())
    if len(langs) < 2 or row is None or not n_q:
        return None
    shares = ranked.topk_counts[rows].sum(axis=0) / (n_q * ranked.k)
    return {
        "map": row["map"],
        **({cut: row[cut]} if cut else {}),
        "r@10": row["r@10"],
        "rank_distance": row["rank_distance"],
        "top_k_shares": {langs[y]: float(shares[y]) for y in range(len(langs))},
        "same_language_share": float(shares[x]),
        "expected_same_language_share": float(expected[x]),
        "same_language_ratio": float(shares[x] / expected[x]) if expected[x] else None,
    }


def _bias(ranked: Ranked, languages: dict[str, Any], expected: np.ndarray) -> dict[str, Any]:
    """The report's bias block: the same-language share of the top k against the expected."""
    langs = ranked.langs
    bias: dict[str, Any] = {
        "k": ranked.k,
        "expected_shares": {langs[y]: float(expected[y]) for y in range(len(langs))},
    }
    if len(langs) > 1:
        same = [v["multi"]["same_language_share"] for v in languages.values() if v["multi"]]
        exp = [v["multi"]["expected_same_language_share"] for v in languages.values() if v["multi"]]
        bias["same_language_share"] = _mean(same)
        bias["expected_same_language_share"] = _mean(exp)
    return bias


def _peer(ranked: Ranked, x: int) -> dict[str, float] | None:
    from scipy.stats import kruskal

    mask = ranked.q_lang[ranked.rel_q] == x
    item_lang = ranked.c_lang[ranked.rel_c[mask]]
    ranks = ranked.rank_all[mask]
    groups = [ranks[item_lang == y] for y in range(len(ranked.langs))]
    groups = [g for g in groups if len(g)]
    if len(groups) < 2:
        return None
    try:
        h, p = kruskal(*groups)
    except ValueError:  # every rank identical
        return None
    return {"h": float(h), "p": float(p)}


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _mean_setting(
    rows: list[dict[str, Any]], recall: str, cut: str | None = None
) -> dict[str, Any] | None:
    if not rows:
        return None
    return {
        "map": _mean([r["map"] for r in rows]),
        **({cut: _mean([r[cut] for r in rows])} if cut else {}),
        recall: _mean([r[recall] for r in rows]),
        "settings": len(rows),
    }
