"""A fitted language-bias remedy: its arrays, how it transforms vectors, and its files.

The methods and their algebra are described in :mod:`xlir_tui.retrieval.debias`; this is the
object a fit makes, applies and saves (safetensors beside a JSON description, never pickle).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError, ModelError, XlirError
from .debias import (
    DEFAULT_LIR_RANK,
    DESCRIPTIONS,
    METHODS,
    NEEDS_QUERY_LANG,
    PLURAL,
    ROLE_NOTES,
    ROLES,
    SMALL,
    center,
    language_means,
    leace_apply,
    leace_eraser,
    lir_directions,
    normalise,
    one_thread,
    project_out,
    rows_by_language,
    subspace_basis,
    subspace_limit,
)

__all__ = ["FIT_FORMAT", "DebiasFit", "method_name"]

FIT_FORMAT = "xlir-tui/debias-fit"
FIT_FORMAT_VERSION = 1


def check_rank(name: str, value: int, low: int, high: int, why: str) -> None:
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
            role: {lang: len(rows) for lang, rows in rows_by_language(langs).items()}
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
            tensors, parameters = _lir_tensors(data, lir_rank, dimension)
        elif method == "leace":
            tensors, parameters = _leace_tensors(data)
        elif method == "subspace":
            rank = subspace_rank if subspace_rank is not None else len(languages["candidate"]) - 1
            check_rank(
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
            for lang, rows in rows_by_language(langs).items():
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
            "roles": ROLE_NOTES[self.method],
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


Roles = dict[str, tuple[np.ndarray, list[str]]]
"""Per role (``query``, ``candidate``): the fit texts' vectors and their languages."""


def _lir_tensors(
    data: Roles, lir_rank: tuple[int, int], dimension: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """LIR's directions per role and language (each rank checked against the texts there)."""
    ranks = dict(zip(ROLES, lir_rank, strict=True))
    tensors: dict[str, np.ndarray] = {}
    for role, (x, langs) in data.items():
        for lang, rows in rows_by_language(langs).items():
            high = min(len(rows), dimension - 1)
            check_rank(
                f"--lir-rank ({PLURAL[role]})",
                ranks[role],
                1,
                high,
                f"the fit has {len(rows)} {PLURAL[role]} in {lang}, vectors of "
                f"dimension {dimension}",
            )
            tensors[f"{role}.lir.{lang}"] = lir_directions(x[rows], ranks[role])
    return tensors, {"query_rank": ranks["query"], "candidate_rank": ranks["candidate"]}


def _leace_tensors(data: Roles) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """LEACE's eraser per role, and the package that fitted it."""
    from importlib.metadata import version

    tensors: dict[str, np.ndarray] = {}
    for role, (x, langs) in data.items():
        if len(set(langs)) < 2:
            continue  # one language: nothing to erase (queries are then left as they are)
        for name, array in leace_eraser(x, langs).items():
            tensors[f"{role}.leace.{name}"] = array
    parameters = {
        "package": f"concept-erasure {version('concept-erasure')}",
        "constrain_cov_trace": False,
    }
    return tensors, parameters


def method_name(method: str, parameters: dict[str, Any]) -> str:
    if method == "lir":
        return f"lir(r={parameters['query_rank']}/{parameters['candidate_rank']})"
    if method == "subspace":
        return f"subspace(r={parameters['rank']})"
    return method


def _created_by() -> str:
    from .. import __version__

    return f"xlir-tui {__version__}"
