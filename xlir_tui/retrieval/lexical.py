"""Lexical retrievers beside the encoders: BM25 over words, character n-gram TF-IDF, and fusion.

Lexical baselines matter for language bias: they cannot cross scripts at all, yet within one
language they are strong, so a report that puts them next to every encoder shows what an encoder
adds and where it loses. Each retriever scores a list of queries against all candidates of a
collection (``scores``), which is what the bias-report metrics and the explorer's panes consume.

- :func:`tokenize` works for every script: lower-cased word tokens where words are separated by
  spaces, and overlapping character bigrams inside runs of scripts written without spaces
  (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar), the usual choice for BM25 on Chinese,
  Japanese and Thai without a dictionary segmenter.
- :class:`BM25Retriever` uses ``bm25s`` (scipy sparse scoring), saved as its own npy/JSON files.
- :class:`CharGramRetriever` is TF-IDF over character 3-5-grams within word boundaries with
  sublinear term frequency (scikit-learn), L2-normalised so that scores are cosines.
- :func:`fuse` combines the scores of two or more retrievers: reciprocal-rank fusion, or
  interpolation of per-query min-max normalised scores, with weights.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError, XlirError
from .dense import CandidatePool, check_file_table, collection_manifest, collection_of, file_table

# Scripts written without spaces between words.
_NO_SPACE = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1780-\u17ff"  # Khmer
    "\u1000-\u109f"  # Myanmar
)
_TOKEN = re.compile(rf"[{_NO_SPACE}]+|[^\W_]+", re.UNICODE)
_NO_SPACE_RUN = re.compile(rf"^[{_NO_SPACE}]+$")


def tokenize(text: str) -> list[str]:
    """Word tokens, and character bigrams inside runs of scripts written without spaces."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.casefold()):
        run = match.group()
        if _NO_SPACE_RUN.match(run) and len(run) > 1:
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


class BM25Retriever:
    """BM25 (Robertson and Zaragoza's Lucene variant, ``bm25s``) over :func:`tokenize` tokens."""

    system = "bm25"

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> BM25Retriever:
        import bm25s

        model = bm25s.BM25(k1=k1, b=b)
        model.index([tokenize(t) or [""] for t in texts], show_progress=False)
        return cls(model)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """(n_queries, n_candidates) BM25 scores; a query with no known token scores 0."""
        n = self.model.scores["num_docs"]
        out = np.zeros((len(queries), n), dtype=np.float32)
        vocab = self.model.vocab_dict
        for i, q in enumerate(queries):
            tokens = [t for t in tokenize(q) if t in vocab]
            if tokens:
                out[i] = self.model.get_scores(tokens)
        return out

    def save(self, folder: Path) -> None:
        self.model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Retriever:
        import bm25s

        try:
            return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0))
        except Exception as e:
            raise IndexFormatError(
                f"corrupt BM25 index: {str(e).splitlines()[0]}", path=folder
            ) from None


class CharGramRetriever:
    """TF-IDF over character 3-5-grams within word boundaries, sublinear tf, cosine scores."""

    system = "chargram"

    def __init__(self, vectorizer: Any, matrix: Any) -> None:
        self.vectorizer = vectorizer
        self.matrix = matrix  # (n_candidates, n_features), rows L2-normalised, CSR
        # the same matrix by n-gram (an inverted index): a query's product gathers only the rows
        # of its own n-grams, 0.6 ms instead of 30 ms against XQuAD-R's pool
        self.inverted = matrix.T.tocsr()

    @staticmethod
    def _vectorizer(vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            sublinear_tf=True,
            lowercase=True,
            dtype=np.float32,
            vocabulary=vocabulary,
        )

    @classmethod
    def build(cls, texts: Sequence[str]) -> CharGramRetriever:
        vectorizer = cls._vectorizer()
        matrix = vectorizer.fit_transform(list(texts)).tocsr()
        return cls(vectorizer, matrix)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        q = self.vectorizer.transform(list(queries))
        return (q @ self.inverted).toarray().astype(np.float32, copy=False)

    def save(self, folder: Path) -> None:
        from scipy import sparse

        folder.mkdir(parents=True, exist_ok=True)
        vocab = {k: int(v) for k, v in self.vectorizer.vocabulary_.items()}
        (folder / "chargram.vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
        np.save(
            folder / "chargram.idf.npy", self.vectorizer.idf_.astype(np.float32), allow_pickle=False
        )
        sparse.save_npz(folder / "chargram.matrix.npz", self.matrix)

    @classmethod
    def load(cls, folder: Path) -> CharGramRetriever:
        from scipy import sparse

        try:
            vocab = json.loads((folder / "chargram.vocab.json").read_text(encoding="utf-8"))
            idf = np.load(folder / "chargram.idf.npy", allow_pickle=False)
            matrix = sparse.load_npz(folder / "chargram.matrix.npz").tocsr()
        except Exception as e:
            raise IndexFormatError(
                f"corrupt character n-gram index: {str(e).splitlines()[0]}", path=folder
            ) from None
        if matrix.shape[1] != len(vocab) or len(idf) != len(vocab):
            raise IndexFormatError("character n-gram files do not match each other", path=folder)
        vectorizer = cls._vectorizer(vocab)
        vectorizer.idf_ = idf
        return cls(vectorizer, matrix)


def fuse(
    score_sets: Sequence[np.ndarray],
    method: str = "rrf",
    weights: Sequence[float] | None = None,
    rrf_k: int = 60,
) -> np.ndarray:
    """Combine (n_queries, n_candidates) score matrices of several retrievers into one.

    ``rrf``: sum of ``weight / (rrf_k + rank)`` (Cormack et al. 2009; ranks from 1, ties by row).
    ``interpolate``: sum of ``weight * s'`` with ``s'`` the scores min-max normalised per query
    (a query whose scores are all equal contributes 0).
    """
    if len(score_sets) < 2:
        raise XlirError("fusion needs two or more systems")
    shape = score_sets[0].shape
    if any(s.shape != shape for s in score_sets):
        raise XlirError("fused systems must score the same queries and candidates")
    weights = list(weights) if weights is not None else [1.0] * len(score_sets)
    if len(weights) != len(score_sets) or any(w < 0 for w in weights):
        raise XlirError("give one non-negative weight per fused system")
    out = np.zeros(shape, dtype=np.float64)
    for scores, w in zip(score_sets, weights, strict=True):
        if method == "rrf":
            order = np.argsort(-scores, axis=1, kind="stable")
            ranks = np.empty_like(order)
            rows = np.arange(shape[0])[:, None]
            ranks[rows, order] = np.arange(1, shape[1] + 1)
            out += w / (rrf_k + ranks)
        elif method == "interpolate":
            lo = scores.min(axis=1, keepdims=True)
            span = scores.max(axis=1, keepdims=True) - lo
            out += w * np.divide(scores - lo, span, out=np.zeros(shape), where=span > 0)
        else:
            raise XlirError(f"unknown fusion method {method!r} (rrf, interpolate)")
    return out.astype(np.float32)


LEXICAL_FORMAT = "xlir-tui/lexical-index"
LEXICAL_FORMAT_VERSION = 1
_RETRIEVERS: dict[str, Any] = {"bm25": BM25Retriever, "chargram": CharGramRetriever}
_TABLES = ("candidates", "questions", "relevance", "skipped")


class LexicalIndex:
    """A saved lexical system over a collection: like a dense index folder, with no model.

    Folder: ``manifest.json`` (format, system, collection, the size and hash of every file),
    the retriever's own files (npy, npz, JSON) and the collection as parquet. Loading checks
    every file's size against the manifest, as the dense index does.
    """

    def __init__(
        self, folder: Path | None, manifest: dict[str, Any], retriever: Any, tables: dict[str, Any]
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.retriever = retriever
        self.tables = tables
        self.pool = CandidatePool(tables["candidates"])

    @property
    def system(self) -> str:
        return str(self.manifest["system"])

    def collection(self) -> Any:
        """The collection this index was built from."""
        return collection_of(self.manifest, self.tables)

    @classmethod
    def build(
        cls, collection: Any, system: str, out: Path | None = None, *, overwrite: bool = False
    ) -> LexicalIndex:
        if system not in _RETRIEVERS:
            raise XlirError(f"--system {system} has no index of its own (bm25, chargram, dense)")
        if out is not None and Path(out).exists() and not overwrite:
            raise XlirError("output folder exists (pass --overwrite to replace it)", path=out)
        retriever = _RETRIEVERS[system].build(collection.candidates["text"].to_list())
        manifest = {
            "format": LEXICAL_FORMAT,
            "format_version": LEXICAL_FORMAT_VERSION,
            "system": system,
            "collection": collection_manifest(collection),
        }
        tables = {t: getattr(collection, t) for t in _TABLES}
        index = cls(None, manifest, retriever, tables)
        if out is not None:
            index.save(Path(out), overwrite=overwrite)
        return index

    def save(self, out: Path, *, overwrite: bool = False) -> None:
        from ..storage.files import atomic_dir, write_json

        with atomic_dir(out, overwrite=overwrite, command="index") as tmp:
            self.retriever.save(tmp / "retriever")
            for name, frame in self.tables.items():
                frame.write_parquet(tmp / f"{name}.parquet")
            manifest = dict(self.manifest)
            manifest["files"] = file_table(tmp)
            write_json(tmp / "manifest.json", manifest)
            self.manifest = manifest
        self.folder = Path(out)

    @classmethod
    def load(cls, folder: str | Path, *, verify: bool = True) -> LexicalIndex:
        """Open a lexical index folder; its files' sizes and (``verify``, the default) content
        are checked against the manifest first."""
        import polars as pl

        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexFormatError(f"unreadable manifest: {e}", path=folder) from None
        if manifest.get("format") != LEXICAL_FORMAT or manifest.get("system") not in _RETRIEVERS:
            raise IndexFormatError("not an xlir-tui lexical index", path=folder)
        if manifest.get("format_version") != LEXICAL_FORMAT_VERSION:
            raise IndexFormatError(
                "unsupported lexical index format; rebuild with xlir-tui index", path=folder
            )
        check_file_table(folder, manifest, verify=verify)
        retriever = _RETRIEVERS[manifest["system"]].load(folder / "retriever")
        try:
            tables = {t: pl.read_parquet(folder / f"{t}.parquet") for t in _TABLES}
        except Exception as e:
            raise IndexFormatError(
                f"corrupt index data: {str(e).splitlines()[0]}", path=folder
            ) from None
        return cls(folder, manifest, retriever, tables)
