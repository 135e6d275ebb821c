"""Where a remedy's fit comes from, checked before slow work: a fit collection or a fit file
(``--debias-fit``), an index folder that keeps its fits, or the cache; and where it goes.

:func:`plan_fit` checks a :class:`~xlir_tui.retrieval.specs.DebiasSpec` against the pool before
any model loads; :func:`obtain_fit` gives the fit for an encoder's vectors, fitting it (and
keeping it in the cache) only when no fit of the same key exists.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexFormatError, XlirError
from ..progress import StageProgress
from .debias import PLURAL, ROLES
from .debias_fit import FIT_FORMAT, FIT_FORMAT_VERSION, DebiasFit, check_rank
from .dense import CONTENT_HASH, DenseIndex, content_hash
from .specs import DebiasSpec

__all__ = [
    "FitPlan",
    "attach_fits",
    "check_digests",
    "index_debias",
    "load_fit_source",
    "model_identity",
    "obtain_fit",
    "plan_fit",
    "plan_fits",
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
            check_rank(
                f"--lir-rank ({PLURAL[role]})",
                rank,
                1,
                dimension - 1,
                f"vectors of dimension {dimension}",
            )
    if spec.method == "subspace" and spec.subspace_rank is not None:
        check_rank(
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
    parameters = _parameters(spec, collection)
    key = fit_key(identity, spec.method, parameters, collection.fingerprint)
    kept = _kept_fit(key, identity, saved)
    if kept is not None:
        return kept
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
    fit, encode_s = _fit_now(plan, encoder, parameters, pool_vectors, progress)
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


def _parameters(spec: DebiasSpec, collection: Any) -> dict[str, Any]:
    """The parameters a fit of ``spec`` on ``collection`` records (and its key holds)."""
    if spec.method == "lir":
        return {"query_rank": spec.lir_rank[0], "candidate_rank": spec.lir_rank[1]}
    if spec.method == "subspace":
        rank = spec.subspace_rank
        if rank is None:
            rank = len(set(collection.candidates["lang"].to_list())) - 1
        return {"rank": rank}
    return {}


def _kept_fit(
    key: str, identity: dict[str, Any], saved: Sequence[tuple[Path, dict[str, Any]]]
) -> tuple[DebiasFit, str] | None:
    """The fit of ``key`` an index folder keeps (``saved``), checked against the index
    manifest's hashes and the model; None when the folder keeps none."""
    for json_path, digests in saved:
        try:
            meta = json.loads(Path(json_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("key") != key:
            continue
        check_digests(Path(json_path), digests)
        fit = DebiasFit.load(json_path)
        fit.check_model(identity, json_path)
        return fit, "index"
    return None


def _fit_now(
    plan: FitPlan,
    encoder: Any,
    parameters: dict[str, Any],
    pool_vectors: np.ndarray | None,
    progress: StageProgress | None,
) -> tuple[DebiasFit, float]:
    """Encode the fit collection's questions and candidates (the pool's vectors when it is the
    pool) and fit the remedy on them; the fit and the seconds spent encoding."""
    collection, spec = plan.collection, plan.spec
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
    return fit, encode_s


def check_digests(json_path: Path, digests: dict[str, dict[str, Any]]) -> None:
    """Refuse a fit in an index folder whose files differ from the index manifest's file table
    (its entries for the fit's two files, hashed as the table says: ``xxh3_128``, or ``blake2b``
    in older manifests)."""
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


def plan_fits(specs: Sequence[DebiasSpec], pool: Any) -> list[Any]:
    """Each remedy of ``specs`` checked against ``pool`` before any model loads (one load of
    each ``--debias-fit`` source however many remedies share it)."""
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
