"""A dense index: hnswlib (cosine) over a collection's candidates, saved without pickle.

An index folder is self-contained, so ``search`` and the explorer need nothing else:

- ``manifest.json``: format, model (spec, fingerprint, prompts, dimension), hnsw parameters,
  collection fingerprint and counts, and the size and hash of every file below;
- ``hnsw.bin``: the hnswlib graph; ``vectors.npy``: the unit-length candidate embeddings (float32);
- ``candidates.parquet``, ``questions.parquet``, ``relevance.parquet``, ``skipped.parquet``: the
  collection the index was built from.

Searching a subset of languages is what the explorer's per-language panes do on every keystroke.
Two ways are implemented and measured by ``bench/bench_index.py``: hnswlib's label filter, and an
exact dot product over the subset's vectors. The exact scan wins below :data:`EXACT_SUBSET_MAX`
candidates and is exact, so ``auto`` uses it there and the filtered graph search above.
hnswlib's filter calls back into Python for every node the search visits, and a subset is a
small part of the graph the search walks: ``bench/bench_scale.py`` measured the exact scan at a
tenth of the filter's CPU time for one language of 3x10^5 candidates (29,415 rows) and at half
of it for three (76,625 rows), where the filter also found only 0.967 of the exact top 10.

A large index opens in a moment: ``vectors.npy`` is memory-mapped (the pages a search reads come
from the file, and the system keeps them in its cache for the next process), and the graph is
read from ``hnsw.bin`` the first time a search needs it (the bias report and the explorer score
exactly and never do). ``bench/bench_scale.py`` measures both at 10^6 candidates.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .. import __version__
from ..data.collections import Collection
from ..errors import IndexFormatError, ModelError, XlirError
from ..models.encoders import Encoder
from ..progress import Progress
from ..storage.files import MARKER_NAME, atomic_dir, file_digest, write_json

FORMAT = "xlir-tui/dense-index"
FORMAT_VERSION = 1
FUSION_FORMAT = "xlir-tui/fusion-index"
DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF = 128
EXACT_SUBSET_MAX = 300_000
"""The most rows searched by an exact scan (about 70 ms of one core; see the module docstring)."""
EF_GROWS_FROM = 100_000
"""The largest pool :data:`DEFAULT_EF` serves; above it the beam grows (:func:`hnsw_parameters`)."""
EF_GROWTH = 0.6
"""The beam grows as the pool's size to this power: doubled for a pool about 3.2 times larger."""
DATA_FILES = (
    "hnsw.bin",
    "vectors.npy",
    "candidates.parquet",
    "questions.parquet",
    "relevance.parquet",
    "skipped.parquet",
)


def collection_manifest(collection: Collection) -> dict[str, Any]:
    """What an index folder records of the collection it was built from."""
    return {
        "name": collection.name,
        "fingerprint": collection.fingerprint,
        "sources": collection.sources,
        "languages": collection.languages,
        "questions": collection.questions.height,
        "candidates": collection.candidates.height,
    }


def collection_of(manifest: dict[str, Any], tables: dict[str, pl.DataFrame]) -> Collection:
    """The collection an index folder was built from: its manifest block and its tables."""
    c = manifest["collection"]
    return Collection(
        c["name"],
        tables["questions"],
        tables["candidates"],
        tables["relevance"],
        tables["skipped"],
        c["fingerprint"],
        c.get("sources", []),
    )


CONTENT_HASH = "xxh3_128"
"""The hash the file table records of each file, checked on every load.

xxHash's XXH3 (128 bits) reads at about the speed of the page cache (``bench/bench_verify.py``:
37 ms for XQuAD-R's 46 MB on a loaded machine, where blake2b took 246 ms, twice the load
itself): the check costs about what reading the files again costs. It is not a cryptographic
hash, and needs not be one: it finds files changed by accident or by a tool, and whoever can
rewrite a file in the folder can rewrite the manifest's hashes beside it. Manifests written
before it record ``blake2b``, which is checked instead."""


def content_hash(path: Path, algorithm: str = CONTENT_HASH) -> str:
    """The hash of a file's content, streamed: ``xxh3_128`` or a :mod:`hashlib` name."""
    if algorithm != CONTENT_HASH:
        return file_digest(path, algorithm)
    import xxhash

    h = xxhash.xxh3_128()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_table(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and hash of every file under ``folder`` (the manifest and the output marker
    excepted: the marker says whose the folder is, not what it holds)."""
    return {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, CONTENT_HASH: content_hash(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", MARKER_NAME)
    }


def rebuild_command(folder: Path, manifest: dict[str, Any]) -> str:
    """The command that writes an index folder again, for the line that refuses a damaged one.

    A part of a fusion index is rebuilt with its fusion: the command names the fusion's folder.
    """
    folder = Path(folder)
    try:
        outer = json.loads((folder.parent / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        outer = None
    fusion = None
    if isinstance(outer, dict) and outer.get("format") == FUSION_FORMAT:
        fusion, folder = outer, folder.parent
    collection = manifest.get("collection") if isinstance(manifest, dict) else None
    sources = [str(x) for x in (collection or {}).get("sources", []) if isinstance(x, str)]
    parents = {str(Path(x).parent) for x in sources}
    where = parents.pop() if len(sources) > 1 and len(parents) == 1 else " ".join(sources)
    words = ["xlir-tui index", where or "COLLECTION"]
    model = (manifest.get("model") or {}).get("model") if isinstance(manifest, dict) else None
    system = manifest.get("system") if isinstance(manifest, dict) else None
    if fusion is not None:
        parts = (fusion.get("fusion") or {}).get("parts") or []
        words += ["--system fusion", f"--fuse {','.join(map(str, parts))}"]
    elif isinstance(system, str) and system != "dense":
        words.append(f"--system {system}")
    if isinstance(model, str):
        words.append(f"--model {model}")
    words += [f"--out {folder}", "--overwrite"]
    return " ".join(w for w in words if w)


_verified: dict[tuple[Any, ...], str] = {}
"""Files this process hashed already, by identity, size and modification time: a command that
checks an index folder before a model loads and then opens it hashes each file once."""


def _digest_once(path: Path, algorithm: str) -> str:
    info = path.stat()
    key = (os.path.realpath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    key += (algorithm,)
    digest = _verified.get(key)
    if digest is None:
        digest = content_hash(path, algorithm)
        if len(_verified) > 256:
            _verified.clear()
        _verified[key] = digest
    return digest


def check_file_table(
    folder: Path, manifest: dict[str, Any], required: Sequence[str] = (), verify: bool = True
) -> None:
    """Refuse an index folder whose files are missing, truncated or changed.

    Sizes are checked first (a truncated file is the common failure, found without reading),
    then, with ``verify`` (the default), every file's content against the hash the manifest
    records (:data:`CONTENT_HASH`, or ``blake2b`` in older manifests): a ``vectors.npy``
    changed in place keeps its size, and would be searched as if it were the index's. The files
    are hashed in parallel threads (both hashes release the GIL); ``bench/bench_verify.py``
    measures the cost against the load itself. ``required`` names files that must be listed
    whatever the manifest says.
    """
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise IndexFormatError("the manifest's file table is not a table", path=folder)
    names = list(dict.fromkeys([*required, *files]))
    for name in names:
        path = folder / name
        if not path.is_file():
            raise IndexFormatError(
                f"missing {name}; rebuild it: {rebuild_command(folder, manifest)}", path=folder
            )
        want = files.get(name, {})
        size = path.stat().st_size
        if not isinstance(want, dict) or want.get("bytes") != size:
            said = want.get("bytes") if isinstance(want, dict) else None
            raise IndexFormatError(
                f"{name} is truncated or changed ({size} bytes, manifest says {said}); "
                f"rebuild it: {rebuild_command(folder, manifest)}",
                path=folder,
            )
    if not verify:
        return
    from concurrent.futures import ThreadPoolExecutor

    def algorithm(name: str) -> str:
        return CONTENT_HASH if CONTENT_HASH in files[name] else "blake2b"

    def digest(name: str) -> str:
        return _digest_once(folder / name, algorithm(name))

    threads = max(1, min(len(names), os.cpu_count() or 1, 4))
    with ThreadPoolExecutor(threads) as pool:
        digests = dict(zip(names, pool.map(digest, names), strict=True))
    for name in names:
        if files[name].get(algorithm(name)) != digests[name]:
            raise IndexFormatError(
                f"{name} has changed since the index was built (its content does not match "
                f"the hash in manifest.json); rebuild it: {rebuild_command(folder, manifest)}",
                path=folder,
            )


@dataclass
class Hit:
    """One retrieved candidate."""

    rank: int
    row: int
    id: str
    lang: str
    score: float
    text: str
    paragraph_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "lang": self.lang,
            "score": round(self.score, 6),
            "text": self.text,
            "paragraph_id": self.paragraph_id,
        }


def hnsw_parameters(
    n: int, m: int | None = None, ef_construction: int | None = None, ef: int | None = None
) -> dict[str, int]:
    """The hnsw parameters for a pool of ``n`` candidates: those given, the others chosen by
    the pool's size.

    The search beam ``ef`` grows with the pool: a graph of more points needs a wider beam for
    the same recall. ``bench/bench_scale.py`` measured the smallest beam (of 16, 32, ... 512)
    that keeps recall@10 against the exact top 10 at 0.99 or more, on XQuAD-R's vectors plus
    synthetic ones drawn like them: 64 for 10^4 candidates, 128 for 10^5, 256 for 3x10^5
    (docs/benchmarks.md). :data:`DEFAULT_EF` up to 10^5, then ``ef`` grows as ``n ** 0.6``
    (rounded up to a multiple of 16), which meets each of them. ``m`` and ``ef_construction``
    keep their values: the graphs built with them reach 0.997 at a wide enough beam at every
    size measured, so the beam, which costs nothing to change, is what grows.
    """
    grown = DEFAULT_EF * (max(n, 1) / EF_GROWS_FROM) ** EF_GROWTH
    chosen = {
        "m": DEFAULT_M,
        "ef_construction": DEFAULT_EF_CONSTRUCTION,
        "ef": DEFAULT_EF if n <= EF_GROWS_FROM else int(math.ceil(grown / 16) * 16),
    }
    given = {"m": m, "ef_construction": ef_construction, "ef": ef}
    return {k: (v if given[k] is None else int(given[k])) for k, v in chosen.items()}  # type: ignore[arg-type]


def _hnsw_index(dim: int) -> Any:
    import hnswlib

    return hnswlib.Index(space="cosine", dim=dim)


def _load_graph(folder: Path, n: int, dim: int) -> Any:
    """The graph of an index folder (its size was checked on load; its content is here)."""
    graph = _hnsw_index(dim)
    try:
        graph.load_index(str(folder / "hnsw.bin"), max_elements=n)
    except Exception as e:
        raise IndexFormatError(f"corrupt hnsw.bin: {str(e).splitlines()[0]}", path=folder) from None
    if graph.get_current_count() != n:
        raise IndexFormatError(
            f"hnsw.bin holds {graph.get_current_count()} items, expected {n}", path=folder
        )
    return graph


def _build_graph(vectors: np.ndarray, m: int, ef_construction: int, ef: int, threads: int) -> Any:
    graph = _hnsw_index(vectors.shape[1])
    graph.init_index(
        max_elements=len(vectors), ef_construction=ef_construction, M=m, random_seed=100
    )
    graph.add_items(vectors, np.arange(len(vectors)), num_threads=threads)
    graph.set_ef(ef)
    return graph


class CandidatePool:
    """A collection's candidates as an index sees them: rows, languages, and hits by row.

    Shared by every kind of index (dense, lexical), so that language restriction and the
    shape of results are the same whatever scores them.
    """

    def __init__(self, candidates: pl.DataFrame) -> None:
        self.candidates = candidates
        self._lang = candidates["lang"].to_numpy()
        self._ids = candidates["id"].to_list()
        self._texts = candidates["text"].to_list()
        self._pids = candidates["paragraph_id"].to_list()
        self._tie_key: np.ndarray | None = None
        self._rows_by_lang: dict[str, np.ndarray] = {
            lang: np.flatnonzero(self._lang == lang) for lang in sorted(set(self._lang.tolist()))
        }

    @property
    def languages(self) -> list[str]:
        return list(self._rows_by_lang)

    @property
    def size(self) -> int:
        return len(self._ids)

    @property
    def tie_key(self) -> np.ndarray:
        """Each candidate's place when equal scores are ordered as trec_eval orders them."""
        if self._tie_key is None:
            from .ranking import trec_tie_key

            self._tie_key = trec_tie_key(self._ids)
        return self._tie_key

    def rows_for(self, langs: Sequence[str] | None) -> np.ndarray | None:
        """Row numbers of the candidates in ``langs`` (None: the whole pool)."""
        if not langs:
            return None
        unknown = [x for x in langs if x not in self._rows_by_lang]
        if unknown:
            raise XlirError(
                f"no candidate in language {', '.join(unknown)} "
                f"(this index has {', '.join(self.languages)})"
            )
        return np.sort(np.concatenate([self._rows_by_lang[x] for x in langs]))

    def hits(self, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
        """Turn one query's rows and scores into :class:`Hit` records."""
        return [
            Hit(
                rank=i + 1,
                row=int(r),
                id=self._ids[r],
                lang=str(self._lang[r]),
                score=float(s),
                text=self._texts[r],
                paragraph_id=self._pids[r],
            )
            for i, (r, s) in enumerate(zip(rows.tolist(), scores.tolist(), strict=True))
        ]


class DenseIndex(CandidatePool):
    """Candidates, their embeddings and an hnswlib graph over them."""

    def __init__(
        self,
        folder: Path | None,
        manifest: dict[str, Any],
        graph: Any,
        vectors: np.ndarray,
        candidates: pl.DataFrame,
        questions: pl.DataFrame,
        relevance: pl.DataFrame,
        skipped: pl.DataFrame,
    ) -> None:
        super().__init__(candidates)
        self.folder = folder
        self.manifest = manifest
        self._graph = graph
        self.vectors = vectors
        self.questions = questions
        self.relevance = relevance
        self.skipped = skipped
        if graph is not None:
            graph.set_ef(int(manifest["hnsw"]["ef"]))

    @property
    def graph(self) -> Any:
        """The hnswlib graph, on first use: read from the folder's ``hnsw.bin``, or built when
        the index was made without one (the bias report and the explorer score exactly and
        need a graph only for ``--ann`` and a whole-pool search)."""
        if self._graph is None:
            h = self.manifest["hnsw"]
            if self.folder is not None and (self.folder / "hnsw.bin").exists():
                self._graph = _load_graph(self.folder, self.size, self.dimension)
            else:
                self._graph = _build_graph(self.vectors, h["m"], h["ef_construction"], h["ef"], 1)
            self._graph.set_ef(int(h["ef"]))
        return self._graph

    # -- properties ---------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return int(self.manifest["model"]["dimension"])

    def collection(self) -> Collection:
        """The collection this index was built from."""
        tables = {t: getattr(self, t) for t in ("questions", "candidates", "relevance", "skipped")}
        return collection_of(self.manifest, tables)

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        collection: Collection,
        encoder: Encoder,
        out: Path | None = None,
        *,
        m: int | None = None,
        ef_construction: int | None = None,
        ef: int | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
        threads: int = 1,
        graph: bool = True,
        cache: bool = False,
    ) -> DenseIndex:
        """Encode every candidate and build the graph (later, on first use, with ``graph``
        False); write the index to ``out`` if given.

        The graph is built on one thread by default: hnswlib's parallel insertion gives a
        different graph on every run, and an index should be reproducible (13k vectors take
        about two seconds either way). hnsw parameters left None are chosen by the pool's size
        (:func:`hnsw_parameters`). ``cache``: ``out`` is an entry of the cache folder.
        """
        if out is not None and os.path.lexists(out) and not (overwrite or cache):
            raise XlirError("output folder exists (pass --overwrite to replace it)", path=out)
        for name, value, low in (
            ("m", m, 2),
            ("ef-construction", ef_construction, 1),
            ("ef", ef, 1),
        ):
            if value is not None and value < low:
                raise XlirError(f"--{name} must be at least {low}, got {value}")
        if collection.candidates.is_empty():
            raise XlirError(f"collection {collection.name} has no candidates")
        h = hnsw_parameters(collection.candidates.height, m, ef_construction, ef)
        m, ef_construction, ef = h["m"], h["ef_construction"], h["ef"]
        started = time.perf_counter()
        vectors = encoder.encode_candidates(collection.candidates, progress=progress)
        encode_s = time.perf_counter() - started
        built = _build_graph(vectors, m, ef_construction, ef, threads) if graph else None
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_by": f"xlir-tui {__version__}",
            "model": encoder.describe(),
            "hnsw": {"space": "cosine", "m": m, "ef_construction": ef_construction, "ef": ef},
            "collection": collection_manifest(collection),
            "timings": {
                "encode_s": round(encode_s, 3),
                "build_s": round(time.perf_counter() - started - encode_s, 3),
            },
        }
        index = cls(
            None,
            manifest,
            built,
            vectors,
            collection.candidates,
            collection.questions,
            collection.relevance,
            collection.skipped,
        )
        if out is not None:
            index.save(Path(out), overwrite=overwrite, cache=cache)
        return index

    def save(
        self,
        out: Path,
        *,
        overwrite: bool = False,
        cache: bool = False,
        attach: Callable[[Path], dict[str, Any]] | None = None,
    ) -> None:
        """Write the folder atomically: a crash leaves no half-written index behind. With
        ``cache`` it is an entry of the cache folder, replaced whatever is there.

        ``attach(folder)`` writes more files into the folder being written (the fits of
        ``--debias``) and returns what the manifest says of them; they are listed with the
        others, so loading checks them too.
        """
        command = "cache" if cache else "index"
        with atomic_dir(out, overwrite=overwrite, command=command, ours=cache) as tmp:
            self.graph.save_index(str(tmp / "hnsw.bin"))
            # hnswlib reports no error when the disk is full: it writes a short file
            if (tmp / "hnsw.bin").stat().st_size < self.vectors.nbytes:
                raise XlirError(
                    "could not write hnsw.bin whole (is the disk full?)", path=Path(out)
                )
            np.save(
                tmp / "vectors.npy",
                np.ascontiguousarray(self.vectors, np.float32),
                allow_pickle=False,
            )
            for part in ("candidates", "questions", "relevance", "skipped"):
                getattr(self, part).write_parquet(tmp / f"{part}.parquet")
            manifest = dict(self.manifest)
            manifest.pop("debias", None)  # only what is attached now is in the folder
            if attach is not None:
                manifest.update(attach(tmp))
            manifest["files"] = file_table(tmp)
            write_json(tmp / "manifest.json", manifest)
            self.manifest = manifest
        self.folder = Path(out)

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | Path, *, verify: bool = True) -> DenseIndex:
        """Open an index folder, checking that every file is whole and unchanged.

        File sizes and (``verify``, the default) content hashes are checked against the
        manifest (:func:`check_file_table`) before anything is read.
        """
        folder = Path(folder)
        if not folder.is_dir():
            what = "a file, not an index folder" if folder.exists() else "no such index folder"
            raise IndexFormatError(what, path=folder)
        mpath = folder / "manifest.json"
        if not mpath.exists():
            raise IndexFormatError("not an xlir-tui index (no manifest.json)", path=folder)
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IndexFormatError(f"corrupt manifest: {e}", path=mpath) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise IndexFormatError("not an xlir-tui dense index manifest", path=mpath)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(
                f"index format {manifest.get('format_version')} is not supported "
                f"(this xlir-tui reads {FORMAT_VERSION}); rebuild it with xlir-tui index",
                path=folder,
            )
        check_file_table(folder, manifest, DATA_FILES, verify=verify)
        dim = int(manifest["model"]["dimension"])
        try:
            # mapped, not read: a search reads the pages it needs (see the module docstring)
            vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
            frames = {
                p: pl.read_parquet(folder / f"{p}.parquet")
                for p in ("candidates", "questions", "relevance", "skipped")
            }
        except Exception as e:
            raise IndexFormatError(
                f"corrupt index data: {str(e).splitlines()[0]}", path=folder
            ) from None
        n = frames["candidates"].height
        if vectors.shape != (n, dim) or vectors.dtype != np.float32:
            raise IndexFormatError(
                f"vectors.npy holds {vectors.dtype} of shape {vectors.shape}, expected float32 "
                f"of shape ({n}, {dim})",
                path=folder,
            )
        return cls(folder, manifest, None, vectors, **frames)

    def check_encoder(self, encoder: Encoder) -> None:
        """Refuse a query encoder other than the one that embedded the candidates.

        The line names each model once: a model of the same name with other files (a retrained
        folder, another build) is told apart by its fingerprint, another model by its name.
        """
        model = self.manifest["model"]
        built, name = str(model["model"]), str(encoder.name)
        same_name = built == name
        rebuild = rebuild_command(self.folder, self.manifest) if self.folder else "xlir-tui index"
        if encoder.dimension != self.dimension:
            other = "a model of the same name" if same_name else built
            raise ModelError(
                f"model {name} has dimension {encoder.dimension} but the index was built with "
                f"{other} (dimension {self.dimension}); rebuild it: {rebuild}"
            )
        if encoder.fingerprint != model["fingerprint"]:
            ours, theirs = encoder.fingerprint[:12], str(model["fingerprint"])[:12]
            if same_name:
                what = (
                    f"model {name} (fingerprint {ours}) is not the model the index was built "
                    f"with: the same name, other files (fingerprint {theirs})"
                )
            else:
                what = (
                    f"model {name} is not the model the index was built with, {built} "
                    f"(fingerprint {theirs})"
                )
            raise ModelError(f"{what}; rebuild it: {rebuild}")

    # -- searching ----------------------------------------------------------------------------
    def search_vectors(
        self,
        queries: np.ndarray,
        k: int = 10,
        langs: Sequence[str] | None = None,
        ef: int | None = None,
        method: str = "auto",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows and cosine scores for each query vector.

        ``method``: ``auto``, ``hnsw`` (graph, with a label filter for a language subset) or
        ``exact`` (dot product over the pool or subset). Returns ``(rows, scores)``, each shaped
        ``(n_queries, k')`` with ``k' = min(k, pool size)``, best first.
        """
        if k < 1:
            raise XlirError(f"-k must be at least 1, got {k}")
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if queries.shape[1] != self.dimension:
            raise ModelError(
                f"query vectors have dimension {queries.shape[1]}, the index {self.dimension}"
            )
        subset = self.rows_for(langs)
        pool = self.size if subset is None else len(subset)
        k = min(k, pool)
        if method == "auto":
            method = "exact" if subset is not None and pool <= EXACT_SUBSET_MAX else "hnsw"
        if method == "exact":
            return _exact_topk(queries, self.vectors, k, subset)
        if method != "hnsw":
            raise XlirError(f"unknown search method {method!r} (auto, hnsw, exact)")
        if ef is not None:
            self.graph.set_ef(max(int(ef), k))
        elif k > self.graph.ef:
            self.graph.set_ef(k)
        try:
            if subset is None:
                labels, dist = self.graph.knn_query(queries, k=k, num_threads=1)
            else:
                allowed = np.zeros(self.size, dtype=bool)
                allowed[subset] = True
                labels, dist = self.graph.knn_query(
                    queries, k=k, num_threads=1, filter=lambda label: bool(allowed[label])
                )
        finally:
            self.graph.set_ef(int(self.manifest["hnsw"]["ef"]))
        return labels.astype(np.int64), (1.0 - dist).astype(np.float32)

    def search(
        self,
        encoder: Encoder,
        query: str,
        k: int = 10,
        langs: Sequence[str] | None = None,
        ef: int | None = None,
    ) -> list[Hit]:
        """Encode ``query`` with the index's query prompt and return its top-``k`` hits."""
        if not query.strip():
            raise XlirError("empty query")
        vec = encoder.encode_queries([query], cache=False)
        rows, scores = self.search_vectors(vec, k=k, langs=langs, ef=ef)
        return self.hits(rows[0], scores[0])


ROW_BLOCK = 1 << 13
"""Most candidate rows made float64 at once (12.6 MB at 384 dimensions): the scoring rule of
:func:`scores_of` without a float64 copy of a large pool's vectors (3 GB at 10^6 candidates).
A pool of up to two blocks (XQuAD-R's 13,014 candidates) is made float64 once by
:class:`Scores`."""


def scores_of(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Dot products of queries with vectors: float32 scores, summed in float64.

    The one scoring rule of dense retrieval, whoever asks (a report's chunks of queries, the
    explorer's single query, a search of some languages). In float32 the last bit of a product
    depends on the order the library adds its terms, which depends on the shapes (one query or
    a chunk, one language's pool or all) and on the library (torch or numpy's BLAS): the same
    pair could score differently in a report and in the explorer, and two candidates with equal
    vectors could stop being a tie. Summed in float64 (errors near 1e-16) and rounded to
    float32 (steps near 6e-8), a score comes out the same whichever way it was computed, but
    for sums that land within 1e-16 of a float32 rounding boundary, and equal vectors tie.

    A few queries go through torch: right after torch encoded the queries, a numpy (OpenBLAS)
    product makes two thread pools fight over the cores (measured here, 80 ms instead of 1 ms
    for one query against 13k vectors). Many queries go through numpy (:class:`Scores`). Either
    way the vectors are made float64 :data:`ROW_BLOCK` rows at a time.
    """
    if len(queries) > 8:
        return Scores(vectors)(np.asarray(queries))
    import torch

    out = np.empty((len(queries), len(vectors)), np.float32)
    with torch.inference_mode():
        q = torch.from_numpy(np.ascontiguousarray(queries, np.float64))
        for lo in range(0, len(vectors), ROW_BLOCK):
            # a copy in float64: a memory-mapped (read-only) index is never handed to torch
            block = np.asarray(vectors[lo : lo + ROW_BLOCK], dtype=np.float64)
            out[:, lo : lo + len(block)] = (q @ torch.from_numpy(block).T).to(torch.float32)
    return out


class Scores:
    """:func:`scores_of` for many queries against the same vectors, chunk by chunk: the vectors
    of a pool up to two :data:`ROW_BLOCK` are made float64 once; a larger pool's are made
    float64 block by block at each call (a cost near one query's product per block), so its
    memory stays that of the float32 vectors."""

    def __init__(self, vectors: np.ndarray) -> None:
        self._vectors = vectors
        self._t = (
            np.ascontiguousarray(np.asarray(vectors, dtype=np.float64).T)
            if len(vectors) <= 2 * ROW_BLOCK
            else None
        )

    def __call__(self, queries: np.ndarray) -> np.ndarray:
        q = np.asarray(queries, dtype=np.float64)
        if self._t is not None:
            return (q @ self._t).astype(np.float32)
        out = np.empty((len(q), len(self._vectors)), np.float32)
        for lo in range(0, len(self._vectors), ROW_BLOCK):
            block = np.asarray(self._vectors[lo : lo + ROW_BLOCK], dtype=np.float64)
            out[:, lo : lo + len(block)] = q @ block.T
        return out


MAX_RUNS = 64
"""Runs of consecutive rows that :func:`subset_scores` scores as slices; more are gathered."""


def subset_scores(queries: np.ndarray, vectors: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Scores of ``queries`` against the rows ``subset`` (sorted) of ``vectors``, read in place.

    A language's candidates are a few runs of consecutive rows (a collection is read language by
    language), so each run is scored as a slice of the array, which is a view: a copy of the
    subset's vectors (what indexing by ``subset`` makes) costs more than the product itself once
    it outgrows the CPU's cache, and grew ten times faster than the pool in
    ``bench/bench_scale.py`` (0.15 ms for 970 rows, 16 ms for 9,805). Rows spread over more
    than :data:`MAX_RUNS` runs are gathered as before.
    """
    if len(subset) == 0:
        return np.zeros((len(queries), 0), np.float32)
    cut = np.flatnonzero(np.diff(subset) != 1) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, len(subset)]
    if len(starts) > MAX_RUNS:
        return scores_of(queries, vectors[subset])
    if len(starts) == 1:
        return scores_of(queries, vectors[subset[0] : subset[-1] + 1])
    out = np.empty((len(queries), len(subset)), np.float32)
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        out[:, a:b] = scores_of(queries, vectors[subset[a] : subset[b - 1] + 1])
    return out


def _exact_topk(
    queries: np.ndarray, vectors: np.ndarray, k: int, subset: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by dot product; ties go to the lower row number."""
    scores = (
        scores_of(queries, vectors) if subset is None else subset_scores(queries, vectors, subset)
    )
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    # sort by score desc, then row asc: lexsort's last key is primary
    order = np.lexsort((part, -part_scores), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    top_scores = np.take_along_axis(part_scores, order, axis=1)
    rows = top if subset is None else subset[top]
    return rows.astype(np.int64), top_scores.astype(np.float32)
