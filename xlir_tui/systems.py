"""Retrieval systems: one contract, one registry, and the one route by which models load.

A **system** is what the bias report and the explorer compare: an encoder with its vectors (and
an hnswlib graph), a lexical retriever (``bm25``, ``chargram``), a fusion of two or more
systems, or any of them with machine-translated queries (translate-test). Every one is a
:class:`Retriever` over a collection's candidate pool, with one contract:

- ``label`` (what a person reads), ``system`` (its kind), ``describe()`` (what a report or a
  manifest records);
- ``scorer(queries, query_langs)``: the scores of a batch of queries against every candidate,
  as a function of a query range (the report scores in chunks; the queries' own preparation,
  encoding or translating, happens once, when the scorer is made); ``scores`` is its whole
  range, and ``search`` the top-k hits over the pool or some of its languages;
- ``save(folder)``: an index folder that :func:`load_system` opens again, by the ``format`` its
  manifest names.

A :class:`SystemSpec` is what a person asks for (``--system``, ``--model``, ``--fuse``,
``--translate-query``); :func:`open_system` builds it over a collection and :func:`load_system`
opens a saved one. :class:`Models` is the one place where encoders and translation models load,
each once per process. Adding a kind of system means one class with ``build``/``load``/
``scorer`` and one line in :data:`KINDS` (and :data:`FORMATS` if it saves).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexFormatError, XlirError
from .index import FORMAT as DENSE_FORMAT
from .index import CandidatePool, DenseIndex, Hit, collection_manifest, scores_of
from .lexical import LEXICAL_FORMAT, LexicalIndex, fuse
from .metrics import top_k

__all__ = [
    "FUSABLE",
    "KINDS",
    "SYSTEMS",
    "FusionSpec",
    "Models",
    "Retriever",
    "SystemSpec",
    "TranslateQuery",
    "index_format",
    "load_system",
    "open_system",
]

SYSTEMS = ("dense", "bm25", "chargram", "fusion")
"""The kinds a person names with ``--system``."""
LEXICAL = ("bm25", "chargram")
FUSABLE = ("dense", "bm25", "chargram")
FUSION_FORMAT = "xlir-tui/fusion-index"
FUSION_FORMAT_VERSION = 1
FUSION_METHODS = ("rrf", "interpolate")
Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""
Scorer = Callable[[int, int], np.ndarray]
"""Scores of queries ``lo:hi`` (of the batch the scorer was made for) against every candidate."""


# --------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class FusionSpec:
    """Which systems are fused (``parts``), by which ``method``, with one weight per part."""

    parts: tuple[str, ...] = ("dense", "chargram")
    method: str = "rrf"
    weights: tuple[float, ...] = (0.5, 0.5)

    @classmethod
    def parse(
        cls, fuse: str | None = None, method: str = "rrf", weight: str | float | None = None
    ) -> FusionSpec:
        """From the CLI's ``--fuse dense,chargram``, ``--fusion-method`` and ``--fusion-weight``.

        ``--fusion-weight`` is one number, the first part's weight (the others share the rest
        equally), or one number per part, comma-separated. Without it the parts weigh the same.
        """
        parts = tuple(p.strip() for p in (fuse or "dense,chargram").split(",") if p.strip())
        bad = [p for p in parts if p not in FUSABLE]
        if bad:
            raise XlirError(
                f"--fuse {','.join(bad)}: fusion combines {', '.join(FUSABLE)}, two or more of them"
            )
        if len(parts) < 2 or len(set(parts)) != len(parts):
            raise XlirError(f"--fuse {','.join(parts)}: name two or more different systems")
        if method not in FUSION_METHODS:
            raise XlirError(f"unknown fusion method {method!r} (rrf, interpolate)")
        if weight is None or weight == "":
            weights = tuple(1.0 / len(parts) for _ in parts)
        else:
            try:
                given = [float(w) for w in str(weight).split(",")]
            except ValueError:
                raise XlirError(f"--fusion-weight {weight!r} is not a number or a list") from None
            if any(not 0.0 <= w <= 1.0 for w in given):
                raise XlirError(f"--fusion-weight must be between 0 and 1, got {weight}")
            if len(given) == 1:
                rest = (1.0 - given[0]) / (len(parts) - 1)
                weights = (given[0], *[rest] * (len(parts) - 1))
            elif len(given) == len(parts):
                weights = tuple(given)
            else:
                raise XlirError(
                    f"--fusion-weight gives {len(given)} weights for {len(parts)} fused systems"
                )
        return cls(parts, method, tuple(round(w, 6) for w in weights))

    def to_dict(self) -> dict[str, Any]:
        return {"parts": list(self.parts), "method": self.method, "weights": list(self.weights)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionSpec:
        return cls.parse(
            ",".join(data["parts"]), data["method"], ",".join(map(str, data["weights"]))
        )

    def label(self, model: str | None = None) -> str:
        """``fusion(default+chargram, rrf, 0.5/0.5)``: the dense part is named by its model."""
        names = [model if p == "dense" and model else p for p in self.parts]
        weights = "/".join(f"{w:g}" for w in self.weights)
        return f"fusion({'+'.join(names)}, {self.method}, {weights})"

    def combine(self, score_sets: Sequence[np.ndarray]) -> np.ndarray:
        return fuse(score_sets, self.method, self.weights)


@dataclass(frozen=True)
class TranslateQuery:
    """Translate-test: queries are machine-translated ``to`` a language by ``mt`` first."""

    to: str
    mt: str

    def to_dict(self, mt_name: str | None = None) -> dict[str, Any]:
        return {"to": self.to, "mt": mt_name or self.mt}


@dataclass(frozen=True)
class SystemSpec:
    """A system as a person asks for it: its kind, the model of its dense part, how a fusion
    fuses, and whether queries are translated first."""

    system: str = "dense"
    model: str = "default"
    fusion: FusionSpec | None = None
    translate_query: TranslateQuery | None = None

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise XlirError(f"unknown --system {self.system!r} (known: {', '.join(SYSTEMS)})")
        if self.system == "fusion" and self.fusion is None:
            object.__setattr__(self, "fusion", FusionSpec())

    @property
    def uses_model(self) -> bool:
        """Whether building the system loads ``model`` (dense, or a fusion with a dense part)."""
        return self.system == "dense" or (
            self.system == "fusion" and self.fusion is not None and "dense" in self.fusion.parts
        )

    def part(self, system: str) -> SystemSpec:
        """The spec of one part of a fusion (same model, no translation of its own)."""
        return SystemSpec(system, self.model)


# ------------------------------------------------------------------------------ models


@dataclass
class Models:
    """Encoders and translation models, each loaded once, with the options every command shares.

    The only place that loads a model for a system: :func:`open_system` and :func:`load_system`
    both ask it, so a report comparing a dense system and a fusion over the same model encodes
    with one loaded copy.
    """

    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of :func:`xlir_tui.encoders.load_encoder` (batch_size, pooling, ...)."""
    notify: Callable[[str], None] | None = None
    """Told ``loading model X ...`` before a slow load."""
    _encoders: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _translators: dict[str, Any] = field(default_factory=dict, repr=False)

    def _say(self, text: str) -> None:
        if self.notify is not None:
            self.notify(text)

    def encoder(self, model: str) -> Any:
        """The encoder of ``model`` with this store's options."""
        key = (model, json.dumps(self.options, sort_keys=True, default=str))
        if key not in self._encoders:
            from .encoders import load_encoder

            self._say(f"loading model {model} ...")
            options = {k: v for k, v in self.options.items() if v is not None}
            self._encoders[key] = load_encoder(model, **options)
        return self._encoders[key]

    def encoder_of(self, recorded: dict[str, Any], model: str | None = None) -> Any:
        """The encoder an index recorded (``Encoder.describe``): its model, pooling and query
        prompt, so queries are encoded exactly as the candidates were; ``model`` loads other
        weights in its place (checked against the index by the caller)."""
        if model is not None:
            return self.encoder(model)
        key = ("recorded", json.dumps(recorded, sort_keys=True, default=str))
        if key not in self._encoders:
            from .encoders import load_encoder_of

            self._say(f"loading model {recorded['model']} ...")
            options = {
                k: v
                for k, v in self.options.items()
                if v is not None and k not in ("pooling", "query_prompt")
            }
            # queries are encoded as the candidates were, unless another backend is asked for
            options.setdefault("backend", recorded.get("backend", "torch"))
            self._encoders[key] = load_encoder_of(recorded, **options)
        return self._encoders[key]

    def keep(self, encoder: Any) -> None:
        """Serve an encoder loaded elsewhere (an index's own) when its model is asked for."""
        key = (encoder.spec, json.dumps(self.options, sort_keys=True, default=str))
        self._encoders.setdefault(key, encoder)

    def translator(self, mt: str) -> Any:
        if mt not in self._translators:
            from .translation import Translator

            self._say(f"loading translation model {mt} ...")
            self._translators[mt] = Translator.load(mt)
        return self._translators[mt]


# --------------------------------------------------------------------------- retrievers


class Retriever:
    """The contract every system keeps (see the module docstring); subclasses give ``scorer``,
    ``label``, ``describe``, ``save`` and, when they have one, a faster ``search``."""

    system: str = ""
    sparse: bool = False
    """Lexical scores: a zero means no token or n-gram in common, not a weak match."""
    query_cache: bool = True
    """Whether encoded queries go to the embedding cache: a report's questions are worth
    keeping, an explorer's keystrokes are not (each would be a cache file)."""

    def keep_queries(self, keep: bool) -> None:
        """Set :attr:`query_cache` for this system and every system it is made of."""
        self.query_cache = keep

    def __init__(self, pool: CandidatePool, collection: Any = None) -> None:
        self.pool = pool
        self._collection = collection

    @property
    def label(self) -> str:
        raise NotImplementedError

    @property
    def encoder(self) -> Any:
        """The encoder queries pass through (a dense system's, a translated or fused dense
        part's); None for a system without one."""
        return None

    def collection(self) -> Any:
        """The collection the system scores."""
        return self._collection

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "system": self.system}

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: Progress | None = None,
    ) -> Scorer:
        raise NotImplementedError

    def scores(
        self, queries: Sequence[str], query_langs: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """(n_queries, n_candidates) scores, exact."""
        return self.scorer(queries, query_langs)(0, len(queries))

    def searched_as(
        self, queries: Sequence[str], query_langs: Sequence[str | None] | None = None
    ) -> list[str]:
        """The text each query is searched as (translate-test rewrites it; others keep it)."""
        return list(queries)

    def search(
        self,
        query: str,
        k: int = 10,
        langs: Sequence[str] | None = None,
        query_lang: str | None = None,
        ef: int | None = None,
    ) -> list[Hit]:
        """The top ``k`` of the pool or of ``langs``; a sparse system shows only matches.
        ``ef`` is the hnsw search beam of a system that searches a graph (others need none)."""
        if not query.strip():
            raise XlirError("empty query")
        if k < 1:
            raise XlirError(f"-k must be at least 1, got {k}")
        rows = self.pool.rows_for(langs)
        scores = self.scores([query], [query_lang])[0]
        best = top_k(scores, k, rows, self.pool.tie_key, positive_only=self.sparse)
        return self.pool.hits(best, scores[best])

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        raise XlirError(f"{self.label} cannot be saved as an index")

    def check_collection(self, collection: Any, where: Any = None) -> None:
        """Refuse to score a collection other than the one this system was built over."""
        if list(self.pool.candidates["id"]) != list(collection.candidates["id"]):
            raise XlirError(
                "holds other candidates than the collection being scored "
                "(another collection, or other --langs)",
                path=where,
            )


class DenseRetriever(Retriever):
    """An encoder with its candidates' vectors (:class:`~xlir_tui.index.DenseIndex`)."""

    system = "dense"

    def __init__(self, index: DenseIndex, encoder: Any) -> None:
        super().__init__(index, None)
        self.index = index
        self._encoder = encoder

    @property
    def encoder(self) -> Any:
        return self._encoder

    @property
    def label(self) -> str:
        return str(self._encoder.name)

    def collection(self) -> Any:
        return self.index.collection()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self._encoder.describe()}

    @classmethod
    def build(
        cls,
        collection: Any,
        spec: SystemSpec,
        models: Models,
        progress: Progress | None = None,
        cached: bool = False,
        **index_options: Any,
    ) -> DenseRetriever:
        """Encode the candidates; with ``cached``, the index is kept in the cache folder and
        opened from there next time (the explorer starts in seconds on a collection it saw)."""
        encoder = models.encoder(spec.model)
        step = (lambda d, t: progress("encoding candidates", d, t)) if progress else None
        if cached:
            return cls(cached_index(collection, encoder, step), encoder)
        index = DenseIndex.build(collection, encoder, None, progress=step, **index_options)
        return cls(index, encoder)

    @classmethod
    def load(cls, folder: Path, models: Models, model: str | None = None) -> DenseRetriever:
        index = DenseIndex.load(folder)
        encoder = models.encoder_of(index.manifest["model"], model)
        index.check_encoder(encoder)
        return cls(index, encoder)

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: Progress | None = None,
    ) -> Scorer:
        step = (lambda d, t: progress("encoding questions", d, t)) if progress else None
        qvec = self._encoder.encode_queries(list(queries), progress=step, cache=self.query_cache)
        vectors = np.asarray(self.index.vectors)  # a memory-mapped index stays mapped
        if len(queries) <= 8:  # a few queries: one product, without a thread-pool fight
            scores = scores_of(qvec, vectors)
            return lambda lo, hi: scores[lo:hi]
        # BLAS reads the transposed view as it is: a transposed copy would double the vectors'
        # memory (1.5 GB at 10^6 candidates) for no speed (bench/bench_scale.py)
        return lambda lo, hi: qvec[lo:hi] @ vectors.T

    def search(
        self,
        query: str,
        k: int = 10,
        langs: Sequence[str] | None = None,
        query_lang: str | None = None,
        ef: int | None = None,
    ) -> list[Hit]:
        """Through the hnswlib graph for the whole pool, exactly for a language subset."""
        return self.index.search(self._encoder, query, k=k, langs=langs, ef=ef)

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        self.index.save(Path(folder), overwrite=overwrite)


def cached_index(
    collection: Any, encoder: Any, progress: Callable[[int, int], None] | None = None
) -> DenseIndex:
    """The index of ``collection`` for ``encoder``, built once and kept in the cache folder."""
    from .paths import cache_root, text_digest

    key = text_digest(
        collection.fingerprint,
        encoder.fingerprint,
        encoder.passage_prompt,
        str(encoder.passage_context),
    )
    folder = cache_root() / "indexes" / key
    if (folder / "manifest.json").exists():
        try:
            index = DenseIndex.load(folder)
            index.check_encoder(encoder)
            return index
        except XlirError:
            pass  # a damaged cache entry is rebuilt
    return DenseIndex.build(collection, encoder, folder, overwrite=True, progress=progress)


class LexicalRetriever(Retriever):
    """BM25 or character n-grams over the candidates (:class:`~xlir_tui.lexical.LexicalIndex`)."""

    sparse = True

    def __init__(self, index: LexicalIndex) -> None:
        super().__init__(index.pool, None)
        self.index = index
        self.system = index.system

    @property
    def label(self) -> str:
        return self.system

    def collection(self) -> Any:
        return self.index.collection()

    @classmethod
    def build(
        cls,
        collection: Any,
        spec: SystemSpec,
        models: Models,
        progress: Progress | None = None,
        **_: Any,
    ) -> LexicalRetriever:
        if progress:
            progress(f"indexing with {spec.system}", 0, 1)
        return cls(LexicalIndex.build(collection, spec.system))

    @classmethod
    def load(cls, folder: Path, models: Models, model: str | None = None) -> LexicalRetriever:
        return cls(LexicalIndex.load(folder))

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: Progress | None = None,
    ) -> Scorer:
        queries = list(queries)
        score = self.index.retriever.scores
        return lambda lo, hi: score(queries[lo:hi])

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        self.index.save(Path(folder), overwrite=overwrite)


class FusionRetriever(Retriever):
    """Two or more systems whose scores are fused (:class:`FusionSpec`). Saved as one ordinary
    index folder per part beside a manifest holding the spec, so each part is checked on load
    exactly as it is alone."""

    system = "fusion"

    def __init__(self, parts: dict[str, Retriever], spec: FusionSpec, collection: Any) -> None:
        first = next(iter(parts.values()))
        super().__init__(first.pool, collection)
        self.parts = parts
        self.spec = spec

    @property
    def dense(self) -> DenseRetriever | None:
        part = self.parts.get("dense")
        return part if isinstance(part, DenseRetriever) else None

    @property
    def encoder(self) -> Any:
        return self.dense.encoder if self.dense is not None else None

    @property
    def label(self) -> str:
        dense = self.dense
        return self.spec.label(dense.label if dense is not None else None)

    def collection(self) -> Any:
        return self._collection or next(iter(self.parts.values())).collection()

    def keep_queries(self, keep: bool) -> None:
        super().keep_queries(keep)
        for part in self.parts.values():
            part.keep_queries(keep)

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "fusion": self.spec.to_dict()}
        if self.dense is not None:
            out["model"] = self.dense.encoder.describe()
        return out

    @classmethod
    def build(
        cls,
        collection: Any,
        spec: SystemSpec,
        models: Models,
        progress: Progress | None = None,
        **index_options: Any,
    ) -> FusionRetriever:
        fusion = spec.fusion or FusionSpec()
        parts = {
            p: KINDS[p].build(collection, spec.part(p), models, progress, **index_options)
            for p in fusion.parts
        }
        return cls(parts, fusion, collection)

    @classmethod
    def load(cls, folder: Path, models: Models, model: str | None = None) -> FusionRetriever:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexFormatError(f"unreadable manifest: {e}", path=folder) from None
        if manifest.get("format") != FUSION_FORMAT:
            raise IndexFormatError("not an xlir-tui fusion index", path=folder)
        if manifest.get("format_version") != FUSION_FORMAT_VERSION:
            raise IndexFormatError(
                "unsupported fusion index format; rebuild with xlir-tui index", path=folder
            )
        try:
            spec = FusionSpec.from_dict(manifest["fusion"])
        except (KeyError, TypeError, XlirError) as e:
            raise IndexFormatError(f"bad fusion block in the manifest: {e}", path=folder) from None
        fingerprint = manifest.get("collection", {}).get("fingerprint")
        parts: dict[str, Any] = {}
        # the lexical parts first: a damaged folder fails before any model loads
        for part in sorted(spec.parts, key=lambda p: p == "dense"):
            parts[part] = _load_part(part, folder / part, models, model)
            if parts[part].index.manifest["collection"]["fingerprint"] != fingerprint:
                raise IndexFormatError(
                    f"part {part} was built from another collection", path=folder / part
                )
        return cls({p: parts[p] for p in spec.parts}, spec, None)

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: Progress | None = None,
    ) -> Scorer:
        scorers = [p.scorer(queries, query_langs, progress) for p in self.parts.values()]
        return lambda lo, hi: self.spec.combine([s(lo, hi) for s in scorers])

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        from .paths import atomic_dir, write_json

        collection = self.collection()
        with atomic_dir(Path(folder), overwrite=overwrite) as tmp:
            for name, part in self.parts.items():
                part.save(tmp / name)
            write_json(
                tmp / "manifest.json",
                {
                    "format": FUSION_FORMAT,
                    "format_version": FUSION_FORMAT_VERSION,
                    "system": "fusion",
                    "fusion": self.spec.to_dict(),
                    "collection": collection_manifest(collection),
                },
            )


def _load_part(part: str, folder: Path, models: Models, model: str | None) -> Retriever:
    retriever = (LexicalRetriever if part in LEXICAL else DenseRetriever).load(
        folder, models, model
    )
    if retriever.system != part:
        raise IndexFormatError(f"holds a {retriever.system} index, not {part}", path=folder)
    return retriever


class TranslatedRetriever(Retriever):
    """Any system whose queries are first machine-translated into one language (translate-test).
    Queries already in that language, or in no known language, are searched as they are."""

    def __init__(self, inner: Retriever, translator: Any, to: str) -> None:
        super().__init__(inner.pool, None)
        self.inner = inner
        self.translator = translator
        self.to = to
        self.system = inner.system
        self.sparse = inner.sparse

    @property
    def label(self) -> str:
        return f"{self.inner.label} (queries translated to {self.to} by {self.translator.name})"

    def keep_queries(self, keep: bool) -> None:
        super().keep_queries(keep)
        self.inner.keep_queries(keep)

    @property
    def encoder(self) -> Any:
        return self.inner.encoder

    def collection(self) -> Any:
        return self.inner.collection()

    def describe(self) -> dict[str, Any]:
        return {
            **self.inner.describe(),
            "label": self.label,
            "translate_query": {"to": self.to, "mt": self.translator.name},
        }

    def translate(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None,
        progress: Progress | None = None,
    ) -> list[str]:
        """Each query in the target language (unchanged when its language is unknown or is the
        target already)."""
        from .translation import translate_queries

        queries = list(queries)
        langs = list(query_langs) if query_langs is not None else [None] * len(queries)
        known = [i for i, lang in enumerate(langs) if lang is not None]
        stage = (lambda name: lambda d, t: progress(name, d, t)) if progress else None
        done = translate_queries(
            self.translator,
            [queries[i] for i in known],
            [langs[i] for i in known],  # type: ignore[misc]
            self.to,
            stage,
        )
        for i, text in zip(known, done, strict=True):
            queries[i] = text
        return queries

    def searched_as(
        self, queries: Sequence[str], query_langs: Sequence[str | None] | None = None
    ) -> list[str]:
        return self.translate(queries, query_langs)

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: Progress | None = None,
    ) -> Scorer:
        started = time.perf_counter()
        translated = self.translate(queries, query_langs, progress)
        self.translate_s = time.perf_counter() - started
        return self.inner.scorer(translated, query_langs, progress)

    def search(
        self,
        query: str,
        k: int = 10,
        langs: Sequence[str] | None = None,
        query_lang: str | None = None,
        ef: int | None = None,
    ) -> list[Hit]:
        searched = self.translate([query], [query_lang])[0]
        return self.inner.search(searched, k, langs, query_lang, ef)


KINDS: dict[str, Any] = {
    "dense": DenseRetriever,
    "bm25": LexicalRetriever,
    "chargram": LexicalRetriever,
    "fusion": FusionRetriever,
}
"""Each kind of system by its ``--system`` name."""
FORMATS: dict[str, Any] = {
    DENSE_FORMAT: DenseRetriever,
    LEXICAL_FORMAT: LexicalRetriever,
    FUSION_FORMAT: FusionRetriever,
}
"""Each kind that saves, by the ``format`` its index manifest names."""


# --------------------------------------------------------------------------- registry


def open_system(
    collection: Any,
    spec: SystemSpec,
    models: Models | None = None,
    progress: Progress | None = None,
    **index_options: Any,
) -> Retriever:
    """Build ``spec`` over ``collection`` (encoding its candidates for a dense part)."""
    models = models or Models()
    retriever = KINDS[spec.system].build(collection, spec, models, progress, **index_options)
    if spec.translate_query is not None:
        retriever = TranslatedRetriever(
            retriever, models.translator(spec.translate_query.mt), spec.translate_query.to
        )
    return retriever


def index_format(folder: Path) -> str | None:
    """The ``format`` of an index folder's manifest (None when there is none to read)."""
    try:
        return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8")).get(
            "format"
        )
    except (OSError, ValueError, AttributeError):
        return None


def load_system(
    folder: str | Path, models: Models | None = None, model: str | None = None
) -> Retriever:
    """Open any index folder that ``xlir-tui index`` writes, by the format its manifest names;
    ``model`` encodes queries with other weights than the index's own (checked against it)."""
    kind = FORMATS.get(index_format(Path(folder)) or "", DenseRetriever)
    return kind.load(Path(folder), models or Models(), model)


def check_index_folder(folder: str | Path) -> CandidatePool:
    """Every check of an index folder that needs no model (files, sizes, formats), so a damaged
    folder fails in one line before a slow model load; returns its candidates, so that asked-for
    languages can be checked before that load too."""
    folder = Path(folder)
    kind = index_format(folder)
    if kind == FUSION_FORMAT:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        pools = [
            check_index_folder(folder / p) for p in FusionSpec.from_dict(manifest["fusion"]).parts
        ]
        return pools[0]
    if kind == LEXICAL_FORMAT:
        return LexicalIndex.load(folder).pool
    return DenseIndex.load(folder)


# --------------------------------------------------------------------------- index folders


@dataclass
class IndexPlan:
    """What ``xlir-tui index`` is asked to write, checked before any model loads."""

    collection: list[Path]
    out: Path
    spec: SystemSpec = field(default_factory=SystemSpec)
    file_lang: str | None = None
    strict: bool = False
    m: int | None = None
    ef_construction: int | None = None
    ef: int | None = None
    """hnsw parameters; None: chosen by the pool's size (:func:`.index.hnsw_parameters`)."""
    overwrite: bool = False
    encoder_options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.spec.translate_query is not None:
            raise XlirError("an index holds the candidates: translate queries when searching")
        for name, value, low in (
            ("m", self.m, 2),
            ("ef-construction", self.ef_construction, 1),
            ("ef", self.ef, 1),
        ):
            if value is not None and value < low:
                raise XlirError(f"--{name} must be at least {low}, got {value}")
        from .paths import check_output

        check_output(Path(self.out), overwrite=self.overwrite)


def build_index(
    plan: IndexPlan,
    progress: Progress | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[Retriever, str]:
    """Build the plan's system over its collection and save it; return it and a summary line.

    Under ``torchrun`` the candidates are encoded by every rank and rank 0 writes the index
    (:mod:`xlir_tui.distributed`); the other ranks return None and an empty line.
    """
    from .collections import load_collection
    from .distributed import build_index_ranks, launched

    ranks = launched()
    if ranks is not None:
        return build_index_ranks(plan, ranks, progress, notify)  # type: ignore[return-value]
    plan.validate()
    say = notify or (lambda _text: None)
    collection = load_collection(plan.collection, lang=plan.file_lang, strict=plan.strict)
    summary = collection.skipped_summary()
    if summary:
        say(f"warning: {summary}")
    from .paths import check_free_space

    # vectors, graph and the collection's tables: a few KB a candidate at most
    check_free_space(Path(plan.out), collection.candidates.height * 8192)
    started = time.perf_counter()
    retriever = open_system(
        collection,
        plan.spec,
        Models(dict(plan.encoder_options), say),
        progress,
        m=plan.m,
        ef_construction=plan.ef_construction,
        ef=plan.ef,
    )
    retriever.save(Path(plan.out), overwrite=plan.overwrite)
    pool = retriever.pool
    return retriever, (
        f"indexed {pool.size} candidates in {len(pool.languages)} languages with "
        f"{retriever.label} in {time.perf_counter() - started:.1f} s -> {plan.out}"
    )
