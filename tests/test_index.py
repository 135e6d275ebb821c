"""The dense index: build, save, load, search, language restriction, integrity checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xlir_tui.errors import IndexFormatError, ModelError, XlirError
from xlir_tui.retrieval.dense import DenseIndex, hnsw_parameters


def test_round_trip_and_search(sample_index: Path, tiny_encoder, sample_collection) -> None:
    idx = DenseIndex.load(sample_index, verify=True)
    assert idx.size == sample_collection.candidates.height
    assert idx.languages == sample_collection.languages
    manifest = json.loads((sample_index / "manifest.json").read_text())
    assert manifest["model"]["fingerprint"] == tiny_encoder.fingerprint
    assert manifest["collection"]["fingerprint"] == sample_collection.fingerprint
    assert manifest["hnsw"]["space"] == "cosine"
    idx.check_encoder(tiny_encoder)
    # a candidate's own text finds itself first
    row = 17
    text = idx.candidates["text"][row]
    hits = idx.search(tiny_encoder, text, k=3)
    assert hits[0].row == row and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert idx.collection().questions.equals(sample_collection.questions)


def test_language_restriction_methods_agree(sample_index: Path, tiny_encoder) -> None:
    idx = DenseIndex.load(sample_index)
    queries = tiny_encoder.encode_queries(idx.questions["text"].to_list()[:40], cache=False)
    for langs in (["de"], ["zh", "th"]):
        rows_e, scores_e = idx.search_vectors(queries, k=5, langs=langs, method="exact")
        rows_h, _ = idx.search_vectors(queries, k=5, langs=langs, method="hnsw", ef=200)
        allowed = set(idx.rows_for(langs).tolist())
        assert set(rows_e.ravel().tolist()) <= allowed
        assert set(rows_h.ravel().tolist()) <= allowed
        overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(rows_e, rows_h, strict=True)])
        assert overlap >= 0.95
        assert np.all(np.diff(scores_e, axis=1) <= 1e-6)  # best first
    # whole pool: hnsw against exact
    rows_e, _ = idx.search_vectors(queries, k=10, method="exact")
    rows_h, _ = idx.search_vectors(queries, k=10, method="hnsw")
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows_e, rows_h, strict=True)])
    assert recall >= 0.99


def test_exact_ties_break_by_row() -> None:
    from xlir_tui.retrieval.dense import _exact_topk

    vectors = np.array([[1, 0], [0, 1], [1, 0], [1, 0]], dtype=np.float32)
    rows, _scores = _exact_topk(np.array([[1, 0]], dtype=np.float32), vectors, 3, None)
    assert rows.tolist() == [[0, 2, 3]]
    rows, _ = _exact_topk(np.array([[1, 0]], dtype=np.float32), vectors, 2, np.array([1, 2, 3]))
    assert rows.tolist() == [[2, 3]]


def test_unknown_language_and_bad_k(sample_index: Path) -> None:
    idx = DenseIndex.load(sample_index)
    with pytest.raises(XlirError, match="no candidate in language xx"):
        idx.rows_for(["en", "xx"])
    with pytest.raises(XlirError, match="-k must be at least 1"):
        idx.search_vectors(np.zeros((1, idx.dimension), np.float32), k=0)


def test_other_model_is_refused(sample_index: Path, tmp_path: Path) -> None:
    from conftest import build_tiny_model

    from xlir_tui.models.encoders import load_encoder

    idx = DenseIndex.load(sample_index)
    other_dim = load_encoder(str(build_tiny_model(tmp_path / "wide", hidden=48)))
    with pytest.raises(ModelError, match="dimension 48.*dimension 32"):
        idx.check_encoder(other_dim)
    same_dim = load_encoder(str(build_tiny_model(tmp_path / "other", seed=3)))
    with pytest.raises(ModelError, match="not the model the index was built with"):
        idx.check_encoder(same_dim)


@pytest.mark.parametrize("damage", ["truncate", "delete", "manifest", "vectors"])
def test_damaged_index_is_refused(sample_index: Path, tmp_path: Path, damage: str) -> None:
    copy = tmp_path / "idx"
    shutil.copytree(sample_index, copy)
    if damage == "truncate":
        data = (copy / "hnsw.bin").read_bytes()
        (copy / "hnsw.bin").write_bytes(data[: len(data) // 2])
        match = "hnsw.bin is truncated"
    elif damage == "delete":
        (copy / "candidates.parquet").unlink()
        match = "missing candidates.parquet"
    elif damage == "manifest":
        (copy / "manifest.json").write_text("{not json")
        match = "corrupt manifest"
    else:
        raw = bytearray((copy / "vectors.npy").read_bytes())
        raw[-5] ^= 0xFF
        (copy / "vectors.npy").write_bytes(bytes(raw))
        # the same size: only the content hash tells, and it is checked on every load
        with pytest.raises(IndexFormatError, match="vectors.npy has changed since the index"):
            DenseIndex.load(copy)
        return
    with pytest.raises(IndexFormatError, match=match):
        DenseIndex.load(copy)


def test_existing_output_is_refused_and_nothing_half_written(
    sample_collection, tiny_encoder, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "idx"
    out.mkdir()
    with pytest.raises(XlirError, match="output folder exists"):
        DenseIndex.build(sample_collection, tiny_encoder, out)

    idx = DenseIndex.build(sample_collection.restrict(["en"]), tiny_encoder, None)
    target = tmp_path / "never"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # an interruption half-way through writing leaves neither the target nor a temporary folder
    monkeypatch.setattr("xlir_tui.retrieval.dense.np.save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        idx.save(target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_load_maps_the_vectors_and_reads_the_graph_when_a_search_needs_it(
    sample_index: Path, tiny_encoder
) -> None:
    """A large index opens in a moment: nothing is read that a search does not use."""
    idx = DenseIndex.load(sample_index)
    assert isinstance(idx.vectors, np.memmap) and not idx.vectors.flags.writeable
    assert idx._graph is None
    queries = tiny_encoder.encode_queries(idx.questions["text"].to_list()[:5], cache=False)
    exact, _ = idx.search_vectors(queries, k=5, method="exact")
    idx.search_vectors(queries, k=5, langs=["de"])  # a language: an exact scan
    assert idx._graph is None
    found, _ = idx.search_vectors(queries, k=5, method="hnsw")
    assert idx._graph is not None
    assert idx.graph.ef == idx.manifest["hnsw"]["ef"]
    assert found[:, 0].tolist() == exact[:, 0].tolist()


def test_scoring_a_mapped_index_copies_no_vectors(sample_index: Path, tiny_encoder) -> None:
    """The report's scorer reads the index's vectors where they are: a transposed copy would
    double their memory (1.5 GB at 10^6 candidates)."""
    import tracemalloc
    import warnings

    from xlir_tui.retrieval.dense_system import DenseRetriever

    rng = np.random.default_rng(0)
    base = DenseIndex.load(sample_index)
    n, dim = 200_000, base.dimension  # blocks of float64 rows are small beside them
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    big = base.candidates.sample(n, with_replacement=True, seed=0).with_row_index("row")
    big = big.with_columns((big["id"] + "/" + big["row"].cast(str)).alias("id")).drop("row")
    idx = DenseIndex(None, base.manifest, None, vectors, big, *(
        getattr(base, t) for t in ("questions", "relevance", "skipped")
    ))  # fmt: skip

    class Given:  # query vectors known in advance: only the scorer allocates here
        name, query_prompt = "given", ""

        def encode_queries(self, texts, progress=None, cache=None):
            return vectors[: len(texts)] * 1.0

    retriever = DenseRetriever(idx, Given())
    questions = [f"q{i}" for i in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor a warning about a read-only array
        tracemalloc.start()
        scorer = retriever.scorer(questions)
        block = scorer(0, 10)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < vectors.nbytes / 2  # the scores of 10 queries, not a copy of the vectors
    np.testing.assert_allclose(block, vectors[:10] @ vectors.T, atol=1e-5)
    few = DenseRetriever(DenseIndex.load(sample_index), tiny_encoder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = few.scores(["who wrote it?"])  # one query: torch over the mapped vectors
    assert scores.shape == (1, base.size)


def test_hnsw_parameters_are_chosen_by_the_pool_size_unless_given(
    sample_collection, tiny_encoder
) -> None:
    small, large = hnsw_parameters(13_014), hnsw_parameters(1_000_000)
    assert large["ef"] > small["ef"]
    # the smallest beams that kept recall@10 >= 0.99 in bench/bench_scale.py, met or exceeded
    assert all(
        hnsw_parameters(n)["ef"] >= ef for n, ef in ((10**4, 64), (10**5, 128), (3 * 10**5, 256))
    )
    assert all(hnsw_parameters(n)["ef"] % 16 == 0 for n in (100_001, 777_777, 10**7))
    assert hnsw_parameters(1_000_000, m=8, ef=40) == {**large, "m": 8, "ef": 40}
    n = sample_collection.candidates.height
    idx = DenseIndex.build(sample_collection, tiny_encoder, None)
    assert idx.manifest["hnsw"] == {"space": "cosine", **hnsw_parameters(n)}
    idx = DenseIndex.build(sample_collection, tiny_encoder, None, ef_construction=50)
    assert idx.manifest["hnsw"] == {
        "space": "cosine", **hnsw_parameters(n), "ef_construction": 50
    }  # fmt: skip
    with pytest.raises(XlirError, match="--ef must be at least 1, got 0"):
        DenseIndex.build(sample_collection, tiny_encoder, None, ef=0)


@pytest.mark.parametrize("runs", ["one", "few", "many"])
def test_subset_scores_read_runs_of_rows_in_place(runs: str, monkeypatch) -> None:
    """A language's rows are scored where they lie, as slices; the result is the gathered one's."""
    import tracemalloc

    import xlir_tui.retrieval.dense as index

    rng = np.random.default_rng(1)
    f = 16  # pools large beside the fixed blocks of rows scoring makes float64 (index.ROW_BLOCK)
    vectors = rng.standard_normal((30_000 * f, 16)).astype(np.float32)
    queries = rng.standard_normal((1, 16)).astype(np.float32)  # the explorer's one query
    if runs == "one":
        subset = np.arange(5_000 * f, 25_000 * f)
    elif runs == "few":
        subset = np.r_[
            np.arange(100 * f, 9_000 * f),
            np.arange(12_000 * f, 24_000 * f),
            np.arange(30_000 * f - 10, 30_000 * f),
        ]
    else:  # every other row: gathered
        subset = np.arange(0, 30_000 * f, 2)
    index.scores_of(queries, vectors[:1])  # torch imported before memory is traced
    want = vectors[subset] @ queries.T
    tracemalloc.start()
    got = index.subset_scores(queries, vectors, subset)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_allclose(got, want.T, atol=1e-4)
    if runs != "many":  # the scores, not a copy of the subset's vectors (16 times larger)
        assert peak < vectors[subset].nbytes / 4
    monkeypatch.setattr(index, "MAX_RUNS", 1)  # the gathered path gives the same
    np.testing.assert_allclose(index.subset_scores(queries, vectors, subset), got, atol=1e-5)
    assert index.subset_scores(queries, vectors, subset[:0]).shape == (1, 0)
