"""The evaluation protocol's own choices: candidates read with their paragraph (LAReQA's input),
XTREME-R's mAP@K beside full mAP, the translate-test ceiling from a collection's own parallel
questions, and PEER against its authors' package on the same run."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLE, run_cli
from test_bad_input import assert_one_line_error
from test_metrics import rank_hand, read_trec_run

from xlir_tui.data.collections import load_collection
from xlir_tui.evaluation.evaluate import evaluate_encoder
from xlir_tui.evaluation.exports import build_report, write_outputs
from xlir_tui.evaluation.metrics import summarize
from xlir_tui.models.encoders import EmbeddingCache, load_encoder, with_context


@pytest.fixture(scope="module", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This module's encodings go to a cache of their own: they encode parts of sample_data in
    other batches than the rest of the suite does, which changes the cached vectors by a
    rounding, and a test elsewhere that compares two matrix products of them could see a near
    tie fall the other way."""
    old = os.environ.get("XLIR_TUI_CACHE")
    os.environ["XLIR_TUI_CACHE"] = str(tmp_path_factory.mktemp("protocol-cache"))
    yield
    if old is None:
        os.environ.pop("XLIR_TUI_CACHE", None)
    else:
        os.environ["XLIR_TUI_CACHE"] = old


@pytest.fixture(scope="module")
def encoder(tiny_model: Path, _own_cache: None):
    """The tiny model with this module's cache (the session's tiny encoder keeps the suite's)."""
    return load_encoder(str(tiny_model))


@pytest.fixture(scope="module")
def two_langs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_data's English and German files: small enough to encode with paragraphs fast."""
    folder = tmp_path_factory.mktemp("two") / "en-de"
    folder.mkdir()
    for lang in ("en", "de"):
        shutil.copy(SAMPLE / f"{lang}.json", folder / f"{lang}.json")
    return folder


def write_jsonl(folder: Path, rows: list[dict[str, str]]) -> Path:
    """A collection of JSONL rows ``qid, lang, question, passage, context``, one file a language."""
    folder.mkdir(parents=True, exist_ok=True)
    by_lang: dict[str, list[str]] = {}
    for row in rows:
        by_lang.setdefault(row["lang"], []).append(json.dumps(row, ensure_ascii=False))
    for lang, lines in by_lang.items():
        (folder / f"{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


# ----------------------------------------------------------------------------- passage context


def test_candidates_with_their_paragraph_are_other_vectors_kept_apart_in_the_cache(
    tiny_model: Path, two_langs: Path
) -> None:
    c = load_collection([two_langs])
    plain = load_encoder(str(tiny_model))
    context = load_encoder(str(tiny_model), passage_context=True)
    assert context.passage_context and not plain.passage_context
    sentences = c.candidates["text"].to_list()
    read = context.candidate_texts(c.candidates)
    # the one function training uses (train --passage-context) builds the input
    assert read == [
        with_context(s, p) for s, p in zip(sentences, c.candidates["context"], strict=True)
    ]
    assert plain.candidate_texts(c.candidates) == sentences
    alone = np.array(
        [r == s for r, s in zip(read, sentences, strict=True)]
    )  # 1-sentence paragraphs
    assert (~alone).sum() > 100

    v_plain = plain.encode_candidates(c.candidates)
    v_context = context.encode_candidates(c.candidates)
    moved = np.abs(v_plain - v_context).max(axis=1) > 1e-3
    # the paragraph moves every vector, unless the sentence alone fills the model's window
    window = plain.model.max_seq_length
    tokens = np.array([len(x) for x in plain.model.tokenizer(sentences)["input_ids"]])
    assert moved[~alone & (tokens < window)].all()
    assert not moved[alone].any()
    assert moved.sum() > 100
    np.testing.assert_allclose(v_plain[alone], v_context[alone], atol=1e-6)

    # one cache folder (same model, prompt, backend) holds both inputs, neither overwriting
    store = EmbeddingCache(plain.cache_for(plain.passage_prompt).folder, plain.dimension)
    got, missing = store.lookup([EmbeddingCache.key(t) for t in sentences])
    assert not missing
    np.testing.assert_allclose(got, v_plain, atol=1e-6)
    got, missing = store.lookup([EmbeddingCache.key(t) for t in read])
    assert not missing
    np.testing.assert_allclose(got, v_context, atol=1e-6)

    # a fresh encoder is served from the cache: sentence-only vectors, not the in-context ones
    again = load_encoder(str(tiny_model))

    def refuse(*_a, **_k):
        raise AssertionError("encoded again instead of reading the cache")

    again.model.encode = refuse  # type: ignore[method-assign]
    np.testing.assert_allclose(again.encode_candidates(c.candidates), v_plain, atol=1e-6)


def test_the_index_records_the_input_and_a_search_uses_it(
    capsys, tmp_path: Path, tiny_model: Path, two_langs: Path
) -> None:
    from xlir_tui.retrieval.systems import load_system

    out = tmp_path / "ix"
    args = ["index", str(two_langs), "-m", str(tiny_model), "--backend", "torch"]
    code, _, err = run_cli([*args, "--passage-context", "--out", str(out)], capsys)
    assert code == 0, err
    assert "each sentence with its paragraph" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["passage_context"] is True
    assert load_system(out).encoder.passage_context is True  # queries encoded as recorded
    code, out_json, err = run_cli(["search", str(out), "Who discovered it?", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out_json)["results"]

    plain = tmp_path / "plain"
    code, _, err = run_cli([*args, "--out", str(plain)], capsys)
    assert code == 0, err
    assert "paragraph" not in err
    assert json.loads((plain / "manifest.json").read_text())["model"]["passage_context"] is False
    assert load_system(plain).encoder.passage_context is False
    vectors = np.load(out / "vectors.npy"), np.load(plain / "vectors.npy")
    assert not np.allclose(*vectors)

    # an index knows how its candidates were read: the explorer refuses to be told otherwise
    code, _, err = run_cli(["explore", "--index", str(out), "--passage-context"], capsys)
    assert_one_line_error(code, err, "--passage-context goes with --collection")
    # --ann with a prebuilt index read the other way: refused before any encoding
    code, _, err = run_cli(
        [
            "bias-report",
            str(two_langs),
            "-m",
            str(tiny_model),
            "--backend",
            "torch",
            "--ann",
            "--index",
            str(plain),
            "--passage-context",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "without their paragraphs", "report reads them with")
    assert "encoding" not in err


def test_the_explorer_reads_candidates_with_their_paragraph(
    tiny_model: Path, two_langs: Path
) -> None:
    """explore --collection C --passage-context: the kept index is the in-context one, apart
    from the sentence-only index of the same collection and model."""
    from xlir_tui.app.explore import Workspace
    from xlir_tui.retrieval.specs import SystemSpec

    def opened(context: bool):
        return Workspace.open(
            collection=[str(two_langs)],
            spec=SystemSpec("dense", str(tiny_model)),
            encoder_options={"backend": "torch", "passage_context": context},
        ).systems[0]

    with_paragraph, alone = opened(True), opened(False)
    assert with_paragraph.encoder.passage_context and not alone.encoder.passage_context
    assert with_paragraph.index.manifest["model"]["passage_context"] is True
    c = load_collection([two_langs])
    np.testing.assert_allclose(
        with_paragraph.index.vectors,
        with_paragraph.encoder.encode_candidates(c.candidates),
        atol=1e-6,
    )
    assert not np.allclose(with_paragraph.index.vectors, alone.index.vectors)


def test_the_report_says_which_input(capsys, tiny_model: Path, two_langs: Path) -> None:
    base = ["bias-report", str(two_langs), "-m", str(tiny_model), "--backend", "torch"]
    entries = {}
    for flag in ("--passage-context", "--no-passage-context"):
        code, out, err = run_cli([*base, flag, "--json"], capsys)
        assert code == 0, err
        (entries[flag],) = json.loads(out)["systems"]
    assert entries["--passage-context"]["model"]["passage_context"] is True
    assert entries["--no-passage-context"]["model"]["passage_context"] is False
    assert (
        entries["--passage-context"]["summary"]["multi"]["map"]
        != entries["--no-passage-context"]["summary"]["multi"]["map"]
    )
    code, out, err = run_cli([*base, "--passage-context"], capsys)
    assert code == 0, err
    assert "candidates" in out and "sentence + paragraph" in out
    code, out, err = run_cli(base, capsys)  # the tiny model was not trained with paragraphs
    assert code == 0, err
    assert "sentence + paragraph" not in out and "sentence" in out


# ---------------------------------------------------------------------------------- mAP@K


def test_map_at_k_by_hand() -> None:
    """The hand case of test_metrics (each query: 2 relevant items, one per language). Multi
    ranks: en/a 2, 3; en/b 2, 4; de/a 1, 2; de/b 1, 3."""
    ranked = rank_hand()
    at = {k: summarize(ranked, map_depth=k) for k in (1, 2, 3, 100)}
    # K = 1: the divisor is min(2, 1) = 1 (trec_eval's map_cut_1 would divide by 2: 0.25)
    assert at[1]["summary"]["multi"]["map@1"] == pytest.approx((0 + 0 + 1 + 1) / 4)
    # K = 2: en/a (1/2)/2, en/b (1/2)/2, de/a (1 + 1)/2, de/b 1/2
    assert at[2]["summary"]["multi"]["map@2"] == pytest.approx((0.25 + 0.25 + 1 + 0.5) / 4)
    # K = 3: en/a (1/2 + 2/3)/2, en/b (1/2)/2, de/a 1, de/b (1 + 2/3)/2
    assert at[3]["summary"]["multi"]["map@3"] == pytest.approx(
        ((1 / 2 + 2 / 3) / 2 + 0.25 + 1 + (1 + 2 / 3) / 2) / 4
    )
    # every relevant item within the cut: mAP@K is mAP
    full = at[100]["summary"]
    for setting in ("mono", "cross", "multi"):
        assert full[setting]["map@100"] == pytest.approx(full[setting]["map"])
    # one relevant item per pool in mono and cross: AP@1 is R@1
    assert at[1]["summary"]["cross"]["map@1"] == pytest.approx(at[1]["summary"]["cross"]["r@1"])
    pairs = {(p["query_lang"], p["pool_lang"]): p for p in at[1]["pairs"]}
    # en -> de: each relevant German sentence second (AP 0.5, AP@1 0); de -> en: both first
    assert pairs[("en", "de")]["map"] == pytest.approx(0.5)
    assert pairs[("en", "de")]["map@1"] == pytest.approx(0.0)
    assert pairs[("de", "en")]["map@1"] == pytest.approx(1.0)
    assert at[1]["languages"]["de"]["multi"]["map@1"] == pytest.approx(1.0)
    assert at[1]["languages"]["en"]["mono"]["map@1"] == pytest.approx(1.0)
    assert "map@1" not in summarize(ranked)["summary"]["multi"]  # only when asked for


def test_map_at_k_against_trec_eval(sample_collection, encoder, tmp_path: Path) -> None:
    """XTREME-R's mAP@K equals trec_eval's map_cut_K when a query has at most K relevant items
    (here 4, one per language), and is map_cut_K * |R| / K when it has more."""
    import pytrec_eval

    c = sample_collection.restrict(["ar", "de", "en", "zh"])
    depths = {}
    for k in (20, 2):
        ev = evaluate_encoder(c, encoder, run_depth=0, map_depth=k)
        depths[k] = ev
    write_outputs(tmp_path / "out", c, build_report(c, [depths[20]]), [depths[20]])
    run = read_trec_run(tmp_path / "out" / "run.multi.txt")
    qrels: dict[str, dict[str, int]] = {}
    for q, d in c.relevance.iter_rows():
        qrels.setdefault(q, {})[d] = 1
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"map_cut.2,20", "map"}).evaluate(run)
    assert {len(v) for v in qrels.values()} == {4}
    cut20 = np.mean([v["map_cut_20"] for v in trec.values()])
    assert depths[20].entry["summary"]["multi"]["map@20"] == pytest.approx(cut20, abs=1e-9)
    cut2 = np.mean([v["map_cut_2"] for v in trec.values()])
    ours2 = depths[2].entry["summary"]["multi"]["map@2"]
    assert ours2 == pytest.approx(cut2 * 4 / 2, abs=1e-9)
    assert ours2 != pytest.approx(cut2)
    # the per-query table carries it, for others' tests
    table = depths[2].queries()
    assert "ap@2" in table.columns
    multi = table.filter(pl.col("setting") == "multi")
    assert multi["ap@2"].mean() == pytest.approx(ours2)


def test_map_depth_on_the_command_line(capsys, sample_dir: Path, tiny_model: Path) -> None:
    base = ["bias-report", str(sample_dir), "-m", str(tiny_model), "--langs", "en,de,zh"]
    base += ["--backend", "torch"]
    code, out, err = run_cli([*base, "--map-depth", "20", "--json"], capsys)
    assert code == 0, err
    (system,) = json.loads(out)["systems"]
    for setting in ("mono", "cross", "multi"):
        assert {"map", "map@20"} <= set(system["summary"][setting])
    assert all("map@20" in p for p in system["pairs"])
    assert "map@20" in system["languages"]["zh"]["multi"]
    code, out, err = run_cli([*base, "--map-depth", "20"], capsys)
    assert code == 0, err
    assert "multi mAP@20" in out and "cross mAP@20" in out
    code, _, err = run_cli([*base, "--map-depth", "0"], capsys)
    assert_one_line_error(code, err, "--map-depth must be at least 1")


# ------------------------------------------------------------------- translate-test ceiling


def test_parallel_questions_are_the_translate_test_ceiling(
    capsys, sample_dir: Path, tiny_model: Path
) -> None:
    """German and Chinese queries searched as their own English versions: the two languages
    then ask the same questions, so every pool answers them alike. English is not in the pool
    (--langs): the English questions come from the collection as loaded."""
    code, out, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "--backend",
            "torch",
            "--langs",
            "de,zh",
            "--translate-query",
            "en",
            "--mt",
            "parallel",
            "--json",
            "--resamples",
            "200",
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    plain, ceiling = report["systems"]
    assert ceiling["translate_query"] == {"to": "en", "mt": "parallel"}
    assert ceiling["label"] == f"{plain['label']} (queries: their own en version)"
    assert "translate_s" in ceiling["timings"]
    pairs = {(p["query_lang"], p["pool_lang"]): p["map"] for p in ceiling["pairs"]}
    for pool in ("de", "zh"):
        assert pairs[("de", pool)] == pytest.approx(pairs[("zh", pool)])
    plain_pairs = {(p["query_lang"], p["pool_lang"]): p["map"] for p in plain["pairs"]}
    assert plain_pairs[("de", "zh")] != pytest.approx(plain_pairs[("zh", "zh")])
    assert report["comparisons"]["baseline"] == plain["label"]  # compared query by query


def test_parallel_questions_go_by_row(tmp_path: Path) -> None:
    """Two German questions with the same text and different English versions (as XQuAD-R
    has): each row gets its own; the text alone is ambiguous and refused."""
    from xlir_tui.errors import XlirError
    from xlir_tui.models.parallel import ParallelQuestions

    def row(qid: str, lang: str, question: str) -> dict[str, str]:
        return {"qid": qid, "lang": lang, "question": question, "passage": f"{qid} {lang}."}

    c = load_collection(
        [
            write_jsonl(
                tmp_path / "dup",
                [
                    row("a", "en", "Who built the first bridge?"),
                    row("b", "en", "Who built the second bridge?"),
                    row("a", "de", "Wer baute die Brücke?"),
                    row("b", "de", "Wer baute die Brücke?"),
                ],
            )
        ]
    )
    parallel = ParallelQuestions.of(c, "en")
    texts, langs = c.questions["text"].to_list(), c.questions["lang"].to_list()
    got = dict(zip(c.questions["id"], parallel.translate_questions(texts, langs), strict=True))
    english = dict(c.questions.filter(pl.col("lang") == "en").select("qid", "text").iter_rows())
    for qid, question_id in c.questions.select("qid", "id").iter_rows():
        assert got[question_id] == english[qid]
    with pytest.raises(XlirError, match="ambiguous"):
        parallel.translate_questions(["Wer baute die Brücke?"], ["de"])
    with pytest.raises(XlirError, match="not a question of the collection"):
        parallel.translate_questions(["Wo ist Berlin?"], ["de"])
    assert parallel.translate_questions(["Who built the second bridge?"], ["en"]) == [
        "Who built the second bridge?"
    ]


def test_parallel_questions_refused_without_them(
    capsys, tmp_path: Path, tiny_model: Path, two_langs: Path
) -> None:
    base = ["bias-report", "-m", str(tiny_model)]
    code, _, err = run_cli(
        [*base, str(two_langs), "--translate-query", "fr", "--mt", "parallel"], capsys
    )
    assert_one_line_error(code, err, "--mt parallel", "has no fr questions", "de, en")
    assert "loading model" not in err  # checked before any model loads

    def row(qid: str, lang: str) -> dict[str, str]:
        return {"qid": qid, "lang": lang, "question": f"{qid}?", "passage": f"{qid} {lang}."}

    partial = write_jsonl(
        tmp_path / "partial", [row("a", "en"), row("a", "de"), row("b", "de"), row("c", "de")]
    )
    code, _, err = run_cli(
        [*base, str(partial), "--translate-query", "en", "--mt", "parallel"], capsys
    )
    assert_one_line_error(code, err, "2 of 3 question ids", "no en question", "(e.g. b)")
    assert "loading model" not in err

    # free text has no parallel question
    code, _, err = run_cli(
        [
            "search",
            str(tmp_path / "no-index"),  # refused before the folder is read
            "bee",
            "--translate-query",
            "en",
            "--mt",
            "parallel",
            "--query-lang",
            "de",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "--mt parallel", "search searches free text")
    code, _, err = run_cli(["explore", "--translate-query", "en", "--mt", "parallel"], capsys)
    assert_one_line_error(code, err, "--mt parallel", "explore searches free text")


# ------------------------------------------------------------------------------------ PEER


def peer_measure_per_query(
    weights: dict[int, float],
    cutoff: int,
    lang_of: dict[str, str],
    qrels: dict[str, dict[str, int]],
    run: dict[str, dict[str, float]],
) -> dict[str, float]:
    """The package's PEER of each query. Its own evaluator, given its measure as its provider
    would give it: peer-measure 0.0.1's provider calls ``ir_measures.util.flatten_measures``,
    which ir-measures 0.4 no longer has, so ``ir_measures.iter_calc`` cannot reach it."""
    from peer_measure import PEER, PEEREvaluator

    measure = PEER(weights=weights, lang_mapping=lang_of) @ cutoff
    evaluator = PEEREvaluator(
        [measure], qrels, {id(lang_of): [(cutoff, measure)]}, {id(lang_of): lang_of}
    )
    return {m.query_id: m.value for m in evaluator.iter_calc(run)}


def test_peer_against_peer_measure(sample_collection, encoder, tmp_path: Path) -> None:
    """PEER here and in its authors' package (peer-measure), on the same exported run.

    Per query, as the paper defines it, the relevant level is degenerate on LAReQA-style
    collections: one relevant sentence per language, so every language group holds one rank
    and the p-value is chi2.sf(n - 1, n - 1) whatever the ranking. The report therefore pools a
    language's queries; its statistic is the package's Kruskal-Wallis formula on the pooled
    ranks (ranked among themselves, as the test ranks its observations).
    """
    from peer_measure import kruskal as peer_kruskal
    from scipy.stats import chi2, rankdata

    c = sample_collection.restrict(["ar", "de", "en", "zh"])
    ev = evaluate_encoder(c, encoder, run_depth=0, peer=True)
    write_outputs(tmp_path / "out", c, build_report(c, [ev]), [ev])
    run = read_trec_run(tmp_path / "out" / "run.multi.txt")
    assert len(run) == c.questions.height
    lang_of = dict(c.candidates.select("id", "lang").iter_rows())
    relevant: dict[str, set[str]] = {}
    for q, d in c.relevance.iter_rows():
        relevant.setdefault(q, set()).add(d)
    # complete judgments, as LAReQA's: every other candidate is judged not relevant
    qrels = {q: {d: int(d in docs) for d in lang_of} for q, docs in relevant.items()}
    per_query = peer_measure_per_query({0: 0.0, 1: 1.0}, len(lang_of), lang_of, qrels, run)
    assert len(per_query) == c.questions.height
    for q, value in per_query.items():
        n = len(relevant[q])
        assert value == pytest.approx(chi2.sf(n - 1, n - 1), rel=1e-9)

    # the report's pooled statistic, from the ranks the run file gives
    file_rank = {}
    for line in (tmp_path / "out" / "run.multi.txt").read_text().splitlines():
        q, _, d, r, _, _ = line.split()
        if d in relevant[q]:
            file_rank[q, d] = int(r)
    q_lang = dict(c.questions.select("id", "lang").iter_rows())
    for lang in c.languages:
        groups: dict[str, list[int]] = {}
        for q, docs in relevant.items():
            if q_lang[q] != lang:
                continue
            for d in docs:
                groups.setdefault(lang_of[d], []).append(file_rank[q, d])
        pooled = np.concatenate([groups[x] for x in sorted(groups)])
        cut = np.cumsum([len(groups[x]) for x in sorted(groups)])[:-1]
        ranks = np.split(rankdata(pooled), cut)
        h, p = peer_kruskal(*[list(r) for r in ranks])
        ours = ev.entry["languages"][lang]["multi"]["peer"]
        assert ours["h"] == pytest.approx(h, rel=1e-9)
        assert ours["p"] == pytest.approx(p, rel=1e-6)
        # the package, per query, puts raw positions into the formula; pooled ranks need the
        # ranking step of the test, or H is another number
        raw_h, _ = peer_kruskal(*[groups[x] for x in sorted(groups)])
        assert raw_h != pytest.approx(h)

    # the package's non-relevant level with a cut: retrieved distractors of one language are
    # one group, which it scores as fair (p = 1); an unretrieved English distractor (x4) is
    # left out
    toy = {"d1": "en", "x1": "de", "x2": "de", "x3": "de", "x4": "en"}
    toy_qrels = {"q": {d: int(d == "d1") for d in toy}}
    toy_run = {"q": {"x1": 3.0, "x2": 2.0, "x3": 1.0}}
    assert peer_measure_per_query({0: 1.0, 1: 0.0}, 3, toy, toy_qrels, toy_run) == {"q": 1.0}
