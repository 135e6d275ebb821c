"""Reproducible figures: a text's vector does not depend on the texts encoded beside it, so a
report gives the same figures, to the last digit, from a cold, a partly warm or a warm cache."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import run_cli, sample_sentences


def test_a_vector_is_the_one_its_text_gets_alone(tiny_model: Path) -> None:
    from xlir_tui.models.encoders import load_encoder

    enc = load_encoder(str(tiny_model), use_cache=False, batch_size=16)
    texts = list(dict.fromkeys(sample_sentences()))[:160]
    together = enc.encode(texts, "passage: ")
    half = enc.encode(texts[::2], "passage: ")
    alone = np.stack([enc.encode([t], "passage: ")[0] for t in texts[:40]])
    shuffled = texts[:]
    random.Random(1).shuffle(shuffled)
    again = enc.encode(shuffled, "passage: ")
    assert np.array_equal(together[::2], half)
    assert np.array_equal(together[:40], alone)
    assert np.array_equal(together, again[[shuffled.index(t) for t in texts]])


def test_batches_hold_texts_of_one_token_count(tiny_encoder) -> None:
    texts = list(dict.fromkeys(sample_sentences()))[:200]
    counts = tiny_encoder.token_counts(texts, "query: ")
    batches = tiny_encoder.batches(texts, "query: ")
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))
    for b in batches:
        assert len({counts[i] for i in b}) == 1  # no padding in any batch
        assert 1 <= len(b) <= tiny_encoder.batch_size
    firsts = [counts[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)  # longest first
    # the same texts in another order make the same batches
    reordered = texts[::-1]
    again = tiny_encoder.batches(reordered, "query: ")
    assert [[reordered[i] for i in b] for b in again] == [[texts[i] for i in b] for b in batches]
    # the counts are the model's own: a text cut at the window counts the window
    long = tiny_encoder.token_counts(["word " * 500], "")
    assert long == [tiny_encoder.model.max_seq_length]


def _differences(a: object, b: object, where: str = "") -> list[str]:
    """Where two JSON values differ, each place as a path with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{where}/{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _report(capsys, sample_dir: Path, model: Path, out: Path, langs: str) -> dict:
    code, stdout, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "--model",
            str(model),
            "--backend",
            "torch",
            "--langs",
            langs,
            "--run-depth",
            "0",
            "--out",
            str(out),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(stdout)
    for system in report["systems"]:
        system.pop("timings")
    return report


@pytest.mark.slow
def test_same_figures_from_a_cold_a_partly_warm_and_a_warm_cache(
    capsys, monkeypatch: pytest.MonkeyPatch, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.encoders import load_encoder

    langs = "de,en,zh,th"
    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path / "cold"))
    cold = _report(capsys, sample_dir, tiny_model, tmp_path / "r1", langs)

    # another cache, where some candidates and questions were encoded before, in batches of
    # their own (beside texts the report never sees, with another batch size)
    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path / "partly"))
    c = load_collection(sample_dir).restrict(langs.split(","))
    enc = load_encoder(str(tiny_model), batch_size=7)
    rng = random.Random(0)
    candidates = rng.sample(c.candidates["text"].to_list(), c.candidates.height // 3)
    questions = rng.sample(c.questions["text"].to_list(), c.questions.height // 2)
    others = [t for t in sample_sentences() if t not in set(c.candidates["text"])][:50]
    enc.encode_passages(candidates + others)
    enc.encode_queries(questions)
    partly = _report(capsys, sample_dir, tiny_model, tmp_path / "r2", langs)
    warm = _report(capsys, sample_dir, tiny_model, tmp_path / "r3", langs)

    assert _differences(cold["systems"], partly["systems"]) == []
    assert _differences(cold["systems"], warm["systems"]) == []
    # every score of every query, as exported with 9 significant digits
    runs = [(tmp_path / r / "run.multi.txt").read_bytes() for r in ("r1", "r2", "r3")]
    assert runs[0] == runs[1] == runs[2]
    tables = [pl.read_parquet(tmp_path / r / "queries.parquet") for r in ("r1", "r2", "r3")]
    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])


def test_embedding_cache_merge_keeps_shards_of_other_processes(tmp_path: Path) -> None:
    from xlir_tui.models.encoders import EmbeddingCache

    folder = tmp_path / "emb"
    mine = EmbeddingCache(folder, 4, {"model": "m"})
    mine.lookup(["x"])  # loaded (empty) before the other process writes
    other = EmbeddingCache(folder, 4, {"model": "m"})
    other.add(["other"], np.ones((1, 4), np.float32))
    (foreign,) = [p.name for p in folder.glob("*.parquet")]
    for i in range(EmbeddingCache.MAX_SHARDS + 2):
        mine.add([f"k{i}"], np.full((1, 4), i, np.float32))
    names = {p.name for p in folder.glob("*.parquet")}
    assert foreign in names  # never removed by a merge it was not part of
    assert len(names) < EmbeddingCache.MAX_SHARDS
    fresh = EmbeddingCache(folder, 4)
    vectors, missing = fresh.lookup(["other", "k0", f"k{EmbeddingCache.MAX_SHARDS + 1}"])
    assert missing == [] and vectors[2][0] == EmbeddingCache.MAX_SHARDS + 1
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "xlir-tui/embeddings" and manifest["model"] == "m"
    assert not [p for p in os.listdir(folder) if p.startswith(".")]  # no temporaries left
