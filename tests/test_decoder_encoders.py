"""Causal language models (BloomZ-style) as encoders: pooling, padding side, query prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, sample_sentences
from test_bad_input import assert_one_line_error

from xlir_tui.errors import ModelError
from xlir_tui.models.encoders import load_encoder, load_encoder_of


def build_tiny_bloom(folder: Path, hidden: int = 32, seed: int = 0) -> Path:
    """A tiny randomly initialised BLOOM causal LM with a word-level tokenizer (no pad token,
    as many causal models ship)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BloomConfig, BloomForCausalLM, PreTrainedTokenizerFast

    pre = pre_tokenizers.Whitespace()
    words: dict[str, int] = {}
    for s in sample_sentences():
        for w, _ in pre.pre_tokenize_str(s.lower()):
            words[w] = words.get(w, 0) + 1
    vocab = {"<unk>": 0, "</s>": 1}
    for w, _ in sorted(words.items(), key=lambda x: (-x[1], x[0]))[:2000]:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", eos_token="</s>", model_max_length=128
    )
    torch.manual_seed(seed)
    config = BloomConfig(
        vocab_size=len(vocab), hidden_size=hidden, n_layer=2, n_head=2, eos_token_id=1
    )
    config.architectures = ["BloomForCausalLM"]
    BloomForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bloom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bloom(tmp_path_factory.mktemp("bloom") / "bloom")


TEXTS = [
    "bees",
    "the honey bee colony has one queen that lays eggs",
    "glacier ice moves slowly down the valley every year",
]


@pytest.mark.parametrize("pooling", ["lasttoken", "mean"])
def test_pooling_is_padding_invariant(tiny_bloom: Path, pooling: str) -> None:
    """A short text embeds the same alone and padded in a batch with long ones: the padding
    side and the attention mask are right for the pooling."""
    enc = load_encoder(str(tiny_bloom), pooling=pooling, use_cache=False)
    assert enc.pooling == pooling
    tokenizer = enc.model.tokenizer
    assert tokenizer.padding_side == ("left" if pooling == "lasttoken" else "right")
    assert tokenizer.pad_token == "</s>"
    batch = enc.encode(TEXTS)
    alone = np.stack([enc.encode([t])[0] for t in TEXTS])
    assert batch.shape == (3, 32)
    np.testing.assert_allclose(batch, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_lasttoken_is_the_default_for_causal_models_and_differs_from_mean(tiny_bloom: Path) -> None:
    last = load_encoder(str(tiny_bloom), use_cache=False)
    mean = load_encoder(str(tiny_bloom), pooling="mean", use_cache=False)
    assert last.pooling == "lasttoken" and mean.pooling == "mean"
    # the pooling is part of the identity: caches and indexes of one never serve the other
    assert last.fingerprint != mean.fingerprint
    assert not np.allclose(last.encode(TEXTS[1:2]), mean.encode(TEXTS[1:2]))
    # last-token pooling reads the last token: changing only the first word changes it too
    a, b = last.encode(["bees make honey", "ants make honey"])
    assert not np.allclose(a, b)


def test_query_prompt_is_applied_to_queries_only(tiny_bloom: Path) -> None:
    prompt = "instruct: find the passage that answers the question query: "
    enc = load_encoder(str(tiny_bloom), query_prompt=prompt, use_cache=False)
    plain = load_encoder(str(tiny_bloom), use_cache=False)
    assert enc.query_prompt == prompt and enc.describe()["prompts"]["query"] == prompt
    q = enc.encode_queries(["where do bees live"])
    np.testing.assert_allclose(q, plain.encode([prompt + "where do bees live"]), atol=1e-5)
    np.testing.assert_allclose(
        enc.encode_passages(["bees live in hives"]), plain.encode_passages(["bees live in hives"])
    )
    # what an index records is enough to load the same encoder again
    again = load_encoder_of(enc.describe())
    assert again.fingerprint == enc.fingerprint and again.query_prompt == prompt


def test_pooling_bad_input(tiny_bloom: Path, tiny_model: Path) -> None:
    with pytest.raises(ModelError, match="--pooling 'max'"):
        load_encoder(str(tiny_bloom), pooling="max")
    # a sentence-transformers folder keeps its own pooling
    with pytest.raises(ModelError, match="pools with mean"):
        load_encoder(str(tiny_model), pooling="lasttoken")
    assert load_encoder(str(tiny_model), pooling="mean").pooling == "mean"


@pytest.mark.slow
def test_a_causal_model_through_index_search_report_and_train(
    capsys, tiny_bloom: Path, sample_dir: Path, tmp_path: Path
) -> None:
    import json

    prompt = "query: "
    args = ["-m", str(tiny_bloom), "--pooling", "lasttoken", "--query-prompt", prompt]
    out = tmp_path / "idx"
    code, _, err = run_cli(["index", str(sample_dir), *args, "--out", str(out)], capsys)
    assert code == 0, err
    model = json.loads((out / "manifest.json").read_text())["model"]
    assert model["pooling"] == "lasttoken" and model["prompts"]["query"] == prompt
    # search reloads the model as the index recorded it (pooling and prompt included)
    code, text, err = run_cli(["search", str(out), "honey bees", "-k", "3", "--json"], capsys)
    assert code == 0 and len(json.loads(text)["results"]) == 3, err
    code, text, err = run_cli(
        ["bias-report", str(sample_dir), *args, "--langs", "en,de", "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(text)["systems"][0]["summary"]["mono"]["map"] > 0
    run = tmp_path / "run"
    code, _, err = run_cli(
        [
            "train",
            str(sample_dir),
            "--base",
            str(tiny_bloom),
            "--pooling",
            "lasttoken",
            "--query-prompt",
            prompt,
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--out",
            str(run),
        ],
        capsys,
    )
    assert code == 0, err
    trained = load_encoder(str(run))
    assert trained.pooling == "lasttoken" and trained.query_prompt == prompt
    assert trained.model.tokenizer.padding_side == "left"
    code, _, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_bloom), "--pooling", "max"], capsys
    )
    assert_one_line_error(code, err, "--pooling 'max'")
