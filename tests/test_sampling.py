"""Training pairs and batch samplers: each strategy's property, alpha, seeding, bad settings."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from xlir_tui.errors import XlirError
from xlir_tui.training.batch_sampler import LanguageBatchSampler, sampler_factory
from xlir_tui.training.sampler import PairIndex, build_pairs


@pytest.fixture(scope="module")
def pairs(sample_collection):
    return build_pairs(sample_collection)


def make(
    pairs_, strategy: str, alpha: float = 0.5, batch_size: int = 16, seed: int = 0, **kw
) -> LanguageBatchSampler:
    data, index = pairs_
    # exactly how the trainer builds it: X(dataset, batch_size=, drop_last=, ...)
    factory = sampler_factory(index, strategy, alpha, **kw)
    return factory(
        list(range(len(data))),
        batch_size=batch_size,
        drop_last=True,
        valid_label_columns=["label"],
        generator=None,
        seed=seed,
    )


def test_rows_are_texts_only(sample_collection, pairs) -> None:
    data, index = pairs
    assert data.columns == ["query", "passage"]  # no language column reaches the loss
    n_lang = len(sample_collection.languages)
    assert len(data) == sample_collection.questions["qid"].n_unique() * n_lang * n_lang
    # every (query language, passage language) combination of a question id is a row
    combos = pl.DataFrame({"qid": index.qid, "q": index.q_lang, "p": index.p_lang})
    assert combos.unique().height == len(data)
    # the passage of a row is the answer sentence in the passage language
    c = sample_collection
    answer = dict(
        c.relevance.join(
            c.questions.select(pl.col("id").alias("question_id"), "qid"), on="question_id"
        )
        .join(
            c.candidates.select(pl.col("id").alias("candidate_id"), "lang", "text"),
            on="candidate_id",
        )
        .select(pl.concat_str("qid", "lang", separator="|"), "text")
        .rows()
    )
    qids = sorted(c.questions["qid"].unique())
    for row in range(0, len(data), 97):
        key = f"{qids[index.qid[row]]}|{index.langs[index.p_lang[row]]}"
        assert data["passage"][row] == answer[key]


def test_hard_negatives_come_from_the_answers_paragraph(sample_collection) -> None:
    data, _ = build_pairs(sample_collection, hard_negatives=True, seed=1)
    assert data.columns == ["query", "passage", "negative"]
    cands = sample_collection.candidates
    para = dict(cands.select("text", "paragraph_id").rows())
    assert (data["negative"] != data["passage"]).all()
    same = [para[n] == para[p] for p, n in zip(data["passage"], data["negative"], strict=True)]
    assert all(same)


def kinds(sampler: LanguageBatchSampler, index: PairIndex, epoch: int = 0):
    for kind, rows in sampler.batches(epoch):
        rows = np.asarray(rows)
        yield kind, index.q_lang[rows], index.p_lang[rows], index.qid[rows]


@pytest.mark.parametrize("strategy", ["mono", "cross", "hybrid"])
def test_strategy_property_over_many_batches(pairs, strategy: str) -> None:
    _, index = pairs
    sampler = make(pairs, strategy, batch_size=16)
    seen = 0
    for epoch in range(3):
        for kind, ql, plang, qid in kinds(sampler, index, epoch):
            seen += 1
            assert len(qid) == 16 and len(set(qid.tolist())) == 16  # no question id twice
            if kind == "cross":
                assert strategy != "mono"
                assert (ql != plang).all()
            else:
                assert strategy != "cross"
                assert (ql == plang).all() and len(set(ql.tolist())) == 1
                assert kind == f"mono:{index.langs[ql[0]]}"
    assert seen == 3 * len(sampler)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_alpha_is_the_share_of_mono_batches(pairs, alpha: float) -> None:
    sampler = make(pairs, "hybrid", alpha=alpha, batch_size=8)
    n = mono = 0
    for epoch in range(3):
        for kind, _ in sampler.batches(epoch):
            n += 1
            mono += kind.startswith("mono")
    sd = np.sqrt(n * alpha * (1 - alpha))
    assert abs(mono - n * alpha) <= 4 * sd + 1e-9, (mono, n, alpha)  # 4 sigma: flake ~1e-4


def test_seeding_and_epochs(pairs) -> None:
    a = [r for _, r in make(pairs, "hybrid", seed=3).batches(0)]
    b = [r for _, r in make(pairs, "hybrid", seed=3).batches(0)]
    c = [r for _, r in make(pairs, "hybrid", seed=4).batches(0)]
    d = [r for _, r in make(pairs, "hybrid", seed=3).batches(1)]
    assert a == b and a != c and a != d
    sampler = make(pairs, "hybrid", seed=3)
    sampler.set_epoch(1)
    assert list(iter(sampler)) == d


def test_skip_continues_where_a_run_stopped(pairs) -> None:
    full = list(iter(make(pairs, "hybrid", seed=5)))
    assert list(iter(make(pairs, "hybrid", seed=5, skip=7))) == full[7:]
    second = make(pairs, "hybrid", seed=5, epoch_offset=1)
    later = make(pairs, "hybrid", seed=5)
    later.set_epoch(1)
    assert list(iter(second)) == list(iter(later))


def test_language_weighting_by_size() -> None:
    # language 0 has 9 times the rows of language 1
    qid = np.concatenate([np.arange(900), np.arange(100)])
    lang = np.concatenate([np.zeros(900, int), np.ones(100, int)])
    index = PairIndex(qid=qid, q_lang=lang, p_lang=lang, langs=["xx", "yy"])
    data = list(range(1000))
    shares = {}
    for weighting in ("uniform", "size"):
        sampler = sampler_factory(index, "mono", lang_weighting=weighting)(
            data, batch_size=4, drop_last=True, seed=0
        )
        got = [k for e in range(4) for k, _ in sampler.batches(e)]
        shares[weighting] = sum(k == "mono:xx" for k in got) / len(got)
    assert abs(shares["uniform"] - 0.5) < 0.05
    assert abs(shares["size"] - 0.9) < 0.03


def test_impossible_settings(pairs, sample_collection) -> None:
    with pytest.raises(XlirError, match="--alpha must be between 0 and 1"):
        make(pairs, "hybrid", alpha=1.5)
    with pytest.raises(XlirError, match="larger than the number of distinct question ids"):
        make(pairs, "mono", batch_size=10_000)
    one = build_pairs(sample_collection.restrict(["de"]))
    with pytest.raises(XlirError, match="needs cross-lingual pairs.*one language"):
        make(one, "cross")
    with pytest.raises(XlirError, match="needs cross-lingual pairs"):
        make(one, "hybrid", alpha=0.5)
    make(one, "hybrid", alpha=1.0)  # all-mono hybrid needs no cross pairs
    with pytest.raises(XlirError, match="--strategy must be one of"):
        make(pairs, "diagonal")


def test_passage_context(sample_collection) -> None:
    plain, _ = build_pairs(sample_collection)
    data, _ = build_pairs(sample_collection, passage_context=True, hard_negatives=True)
    contexts = set(sample_collection.candidates["context"])
    for p, full, neg in zip(
        plain["passage"][:50], data["passage"][:50], data["negative"][:50], strict=True
    ):
        sentence, context = full.split("\n\n", 1)
        assert sentence == p and context in contexts and neg.endswith(context)
