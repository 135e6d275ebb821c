"""Sentence-transformers encoders: loading by folder, hub name or ``default``; prompts; a cache.

Why a wrapper rather than a bare ``SentenceTransformer``:

- the embedded models (:mod:`xlir_tui.models.embedded`: ``default`` is multilingual-e5-small) and
local
  folders must load with no network, and a hub name must fail within seconds when offline instead
  of hanging in retries;
- query and passage prompts travel with the model (``config_sentence_transformers.json``), and
  every command must apply the same ones;
- re-encoding 13k candidates costs minutes on a CPU, so embeddings are cached on disk, keyed by the
  model's fingerprint, the prompt, the backend and the text;
- the same model can run in an inference runtime (``backend``: :mod:`xlir_tui.models.backends`), two
to
  four times faster than torch on a CPU, behind the same encode methods.

``sentence_transformers`` is imported lazily: it costs seconds, and nothing on a start-up path
(the CLI's ``--help``, the explorer's first frame) should pay it.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import polars as pl

from ..errors import ModelError
from ..progress import Progress
from ..storage.files import cache_root, text_digest
from ..storage.shards import ShardFolder, shard_key
from .backends import DEFAULT_BACKEND, Runtime, attach_backend, check_backend
from .embedded import DEFAULT_MODEL, EMBEDDED, embedded_name, embedded_path
from .run_files import EVENTS_FILE, TRAIN_FILE

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["DEFAULT_MODEL", "Encoder", "load_encoder", "load_encoder_of", "resolve_model"]


def _looks_like_path(spec: str) -> bool:
    return (
        spec.startswith((".", "/", "~"))
        or spec.count("/") > 1
        or (os.sep != "/" and os.sep in spec)
        or Path(spec).expanduser().exists()
    )


def _hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """A quick TCP probe of the hub, so an offline machine fails in seconds, not minutes."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}:
        return False, "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as e:
        return False, f"{host} unreachable ({e.strerror or e.__class__.__name__})"


def resolve_model(spec: str) -> Path:
    """Turn ``default``, an embedded model's name, a folder or a hub name into a local folder.

    A hub name is looked up in the local Hugging Face cache first; only then is the network tried,
    after a probe that fails fast.
    """
    name = embedded_name(spec)
    if name is not None:
        return embedded_path(name)
    if _looks_like_path(spec):
        path = Path(spec).expanduser()
        if not path.exists():
            raise ModelError("no such model folder", path=spec)
        if not path.is_dir():
            raise ModelError("a model must be a folder, not a file", path=spec)
        if not ((path / "modules.json").exists() or (path / "config.json").exists()):
            raise ModelError(
                "not a sentence-transformers model (no modules.json or config.json)", path=spec
            )
        return path.resolve()
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:
        pass
    ok, why = _hub_reachable()
    if not ok:
        raise ModelError(
            f"cannot download model {spec!r}: {why}; pass a local model folder, 'default', or "
            "download it on a machine with internet and copy the folder here"
        )
    try:
        return Path(snapshot_download(spec, etag_timeout=10))
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot download model {spec!r}: {first}") from None


def local_model_folder(spec: str) -> Path | None:
    """The folder ``spec`` names when finding it takes no work, checked as :func:`resolve_model`
    checks it (a folder that is missing or not a model, an embedded model's missing package:
    the same one line); None for the default before its first build and for a hub name. What
    a command can check before it loads anything slow."""
    from .embedded import DEFAULT_NAME, e5_folder, e5_source, is_complete

    name = embedded_name(spec)
    if name == DEFAULT_NAME:
        folder = e5_folder()
        if is_complete(folder):
            return folder
        e5_source()  # the package that holds it is installed
        return None
    if name is not None or _looks_like_path(spec):
        return resolve_model(spec)
    return None


def model_fingerprint(path: Path) -> str:
    """A content fingerprint of a model folder that is cheap even for gigabyte weights.

    Hashes every file's name and size plus its first and last MiB: any retraining changes the
    weights' bytes there, and an index or cache built with other weights must never be reused.
    """
    h = hashlib.blake2b(digest_size=16)
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "checkpoint")) for part in p.relative_to(path).parts)
        and p.name not in {"README.md", EVENTS_FILE, TRAIN_FILE}
    )
    for p in files:
        size = p.stat().st_size
        h.update(f"{p.relative_to(path).as_posix()}\x00{size}\x00".encode())
        with p.open("rb") as f:
            h.update(f.read(1 << 20))
            if size > 2 << 20:
                f.seek(-(1 << 20), os.SEEK_END)
                h.update(f.read(1 << 20))
    return h.hexdigest()


VECTORS_VERSION = 2
"""How vectors are computed, part of every embedding cache key: 2 batches texts by token count
(:meth:`Encoder.batches`), so each text's vector is the one it gets alone; 1 padded batches of
texts of about the same length, whose vectors depended a little on their batch."""


class EmbeddingCache:
    """Embeddings on disk, keyed by text, for one (model fingerprint, prompt, backend).

    A folder of parquet shards (``key`` = :func:`~xlir_tui.storage.shards.shard_key` of the
    text, ``vector``) with a ``manifest.json`` that says whose vectors they are (``xlir-tui
    cache list`` shows it), kept by :class:`~xlir_tui.storage.shards.ShardFolder`: written
    atomically, merged when they grow many, a merge removing only the shards this process read
    or wrote.
    """

    MAX_SHARDS = 16
    FORMAT = "xlir-tui/embeddings"
    key = staticmethod(shard_key)

    def __init__(
        self, folder: Path, dimension: int, describe: dict[str, Any] | None = None
    ) -> None:
        self.folder = folder
        self.dimension = dimension
        self.describe = describe or {}
        record = {"format": self.FORMAT, "dimension": dimension, **self.describe}
        self._shards = ShardFolder(folder, record, self.MAX_SHARDS)
        self._rows: dict[str, int] | None = None
        self._vectors: np.ndarray = np.zeros((0, dimension), dtype=np.float32)

    def _parse(self, frame: pl.DataFrame) -> tuple[list[str], np.ndarray] | None:
        vec = frame["vector"].to_numpy().astype(np.float32, copy=False)
        if vec.ndim != 2 or vec.shape[1] != self.dimension:
            return None
        return frame["key"].to_list(), vec

    def _load(self) -> dict[str, int]:
        if self._rows is not None:
            return self._rows
        shards = self._shards.read(self._parse)
        keys = [k for shard_keys, _ in shards for k in shard_keys]
        self._vectors = (
            np.concatenate([vec for _, vec in shards])
            if shards
            else np.zeros((0, self.dimension), np.float32)
        )
        self._rows = {k: i for i, k in enumerate(keys)}
        return self._rows

    def lookup(self, keys: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Vectors for ``keys`` (zeros where missing) and the positions that are missing."""
        rows = self._load()
        out = np.zeros((len(keys), self.dimension), dtype=np.float32)
        missing: list[int] = []
        found_pos: list[int] = []
        found_rows: list[int] = []
        for i, k in enumerate(keys):
            r = rows.get(k)
            if r is None:
                missing.append(i)
            else:
                found_pos.append(i)
                found_rows.append(r)
        if found_pos:
            out[found_pos] = self._vectors[found_rows]
        return out, missing

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Append new embeddings as one shard; merge shards when there are too many."""
        if not len(keys):
            return
        rows = self._load()
        fresh = [i for i, k in enumerate(keys) if k not in rows]
        if not fresh:
            return
        keys = [keys[i] for i in fresh]
        vectors = np.ascontiguousarray(vectors[fresh], dtype=np.float32)
        start = len(self._vectors)
        for i, k in enumerate(keys):
            rows[k] = start + i
        self._vectors = np.concatenate([self._vectors, vectors])

        def merged() -> pl.DataFrame:
            all_keys: list[str | None] = [None] * len(self._vectors)
            for k, r in rows.items():
                all_keys[r] = k
            keep = [i for i, k in enumerate(all_keys) if k is not None]
            return self._frame([all_keys[i] for i in keep], self._vectors[keep])

        self._shards.add(lambda: self._frame(keys, vectors), merged)

    def _frame(self, keys: Sequence[str | None], vectors: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "key": pl.Series(keys, dtype=pl.String),
                "vector": pl.Series(vectors, dtype=pl.Array(pl.Float32, self.dimension)),
            }
        )


@dataclass
class Encoder:
    """A loaded model with its prompts, fingerprint and embedding cache."""

    spec: str
    path: Path
    model: SentenceTransformer
    fingerprint: str
    query_prompt: str
    passage_prompt: str
    batch_size: int = 64
    use_cache: bool = True
    cache_writes: bool = True
    """Whether new embeddings are written to the cache (a torchrun rank other than 0 writes
    nothing; it still reads what is there)."""
    passage_context: bool = False
    """Candidates are read as the sentence followed by its paragraph (:func:`with_context`):
    ``--passage-context``, or a model trained so."""
    runtime: Runtime | None = None
    """What runs the transformer (:mod:`xlir_tui.models.backends`); None is torch."""
    display: str = ""
    """The model's name for a person (:func:`display_name`); empty: :attr:`spec`."""
    _caches: dict[str, EmbeddingCache] = field(default_factory=dict, repr=False)

    def derived(self, **changes: Any) -> Encoder:
        """A copy with ``changes`` (another model, runtime, fingerprint, prompts) and caches of
        its own: the original's, keyed by what it was, must never serve what the copy is."""
        from dataclasses import replace

        return replace(self, **changes, _caches={})

    @property
    def dimension(self) -> int:
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = getter()
        if dim is None:  # pragma: no cover - exotic pooling
            dim = int(self.model.encode(["x"], convert_to_numpy=True).shape[1])
        return int(dim)

    @property
    def name(self) -> str:
        """What a person reads in reports and messages (:func:`display_name`); manifests and
        keys use :attr:`spec`, which names a folder by its absolute path."""
        return self.display or self.spec

    @property
    def source(self) -> str | None:
        """Where an embedded model comes from (None for folders and hub names, which say it)."""
        embedded = EMBEDDED.get(self.spec)
        return embedded.source if embedded is not None else None

    @property
    def backend(self) -> str:
        """The backend that runs the transformer (``torch``, ``openvino``, ...)."""
        return self.runtime.backend if self.runtime is not None else "torch"

    def describe(self) -> dict[str, Any]:
        """The model's identity as stored in manifests and reports."""
        return {
            "model": self.spec,
            **({"source": self.source} if self.source else {}),
            "path": str(self.path),
            "fingerprint": self.fingerprint,
            "dimension": self.dimension,
            "prompts": {"query": self.query_prompt, "passage": self.passage_prompt},
            "max_seq_length": int(self.model.max_seq_length or 0),
            "passage_context": self.passage_context,
            "pooling": self.pooling,
            "backend": self.backend,
            "precision": self.precision,
            **({"runtime": self.runtime.version} if self.runtime is not None else {}),
        }

    @property
    def precision(self) -> str:
        """The arithmetic the transformer computes in: the runtime's (OpenVINO's chosen
        inference precision, ``bf16`` on processors with AVX512-BF16 or AMX; ``int8``), else
        the torch weights' type as loaded (``f32``: weights stored in half precision load as
        float32)."""
        if self.runtime is not None:
            return self.runtime.precision
        dtype = next(self.model.parameters()).dtype
        return {"torch.float32": "f32", "torch.bfloat16": "bf16", "torch.float16": "f16"}.get(
            str(dtype), str(dtype).removeprefix("torch.")
        )

    @property
    def pooling(self) -> str | None:
        """How token states become one vector (``mean``, ``lasttoken``, ...)."""
        pooler = _pooling_module(self.model)
        return str(pooler.pooling_mode) if pooler is not None else None

    def candidate_texts(self, candidates: Any) -> list[str]:
        """What the model reads of each candidate (a frame with ``text`` and ``context``)."""
        texts = candidates["text"].to_list()
        if not self.passage_context:
            return texts
        return [
            with_context(t, c) for t, c in zip(texts, candidates["context"].to_list(), strict=True)
        ]

    def encode_candidates(self, candidates: Any, progress: Progress | None = None) -> np.ndarray:
        """Embeddings of a collection's candidates, with the passage prompt (and context)."""
        return self.encode_passages(self.candidate_texts(candidates), progress=progress)

    def cache_for(self, prompt: str) -> EmbeddingCache:
        """The cache of this model, prompt and backend: vectors of one backend (or precision)
        never serve another, nor vectors computed another way (:data:`VECTORS_VERSION`)."""
        parts = [self.fingerprint, prompt, str(self.model.max_seq_length)]
        if self.runtime is not None and self.runtime.backend != "torch":
            parts.append(self.runtime.tag)
        parts.append(f"vectors={VECTORS_VERSION}")
        key = text_digest(*parts)
        if key not in self._caches:
            describe = {
                "model": self.spec,
                "fingerprint": self.fingerprint,
                "prompt": prompt,
                "max_seq_length": int(self.model.max_seq_length or 0),
                "backend": self.runtime.tag if self.runtime is not None else "torch",
                "vectors": VECTORS_VERSION,
            }
            self._caches[key] = EmbeddingCache(
                cache_root() / "embeddings" / key, self.dimension, describe
            )
        return self._caches[key]

    def encode_queries(
        self, texts: Sequence[str], progress: Progress | None = None, cache: bool | None = None
    ) -> np.ndarray:
        return self.encode(texts, self.query_prompt, progress, cache)

    def encode_passages(
        self, texts: Sequence[str], progress: Progress | None = None, cache: bool | None = None
    ) -> np.ndarray:
        return self.encode(texts, self.passage_prompt, progress, cache)

    def encode(
        self,
        texts: Sequence[str],
        prompt: str = "",
        progress: Progress | None = None,
        cache: bool | None = None,
    ) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts`` (cosine = dot product).

        A text's vector depends on the text alone, never on the texts encoded beside it: the
        texts are batched by their token count (:meth:`batches`), so no batch holds padding and
        every text gets the vector it gets when encoded by itself. With padding, a text came
        out a little differently in another batch (another padded length, other arithmetic in
        the runtime), so a report that found some of its texts in the cache ranked a few
        candidates differently from one that encoded them all. Batches without padding are
        also less work. Texts are encoded longest first; the cache is written every
        ``batch_size * 8`` texts, so an interrupted run keeps most of its work.
        """
        texts = list(texts)
        n = len(texts)
        use_cache = self.use_cache if cache is None else cache
        if n == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if use_cache:
            store = self.cache_for(prompt)
            keys = [EmbeddingCache.key(t) for t in texts]
            out, missing = store.lookup(keys)
        else:
            out = np.zeros((n, self.dimension), dtype=np.float32)
            missing = list(range(n))
        done = n - len(missing)
        if progress:
            progress(done, n)
        if not missing:
            return out
        # Unique texts only: duplicates (common in real data) are encoded once.
        unique: dict[str, list[int]] = {}
        for i in missing:
            unique.setdefault(texts[i], []).append(i)
        order = list(unique)
        pending_keys: list[str] = []
        pending: list[np.ndarray] = []
        for batch in self.batches(order, prompt):
            part = [order[i] for i in batch]
            vec = self.model.encode(
                part,
                prompt=prompt or None,
                batch_size=len(part),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32, copy=False)
            for text, v in zip(part, vec, strict=True):
                out[unique[text]] = v
            done += sum(len(unique[t]) for t in part)
            if use_cache and self.cache_writes:
                pending_keys += [EmbeddingCache.key(t) for t in part]
                pending.append(vec)
                if len(pending_keys) >= self.batch_size * 8:
                    store.add(pending_keys, np.concatenate(pending))
                    pending_keys, pending = [], []
            if progress:
                progress(done, n)
        if use_cache and pending_keys:
            store.add(pending_keys, np.concatenate(pending))
        return out

    def batches(self, texts: Sequence[str], prompt: str = "") -> list[list[int]]:
        """Positions of ``texts`` grouped into encoding batches: texts of one token count
        together (so no batch is padded), at most ``batch_size`` to a batch, the longest
        first, and within a token count in the texts' own order (sorted), so the same texts
        always make the same batches. A model whose inputs carry no attention mask (the
        token counts are unknown) gets one text a batch."""
        counts = self.token_counts(texts, prompt)
        if counts is None:
            return [[i] for i in sorted(range(len(texts)), key=lambda i: texts[i])]
        by_count: dict[int, list[int]] = {}
        for i, c in enumerate(counts):
            by_count.setdefault(c, []).append(i)
        size = max(self.batch_size, 1)
        out: list[list[int]] = []
        for c in sorted(by_count, reverse=True):
            group = sorted(by_count[c], key=lambda i: texts[i])
            out.extend(group[s : s + size] for s in range(0, len(group), size))
        return out

    def token_counts(self, texts: Sequence[str], prompt: str = "") -> list[int] | None:
        """How many tokens the model reads of each text with ``prompt`` in front (special
        tokens in, cut at the model's window), from the model's own preprocessing, so the
        counts are the ones the encoder pads to; None when its inputs have no attention
        mask."""
        preprocess = getattr(self.model, "preprocess", None)
        counts: list[int] = []
        for s in range(0, len(texts), 1024):
            chunk = list(texts[s : s + 1024])
            if preprocess is not None:
                features = preprocess(chunk, prompt=prompt or None)
            else:  # pragma: no cover - sentence-transformers before preprocess()
                features = self.model.tokenize([prompt + t for t in chunk])
            mask = features.get("attention_mask")
            if mask is None:
                return None
            counts.extend(int(x) for x in mask.sum(dim=-1).tolist())
        return counts


def with_context(sentence: str, context: str | None) -> str:
    """A candidate sentence followed by its paragraph: LAReQA's sentence-in-context input, as one
    text. The one place that builds it: training (``train --passage-context``,
    :mod:`xlir_tui.training.sampler`) and encoding (``--passage-context``,
    :meth:`Encoder.candidate_texts`) both call it, so a model reads its candidates as it was trained
    on them.

    LAReQA's reference implementation hands its response encoder the pair
    ``(sentence, context)``: the sentence, then the whole paragraph with the sentence still in it
    (two segments of one input). XTREME-R's LAReQA evaluation concatenates ``sentence + context``
    and removes newlines. A sentence-transformers model with prompts reads one text, so the pair
    becomes the sentence, a blank line and the paragraph (XLM-R and BERT tokenizers read the blank
    line as a space: XTREME-R's input with a space between the two). A paragraph of one sentence
    is that sentence alone: its context adds nothing.
    """
    return f"{sentence}\n\n{context}" if context and context != sentence else sentence


def trained_with_context(path: Path) -> bool:
    """Whether ``xlir-tui train`` trained this model on sentences with their paragraphs."""
    import json

    try:
        info = json.loads((path / TRAIN_FILE).read_text(encoding="utf-8"))
        return bool(info.get("settings", {}).get("passage_context", False))
    except (OSError, ValueError, AttributeError):
        return False


def passage_prompt_of(prompts: dict[str, str]) -> str:
    """The passage prompt of a model, under any of the names sentence-transformers accepts."""
    for name in ("passage", "document", "corpus"):
        if prompts.get(name):
            return prompts[name]
    return ""


POOLINGS = ("mean", "lasttoken")


def load_encoder(
    spec: str = DEFAULT_MODEL,
    *,
    device: str | None = None,
    trust_remote_code: bool = False,
    batch_size: int = 64,
    use_cache: bool = True,
    pooling: str | None = None,
    query_prompt: str | None = None,
    backend: str = DEFAULT_BACKEND,
    passage_context: bool | None = None,
) -> Encoder:
    """Load ``spec`` (``default``, a folder or a hub name) as an :class:`Encoder`.

    A plain transformers model (no ``modules.json``), such as a BloomZ-style causal language
    model, becomes an encoder with ``pooling``: ``lasttoken`` (the default for causal models: the
    hidden state of the last real token, the only one that has read the whole text) or ``mean``.
    With last-token pooling the tokenizer pads on the left, so the last position of every row is
    a real token, and a tokenizer without a pad token pads with its end-of-text token. A
    sentence-transformers folder keeps its own pooling. ``query_prompt`` (an instruction such as
    ``"Instruct: find the passage that answers the question\nQuery: "``) replaces the model's
    query prompt.

    ``backend`` (one of :data:`xlir_tui.models.backends.BACKENDS`) runs the transformer in torch or
    in an inference runtime; the first load of a model with a fast backend exports it into the cache
    (seconds to a few minutes). Every backend gets the same thread count
    (:func:`xlir_tui.models.backends.configure_threads`).

    ``passage_context`` reads each candidate as its sentence followed by its paragraph
    (:func:`with_context`, LAReQA's input) or as the sentence alone; None keeps what the model
    was trained with (``xlir_train.json``; the sentence alone for any other model).
    """
    if pooling is not None and pooling not in POOLINGS:
        raise ModelError(f"--pooling {pooling!r}: choose {' or '.join(POOLINGS)}")
    check_backend(backend)
    path = resolve_model(spec)
    model = _sentence_transformer(path, spec, device, trust_remote_code)
    fingerprint = model_fingerprint(path)
    pooler, fingerprint = _choose_pooling(model, path, spec, pooling, fingerprint)
    if pooler is not None:
        _set_padding(model, pooler.pooling_mode)
    prompts = dict(getattr(model, "prompts", {}) or {})
    if query_prompt is not None:
        prompts["query"] = query_prompt
        model.prompts = {**(getattr(model, "prompts", {}) or {}), "query": query_prompt}
    runtime = attach_backend(
        model, backend, fingerprint, (prompts.get("query", "") or "", passage_prompt_of(prompts))
    )
    return Encoder(
        passage_context=(
            trained_with_context(path) if passage_context is None else bool(passage_context)
        ),
        spec=canonical_spec(spec, path),
        display=display_name(spec),
        path=path,
        model=model,
        fingerprint=fingerprint,
        query_prompt=prompts.get("query", "") or "",
        passage_prompt=passage_prompt_of(prompts),
        batch_size=batch_size,
        use_cache=use_cache,
        runtime=runtime if backend != "torch" else None,
    )


def _sentence_transformer(
    path: Path, spec: str, device: str | None, trust_remote_code: bool
) -> Any:
    """The model folder as a ``SentenceTransformer``, quietly (no progress bars or warnings of
    the libraries); a folder it cannot load is one line naming it."""
    import logging
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()

        try:
            return SentenceTransformer(
                str(path),
                device=device,
                trust_remote_code=trust_remote_code,
                local_files_only=True,
            )
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"cannot load model: {first}", path=spec) from None


def _choose_pooling(
    model: Any, path: Path, spec: str, pooling: str | None, fingerprint: str
) -> tuple[Any, str]:
    """The model's pooling module after ``--pooling`` (a plain transformers model takes it; a
    sentence-transformers model keeps its own and refuses another), and the fingerprint of its
    vectors (which depend on the pooling chosen here, not only on the weights)."""
    pooler = _pooling_module(model)
    if (path / "modules.json").exists():
        if pooling is not None and pooler is not None and pooler.pooling_mode != pooling:
            raise ModelError(
                f"--pooling {pooling}: this sentence-transformers model pools with "
                f"{pooler.pooling_mode} (--pooling applies to plain transformers models)",
                path=spec,
            )
    elif pooler is not None:
        if pooling is not None and pooler.pooling_mode != pooling:
            from sentence_transformers.sentence_transformer.modules import Pooling

            index = next(i for i, m in enumerate(model) if m is pooler)
            model[index] = Pooling(pooler.embedding_dimension, pooling)
            pooler = model[index]
        # the embeddings depend on the pooling chosen here, not only on the weights
        fingerprint = text_digest(fingerprint, f"pooling={pooler.pooling_mode}")
    return pooler, fingerprint


def canonical_spec(spec: str, path: Path) -> str:
    """How a model is named in reports and manifests: an embedded model by its own name (so an
    index built with ``default`` still names its model if the default changes), a folder by its
    absolute path, a hub name as given."""
    name = embedded_name(spec)
    if name is not None:
        return name
    return str(path) if _looks_like_path(spec) else spec


def display_name(spec: str, cwd: Path | None = None) -> str:
    """The one name a person reads for a model, in reports, messages and the explorer.

    - an embedded model: its own name (``default`` is ``multilingual-e5-small``);
    - a local folder: its path as typed, relative to the working folder when it lies under it
      (``./runs/hybrid/``, ``runs/hybrid`` and ``$PWD/runs/hybrid`` are all ``runs/hybrid``;
      ``../runs/hybrid`` and ``/data/models/x`` stay as they are); a path read from a manifest
      (absolute) follows the same rule;
    - a hub name: as given (``sentence-transformers/LaBSE``).

    Manifests and reports keep the absolute path and fingerprint beside it (:meth:`Encoder.
    describe`), so the short name never stands alone where the exact model matters.
    """
    name = embedded_name(spec)
    if name is not None:
        return name
    if not _looks_like_path(spec):
        return spec
    typed = os.path.normpath(spec)
    here = Path(os.path.normpath(cwd if cwd is not None else Path.cwd()))
    where = Path(os.path.normpath(here / Path(spec).expanduser()))
    try:
        relative = where.relative_to(here)
    except ValueError:
        return typed
    return relative.as_posix() if relative.parts else "."


def _pooling_module(model: Any) -> Any:
    """The model's pooling module (None for models that pool otherwise)."""
    return next((m for m in model if type(m).__name__ == "Pooling"), None)


def _set_padding(model: Any, pooling: str) -> None:
    """Pad on the left for last-token pooling (every row then ends with a real token), on the
    right otherwise; give a tokenizer without a pad token its end-of-text token."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:  # pragma: no cover - models without a text tokenizer
        return
    tokenizer.padding_side = "left" if pooling == "lasttoken" else "right"
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token


def load_encoder_of(model: dict[str, Any], spec: str | None = None, **kwargs: Any) -> Encoder:
    """The encoder an index or report recorded (``Encoder.describe``): its model, pooling, query
    prompt and candidate input (``passage_context``), so a search encodes queries exactly as the
    candidates were encoded and says how they were read. ``spec`` loads other weights in its
    place (checked against the index by the caller)."""
    if spec is None:
        kwargs.setdefault("passage_context", bool(model.get("passage_context", False)))
    return load_encoder(
        spec or model["model"],
        pooling=model.get("pooling") if spec is None else None,
        query_prompt=model.get("prompts", {}).get("query") if spec is None else None,
        **kwargs,
    )


def exceeds_window(
    encoder: Encoder, text: str, prompt: str | None = None
) -> tuple[int, int] | None:
    """``(tokens, max_seq_length)`` when the model would cut ``text`` short, else None.

    The tokenizer truncates silently at the model's window, so a long query is answered for its
    beginning only; commands say so in a note. ``prompt`` defaults to the query prompt, which
    sentence-transformers puts in front of the text; special tokens count, as the model reads
    them.
    """
    window = int(getattr(encoder.model, "max_seq_length", 0) or 0)
    tokenizer = getattr(encoder.model, "tokenizer", None)
    if window <= 0 or tokenizer is None:
        return None
    full = (encoder.query_prompt if prompt is None else prompt) + text
    ids = tokenizer(full, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return (len(ids), window) if len(ids) > window else None
