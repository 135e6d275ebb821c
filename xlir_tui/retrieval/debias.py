"""Language-bias remedies that need no training: fitted on texts and their languages, applied to
vectors.

A multilingual encoder places each language somewhat apart: a query's own language comes first
in a multilingual pool whatever it asks. The remedies here remove that part of the geometry with
linear algebra, in seconds, with no relevance label:

- ``center`` (Libovický et al. 2020, arXiv 2004.05160): ``v - mu_l``, the mean embedding of the
  fit texts of the vector's language subtracted;
- ``lir`` (Yang et al., EMNLP 2021, arXiv 2109.04727; code ziyi-yang/LIR): per language, the top
  ``r`` right singular vectors ``U_l`` of the *uncentred* matrix of that language's fit
  embeddings projected out, ``v - U_l U_l^T v``;
- ``leace`` (Belrose et al. 2023, arXiv 2306.03819; the ``concept-erasure`` package): the
  least-squares affine erasure of the linearly available language information;
- ``subspace``: the span of the centred language means (top ``r`` directions) projected out of
  every vector; it needs no language at query time;
- ``none``: the plain system, named so that ``--debias none,center`` puts both side by side.

**Fit data and roles.** A fit is made from a collection's texts and their language tags only
(never relevance): by default the pool being scored, or a named collection. Queries and
candidates are encoded differently (a query prompt, a passage prompt), so every statistic is
fitted per **role**: queries are transformed with the statistics of the fit collection's
*questions* of their language, candidates with those of its *candidates* (for ``center``: each
query minus its language's question mean, each candidate minus its language's candidate mean).
``leace`` is one eraser per role; ``subspace`` one basis for both roles, from the centred means
of both. Every transform is followed by normalisation to unit length, so scores stay cosines.

**Query language.** ``center`` and ``lir`` need it (a mean or a basis per language); ``leace``
and ``subspace`` do not (LEACE's eraser is an affine map of the vector alone, fitted with the
labels but applied without them). A query in a language the fit has no statistics for is
projected off the language subspace instead (``fallback``), which needs no language; callers say
so in one line. :func:`identify_language` names a free-text query's language with py3langid.

Everything here works on arrays (``DebiasFit.fit(method, queries, query_langs, candidates,
candidate_langs)`` and ``fit.transform(vectors, langs, role)``), so a script can call it without
collections or models; :func:`obtain_fit` adds what the commands need: the fit collection, the
checks before slow work, and the cache. A fit is saved as safetensors (the arrays) beside a JSON
description (method, parameters, languages, dimension, model, fit collection), never pickle.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError, ModelError, XlirError
from ..progress import StageProgress

__all__ = [
    "DEFAULT_LIR_RANK",
    "METHODS",
    "NEEDS_QUERY_LANG",
    "ROLES",
    "DebiasFit",
    "DebiasSpec",
    "FitPlan",
    "center",
    "identify_language",
    "language_means",
    "leace_eraser",
    "lir_directions",
    "normalise",
    "obtain_fit",
    "plan_fit",
    "project_out",
    "subspace_basis",
]

METHODS = ("none", "center", "lir", "leace", "subspace")
"""What ``--debias`` takes, in the order a report lists them."""
NEEDS_QUERY_LANG = ("center", "lir")
"""Methods whose transform of a query depends on the query's language."""
ROLES = ("query", "candidate")
PLURAL = {"query": "queries", "candidate": "candidates"}
FIT_FORMAT = "xlir-tui/debias-fit"
FIT_FORMAT_VERSION = 1
DEFAULT_LIR_RANK = (2, 1)
"""LIR's best on LAReQA (Yang et al. 2021, their notebook): 2 directions removed from queries, 1
from candidates."""
SMALL = 64
"""Up to this many vectors a transform runs as it is (see :func:`one_thread`)."""
IDENTIFY_MIN_PROBABILITY = 0.5
"""Below this py3langid probability a query's language counts as not identified."""
DESCRIPTIONS = {
    "none": "the plain system",
    "center": "each language's mean embedding subtracted (Libovický et al. 2020)",
    "lir": "each language's top singular directions projected out (LIR, Yang et al. 2021)",
    "leace": "language erased by LEACE (Belrose et al. 2023)",
    "subspace": "the span of the language means projected out (no query language needed)",
}


# ------------------------------------------------------------------------------ algebra


def one_thread() -> Any:
    """A context in which BLAS and OpenMP use one thread.

    The matrices here are small (a few hundred dimensions, a language's thousand-odd texts), and
    OpenBLAS's threads, waking beside torch's on a busy machine, made one SVD of a 1190 x 384
    matrix take 22 s instead of 0.4 s on one thread (measured here, load average 15 on 2 cores).
    ``threadpoolctl`` (scikit-learn's) limits every pool in the process and restores it after;
    its controller is made once (finding the pools takes milliseconds, which a query's transform
    must not pay), after torch is loaded so that its pool is among them.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        import torch  # noqa: F401  (its OpenMP pool must be loaded before the controller looks)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


_CONTROLLER: Any = None


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero): cosine stays the dot product."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _rows_by_language(langs: Sequence[str | None]) -> dict[str, np.ndarray]:
    codes = np.asarray([x if x is not None else "" for x in langs], dtype=object)
    return {
        str(lang): np.flatnonzero(codes == lang) for lang in sorted(set(codes.tolist())) if lang
    }


def language_means(x: np.ndarray, langs: Sequence[str]) -> dict[str, np.ndarray]:
    """The mean vector of each language's rows (float64), computed from the texts alone."""
    x = np.asarray(x, dtype=np.float64)
    return {lang: x[rows].mean(axis=0) for lang, rows in _rows_by_language(langs).items()}


def center(x: np.ndarray, langs: Sequence[str | None], means: dict[str, np.ndarray]) -> np.ndarray:
    """``v - mu_l`` for each row (Libovický et al. 2020, "On the language neutrality of
    pre-trained multilingual representations", section 3: "centering the representation for
    each language"). Rows of a language without a mean are returned unchanged; not normalised.

    Written here because it is one subtraction per language; no library offers it.
    """
    out = np.asarray(x, dtype=np.float64).copy()
    for lang, rows in _rows_by_language(langs).items():
        if lang in means:
            out[rows] -= means[lang]
    return out


def lir_directions(x: np.ndarray, rank: int) -> np.ndarray:
    """The top ``rank`` right singular vectors of the *uncentred* matrix ``x`` (n x d), as the
    columns of a d x rank matrix: LIR's language information (Yang et al. 2021, section 2; their
    code takes the left singular vectors of ``x.T``, the same vectors). Not centring is the
    method: the first singular direction of a language's uncentred embeddings is close to its
    mean, the language's identity.

    Computed as the top eigenvectors of the d x d Gram matrix ``x.T @ x`` (numpy's ``eigh``, in
    float64): the same vectors as the SVD's, four times faster at a thousand texts of a few
    hundred dimensions, and no n x n factor to form."""
    x = np.asarray(x, dtype=np.float64)
    _, vectors = np.linalg.eigh(x.T @ x)  # eigenvalues ascending
    return vectors[:, ::-1][:, :rank].copy()


def project_out(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``v - B B^T v`` for an orthonormal basis ``B`` (d x r): the part of each row outside the
    span of ``B``. Not normalised."""
    x = np.asarray(x, dtype=np.float64)
    if basis.size == 0:
        return x.copy()
    return x - (x @ basis) @ basis.T


def subspace_basis(mean_sets: Sequence[dict[str, np.ndarray]], rank: int) -> np.ndarray:
    """The top ``rank`` directions (d x rank, orthonormal) spanned by the centred language means.

    Each set of means (one per role: the questions', the candidates') is centred by its own
    average, so the offset between queries and candidates is not taken for a language; the sets
    are stacked and the top right singular vectors of the stack kept. Projecting them out
    removes every linear direction along which the languages' averages differ, for any vector,
    with no language to know. Written here because it is an SVD of a few rows; the method is the
    "language subspace" of the issue that asked for it, not a published recipe.
    """
    rows = []
    for means in mean_sets:
        if len(means) < 2:
            continue
        m = np.stack([means[k] for k in sorted(means)]).astype(np.float64)
        rows.append(m - m.mean(axis=0))
    if not rows:
        return np.zeros((0, 0))
    _, s, vh = np.linalg.svd(np.concatenate(rows), full_matrices=False)
    keep = min(rank, int((s > s.max() * 1e-10).sum()) if s.size else 0)
    return vh[:keep].T.copy()


def subspace_limit(mean_sets: Sequence[dict[str, Any]]) -> int:
    """How many directions the centred means of ``mean_sets`` can span at most."""
    return sum(max(len(m) - 1, 0) for m in mean_sets)


def leace_eraser(x: np.ndarray, langs: Sequence[str]) -> dict[str, np.ndarray]:
    """LEACE's eraser for the language of each row, from the ``concept-erasure`` package
    (``LeaceFitter`` with the languages one-hot), as its three arrays: ``proj_left`` (d x k),
    ``proj_right`` (k x d) and ``bias`` (d); the eraser is ``x - ((x - bias) @ proj_right.T) @
    proj_left.T``.

    Its guarantee: after erasure the mean of every language is the same (no linear classifier
    does better than chance at telling the language). The package's ``constrain_cov_trace``
    option, meant for features fed back into a network, mixes in another projection that
    breaks that guarantee; it is turned off here, since the vectors are normalised afterwards.
    Fitted in float64.
    """
    import torch
    from concept_erasure import LeaceFitter

    by_lang = _rows_by_language(langs)
    classes = {lang: i for i, lang in enumerate(by_lang)}
    z = np.zeros((len(langs), len(classes)), dtype=np.float64)
    z[np.arange(len(langs)), [classes[x] for x in langs]] = 1.0
    fitter = LeaceFitter.fit(
        torch.from_numpy(np.asarray(x, dtype=np.float64)),
        torch.from_numpy(z),
        constrain_cov_trace=False,
    )
    eraser = fitter.eraser
    bias = eraser.bias if eraser.bias is not None else torch.zeros(x.shape[1])
    return {
        "proj_left": eraser.proj_left.numpy().copy(),
        "proj_right": eraser.proj_right.numpy().copy(),
        "bias": bias.numpy().copy(),
    }


def leace_apply(x: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Apply an eraser saved by :func:`leace_eraser`, through the package's own ``LeaceEraser``
    (not normalised)."""
    import torch
    from concept_erasure import LeaceEraser

    eraser = LeaceEraser(
        torch.from_numpy(np.asarray(arrays["proj_left"], dtype=np.float64)),
        torch.from_numpy(np.asarray(arrays["proj_right"], dtype=np.float64)),
        torch.from_numpy(np.asarray(arrays["bias"], dtype=np.float64)),
    )
    with torch.inference_mode():
        return eraser(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


# ------------------------------------------------------------------------------ the fit


def _check_rank(name: str, value: int, low: int, high: int, why: str) -> None:
    if not low <= value <= high:
        raise XlirError(f"{name} {value} is out of range: {why} (from {low} to {high})")


@dataclass
class DebiasFit:
    """One fitted remedy: what it removes (arrays by name) and what it was fitted on.

    ``tensors`` names: ``{role}.mean.{lang}`` (center), ``{role}.lir.{lang}`` (lir, d x r),
    ``{role}.leace.proj_left`` / ``proj_right`` / ``bias`` (leace), ``basis`` (subspace, d x r),
    ``fallback`` (center and lir: the language subspace, for queries of a language the fit has
    no statistics for).
    """

    method: str
    parameters: dict[str, Any]
    languages: dict[str, list[str]]
    """Per role, the languages with statistics (each language's texts counted in ``counts``)."""
    dimension: int
    tensors: dict[str, np.ndarray]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    """What the arrays cannot say: ``model``, ``fit_collection``, ``fit_s``, ``key``."""

    # -- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        method: str,
        queries: np.ndarray,
        query_langs: Sequence[str],
        candidates: np.ndarray,
        candidate_langs: Sequence[str],
        *,
        lir_rank: tuple[int, int] = DEFAULT_LIR_RANK,
        subspace_rank: int | None = None,
    ) -> DebiasFit:
        """Fit ``method`` on the embeddings of the fit texts: ``queries`` (the questions,
        encoded as queries) and ``candidates`` (encoded as candidates), each with its languages.

        ``lir_rank``: directions LIR removes from (queries, candidates); ``subspace_rank``: the
        directions of the language subspace (default: the number of candidate languages - 1).
        """
        if method not in METHODS or method == "none":
            raise XlirError(f"unknown --debias method {method!r} (known: {', '.join(METHODS)})")
        with one_thread():
            return cls._fit(
                method,
                queries,
                query_langs,
                candidates,
                candidate_langs,
                lir_rank=lir_rank,
                subspace_rank=subspace_rank,
            )

    @classmethod
    def _fit(
        cls,
        method: str,
        queries: np.ndarray,
        query_langs: Sequence[str],
        candidates: np.ndarray,
        candidate_langs: Sequence[str],
        *,
        lir_rank: tuple[int, int],
        subspace_rank: int | None,
    ) -> DebiasFit:
        started = time.perf_counter()
        data = {
            "query": (np.asarray(queries, np.float32), list(query_langs)),
            "candidate": (np.asarray(candidates, np.float32), list(candidate_langs)),
        }
        dimension = int(data["candidate"][0].shape[1])
        if data["query"][0].size and data["query"][0].shape[1] != dimension:
            raise ModelError(
                f"query vectors have dimension {data['query'][0].shape[1]}, candidate vectors "
                f"{dimension}"
            )
        counts = {
            role: {lang: len(rows) for lang, rows in _rows_by_language(langs).items()}
            for role, (_, langs) in data.items()
        }
        languages = {role: sorted(c) for role, c in counts.items()}
        if not languages["candidate"]:
            raise XlirError("the fit has no candidate texts")
        means = {role: language_means(x, langs) for role, (x, langs) in data.items()}
        limit = subspace_limit(list(means.values()))
        tensors: dict[str, np.ndarray] = {}
        parameters: dict[str, Any] = {}
        if method in ("subspace", "leace") and len(languages["candidate"]) < 2:
            raise XlirError(f"{method} needs two or more languages in the fit")
        if method == "center":
            for role, m in means.items():
                for lang, mu in m.items():
                    tensors[f"{role}.mean.{lang}"] = mu
        elif method == "lir":
            ranks = dict(zip(ROLES, lir_rank, strict=True))
            for role, (x, langs) in data.items():
                for lang, rows in _rows_by_language(langs).items():
                    high = min(len(rows), dimension - 1)
                    _check_rank(
                        f"--lir-rank ({PLURAL[role]})",
                        ranks[role],
                        1,
                        high,
                        f"the fit has {len(rows)} {PLURAL[role]} in {lang}, vectors of "
                        f"dimension {dimension}",
                    )
                    tensors[f"{role}.lir.{lang}"] = lir_directions(x[rows], ranks[role])
            parameters = {"query_rank": ranks["query"], "candidate_rank": ranks["candidate"]}
        elif method == "leace":
            from importlib.metadata import version

            for role, (x, langs) in data.items():
                if len(set(langs)) < 2:
                    continue  # one language: nothing to erase (queries are then left as they are)
                for name, array in leace_eraser(x, langs).items():
                    tensors[f"{role}.leace.{name}"] = array
            parameters = {
                "package": f"concept-erasure {version('concept-erasure')}",
                "constrain_cov_trace": False,
            }
        elif method == "subspace":
            rank = subspace_rank if subspace_rank is not None else len(languages["candidate"]) - 1
            _check_rank(
                "--subspace-rank",
                rank,
                1,
                min(limit, dimension - 1),
                f"the centred means of the fit's languages span at most {limit} directions",
            )
            tensors["basis"] = subspace_basis(list(means.values()), rank)
            parameters = {"rank": rank}
        if method in NEEDS_QUERY_LANG and limit:
            fallback = subspace_basis(list(means.values()), len(languages["candidate"]) - 1)
            tensors["fallback"] = fallback
        out = cls(
            method,
            parameters,
            languages,
            dimension,
            {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
            counts,
        )
        out.info["fit_s"] = round(time.perf_counter() - started, 3)
        return out

    # -- applying --------------------------------------------------------------------------
    def unseen(self, langs: Sequence[str | None], role: str = "query") -> list[str | None]:
        """The languages among ``langs`` this fit has no statistics for (None: unknown), which
        :meth:`transform` handles by the fallback; empty for a method that needs no language."""
        if self.method not in NEEDS_QUERY_LANG:
            return []
        known = set(self.languages.get(role, []))
        return list(dict.fromkeys(x for x in langs if x not in known))

    def transform(
        self,
        x: np.ndarray,
        langs: Sequence[str | None] | None = None,
        role: str = "query",
        *,
        normalise_rows: bool = True,
    ) -> np.ndarray:
        """The remedy applied to vectors ``x`` of ``role`` (``query`` or ``candidate``) in
        languages ``langs`` (needed by center and lir; None entries are unknown), then
        normalised. Rows of a language without statistics are projected off the ``fallback``
        subspace (center, lir)."""
        if role not in ROLES:
            raise XlirError(f"unknown role {role!r} (query, candidate)")
        if len(x) <= SMALL:  # a query or a few: no pool to calm, and none to resize after
            return self._transform(x, langs, role, normalise_rows)
        with one_thread():
            return self._transform(x, langs, role, normalise_rows)

    def _transform(
        self, x: np.ndarray, langs: Sequence[str | None] | None, role: str, normalise_rows: bool
    ) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or (x.size and x.shape[1] != self.dimension):
            raise ModelError(
                f"vectors of dimension {x.shape[-1]} given to a {self.method} fit of "
                f"dimension {self.dimension}"
            )
        langs = list(langs) if langs is not None else [None] * len(x)
        if len(langs) != len(x):
            raise XlirError(f"{len(x)} vectors but {len(langs)} languages")
        if self.method == "center":
            means = {
                lang: self.tensors[f"{role}.mean.{lang}"].astype(np.float64)
                for lang in self.languages.get(role, [])
            }
            out = center(x, langs, means)
        elif self.method == "lir":
            out = np.asarray(x, dtype=np.float64).copy()
            for lang, rows in _rows_by_language(langs).items():
                basis = self.tensors.get(f"{role}.lir.{lang}")
                if basis is not None:
                    out[rows] = project_out(x[rows], basis.astype(np.float64))
        elif self.method == "leace":
            arrays = {
                name: self.tensors[f"{role}.leace.{name}"]
                for name in ("proj_left", "proj_right", "bias")
                if f"{role}.leace.{name}" in self.tensors
            }
            out = leace_apply(x, arrays) if len(arrays) == 3 else np.asarray(x, np.float64)
        else:
            out = project_out(x, self.tensors["basis"].astype(np.float64))
        missing = set(self.unseen(langs, role))
        if missing:
            rows = np.flatnonzero([lang in missing for lang in langs])
            fallback = self.tensors.get("fallback")
            out[rows] = (
                project_out(x[rows], fallback.astype(np.float64))
                if fallback is not None
                else x[rows]
            )
        return normalise(out) if normalise_rows else out

    # -- naming ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The remedy as a label shows it: ``center``, ``lir(r=2/1)``, ``subspace(r=10)``."""
        return method_name(self.method, self.parameters)

    def describe(self) -> dict[str, Any]:
        """What a report or an index manifest records of the fit."""
        out = {
            "method": self.method,
            "what": DESCRIPTIONS[self.method],
            "parameters": self.parameters,
            "roles": "queries by the fit's questions of their language, candidates by its "
            "candidates of theirs",
            "query_language_needed": self.method in NEEDS_QUERY_LANG,
            "languages": self.languages,
            "texts": self.counts,
            "dimension": self.dimension,
            "normalised": True,
        }
        if self.method in NEEDS_QUERY_LANG:
            out["fallback"] = (
                "a query in a language without statistics is projected off the language "
                "subspace instead"
            )
        for key in ("model", "fit_collection", "fit_s", "key"):
            if key in self.info:
                out[key] = self.info[key]
        return out

    # -- files -----------------------------------------------------------------------------
    def save(self, json_path: Path) -> list[Path]:
        """Write ``NAME.json`` and ``NAME.safetensors`` (the arrays) beside it; the JSON, with
        the arrays' hash, is written last, so a fit without it is incomplete. The caller makes
        the writing atomic (an index's temporary folder, or :func:`_save_cached`)."""
        from safetensors.numpy import save_file

        from ..storage.files import file_digest, write_json

        json_path = Path(json_path)
        arrays = json_path.with_suffix(".safetensors")
        save_file(dict(self.tensors), str(arrays))
        write_json(
            json_path,
            {
                "format": FIT_FORMAT,
                "format_version": FIT_FORMAT_VERSION,
                "created_by": _created_by(),
                "method": self.method,
                "parameters": self.parameters,
                "languages": self.languages,
                "texts": self.counts,
                "dimension": self.dimension,
                **{k: v for k, v in self.info.items() if k != "file"},
                "arrays": {
                    "file": arrays.name,
                    "bytes": arrays.stat().st_size,
                    "blake2b": file_digest(arrays),
                },
            },
        )
        return [json_path, arrays]

    @classmethod
    def load(cls, json_path: str | Path) -> DebiasFit:
        """Open a fit written by :meth:`save`; a missing, changed or truncated file is one
        line naming it."""
        from safetensors.numpy import load_file

        from ..storage.files import file_digest

        json_path = Path(json_path)
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise XlirError("no such debias fit", path=json_path) from None
        except (OSError, ValueError) as e:
            raise IndexFormatError(f"unreadable debias fit: {e}", path=json_path) from None
        if not isinstance(meta, dict) or meta.get("format") != FIT_FORMAT:
            raise IndexFormatError("not an xlir-tui debias fit", path=json_path)
        if meta.get("format_version") != FIT_FORMAT_VERSION:
            raise IndexFormatError(
                f"debias fit format {meta.get('format_version')} is not supported (this "
                f"xlir-tui reads {FIT_FORMAT_VERSION})",
                path=json_path,
            )
        try:
            arrays_meta = meta["arrays"]
            arrays = json_path.parent / arrays_meta["file"]
            if not arrays.is_file():
                raise IndexFormatError(f"missing {arrays.name}", path=json_path.parent)
            if arrays.stat().st_size != arrays_meta["bytes"]:
                raise IndexFormatError(
                    f"{arrays.name} is truncated or changed ({arrays.stat().st_size} bytes, the "
                    f"fit says {arrays_meta['bytes']})",
                    path=json_path.parent,
                )
            if file_digest(arrays) != arrays_meta["blake2b"]:
                raise IndexFormatError(
                    f"{arrays.name} does not match its hash in {json_path.name}",
                    path=json_path.parent,
                )
            tensors = load_file(str(arrays))
            fit = cls(
                str(meta["method"]),
                dict(meta["parameters"]),
                {role: list(meta["languages"].get(role, [])) for role in ROLES},
                int(meta["dimension"]),
                dict(tensors),
                {role: dict(meta.get("texts", {}).get(role, {})) for role in ROLES},
                {k: meta[k] for k in ("model", "fit_collection", "fit_s", "key") if k in meta},
            )
        except IndexFormatError:
            raise
        except Exception as e:  # a hand-edited or damaged description
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise IndexFormatError(f"damaged debias fit: {first}", path=json_path) from None
        fit.info["file"] = str(json_path)
        fit._check_arrays(json_path)
        return fit

    def _check_arrays(self, where: Path) -> None:
        """Refuse arrays that do not fit the description (a fit assembled by hand)."""
        if self.method not in METHODS or self.method == "none":
            raise IndexFormatError(f"unknown debias method {self.method!r}", path=where)
        for name, array in self.tensors.items():
            if array.ndim not in (1, 2) or self.dimension not in array.shape:
                raise IndexFormatError(
                    f"array {name} has shape {array.shape}, the fit dimension {self.dimension}",
                    path=where,
                )
        if self.method == "subspace" and "basis" not in self.tensors:
            raise IndexFormatError("a subspace fit without its basis", path=where)

    def check_model(self, identity: dict[str, Any], where: Any = None) -> None:
        """Refuse a fit made with another model or of another dimension than ``identity``
        (:func:`model_identity` of the encoder the vectors come from)."""
        model = self.info.get("model", {})
        if self.dimension != identity["dimension"]:
            raise ModelError(
                f"the {self.method} fit has dimension {self.dimension}, model "
                f"{identity['model']} gives vectors of dimension {identity['dimension']}",
                path=where,
            )
        if model.get("fingerprint") != identity["fingerprint"]:
            raise ModelError(
                f"the {self.method} fit was made with model {model.get('model', '?')} "
                f"(fingerprint {str(model.get('fingerprint', '?'))[:12]}), not "
                f"{identity['model']}",
                path=where,
            )


def method_name(method: str, parameters: dict[str, Any]) -> str:
    if method == "lir":
        return f"lir(r={parameters['query_rank']}/{parameters['candidate_rank']})"
    if method == "subspace":
        return f"subspace(r={parameters['rank']})"
    return method


def _created_by() -> str:
    from .. import __version__

    return f"xlir-tui {__version__}"


# ------------------------------------------------------------------------------ languages


_IDENTIFIERS: dict[tuple[str, ...], Any] = {}


def identify_language(
    text: str, candidates: Sequence[str] | None = None
) -> tuple[str | None, float]:
    """The language of ``text`` by py3langid, among ``candidates`` (the fit's languages: a
    short query is told apart among the languages that matter far better than among py3langid's
    hundred-odd) when given; (None, p) when its probability is under
    :data:`IDENTIFY_MIN_PROBABILITY` or no candidate is a language py3langid knows."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    key = tuple(sorted(candidates)) if candidates else ()
    if key not in _IDENTIFIERS:
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if key:
            known = [x for x in key if x in set(identifier.nb_classes)]
            if not known:
                _IDENTIFIERS[key] = None
                return None, 0.0
            identifier.set_languages(known)
        _IDENTIFIERS[key] = identifier
    identifier = _IDENTIFIERS[key]
    if identifier is None:
        return None, 0.0
    lang, p = identifier.classify(text)
    return (str(lang) if p >= IDENTIFY_MIN_PROBABILITY else None), float(p)


# ------------------------------------------------------------------------------ what commands need


@dataclass(frozen=True)
class DebiasSpec:
    """A remedy as a person asks for it: ``method``, its parameters, and where it is fitted
    (``fit``: the paths of ``--debias-fit``, a collection or one fit file; empty: the collection
    being indexed or scored)."""

    method: str = "none"
    lir_rank: tuple[int, int] = DEFAULT_LIR_RANK
    subspace_rank: int | None = None
    fit: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise XlirError(
                f"unknown --debias method {self.method!r} (known: {', '.join(METHODS)})"
            )
        if any(r < 1 for r in self.lir_rank):
            raise XlirError(
                f"--lir-rank {','.join(map(str, self.lir_rank))}: each rank must be at least 1"
            )
        if self.subspace_rank is not None and self.subspace_rank < 1:
            raise XlirError(f"--subspace-rank must be at least 1, got {self.subspace_rank}")

    @property
    def plain(self) -> bool:
        return self.method == "none"

    @classmethod
    def parse(
        cls,
        methods: str | Sequence[str] | None,
        lir_rank: str | None = None,
        subspace_rank: int | None = None,
        fit: Sequence[str | Path] | None = None,
    ) -> list[DebiasSpec]:
        """``--debias none,center`` (and the other flags) as one spec per method, in order,
        each once. Every value is checked here, before anything loads."""
        if methods is None:
            return []
        text = methods if isinstance(methods, str) else ",".join(methods)
        names = [m.strip() for m in text.split(",") if m.strip()]
        if not names:
            raise XlirError("--debias names no method (none, center, lir, leace, subspace)")
        unknown = [m for m in names if m not in METHODS]
        if unknown:
            raise XlirError(
                f"unknown --debias method {', '.join(unknown)} (known: {', '.join(METHODS)})"
            )
        ranks = DEFAULT_LIR_RANK
        if lir_rank is not None:
            try:
                given = tuple(int(x) for x in str(lir_rank).split(","))
            except ValueError:
                raise XlirError(
                    f"--lir-rank {lir_rank!r}: one number, or two (queries,candidates)"
                ) from None
            if len(given) not in (1, 2):
                raise XlirError(f"--lir-rank {lir_rank!r}: one number, or two (queries,candidates)")
            if any(r < 1 for r in given):
                raise XlirError(f"--lir-rank {lir_rank}: each rank must be at least 1")
            ranks = (given[0], given[-1])
        return [
            cls(m, ranks, subspace_rank, tuple(str(p) for p in fit or ()))
            for m in dict.fromkeys(names)
        ]


def model_identity(encoder: Any) -> dict[str, Any]:
    """What a fit records of the model whose vectors it was fitted on, and what makes vectors
    differ (weights, prompts, context, sequence length, backend)."""
    from ..models.encoders import VECTORS_VERSION

    runtime = getattr(encoder, "runtime", None)
    return {
        "model": encoder.spec,
        "vectors": VECTORS_VERSION,
        "fingerprint": encoder.fingerprint,
        "dimension": int(encoder.dimension),
        "backend": encoder.backend,
        "runtime": runtime.tag if runtime is not None and encoder.backend != "torch" else "torch",
        "prompts": {"query": encoder.query_prompt, "passage": encoder.passage_prompt},
        "passage_context": bool(encoder.passage_context),
        "max_seq_length": int(encoder.model.max_seq_length or 0),
    }


def fit_key(identity: dict[str, Any], method: str, parameters: dict[str, Any], fp: str) -> str:
    """The cache key of a fit: the model's vectors, the method and its parameters, and the fit
    collection's fingerprint; the same key is the same fit."""
    from ..storage.files import text_digest

    return text_digest(
        FIT_FORMAT,
        str(FIT_FORMAT_VERSION),
        json.dumps(identity, sort_keys=True),
        method,
        json.dumps(parameters, sort_keys=True),
        fp,
    )


def fit_collection_info(collection: Any) -> dict[str, Any]:
    return {
        "name": collection.name,
        "fingerprint": collection.fingerprint,
        "sources": list(collection.sources),
        "languages": collection.languages,
    }


@dataclass
class FitPlan:
    """A remedy checked against the pool it will serve, before any model loads: the fit
    collection (or a given fit file) and the parameters that need no model."""

    spec: DebiasSpec
    collection: Any
    """The fit collection (None with a fit file)."""
    file: DebiasFit | None = None
    same_as_pool: bool = False


def load_fit_source(spec: DebiasSpec) -> Any:
    """``--debias-fit``'s paths as a collection, or a fit (one ``.json`` file of a fit)."""
    paths = [Path(p) for p in spec.fit]
    if len(paths) == 1 and paths[0].suffix == ".json" and paths[0].is_file():
        try:
            head = json.loads(paths[0].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            head = None
        if isinstance(head, dict) and head.get("format") == FIT_FORMAT:
            return DebiasFit.load(paths[0])
    from ..data.collections import load_collection

    return load_collection(paths)


def plan_fit(spec: DebiasSpec, pool: Any, source: Any = None) -> FitPlan:
    """Check ``spec`` against ``pool`` (the collection whose candidates are transformed) with
    everything that needs no model: a fit collection (``source``, else ``pool``) without a
    language of the pool, a fit file of another method or without a language, a subspace
    rank beyond what the languages span."""
    if spec.plain:
        return FitPlan(spec, None)
    pool_langs = sorted(set(pool.candidates["lang"].to_list()))
    where = spec.fit[0] if spec.fit else None
    if isinstance(source, DebiasFit):
        if source.method != spec.method:
            raise XlirError(
                f"--debias-fit holds a {source.method} fit, not {spec.method}", path=where
            )
        missing = [x for x in pool_langs if x not in source.languages["candidate"]]
        if missing:
            raise XlirError(
                f"the {spec.method} fit has no candidates in {', '.join(missing)}, a language "
                "of the pool",
                path=where,
            )
        return FitPlan(spec, None, file=source)
    collection = source if source is not None else pool
    fit_langs = sorted(set(collection.candidates["lang"].to_list()))
    missing = [x for x in pool_langs if x not in fit_langs]
    if missing:
        raise XlirError(
            f"fit collection {collection.name} has no candidates in {', '.join(missing)}, a "
            f"language of the pool (it has {', '.join(fit_langs)})",
            path=where,
        )
    if collection.questions.is_empty():
        raise XlirError(f"fit collection {collection.name} has no questions", path=where)
    if spec.method in ("leace", "subspace") and len(fit_langs) < 2:
        raise XlirError(
            f"--debias {spec.method} needs two or more languages in the fit collection "
            f"({collection.name} has {', '.join(fit_langs)})",
            path=where,
        )
    if spec.method == "subspace" and spec.subspace_rank is not None:
        q_langs = set(collection.questions["lang"].to_list())
        limit = max(len(fit_langs) - 1, 0) + max(len(q_langs) - 1, 0)
        if spec.subspace_rank > limit:
            raise XlirError(
                f"--subspace-rank {spec.subspace_rank} is out of range: the centred means of "
                f"{collection.name}'s languages span at most {limit} directions",
                path=where,
            )
    if spec.method == "lir":
        for role, frame in (("query", collection.questions), ("candidate", collection.candidates)):
            rank = spec.lir_rank[0 if role == "query" else 1]
            for lang, n in sorted(frame.group_by("lang").len().iter_rows()):
                if n < rank:
                    raise XlirError(
                        f"--lir-rank ({PLURAL[role]}) {rank} is out of range: "
                        f"{collection.name} has {n} {PLURAL[role]} in {lang}",
                        path=where,
                    )
    same = collection is pool or collection.fingerprint == pool.fingerprint
    return FitPlan(spec, collection, same_as_pool=same)


def check_dimension(plan: FitPlan, dimension: int) -> None:
    """The checks that need the model's dimension (a rank must leave a direction)."""
    spec = plan.spec
    if spec.method == "lir":
        for role, rank in zip(ROLES, spec.lir_rank, strict=True):
            _check_rank(
                f"--lir-rank ({PLURAL[role]})",
                rank,
                1,
                dimension - 1,
                f"vectors of dimension {dimension}",
            )
    if spec.method == "subspace" and spec.subspace_rank is not None:
        _check_rank(
            "--subspace-rank",
            spec.subspace_rank,
            1,
            dimension - 1,
            f"vectors of dimension {dimension}",
        )


def obtain_fit(
    plan: FitPlan,
    encoder: Any,
    *,
    pool_vectors: np.ndarray | None = None,
    saved: Sequence[tuple[Path, dict[str, str]]] = (),
    progress: StageProgress | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[DebiasFit, str]:
    """The fit of ``plan`` for ``encoder``'s vectors, and where it came from (``file``,
    ``index``, ``cache`` or ``fitted``).

    A fit is never made twice: one saved in an index folder (``saved``: each fit's JSON path
    with the blake2b of its files in the index manifest) or in the cache with the same key
    (model, backend, method, parameters, fit collection) is used as it is. Otherwise the fit
    collection's questions and candidates are encoded (the embedding cache has them when they
    were encoded before; ``pool_vectors`` are the pool's candidate vectors when the fit
    collection is the pool) and the fit is kept in the cache.
    """
    identity = model_identity(encoder)
    check_dimension(plan, identity["dimension"])
    where = plan.spec.fit[0] if plan.spec.fit else None
    if plan.file is not None:
        plan.file.check_model(identity, where)
        return plan.file, "file"
    collection = plan.collection
    spec = plan.spec
    parameters: dict[str, Any] = {}
    if spec.method == "lir":
        parameters = {"query_rank": spec.lir_rank[0], "candidate_rank": spec.lir_rank[1]}
    elif spec.method == "subspace":
        rank = spec.subspace_rank
        if rank is None:
            rank = len(set(collection.candidates["lang"].to_list())) - 1
        parameters = {"rank": rank}
    key = fit_key(identity, spec.method, parameters, collection.fingerprint)
    for json_path, digests in saved:
        try:
            meta = json.loads(Path(json_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("key") != key:
            continue
        _check_digests(Path(json_path), digests)
        fit = DebiasFit.load(json_path)
        fit.check_model(identity, json_path)
        return fit, "index"
    from ..storage.files import cache_root

    cached = cache_root() / "debias" / f"{key}.json"
    if cached.is_file():
        try:
            fit = DebiasFit.load(cached)
            fit.check_model(identity, cached)
            return fit, "cache"
        except XlirError:
            pass  # a damaged cache entry is fitted again
    if say is not None:
        say(f"fitting {spec.method} on {collection.name} ...")
    started = time.perf_counter()
    questions = encoder.encode_queries(
        collection.questions["text"].to_list(),
        progress=(lambda d, t: progress("encoding questions for the fit", d, t))
        if progress
        else None,
    )
    if plan.same_as_pool and pool_vectors is not None:
        candidates = pool_vectors
    else:
        candidates = encoder.encode_candidates(
            collection.candidates,
            progress=(lambda d, t: progress("encoding candidates for the fit", d, t))
            if progress
            else None,
        )
    encode_s = time.perf_counter() - started
    fit = DebiasFit.fit(
        spec.method,
        questions,
        collection.questions["lang"].to_list(),
        candidates,
        collection.candidates["lang"].to_list(),
        lir_rank=spec.lir_rank,
        subspace_rank=parameters.get("rank"),
    )
    fit.info.update(
        {
            "model": identity,
            "fit_collection": fit_collection_info(collection),
            "key": key,
            "encode_s": round(encode_s, 3),
        }
    )
    _save_cached(fit, cached)
    return fit, "fitted"


def _check_digests(json_path: Path, digests: dict[str, dict[str, Any]]) -> None:
    """Refuse a fit in an index folder whose files differ from the index manifest's file table
    (its entries for the fit's two files, hashed as the table says: ``xxh3_128``, or ``blake2b``
    in older manifests)."""
    from .dense import CONTENT_HASH, content_hash

    for path in (json_path, json_path.with_suffix(".safetensors")):
        entry = digests.get(path.name) or {}
        algorithm = CONTENT_HASH if CONTENT_HASH in entry else "blake2b"
        want = entry.get(algorithm)
        if want is None or not path.is_file() or content_hash(path, algorithm) != want:
            raise IndexFormatError(
                f"{path.name} does not match its hash in the index manifest; rebuild with "
                "xlir-tui index",
                path=json_path.parent.parent,
            )


def _save_cached(fit: DebiasFit, json_path: Path) -> None:
    """Keep a fit in the cache; written in a temporary folder and moved into place file by
    file, the description last. A cache that cannot be written only costs a refit."""
    import shutil

    try:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".fit-", dir=json_path.parent))
        try:
            written = fit.save(tmp / json_path.name)
            os.replace(written[1], json_path.with_suffix(".safetensors"))
            os.replace(written[0], json_path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except (OSError, XlirError):
        pass
