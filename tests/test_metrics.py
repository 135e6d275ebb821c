"""Metrics: a hand-computed case, and agreement with trec_eval (pytrec_eval) on real runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from xlir_tui.data.collections import Collection
from xlir_tui.evaluation.evaluate import evaluate_encoder, relevance_rows
from xlir_tui.evaluation.exports import build_report, write_outputs
from xlir_tui.evaluation.metrics import rank_scored, summarize
from xlir_tui.retrieval.dense import Scores, scores_of
from xlir_tui.retrieval.ranking import trec_tie_key


def hand_collection() -> Collection:
    """Two languages, two question ids; candidate rows en0 en1 de0 de1."""
    questions = pl.DataFrame(
        {
            "id": ["en/a", "en/b", "de/a", "de/b"],
            "qid": ["a", "b", "a", "b"],
            "lang": ["en", "en", "de", "de"],
            "text": ["?"] * 4,
        }
    )
    candidates = pl.DataFrame(
        {
            "id": ["en/0/0", "en/0/1", "de/0/0", "de/0/1"],
            "lang": ["en", "en", "de", "de"],
            "paragraph_id": ["en/0", "en/0", "de/0", "de/0"],
            "sentence_index": pl.Series([0, 1, 0, 1], dtype=pl.Int32),
            "text": ["x"] * 4,
            "context": ["x"] * 4,
        }
    )
    relevance = pl.DataFrame(
        {
            "question_id": ["en/a", "en/a", "en/b", "en/b", "de/a", "de/a", "de/b", "de/b"],
            "candidate_id": ["en/0/0", "de/0/0", "en/0/1", "de/0/1"] * 2,
        }
    )
    skipped = pl.DataFrame(
        schema={"file": pl.String, "lang": pl.String, "qid": pl.String, "reason": pl.String}
    )
    return Collection("hand", questions, candidates, relevance, skipped, "fp")


# scores of each question (rows) against en0 en1 de0 de1; de/b ties en0 and en1 at 0.6
SCORES = np.array(
    [[0.9, 0.1, 0.5, 0.95], [0.2, 0.3, 0.7, 0.1], [0.4, 0.3, 0.8, 0.2], [0.6, 0.6, 0.1, 0.3]],
    dtype=np.float32,
)


def rank_hand(k: int = 2, chunk: int = 256):
    c = hand_collection()
    langs = c.languages  # de, en
    code = {x: i for i, x in enumerate(langs)}
    q_lang = np.array([code[x] for x in c.questions["lang"]])
    c_lang = np.array([code[x] for x in c.candidates["lang"]])
    rel_q, rel_c = relevance_rows(c)
    return rank_scored(
        lambda lo, hi: SCORES[lo:hi],
        len(SCORES),
        q_lang,
        c_lang,
        rel_q,
        rel_c,
        langs,
        trec_tie_key(c.candidates["id"].to_list()),
        k=k,
        chunk=chunk,
    )


def test_hand_computed() -> None:
    """Worked by hand: see the comments for each query's ranking."""
    # en/a: de1 .95, en0 .9, de0 .5, en1 .1 -> relevant at 2, 3: AP (1/2 + 2/3) / 2
    # en/b: de0 .7, en1 .3, en0 .2, de1 .1 -> relevant at 2, 4: AP (1/2 + 2/4) / 2
    # de/a: de0 .8, en0 .4, en1 .3, de1 .2 -> relevant at 1, 2: AP 1
    # de/b: tie en0 = en1 = .6; trec_eval puts the larger id first (en/0/1 = en1):
    #       en1, en0, de1, de0 -> relevant at 1, 3: AP (1 + 2/3) / 2
    r = summarize(rank_hand(), peer=True)
    multi_ap = [(1 / 2 + 2 / 3) / 2, (1 / 2 + 2 / 4) / 2, 1.0, (1 + 2 / 3) / 2]
    s = r["summary"]
    assert s["multi"]["map"] == pytest.approx(np.mean(multi_ap))
    assert s["multi"]["r@10"] == pytest.approx(1.0)
    assert s["multi"]["rank_distance"] == pytest.approx(1.5)  # en (1, 2), de (1, 2)
    assert s["mono"] == {"map": pytest.approx(1.0), "r@1": pytest.approx(1.0), "settings": 2}
    # en->de: de0 below de1 for en/a, de1 below de0 for en/b: AP 0.5 each; de->en: 1 each
    assert s["cross"]["map"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["cross"]["r@1"] == pytest.approx((0.0 + 1.0) / 2)
    pairs = {(p["query_lang"], p["pool_lang"]): p for p in r["pairs"]}
    assert pairs[("en", "de")]["map"] == pytest.approx(0.5)
    assert pairs[("de", "en")]["r@1"] == pytest.approx(1.0)
    assert pairs[("en", "en")]["setting"] == "mono"
    # top-2 shares: en/a {de1, en0}, en/b {de0, en1} -> en 0.5; de/a {de0, en0}, de/b {en1, en0}
    en, de = r["languages"]["en"]["multi"], r["languages"]["de"]["multi"]
    assert en["same_language_share"] == pytest.approx(0.5)
    assert de["same_language_share"] == pytest.approx(0.25)
    assert de["expected_same_language_share"] == pytest.approx(0.5)
    assert de["top_k_shares"] == {"de": pytest.approx(0.25), "en": pytest.approx(0.75)}
    assert en["rank_distance"] == pytest.approx(1.5)


def test_chunking_does_not_change_results() -> None:
    a, b = rank_hand(chunk=256), rank_hand(chunk=1)
    np.testing.assert_array_equal(a.rank_all, b.rank_all)
    np.testing.assert_array_equal(a.rank_lang, b.rank_lang)
    np.testing.assert_array_equal(a.topk_counts, b.topk_counts)


def test_a_large_pool_is_ranked_in_smaller_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The block of scores ranked at once is bounded by the pool's size, not only by ``chunk``:
    256 queries against 10^6 candidates would be 1 GB of scores and several GB to rank them."""
    import xlir_tui.evaluation.metrics as metrics

    assert metrics.queries_per_chunk(13_014) == 256
    assert metrics.queries_per_chunk(1_000_000) == metrics.SCORE_BLOCK // 1_000_000
    assert metrics.queries_per_chunk(10**9) == 1  # never fewer than one query
    assert metrics.queries_per_chunk(100, most=7) == 7
    whole = rank_hand(chunk=256)
    monkeypatch.setattr(metrics, "SCORE_BLOCK", 8)  # two queries of the four candidates
    seen: list[tuple[int, int]] = []

    def scorer(lo: int, hi: int) -> np.ndarray:
        seen.append((lo, hi))
        return SCORES[lo:hi]

    c = hand_collection()
    code = {x: i for i, x in enumerate(c.languages)}
    rel_q, rel_c = relevance_rows(c)
    small = rank_scored(
        scorer,
        len(SCORES),
        np.array([code[x] for x in c.questions["lang"]]),
        np.array([code[x] for x in c.candidates["lang"]]),
        rel_q,
        rel_c,
        c.languages,
        trec_tie_key(c.candidates["id"].to_list()),
        k=2,
        chunk=256,
    )
    assert seen == [(0, 2), (2, 4)]
    np.testing.assert_array_equal(whole.rank_all, small.rank_all)
    np.testing.assert_array_equal(whole.rank_lang, small.rank_lang)
    np.testing.assert_array_equal(whole.topk_counts, small.topk_counts)


@pytest.mark.parametrize("kind", ["dense", "lexical"])
def test_ranks_agree_with_the_one_query_rule_on_many_ties(kind: str) -> None:
    """rank_scored against ranks_in_pool (the rule for one query, written plainly), on scores
    with many ties (lexical: mostly zeros) in three languages, chunk by chunk; and the top-k
    language counts against np.argpartition's sets."""
    from xlir_tui.evaluation.metrics import ranks_in_pool, top_k_sets

    rng = np.random.default_rng(7)
    n_q, n_c, langs = 40, 300, ["de", "en", "zh"]
    c_lang = rng.integers(0, 3, n_c)
    q_lang = rng.integers(0, 3, n_q)
    if kind == "dense":
        scores = rng.normal(size=(n_q, n_c)).round(1).astype(np.float32)  # ties, not many
    else:
        scores = (rng.random((n_q, n_c)) < 0.05) * rng.integers(1, 4, (n_q, n_c))
        scores = scores.astype(np.float32)  # mostly zeros
    pairs = sorted({(q, int(c)) for q in range(n_q) for c in rng.choice(n_c, rng.integers(1, 6))})
    rel_q = np.array([q for q, _ in pairs])
    rel_c = np.array([c for _, c in pairs])
    tie_key = trec_tie_key([f"c{i:04d}" for i in rng.permutation(n_c)])
    ranked = rank_scored(
        lambda lo, hi: scores[lo:hi], n_q, q_lang, c_lang, rel_q, rel_c, langs, tie_key, k=10,
        chunk=7,
    )  # fmt: skip
    for i, (q, c) in enumerate(pairs):
        whole = ranks_in_pool(scores[q], np.array([c]), tie_key)
        own = ranks_in_pool(scores[q], np.array([c]), tie_key, np.flatnonzero(c_lang == c_lang[c]))
        assert (ranked.rank_all[i], ranked.rank_lang[i]) == (whole[0], own[0])
    want = np.argpartition(-scores, 9, axis=1)[:, :10]
    np.testing.assert_array_equal(np.sort(top_k_sets(scores, 10), axis=1), np.sort(want, axis=1))
    counts = np.stack([np.bincount(c_lang[row], minlength=3) for row in want])
    np.testing.assert_array_equal(ranked.topk_counts, counts)


def test_single_language_has_no_cross_or_multi() -> None:
    c = hand_collection().restrict(["en"])
    code = {"en": 0}
    rel_q, rel_c = relevance_rows(c)
    ranked = rank_scored(
        lambda lo, hi: SCORES[:2, :2][lo:hi],
        2,
        np.array([code[x] for x in c.questions["lang"]]),
        np.array([code[x] for x in c.candidates["lang"]]),
        rel_q,
        rel_c,
        ["en"],
        trec_tie_key(c.candidates["id"].to_list()),
    )
    s = summarize(ranked)["summary"]
    assert s["cross"] is None and s["multi"] is None
    assert s["mono"]["map"] == pytest.approx(1.0)


def trec_map(qrels_rows, run: dict[str, dict[str, float]]) -> dict[str, float]:
    import pytrec_eval

    qrels: dict[str, dict[str, int]] = {}
    for q, c in qrels_rows:
        qrels.setdefault(q, {})[c] = 1
    evaluator = pytrec_eval.RelevanceEvaluator({q: qrels[q] for q in run}, {"map"})
    return {q: v["map"] for q, v in evaluator.evaluate(run).items()}


def read_trec_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        q, _, doc, _, score, _ = line.split()
        run.setdefault(q, {})[doc] = float(score)
    return run


def test_multi_map_equals_trec_eval_on_exported_run(
    sample_collection, tiny_encoder, tmp_path: Path
) -> None:
    ev = evaluate_encoder(sample_collection, tiny_encoder, run_depth=0)
    report = build_report(sample_collection, [ev])
    write_outputs(tmp_path / "out", sample_collection, report, [ev])
    run = read_trec_run(tmp_path / "out" / "run.multi.txt")
    assert len(run) == sample_collection.questions.height
    assert all(len(v) == sample_collection.candidates.height for v in run.values())
    qrels = [
        line.split()[::2] for line in (tmp_path / "out" / "qrels.txt").read_text().splitlines()
    ]
    per_query = trec_map(qrels, run)
    assert ev.entry["summary"]["multi"]["map"] == pytest.approx(
        np.mean(list(per_query.values())), abs=1e-9
    )


def test_pair_maps_equal_trec_eval(sample_collection, tiny_encoder) -> None:
    """mono and cross mAP for some pairs, against trec_eval on runs restricted to the pool."""
    c = sample_collection
    ev = evaluate_encoder(c, tiny_encoder)
    qv = tiny_encoder.encode_queries(c.questions["text"].to_list())
    cv = tiny_encoder.encode_passages(c.candidates["text"].to_list())
    scores = qv @ cv.T
    qrels = list(c.relevance.iter_rows())
    pairs = {(p["query_lang"], p["pool_lang"]): p["map"] for p in ev.entry["pairs"]}
    qids, qlangs = c.questions["id"].to_list(), c.questions["lang"].to_list()
    cids, clangs = c.candidates["id"].to_list(), c.candidates["lang"].to_list()
    for x, y in [("en", "en"), ("zh", "zh"), ("en", "de"), ("th", "ar"), ("de", "zh")]:
        cols = [j for j, lg in enumerate(clangs) if lg == y]
        run = {
            qids[i]: {cids[j]: float(scores[i, j]) for j in cols}
            for i, lg in enumerate(qlangs)
            if lg == x
        }
        pool_qrels = [(q, d) for q, d in qrels if d.startswith(f"{y}/")]
        per_query = trec_map(pool_qrels, run)
        assert pairs[(x, y)] == pytest.approx(np.mean(list(per_query.values())), abs=1e-6)


def test_scores_are_the_same_however_they_are_computed() -> None:
    """A report scores chunks of queries in numpy, the explorer one query in torch, a search
    some languages' vectors: each pair must get the same score, and equal vectors must tie."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((500, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[7] = vectors[300]  # the same text in two languages
    queries = vectors[rng.choice(500, 40)] + 0.1 * rng.standard_normal((40, 384)).astype(np.float32)
    all_at_once = scores_of(queries, vectors)
    assert all_at_once.dtype == np.float32
    assert np.array_equal(all_at_once[:, 7], all_at_once[:, 300])
    for q in (0, 13, 39):
        assert np.array_equal(scores_of(queries[q : q + 1], vectors)[0], all_at_once[q])
    cols = np.arange(3, 500, 7)
    assert np.array_equal(scores_of(queries, vectors[cols]), all_at_once[:, cols])
    assert np.array_equal(Scores(vectors)(queries[5:30]), all_at_once[5:30])


def test_rank_distance_against_a_plain_sort(sample_collection, tiny_encoder) -> None:
    c = sample_collection
    ev = evaluate_encoder(c, tiny_encoder)
    qv = tiny_encoder.encode_queries(c.questions["text"].to_list())
    cv = tiny_encoder.encode_passages(c.candidates["text"].to_list())
    key = trec_tie_key(c.candidates["id"].to_list())
    rel_q, rel_c = relevance_rows(c)
    dist: dict[str, list[int]] = {}
    qlangs = c.questions["lang"].to_list()
    for q in range(c.questions.height):
        order = np.lexsort((key, -scores_of(qv[q : q + 1], cv)[0]))  # the one scoring rule
        rank = np.empty_like(order)
        rank[order] = np.arange(1, len(order) + 1)
        r = rank[rel_c[rel_q == q]]
        dist.setdefault(qlangs[q], []).append(int(r.max() - r.min()))
    expected = np.mean([np.mean(v) for v in dist.values()])
    assert ev.entry["summary"]["multi"]["rank_distance"] == pytest.approx(expected)


def test_explorer_ap_equals_the_report_on_a_lexical_system_with_ties(sample_collection) -> None:
    """BM25 scores tie at every zero: the explorer's pane AP and rank distance must follow the
    report's tie rule (trec_eval's order), query by query."""
    from xlir_tui.app.explore import Pane, Workspace
    from xlir_tui.evaluation.evaluate import evaluate
    from xlir_tui.evaluation.metrics import query_table
    from xlir_tui.retrieval.specs import SystemSpec
    from xlir_tui.retrieval.systems import open_system

    c = sample_collection
    system = open_system(c, SystemSpec("bm25"))
    ev = evaluate(c, system)
    table = query_table(ev.ranked).filter(pl.col("setting") == "multi")
    report_ap = dict(zip(table["query"].to_list(), table["ap"].to_list(), strict=True))
    report_distance = dict(
        zip(table["query"].to_list(), table["rank_distance"].to_list(), strict=True)
    )
    row_of = {
        (qid, lang): i
        for i, (qid, lang) in enumerate(c.questions.select("qid", "lang").iter_rows())
    }
    ws = Workspace(system, c)
    checked = ties = 0
    for qid in ws.question_ids[:12]:
        results = ws.run([Pane("th"), Pane("zh"), Pane("en")], qid=qid)
        for r in results:
            q = row_of[(qid, r.pane.lang)]
            assert r.ap == pytest.approx(report_ap[q], abs=1e-12), (qid, r.pane.lang)
            assert r.rank_distance == report_distance[q]
            checked += 1
        scores = system.scores([ws.question(qid, "th")])[0]
        ties += int((scores == 0).sum() > 1)
    assert checked == 36 and ties > 0  # the case this test is for: many tied zero scores


def test_the_same_ranks_give_the_same_figures_to_the_last_digit() -> None:
    """Means are summed in a fixed order: polars' group_by adds a group's parts in the order
    its threads finish, and the last digit of a mean moved from run to run."""
    from xlir_tui.evaluation.metrics import Ranked, query_table

    rng = np.random.default_rng(0)
    n_q, n_lang, per_lang = 12000, 6, 2000
    rel_q = np.repeat(np.arange(n_q), n_lang)
    ranked = Ranked(
        [f"l{i}" for i in range(n_lang)],
        rng.integers(0, n_lang, n_q),
        np.repeat(np.arange(n_lang), per_lang),
        rel_q,
        np.tile(np.arange(n_lang) * per_lang, n_q) + rng.integers(0, per_lang, len(rel_q)),
        rng.integers(1, per_lang, len(rel_q)),
        rng.integers(1, n_lang * per_lang, len(rel_q)),
        np.ones((n_q, n_lang), np.int32),
        10,
    )
    first = summarize(ranked)
    assert all(summarize(ranked) == first for _ in range(8))
    table = query_table(ranked)
    assert query_table(ranked).equals(table)
