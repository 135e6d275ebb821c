"""Dense systems: an encoder with its candidates' vectors, plain or through a language-bias
remedy fitted without training (``--debias``, :mod:`xlir_tui.retrieval.debias`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError, XlirError
from ..models.store import Models
from ..progress import Progress, StageProgress, stage_callback
from .debias import NEEDS_QUERY_LANG, identify_query_language
from .debias_fit import DebiasFit
from .debias_fits import (
    check_digests,
    index_debias,
    load_fit_source,
    model_identity,
    obtain_fit,
    plan_fit,
    plan_fits,
)
from .dense import DenseIndex, Hit, Scores, scores_of
from .retriever import Retriever, Scorer
from .specs import DebiasSpec, SystemSpec

__all__ = ["DebiasedRetriever", "DenseRetriever", "cached_index", "debiased", "index_systems"]


def vector_scorer(qvec: np.ndarray, vectors: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """The scores of queries ``lo:hi`` of ``qvec`` against every candidate, by the one rule of
    the dense index (:func:`~xlir_tui.retrieval.dense.scores_of`): for a few queries one product
    (no thread-pool fight), else block by block of candidates (:class:`Scores`)."""
    if len(qvec) <= 8:
        scores = scores_of(qvec, vectors)
        return lambda lo, hi: scores[lo:hi]
    score = Scores(vectors)
    return lambda lo, hi: score(qvec[lo:hi])


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
        return vector_scorer(qvec, np.asarray(self.index.vectors))  # a mapped index stays mapped

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


class DebiasedRetriever(DenseRetriever):
    """A dense system whose query and candidate vectors pass through a fitted language-bias
    remedy (:class:`~xlir_tui.retrieval.debias_fit.DebiasFit`) before they are compared.

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
        a language not given is identified by py3langid (center and lir need it; leace and
        subspace use none), a language the fit has no statistics for falls back to the language
        subspace.

        Identification (:func:`~xlir_tui.retrieval.debias.identify_query_language`) sees a
        query in a language the fit lacks as such (Portuguese is not centred as French) and
        otherwise tells the fit's languages apart."""
        queries = list(queries)
        langs = list(query_langs) if query_langs is not None else [None] * len(queries)
        if self.fit.method not in NEEDS_QUERY_LANG:
            return langs, []
        known = self.fit.languages["query"]
        notes: list[str] = []
        out: list[str | None] = []
        for text, lang in zip(queries, langs, strict=True):
            if lang is None:
                lang, p, within = identify_query_language(text, known)
                among = " among the fit's languages" if within else ""
                if len(queries) == 1:
                    notes.append(
                        f"query language: {lang} (identified by py3langid{among}, p={p:.2f})"
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
                f"({named}; the fit has {', '.join(known)}): the language subspace is projected "
                "out instead"
            )
        return out, notes

    def pane_note(self, query: str, lang: str | None) -> str:
        """What :meth:`query_languages` says of one query, short enough for a pane a few dozen
        columns wide, what matters first: ``center as subspace: it not in the fit (py3langid
        0.96)``, ``center as de (py3langid 1.00)``; nothing for a language given and in the fit,
        or for a remedy that uses no language."""
        if self.fit.method not in NEEDS_QUERY_LANG:
            return ""
        how = ""
        if lang is None:
            lang, p, _ = identify_query_language(query, self.fit.languages["query"])
            how = f" (py3langid {p:.2f})"
        if self.fit.unseen([lang]):
            what = f"{lang} not in the fit" if lang is not None else "language not identified"
            return f"{self.fit.method} as subspace: {what}{how}"
        return f"{self.fit.method} as {lang}{how}" if how else ""

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
        return vector_scorer(qvec, self.vectors)  # a remedy changes vectors, not scoring

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
        check_digests(path, dict(saved)[path])
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
