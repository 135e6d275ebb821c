"""Machine translation plumbing: codes, families, forced BOS, batching, cache, resumable runs.

The models are tiny and randomly initialised, built here (no downloads): their outputs are
gibberish, so these tests check the plumbing (which language token is forced, that outputs stay
aligned with inputs, what is cached, what a resumed run skips), never the quality.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import polars as pl
import pytest
from conftest import SAMPLE

from xlir_tui.app.translate import SETTINGS_NAME, SUMMARY_NAME, translate_collection
from xlir_tui.data.collections import Collection, load_collection
from xlir_tui.errors import ModelError, XlirError
from xlir_tui.models.translator import (
    FAMILIES,
    NLLB_CODES,
    TranslationCache,
    Translator,
    model_code,
)
from xlir_tui.storage.files import MARKER_NAME, text_digest

LANGS = ("en", "de", "es", "fr")
TINY = {
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 128,
}


def _bpe_merges(vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Merges for a BPE tokenizer from a piece vocabulary: each piece from its best split."""
    merges = []
    for piece in vocab:
        if len(piece) < 2 or piece.startswith("<"):
            continue
        best = None
        for i in range(1, len(piece)):
            a, b = piece[:i], piece[i:]
            if a in vocab and b in vocab:
                rank = max(vocab[a], vocab[b])
                if best is None or rank < best[0]:
                    best = (rank, a, b)
        if best:
            merges.append((best[1], best[2]))
    return merges


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny M2M100, NLLB and Marian (en-de, en-zh) folders, and a non-translation config."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MarianTokenizer: "Recommended: pip install sacremoses"
        return _build_models(tmp_path_factory.mktemp("mt"))


def _build_models(root: Path) -> dict[str, Path]:
    import sentencepiece as spm
    import torch
    from transformers import (
        BertConfig,
        M2M100Config,
        M2M100ForConditionalGeneration,
        M2M100Tokenizer,
        MarianConfig,
        MarianMTModel,
        MarianTokenizer,
        NllbTokenizer,
    )

    sentences: list[str] = []
    for lang in LANGS:
        doc = json.loads((SAMPLE / f"{lang}.json").read_text(encoding="utf-8"))
        for article in doc["data"]:
            for para in article["paragraphs"]:
                sentences += para["sentences"] + [q["question"] for q in para["qas"]]
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(sentences), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(root / "spm"),
        vocab_size=200,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
        model_type="bpe",
    )
    sp = spm.SentencePieceProcessor(model_file=str(root / "spm.model"))
    vocab: dict[str, int] = {}
    for piece in ["<s>", "<pad>", "</s>", "<unk>"] + [
        sp.id_to_piece(i) for i in range(sp.get_piece_size())
    ]:
        vocab.setdefault(piece, len(vocab))
    (root / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")

    def m2m_model(tok, folder: Path, seed: int) -> None:
        # Language tokens come after the vocabulary: the embedding must cover them.
        ids = [*tok.get_vocab().values(), *getattr(tok, "lang_code_to_id", {}).values()]
        torch.manual_seed(seed)
        config = M2M100Config(
            vocab_size=max(ids) + 1,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
            decoder_start_token_id=tok.eos_token_id,
            **TINY,
        )
        M2M100ForConditionalGeneration(config).save_pretrained(folder)
        tok.save_pretrained(folder)

    out = {}
    out["m2m100"] = root / "m2m100"
    m2m_model(
        M2M100Tokenizer(vocab_file=str(root / "vocab.json"), spm_file=str(root / "spm.model")),
        out["m2m100"],
        0,
    )
    out["nllb"] = root / "nllb"
    m2m_model(NllbTokenizer(vocab=vocab, merges=_bpe_merges(vocab)), out["nllb"], 1)
    marian = root / "marian"
    for i, pair in enumerate(("en-de", "en-zh")):
        folder = marian / f"opus-mt-{pair}"
        tok = MarianTokenizer(
            source_spm=str(root / "spm.model"),
            target_spm=str(root / "spm.model"),
            vocab=str(root / "vocab.json"),
        )
        torch.manual_seed(10 + i)
        config = MarianConfig(
            vocab_size=len(tok),
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.pad_token_id,
            **TINY,
        )
        MarianMTModel(config).save_pretrained(folder)
        tok.save_pretrained(folder)
    out["marian"] = marian / "opus-mt-{src}-{tgt}"
    out["bert"] = root / "bert"
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(
        out["bert"]
    )
    return out


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh translation cache per test, so one test's translations are not another's hits."""
    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path / "cache"))


def _load(models: dict[str, Path], family: str, **kw) -> Translator:
    kw.setdefault("max_length", 12)
    return Translator.load(str(models[family]), **kw)


def subset_collection(collection: Collection, qids: list[str]) -> Collection:
    """The collection restricted to some questions (all candidates kept): a small trial run."""
    keep = pl.Series(list(qids), dtype=pl.String).implode()
    questions = collection.questions.filter(pl.col("qid").is_in(keep))
    relevance = collection.relevance.filter(pl.col("question_id").is_in(questions["id"].implode()))
    return dataclasses.replace(
        collection,
        questions=questions,
        relevance=relevance,
        fingerprint=text_digest(collection.fingerprint, "qids", *sorted(qids)),
    )


@pytest.fixture(scope="module")
def small():
    """The sample collection cut to five questions (all candidates kept)."""
    collection = load_collection(SAMPLE)
    qids = sorted(collection.questions["qid"].unique().to_list())[:5]
    return subset_collection(collection, qids)


def _never_empty(tr: Translator, monkeypatch: pytest.MonkeyPatch) -> Translator:
    """Keep the real model in the loop, but never let a random model's empty output (which the
    run reports and leaves out) change which rows these tests expect."""
    real = tr._generate

    def generate(pair, batch, src_code, tgt_code):
        out = real(pair, batch, src_code, tgt_code)
        return [o or f"{tgt_code}:{t}" for o, t in zip(out, batch, strict=True)]

    monkeypatch.setattr(tr, "_generate", generate)
    return tr


def _fake_generate(calls: list[list[str]]):
    """Replace the model with a function that shows which text each output belongs to."""

    def generate(pair, batch, src_code, tgt_code):
        calls.append(list(batch))
        return [f"{tgt_code}:{t[::-1]}" for t in batch]

    return generate


# --------------------------------------------------------------------------------------------
# Codes and families


def test_model_codes() -> None:
    assert FAMILIES == ("m2m100", "nllb", "marian")
    assert model_code("nllb", "de") == "deu_Latn"
    assert model_code("nllb", "zh") == "zho_Hans"
    assert model_code("nllb", "zh-TW") == "zho_Hant"
    assert model_code("nllb", "pt-BR") == "por_Latn"
    assert model_code("nllb", "deu_Latn") == "deu_Latn"
    assert model_code("m2m100", "de") == "de"
    assert model_code("m2m100", "pt-BR") == "pt"
    assert model_code("marian", "de") == "de"
    required = (
        "en de es fr ru el ar hi zh th tr vi ro ja ko it pt nl pl sw bn ur fa he id uk cs fi sv"
    )
    for lang in required.split():
        assert lang in NLLB_CODES
        assert model_code("m2m100", lang) == lang
    assert NLLB_CODES["ar"] == "arb_Arab" and NLLB_CODES["fa"] == "pes_Arab"
    for family in ("nllb", "m2m100"):
        with pytest.raises(XlirError, match=rf"'xx'.*{family}"):
            model_code(family, "xx")
    with pytest.raises(XlirError, match="marian"):
        model_code("marian", "not a code")
    with pytest.raises(XlirError, match="family"):
        model_code("t5", "de")


def test_import_is_cheap() -> None:
    code = (
        "import sys, xlir_tui.models.translator, xlir_tui.app.translate; "
        "print(sorted(m for m in ('torch', 'transformers', 'textual', 'typer') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_family_detection(models: dict[str, Path]) -> None:
    from xlir_tui.models.encoders import model_fingerprint

    for family in ("m2m100", "nllb"):
        tr = _load(models, family)
        assert tr.family == family
        assert tr.name == str(models[family])
        assert tr.fingerprint == model_fingerprint(models[family])
    de = Translator.load(str(models["marian"].parent / "opus-mt-en-de"))
    assert de.family == "marian"
    template = Translator.load(str(models["marian"]))  # loads nothing yet
    assert template.family == "marian" and template.is_template and not template._pairs
    with pytest.raises(ModelError, match=r"not a translation model \(model type bert"):
        Translator.load(str(models["bert"]))


def test_load_errors(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model folder") as e:
        Translator.load(str(tmp_path / "nothing"))
    assert "\n" not in str(e.value)
    # A hub name with HF_HUB_OFFLINE set (conftest) fails at once, in one line.
    with pytest.raises(ModelError, match="cannot download model.*HF_HUB_OFFLINE") as e:
        Translator.load("xlir-tui-test/no-such-model")
    assert "\n" not in str(e.value)
    with pytest.raises(ModelError, match="both"):
        Translator.load(str(tmp_path / "opus-mt-{src}-en"))
    with pytest.raises(XlirError, match="batch size"):
        Translator.load(str(models["m2m100"]), batch_size=0)


# --------------------------------------------------------------------------------------------
# Translating texts


@pytest.mark.parametrize("family", ["m2m100", "nllb"])
def test_forced_bos_is_target_language(
    models: dict[str, Path], family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tr = _load(models, family)
    pair = tr._model
    seen: list[tuple[dict, object]] = []
    original = pair.model.generate

    def spy(**kwargs):
        ids = original(**kwargs)
        seen.append((kwargs, ids))
        return ids

    monkeypatch.setattr(pair.model, "generate", spy)
    texts = ["Where do honey bees live?", "Bees dance."]
    out = tr.translate(texts, "en", "zh")
    assert len(out) == 2 and all(isinstance(t, str) for t in out)
    kwargs, ids = seen[0]
    tok = pair.tokenizer
    want = tok.get_lang_id("zh") if family == "m2m100" else tok.convert_tokens_to_ids("zho_Hans")
    assert kwargs["forced_bos_token_id"] == want
    assert kwargs["max_new_tokens"] == 12 and kwargs["num_beams"] == 1
    # The first token after the decoder start is the target language's.
    assert ids[:, 1].tolist() == [want, want]
    # The source language token is in the encoder input.
    src = tok.get_lang_id("en") if family == "m2m100" else tok.convert_tokens_to_ids("eng_Latn")
    assert (kwargs["input_ids"] == src).any(dim=1).all()


def test_unknown_language_for_tokenizer(models: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "wmt21"
    shutil.copytree(models["m2m100"], folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["language_codes"] = "wmt21"  # en ha is ja cs ru zh de
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    tr = Translator.load(str(folder), max_length=8)
    assert len(tr.translate(["A bee."], "en", "de")) == 1
    with pytest.raises(XlirError, match=rf"language fr \(fr\) is not known to .*{folder.name}"):
        tr.translate(["A bee."], "en", "fr")


def test_order_batching_dedup_empty(models: dict[str, Path], monkeypatch) -> None:
    tr = _load(models, "m2m100", batch_size=2)
    calls: list[list[str]] = []
    monkeypatch.setattr(tr, "_generate", _fake_generate(calls))
    texts = ["bb", "a", "", "dddd", "ccc", "bb", "   ", "eeeee", "a"]
    seen: list[tuple[int, int]] = []
    out = tr.translate(texts, "en", "de", progress=lambda d, n: seen.append((d, n)))
    assert out == ["de:" + t[::-1] if t.strip() else "" for t in texts]
    # Each distinct non-empty text once, longest first, in batches of two.
    assert calls == [["eeeee", "dddd"], ["ccc", "bb"], ["a"]]
    assert seen[0] == (2, 9) and seen[-1] == (9, 9)
    assert tr.cache_misses == 5 and tr.cache_hits == 0
    assert tr.translate([], "en", "de") == []
    assert tr.translate(["", " "], "en", "de") == ["", ""]
    assert len(calls) == 3


def test_src_equals_tgt_returns_texts(models: dict[str, Path], monkeypatch) -> None:
    tr = _load(models, "nllb")
    monkeypatch.setattr(tr, "_generate", lambda *a: pytest.fail("the model ran"))
    assert tr.translate(["Hallo", "", "Welt"], "de", "de") == ["Hallo", "", "Welt"]


def test_real_batches_stay_aligned(models: dict[str, Path]) -> None:
    """Greedy decoding with an attention mask: a batch gives what each text gives alone."""
    texts = ["Bees.", "Where does the western honey bee live in summer?", "A queen lays eggs."]
    tr = _load(models, "m2m100", batch_size=3)
    batched = tr.translate(texts, "en", "de")
    alone = [_load(models, "m2m100", use_cache=False).translate([t], "en", "de")[0] for t in texts]
    assert batched == alone


def test_cache_persists_and_skips_the_model(models: dict[str, Path], monkeypatch) -> None:
    texts = ["The queen lays eggs.", "Worker bees dance.", "The queen lays eggs."]
    first = _load(models, "m2m100")
    out = first.translate(texts, "en", "de")
    assert (first.cache_hits, first.cache_misses) == (0, 2)
    folder = first.cache_for("en", "de").folder
    assert len(list(folder.glob("*.parquet"))) == 1
    frame = pl.read_parquet(next(folder.glob("*.parquet")))
    assert frame.columns == ["key", "text"]
    assert set(frame["key"]) == {TranslationCache.key(t) for t in texts}
    (folder / "broken.parquet").write_bytes(b"not parquet")  # a damaged shard is skipped

    second = _load(models, "m2m100")
    monkeypatch.setattr(second._model.model, "generate", lambda **kw: pytest.fail("model ran"))
    assert second.translate(texts, "en", "de") == out
    assert (second.cache_hits, second.cache_misses) == (2, 0)
    # Other decoding settings and other pairs are other caches.
    assert _load(models, "m2m100", num_beams=2).cache_for("en", "de").folder != folder
    assert second.cache_for("en", "zh").folder != folder


def test_marian_template_loads_pairs_lazily(models: dict[str, Path], tmp_path: Path) -> None:
    tr = Translator.load(str(models["marian"]), max_length=8)
    de = tr.translate(["The queen lays eggs."], "en", "de")
    assert len(de) == 1 and isinstance(de[0], str)
    assert list(tr._pairs) == [("en", "de")]
    tr.translate(["The queen lays eggs."], "en", "zh")
    assert set(tr._pairs) == {("en", "de"), ("en", "zh")}
    assert tr.pair_fingerprint("en", "de") != tr.pair_fingerprint("en", "zh")
    assert tr.cache_for("en", "de").folder != tr.cache_for("en", "zh").folder
    missing = models["marian"].parent / "opus-mt-en-fr"
    with pytest.raises(ModelError, match="no such model folder") as e:
        tr.translate(["The queen lays eggs."], "en", "fr")
    assert str(missing) in str(e.value) and "\n" not in str(e.value)
    # A single-pair Marian model refuses a pair its name says it does not translate.
    single = Translator.load(str(models["marian"].parent / "opus-mt-en-de"), max_length=8)
    assert len(single.translate(["Bees."], "en", "de")) == 1
    with pytest.raises(ModelError, match="translates en to de, not en to zh"):
        single.translate(["Bees."], "en", "zh")


# --------------------------------------------------------------------------------------------
# Translating collections


def _files(out: Path) -> dict[str, bytes]:
    """The data a run wrote (the output marker, with its random id, is whose, not what)."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != MARKER_NAME}


def test_translate_collection(models, small, tmp_path: Path, monkeypatch) -> None:
    tr = _never_empty(_load(models, "m2m100"), monkeypatch)
    out = tmp_path / "out"
    stages: list[tuple[str, int, int]] = []
    summary = translate_collection(
        small, tr, ["de", "zh"], out, chunk=2, progress=lambda *a: stages.append(a)
    )
    assert sorted(p.name for p in out.iterdir()) == [
        MARKER_NAME,
        "de.jsonl",
        "en.jsonl",
        SUMMARY_NAME,
        "zh.jsonl",
    ]
    assert json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8")) == summary
    assert summary["format"] == "xlir-tui/translation" and summary["format_version"] == 1
    assert summary["family"] == "m2m100" and summary["mt"] == str(models["m2m100"])
    assert summary["questions"] == {"en": 5, "de": 5, "zh": 5}
    assert summary["cache_misses"] > 0 and not summary["resumed"]
    assert ("de", 0, 5) in stages and ("de", 5, 5) in stages and stages[-1] == ("zh", 5, 5)

    loaded = load_collection(out, use_cache=False)
    q = loaded.questions
    assert sorted(q["lang"].unique()) == ["de", "en", "zh"]
    qids = sorted(small.questions["qid"].unique())
    for lang in ("en", "de", "zh"):
        assert sorted(q.filter(pl.col("lang") == lang)["qid"]) == qids
    # Every question is relevant to its qid's answer sentence in every language.
    rel = loaded.relevance.join(
        q.select(pl.col("id").alias("question_id"), "qid"), on="question_id"
    ).join(loaded.candidates.select(pl.col("id").alias("candidate_id"), "lang"), on="candidate_id")
    assert rel.height == 5 * 3 * 3
    assert rel.group_by("question_id").agg(pl.col("lang").n_unique())["lang"].to_list() == [3] * 15
    rows = {
        lang: [json.loads(x) for x in (out / f"{lang}.jsonl").read_text("utf-8").splitlines()]
        for lang in ("en", "de")
    }
    # Source rows are the collection's own texts; translated rows the translator's.
    en = small.questions.filter(pl.col("lang") == "en")
    assert [r["question"] for r in rows["en"]] == en["text"].to_list()
    assert "context" not in rows["de"][0]
    fresh = _load(models, "m2m100")
    assert [r["question"] for r in rows["de"]] == fresh.translate(en["text"].to_list(), "en", "de")
    assert fresh.cache_misses == 0  # all of it came from the run's cache

    with pytest.raises(XlirError, match=r"output folder exists \(pass --overwrite"):
        translate_collection(small, tr, ["de", "zh"], out)
    again = translate_collection(small, tr, ["de"], out, overwrite=True)
    assert again["cache_misses"] == 0 and sorted(p.name for p in out.iterdir()) == [
        MARKER_NAME,
        "de.jsonl",
        "en.jsonl",
        SUMMARY_NAME,
    ]


def test_translate_collection_paragraphs(models, small, tmp_path: Path, monkeypatch) -> None:
    tr = _never_empty(Translator.load(str(models["marian"]), max_length=8), monkeypatch)
    out = tmp_path / "out"
    translate_collection(small, tr, ["de"], out, paragraphs=True)
    rows = [json.loads(x) for x in (out / "de.jsonl").read_text("utf-8").splitlines()]
    source = [json.loads(x) for x in (out / "en.jsonl").read_text("utf-8").splitlines()]
    for row in rows:
        assert row["passage"] in row["context"]  # the translated paragraph holds the answer
    en_contexts = set(small.candidates.filter(pl.col("lang") == "en")["context"])
    assert all(r["context"] in en_contexts for r in source)
    loaded = load_collection(out, use_cache=False)
    assert loaded.questions.height == 10


def test_empty_translations_are_left_out(models, small, tmp_path: Path, monkeypatch) -> None:
    """The loader refuses empty fields: a question whose translation is empty is reported."""
    tr = _load(models, "m2m100")
    first = small.questions.filter(pl.col("lang") == "en").row(0, named=True)

    def generate(pair, batch, src_code, tgt_code):
        return ["" if t == first["text"] or tgt_code == "zh" else t.upper() for t in batch]

    monkeypatch.setattr(tr, "_generate", generate)
    out = tmp_path / "out"
    summary = translate_collection(small, tr, ["de", "zh"], out)
    assert summary["questions"] == {"en": 5, "de": 4, "zh": 0}
    assert summary["empty_translations"]["de"] == [first["qid"]]
    assert len(summary["empty_translations"]["zh"]) == 5
    assert not (out / "zh.jsonl").exists() and summary["files"] == ["en.jsonl", "de.jsonl"]
    loaded = load_collection(out, use_cache=False)
    assert loaded.questions.filter(pl.col("lang") == "de").height == 4


def test_checks_come_before_any_work(models, small, tmp_path: Path) -> None:
    tr = _load(models, "nllb")
    out = tmp_path / "out"
    with pytest.raises(XlirError, match="'xx' is not known to nllb"):
        translate_collection(small, tr, ["de", "xx"], out)
    with pytest.raises(XlirError, match="no questions in ko"):
        translate_collection(small, tr, ["de"], out, source="ko")
    with pytest.raises(XlirError, match="is the source language"):
        translate_collection(small, tr, ["en"], out)
    marian = Translator.load(str(models["marian"]), max_length=8)
    with pytest.raises(ModelError, match="opus-mt-en-fr.*no such model folder"):
        translate_collection(small, marian, ["de", "fr"], out)
    assert not out.exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(XlirError, match="did not write"):
        translate_collection(small, tr, ["de"], other, overwrite=True)
    assert (other / "notes.txt").exists()


def test_resume_after_interruption(models, small, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    tr = _never_empty(_load(models, "m2m100"), monkeypatch)

    def stop_after_first_chunk(stage: str, done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        translate_collection(small, tr, ["de", "zh"], out, chunk=2, progress=stop_after_first_chunk)
    assert (out / SETTINGS_NAME).exists() and not (out / SUMMARY_NAME).exists()
    part = out / "de.jsonl.part"
    first = [json.loads(x) for x in part.read_text("utf-8").splitlines()]
    assert len(first) == 2 and not (out / "zh.jsonl.part").exists()
    done_questions = {r["qid"] for r in first}
    # A crash in the middle of a write leaves half a line: it is dropped on restart.
    with part.open("a", encoding="utf-8") as f:
        f.write('{"qid": "' + sorted(set(small.questions["qid"]) - done_questions)[0] + '", "la')

    with pytest.raises(XlirError, match=r"other settings \(paragraphs False -> True"):
        translate_collection(small, tr, ["de", "zh"], out, chunk=2, paragraphs=True)
    with pytest.raises(XlirError, match="other settings"):
        translate_collection(small, tr, ["de"], out, chunk=2)

    fresh = _never_empty(_load(models, "m2m100"), monkeypatch)
    asked: list[tuple[str, list[str]]] = []
    original = fresh.translate

    def spy(texts, src, tgt, progress=None):
        asked.append((tgt, list(texts)))
        return original(texts, src, tgt, progress)

    monkeypatch.setattr(fresh, "translate", spy)
    summary = translate_collection(small, fresh, ["de", "zh"], out, chunk=2)
    assert summary["resumed"] and summary["questions"] == {"en": 5, "de": 5, "zh": 5}
    done_texts = set(
        small.questions.filter((pl.col("lang") == "en") & pl.col("qid").is_in(done_questions))[
            "text"
        ]
    )
    de_asked = {t for tgt, texts in asked if tgt == "de" for t in texts}
    assert de_asked and not de_asked & done_texts  # finished questions were not asked again
    assert not list(out.glob("*.part")) and not (out / SETTINGS_NAME).exists()

    straight = tmp_path / "straight"
    other = _never_empty(_load(models, "m2m100"), monkeypatch)
    translate_collection(small, other, ["de", "zh"], straight, chunk=2)
    a, b = _files(out), _files(straight)
    assert a.keys() == b.keys()
    for name in a:
        if name != SUMMARY_NAME:
            assert a[name] == b[name], name
