"""Shared fixtures: an isolated cache, a tiny sentence-transformers model, the data folders.

The tiny model (a 2-layer BERT with hidden size 32 and a WordPiece vocabulary trained here on the
sample collection) loads in well under a second and needs no network; it is built once per test
session. Tests that read the real XQuAD-R / MLQA-R use ``../shared/data`` and skip without it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SHARED_DATA = ROOT.parent / "shared" / "data"


SLOW_FIXTURES = {"snap_compare", "shared_data"}
"""Fixtures that make a test slow: a screen drawn and compared (the explorer started in a
pilot), the real collections of ``../shared/data``."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast tier (``-m "not slow"``, run on every change) leaves out what takes seconds a
    test: besides tests marked ``slow`` by hand (a training run, a child process, the real
    default model), every explorer pilot (an ``async`` test starts the Textual app) and every
    test of :data:`SLOW_FIXTURES`. The whole suite runs them all."""
    import inspect

    for item in items:
        function = getattr(item, "function", None)
        if (inspect.iscoroutinefunction(function) or SLOW_FIXTURES & set(item.fixturenames)) and (
            "slow" not in item.keywords
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own cache folder; nothing touches the user's cache."""
    os.environ["XLIR_TUI_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def sample_sentences() -> list[str]:
    out: list[str] = []
    for f in sorted(SAMPLE.glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        for art in doc["data"]:
            for p in art["paragraphs"]:
                out.extend(p["sentences"])
                out.extend(q["question"] for q in p["qas"])
    return out


def build_tiny_model(
    folder: Path, hidden: int = 32, seed: int = 0, prompts: dict[str, str] | None = None
) -> Path:
    """Write a tiny randomly initialised sentence-transformers model to ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    # A deterministic WordPiece vocabulary (the tokenizers trainer breaks ties differently from
    # run to run): every character, alone and as a continuation, plus the most frequent words.
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    counts: dict[str, int] = {}
    for sentence in sample_sentences():
        for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(sentence)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({ch for word in counts for ch in word})
    words = [w for w, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if len(w) > 1]
    tokens = [*specials, *chars, *(f"##{c}" for c in chars), *words[:1500]]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )
    hf = folder.parent / f"{folder.name}-hf"
    BertModel(config).save_pretrained(hf)
    fast.save_pretrained(hf)
    st = SentenceTransformer(
        modules=[Transformer(str(hf), max_seq_length=64), Pooling(hidden, "mean"), Normalize()],
        prompts=prompts or {},
        device="cpu",
    )
    st.save(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model: Path):
    from xlir_tui.models.encoders import load_encoder

    return load_encoder(str(tiny_model))


@pytest.fixture(scope="session")
def sample_collection():
    from xlir_tui.data.collections import load_collection

    return load_collection(SAMPLE)


@pytest.fixture(scope="session")
def sample_index(tiny_encoder, sample_collection, tmp_path_factory: pytest.TempPathFactory):
    from xlir_tui.retrieval.dense import DenseIndex

    out = tmp_path_factory.mktemp("indexes") / "sample"
    DenseIndex.build(sample_collection, tiny_encoder, out)
    return out


def read_events(path: Path) -> list[dict]:
    """The events of a run so far; a half-written last line (a run in progress) is left out."""
    out: list[dict] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


SMALL = ["--batch-size", "8", "--max-seq-length", "32"]
"""A training run small enough for a test: batches of 8 texts of at most 32 tokens."""


def train_args(data: Path, base: Path, out: Path, *options: str) -> list[str]:
    """``train DATA --base BASE OPTIONS --out OUT`` with the :data:`SMALL` batches: a test's run
    of the tiny model."""
    return ["train", str(data), "--base", str(base), *options, "--out", str(out), *SMALL]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``xlir-tui ARGS`` in-process through the real entry point; return (code, out, err)."""
    from xlir_tui.cli import main

    old = sys.argv
    sys.argv = ["xlir-tui", *args]
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err
