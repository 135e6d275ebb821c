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

A dense system may also pass its vectors through a language-bias remedy fitted without training
(``--debias``, :mod:`xlir_tui.retrieval.debias`): :class:`DebiasedRetriever` wraps it.

A :class:`SystemSpec` is what a person asks for (``--system``, ``--model``, ``--fuse``,
``--translate-query``, ``--debias``); :func:`open_system` builds it over a collection and
:func:`load_system` opens a saved one. :class:`Models` is the one place where encoders and
translation models load, each once per process. Adding a kind of system means one class with
``build``/``load``/``scorer`` and one line in :data:`KINDS` (and :data:`FORMATS` if it saves).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError, XlirError
from ..models.parallel import PARALLEL
from ..progress import Progress, StageProgress, stage_callback
from .debias import DebiasFit, DebiasSpec
from .dense import FORMAT as DENSE_FORMAT
from .dense import (
    FUSION_FORMAT,
    CandidatePool,
    DenseIndex,
    Hit,
    Scores,
    collection_manifest,
    scores_of,
)
from .lexical import LEXICAL_FORMAT, LexicalIndex, fuse
from .ranking import top_k

__all__ = [
    "FUSABLE",
    "KINDS",
    "SYSTEMS",
    "DebiasedRetriever",
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
FUSION_FORMAT_VERSION = 1
FUSION_METHODS = ("rrf", "interpolate")
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
    fuses, whether queries are translated first, and the language-bias remedy of its dense
    part (``debias``; None or ``none``: the plain vectors)."""

    system: str = "dense"
    model: str = "default"
    fusion: FusionSpec | None = None
    translate_query: TranslateQuery | None = None
    debias: DebiasSpec | None = None

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise XlirError(f"unknown --system {self.system!r} (known: {', '.join(SYSTEMS)})")
        if self.system == "fusion" and self.fusion is None:
            object.__setattr__(self, "fusion", FusionSpec())
        if self.debias is not None and self.debias.plain:
            object.__setattr__(self, "debias", None)  # one spec for the plain system
        if self.debias is not None and not self.uses_model:
            raise XlirError(
                f"--debias {self.debias.method} transforms a dense system's vectors; "
                f"{self.system} has none"
            )

    @property
    def uses_model(self) -> bool:
        """Whether building the system loads ``model`` (dense, or a fusion with a dense part)."""
        return self.system == "dense" or (
            self.system == "fusion" and self.fusion is not None and "dense" in self.fusion.parts
        )

    def part(self, system: str) -> SystemSpec:
        """The spec of one part of a fusion (same model and remedy, no translation of its
        own)."""
        return SystemSpec(system, self.model, debias=self.debias if system == "dense" else None)

    @property
    def plain(self) -> SystemSpec:
        """The same system without its remedy (what a debiased system is compared with)."""
        return SystemSpec(self.system, self.model, self.fusion, self.translate_query)


# ------------------------------------------------------------------------------ models


@dataclass
class Models:
    """Encoders and translation models, each loaded once, with the options every command shares.

    The only place that loads a model for a system: :func:`open_system` and :func:`load_system`
    both ask it, so a report comparing a dense system and a fusion over the same model encodes
    with one loaded copy.
    """

    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of :func:`xlir_tui.models.encoders.load_encoder` (batch_size,
    pooling, ...)."""
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
            from ..models.encoders import display_name, load_encoder

            self._say(f"loading model {display_name(model)} ...")
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
            from ..models.encoders import display_name, load_encoder_of

            self._say(f"loading model {display_name(recorded['model'])} ...")
            options = {
                k: v
                for k, v in self.options.items()
                if v is not None and k not in ("pooling", "query_prompt", "passage_context")
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
            from ..models.translator import Translator

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
        progress: StageProgress | None = None,
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
    """An encoder with its candidates' vectors (:class:`~xlir_tui.retrieval.dense.DenseIndex`)."""

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
        progress: StageProgress | None = None,
        cached: bool = False,
        **index_options: Any,
    ) -> DenseRetriever:
        """Encode the candidates; with ``cached``, the index is kept in the cache folder and
        opened from there next time (the explorer starts in seconds on a collection it saw)."""
        encoder = models.encoder(spec.model)
        step = stage_callback(progress, "encoding candidates")
        if cached:
            plain = cls(cached_index(collection, encoder, step), encoder)
        else:
            index = DenseIndex.build(collection, encoder, None, progress=step, **index_options)
            plain = cls(index, encoder)
        if spec.debias is None:
            return plain
        return debiased(plain, spec.debias, collection, progress=progress, say=models.notify)

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
        progress: StageProgress | None = None,
    ) -> Scorer:
        step = stage_callback(progress, "encoding questions")
        qvec = self._encoder.encode_queries(list(queries), progress=step, cache=self.query_cache)
        vectors = np.asarray(self.index.vectors)  # a memory-mapped index stays mapped
        if len(queries) <= 8:  # a few queries: one product, without a thread-pool fight
            scores = scores_of(qvec, vectors)
            return lambda lo, hi: scores[lo:hi]
        score = Scores(vectors)  # the same rule as scores_of, block by block of candidates
        return lambda lo, hi: score(qvec[lo:hi])

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


def cached_index(collection: Any, encoder: Any, progress: Progress | None = None) -> DenseIndex:
    """The index of ``collection`` for ``encoder``, built once and kept in the cache folder."""
    from ..models.encoders import VECTORS_VERSION
    from ..storage.files import cache_root, mark_used, text_digest

    key = text_digest(
        collection.fingerprint,
        encoder.fingerprint,
        encoder.passage_prompt,
        str(encoder.passage_context),
        f"vectors={VECTORS_VERSION}",
    )
    folder = cache_root() / "indexes" / key
    if (folder / "manifest.json").exists():
        try:
            index = DenseIndex.load(folder)
            index.check_encoder(encoder)
            mark_used(folder)
            return index
        except XlirError:
            pass  # a damaged cache entry is rebuilt
    return DenseIndex.build(collection, encoder, folder, cache=True, progress=progress)


class LexicalRetriever(Retriever):
    """BM25 or character n-grams over the candidates
    (:class:`~xlir_tui.retrieval.lexical.LexicalIndex`)."""

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
        progress: StageProgress | None = None,
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
        progress: StageProgress | None = None,
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
        progress: StageProgress | None = None,
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
        progress: StageProgress | None = None,
    ) -> Scorer:
        scorers = [p.scorer(queries, query_langs, progress) for p in self.parts.values()]
        return lambda lo, hi: self.spec.combine([s(lo, hi) for s in scorers])

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        from ..storage.files import atomic_dir, write_json

        collection = self.collection()
        with atomic_dir(Path(folder), overwrite=overwrite, command="index") as tmp:
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
        progress: StageProgress | None = None,
    ) -> list[str]:
        """Each query in the target language (unchanged when its language is unknown or is the
        target already)."""
        from ..models.translator import translate_queries

        queries = list(queries)
        langs = list(query_langs) if query_langs is not None else [None] * len(queries)
        known = [i for i, lang in enumerate(langs) if lang is not None]
        done = translate_queries(
            self.translator,
            [queries[i] for i in known],
            [langs[i] for i in known],  # type: ignore[misc]
            self.to,
            progress,
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
        progress: StageProgress | None = None,
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


class DebiasedRetriever(DenseRetriever):
    """A dense system whose query and candidate vectors pass through a fitted language-bias
    remedy (:class:`~xlir_tui.retrieval.debias.DebiasFit`) before they are compared.

    The candidates are transformed once, here (13k vectors: milliseconds); every query is
    transformed after encoding. Scoring and searching are exact dot products over the
    transformed vectors: the hnswlib graph of the index is built over the plain vectors, and a
    graph over transformed ones would be one more file per remedy for a scan that takes about a
    millisecond per query at XQuAD-R's size (``bench/bench_debias.py`` measures both).
    """

    def __init__(self, plain: DenseRetriever, fit: DebiasFit, source: str = "fitted") -> None:
        super().__init__(plain.index, plain.encoder)
        self.plain = plain
        self.fit = fit
        self.source = source
        """Where the fit came from: ``fitted`` now, the ``cache``, the ``index`` folder, a
        ``file`` given with --debias-fit."""
        self.query_cache = plain.query_cache
        started = time.perf_counter()
        langs = plain.index.candidates["lang"].to_list()
        self.vectors = fit.transform(plain.index.vectors, langs, "candidate")
        self.candidates_s = time.perf_counter() - started
        self.queries_s = 0.0
        self.fallback_queries = 0

    @property
    def label(self) -> str:
        return f"{self.plain.label} + {self.fit.name}"

    def describe(self) -> dict[str, Any]:
        return {
            **self.plain.describe(),
            "label": self.label,
            "debias": {**self.fit.describe(), "source": self.source},
        }

    @property
    def debias_timings(self) -> dict[str, float]:
        """Fit time (0 for a fit reused from the cache or an index) and the time spent
        transforming the candidates (once) and the queries (after encoding)."""
        fitted = self.source == "fitted"
        return {
            "debias_fit_s": round(float(self.fit.info.get("fit_s", 0.0)) if fitted else 0.0, 3),
            "debias_candidates_s": round(self.candidates_s, 3),
            "debias_queries_s": round(self.queries_s, 3),
        }

    def query_languages(
        self, queries: Sequence[str], query_langs: Sequence[str | None] | None = None
    ) -> tuple[list[str | None], list[str]]:
        """Each query's language as the remedy uses it, and the lines a person should read:
        a language not given is identified by py3langid among the fit's languages (center and
        lir need it; leace and subspace use none), a language the fit has no statistics for
        falls back to the language subspace."""
        from .debias import NEEDS_QUERY_LANG, identify_language

        queries = list(queries)
        langs = list(query_langs) if query_langs is not None else [None] * len(queries)
        if self.fit.method not in NEEDS_QUERY_LANG:
            return langs, []
        known = self.fit.languages["query"]
        notes: list[str] = []
        out: list[str | None] = []
        for text, lang in zip(queries, langs, strict=True):
            if lang is None:
                lang, p = identify_language(text, known)
                if len(queries) == 1:
                    notes.append(
                        f"query language: {lang} (identified by py3langid among the fit's "
                        f"languages, p={p:.2f})"
                        if lang is not None
                        else f"query language not identified (py3langid, p={p:.2f} at best)"
                    )
            out.append(lang)
        unseen = set(self.fit.unseen(out))
        if unseen:
            named = ", ".join(sorted(x for x in unseen if x is not None)) or "unknown"
            count = sum(1 for x in out if x in unseen)
            what = "the query" if len(queries) == 1 else f"{count} queries"
            notes.append(
                f"{self.fit.method}: {what} in a language without statistics in the fit "
                f"({named}; it has {', '.join(known)}): the language subspace is projected out "
                "instead"
            )
        return out, notes

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: Progress | None = None,
    ) -> Scorer:
        step = (lambda d, t: progress("encoding questions", d, t)) if progress else None
        queries = list(queries)
        qvec = self._encoder.encode_queries(queries, progress=step, cache=self.query_cache)
        langs, _ = self.query_languages(queries, query_langs)
        started = time.perf_counter()
        qvec = self.fit.transform(qvec, langs, "query")
        self.queries_s += time.perf_counter() - started
        unseen = set(self.fit.unseen(langs))
        self.fallback_queries = sum(1 for x in langs if x in unseen)
        vectors = self.vectors
        if len(queries) <= 8:  # a few queries: one product, without a thread-pool fight
            scores = scores_of(qvec, vectors)
            return lambda lo, hi: scores[lo:hi]
        score = Scores(vectors)  # the plain system's rule: a remedy changes vectors, not scoring
        return lambda lo, hi: score(qvec[lo:hi])

    def search(
        self,
        query: str,
        k: int = 10,
        langs: Sequence[str] | None = None,
        query_lang: str | None = None,
        ef: int | None = None,
    ) -> list[Hit]:
        """Exact, over the transformed vectors (the graph holds the plain ones)."""
        return Retriever.search(self, query, k, langs, query_lang, ef)

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        raise XlirError(
            f"{self.label} is saved as its plain index with the fit beside it (xlir-tui index "
            "--debias)"
        )


def debiased(
    plain: DenseRetriever,
    spec: DebiasSpec,
    collection: Any,
    *,
    source: Any = None,
    saved: Sequence[tuple[Path, dict[str, str]]] = (),
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> DebiasedRetriever:
    """``plain`` with the remedy ``spec`` fitted on ``collection`` (the pool) or on
    ``--debias-fit`` (``source``: that collection or fit, loaded once by the caller), reusing a
    fit of the same key from ``saved`` (an index folder's) or the cache."""
    from .debias import load_fit_source, obtain_fit, plan_fit

    if source is None and spec.fit:
        source = load_fit_source(spec)
    plan = plan_fit(spec, collection, source)
    fit, how = obtain_fit(
        plan,
        plain.encoder,
        pool_vectors=plain.index.vectors,
        saved=saved,
        progress=progress,
        say=say,
    )
    return DebiasedRetriever(plain, fit, how)


def index_debias(
    index: DenseIndex,
) -> tuple[list[str], list[tuple[Path, dict[str, dict[str, Any]]]]]:
    """The remedies an index folder was built with (its own system first) and its saved fits
    (each fit's JSON path with its files' entries of the manifest's file table)."""
    block = index.manifest.get("debias") or {}
    methods = [str(m) for m in block.get("systems", [])]
    files = index.manifest.get("files", {})
    saved = []
    if index.folder is not None:
        for entry in (block.get("fits") or {}).values():
            json_name = entry["file"]
            arrays = str(Path(json_name).with_suffix(".safetensors").as_posix())
            digests = {Path(name).name: files.get(name, {}) for name in (json_name, arrays)}
            saved.append((index.folder / json_name, digests))
    return methods, saved


def index_systems(
    plain: Retriever,
    specs: Sequence[DebiasSpec],
    *,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> list[Retriever]:
    """The systems ``search`` and ``explore`` open from an index: ``plain`` (what
    :func:`load_system` gave) with each remedy of ``specs``; none given, the index's own system
    (the first remedy it was built with, from its saved fit). A fit the index keeps with the
    same key is reused; another is fitted on the index's collection (or ``--debias-fit``) and
    kept in the cache."""
    if not isinstance(plain, DenseRetriever):
        if any(not d.plain for d in specs):
            raise XlirError(f"--debias transforms a dense system's vectors; {plain.label} has none")
        return [plain]
    methods, saved = index_debias(plain.index)
    if not specs:
        own = methods[0] if methods else "none"
        if own == "none":
            return [plain]
        path = next((p for p, _ in saved if p.stem == own), None)
        if path is None:
            raise IndexFormatError(f"the manifest names no {own} fit", path=plain.index.folder)
        from .debias import _check_digests, model_identity

        _check_digests(path, dict(saved)[path])
        fit = DebiasFit.load(path)
        fit.check_model(model_identity(plain.encoder), path)
        return [DebiasedRetriever(plain, fit, "index")]
    collection = plain.collection()
    plans = {p.spec: p for p in plan_fits(specs, collection)}
    out: list[Retriever] = []
    for spec in specs:
        if spec.plain:
            out.append(plain)
            continue
        from .debias import obtain_fit

        fit, how = obtain_fit(
            plans[spec],
            plain.encoder,
            pool_vectors=plain.index.vectors,
            saved=saved,
            progress=progress,
            say=say,
        )
        out.append(DebiasedRetriever(plain, fit, how))
    return out


class ParallelRetriever(TranslatedRetriever):
    """Translate-test with a perfect translator: each of a collection's questions searched as
    its own human translation in one language
    (:class:`~xlir_tui.models.parallel.ParallelQuestions`, ``--mt parallel``). Reported as any
    translated system, with ``translate_query: {to, mt: "parallel"}``."""

    def __init__(self, inner: Retriever, parallel: Any) -> None:
        super().__init__(inner, parallel, parallel.to)

    @property
    def label(self) -> str:
        return f"{self.inner.label} (queries: their own {self.to} version)"

    def translate(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None,
        progress: StageProgress | None = None,
    ) -> list[str]:
        langs = list(query_langs) if query_langs is not None else [None] * len(queries)
        return self.translator.translate_questions(queries, langs)


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
    progress: StageProgress | None = None,
    **index_options: Any,
) -> Retriever:
    """Build ``spec`` over ``collection`` (encoding its candidates for a dense part)."""
    models = models or Models()
    translate = spec.translate_query
    questions = None
    if translate is not None and translate.mt == PARALLEL:
        from ..models.parallel import ParallelQuestions

        # refused here, before any encoding, when the collection lacks the questions
        questions = ParallelQuestions.of(collection, translate.to)
    retriever = KINDS[spec.system].build(collection, spec, models, progress, **index_options)
    if questions is not None:
        retriever = ParallelRetriever(retriever, questions)
    elif translate is not None:
        retriever = TranslatedRetriever(retriever, models.translator(translate.mt), translate.to)
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


def plan_fits(specs: Sequence[DebiasSpec], pool: Any) -> list[Any]:
    """Each remedy of ``specs`` checked against ``pool`` before any model loads (one load of
    each ``--debias-fit`` source however many remedies share it)."""
    from .debias import load_fit_source, plan_fit

    sources: dict[tuple[str, ...], Any] = {}
    plans = []
    for spec in specs:
        if spec.plain:
            continue
        if spec.fit and spec.fit not in sources:
            sources[spec.fit] = load_fit_source(spec)
        plans.append(plan_fit(spec, pool, sources.get(spec.fit)))
    return plans


def attach_fits(folder: Path, methods: Sequence[str], fits: dict[str, DebiasFit]) -> dict[str, Any]:
    """Write each fit into ``folder/debias/`` and return the index manifest's ``debias`` block:
    the remedies named (the first is the index's own system) and each fit's file."""
    entries: dict[str, Any] = {}
    for method, fit in fits.items():
        json_path = folder / "debias" / f"{method}.json"
        json_path.parent.mkdir(parents=True, exist_ok=True)
        fit.save(json_path)
        entries[method] = {
            "file": f"debias/{method}.json",
            "name": fit.name,
            "parameters": fit.parameters,
            "key": fit.info.get("key"),
            "fit_collection": fit.info.get("fit_collection"),
        }
    return {"debias": {"systems": list(methods), "fits": entries}}
