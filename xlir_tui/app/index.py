"""The index use case: ``xlir-tui index`` checked, built over a collection, and saved.

Over several processes or machines, started by ``torchrun``:

Encoding is what a large pool waits for (hours for 10^6 passages on one CPU), and it splits
cleanly: each passage is encoded alone. The launcher, the rendezvous and the transport are
PyTorch's own (``torchrun`` and :mod:`torch.distributed`), so the command that runs on one CPU
runs unchanged on a GPU cluster::

    torchrun --nproc-per-node 2 -m xlir_tui.cli index DATA --out IDX          # one machine
    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d \
        --rdzv-endpoint HOST:29400 -m xlir_tui.cli index DATA --out IDX      # on every node

torchrun gives every process ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``;
that is how a process knows it is one rank of several (:func:`launched`). Then:

1. rank 0 checks the plan (output folder, free space) and loads the collection and the model
   first, so the collection's and the model export's cache entries are written once; the other
   ranks load theirs after it (from the cache, when they share a file system);
2. every rank checks that it read the same collection and model as rank 0 (fingerprints);
3. each rank encodes its contiguous share of the candidates (:func:`shard_bounds`), with its
   share of the machine's cores, on ``cuda:LOCAL_RANK`` when there is a GPU;
4. rank 0 gathers the vectors in candidate order (``torch.distributed.gather`` over gloo, in
   blocks of :data:`GATHER_ROWS` rows so no rank holds a second copy of its shard), builds the
   hnsw graph and writes the index atomically, as the one-process command does. The other ranks
   write nothing (not even to the embedding cache: rank 0 caches every vector it gathered).

A failure on any rank (a bad file, a model that will not load, an error while encoding) is
told to every rank at the next step, and the command fails with one line from rank 0 naming the
rank (:class:`RankFailure`); torchrun then prints its own summary of the failed launch. A rank
that dies outright is torchrun's to handle: it stops the other ranks.

Gloo carries CPU tensors between machines over TCP and is all this needs (a few hundred MB of
vectors once, not gradients every step), so it is used with GPUs too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import XlirError
from ..models.store import Models
from ..progress import StageProgress
from ..retrieval.debias_fits import attach_fits, plan_fits
from ..retrieval.dense_system import DenseRetriever
from ..retrieval.retriever import Retriever
from ..retrieval.specs import DebiasSpec, SystemSpec
from ..retrieval.systems import open_system


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
    """hnsw parameters; None: chosen by the pool's size
    (:func:`xlir_tui.retrieval.dense.hnsw_parameters`)."""
    overwrite: bool = False
    encoder_options: dict[str, Any] = field(default_factory=dict)
    debias: list[DebiasSpec] = field(default_factory=list)
    """``--debias``: a fit per remedy is saved beside the vectors; the first named is the
    index's own system (what ``search`` and ``explore`` use unless told otherwise)."""

    def validate(self) -> None:
        if self.spec.translate_query is not None:
            raise XlirError("an index holds the candidates: translate queries when searching")
        if any(not d.plain for d in self.debias) and self.spec.system != "dense":
            raise XlirError(
                f"--debias goes with --system dense (a {self.spec.system} index keeps no fit)"
            )
        for name, value, low in (
            ("m", self.m, 2),
            ("ef-construction", self.ef_construction, 1),
            ("ef", self.ef, 1),
        ):
            if value is not None and value < low:
                raise XlirError(f"--{name} must be at least {low}, got {value}")
        from ..storage.files import check_output

        # the collection is read from where it is: an index never goes into or over it
        check_output(Path(self.out), overwrite=self.overwrite, inputs=self.collection)


def build_index(
    plan: IndexPlan,
    progress: StageProgress | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[Retriever, str]:
    """Build the plan's system over its collection and save it; return it and a summary line.

    Under ``torchrun`` the candidates are encoded by every rank and rank 0 writes the index
    (:func:`build_index_ranks`); the other ranks return None and an empty line.
    """
    from ..data.collections import load_collection

    ranks = launched()
    if ranks is not None:
        return build_index_ranks(plan, ranks, progress, notify)  # type: ignore[return-value]
    plan.validate()
    say = notify or (lambda _text: None)
    collection = load_collection(plan.collection, lang=plan.file_lang, strict=plan.strict)
    summary = collection.skipped_summary()
    if summary:
        say(f"warning: {summary}")
    from ..storage.files import check_free_space

    # vectors, graph and the collection's tables: a few KB a candidate at most
    check_free_space(Path(plan.out), collection.candidates.height * 8192)
    fit_plans = plan_fits(plan.debias, collection)  # bad fit input fails before the model loads
    started = time.perf_counter()
    models = Models(dict(plan.encoder_options), say)
    retriever = open_system(
        collection,
        plan.spec,
        models,
        progress,
        m=plan.m,
        ef_construction=plan.ef_construction,
        ef=plan.ef,
    )
    if not fit_plans:
        retriever.save(Path(plan.out), overwrite=plan.overwrite)
    else:
        from ..retrieval.debias_fits import obtain_fit

        assert isinstance(retriever, DenseRetriever)
        fits = {
            p.spec.method: obtain_fit(
                p,
                retriever.encoder,
                pool_vectors=retriever.index.vectors,
                progress=progress,
                say=say,
            )[0]
            for p in fit_plans
        }
        methods = [d.method for d in plan.debias]
        retriever.index.save(
            Path(plan.out),
            overwrite=plan.overwrite,
            attach=lambda folder: attach_fits(folder, methods, fits),
        )
    pool = retriever.pool
    remedies = [d.method for d in plan.debias if not d.plain]
    kept = f" (fits kept: {', '.join(remedies)})" if remedies else ""
    encoder = retriever.encoder
    read = (
        " (each sentence with its paragraph)"
        if encoder is not None and encoder.passage_context
        else ""
    )
    return retriever, (
        f"indexed {pool.size} candidates{read} in {len(pool.languages)} languages with "
        f"{retriever.label} in {time.perf_counter() - started:.1f} s{kept} -> {plan.out}"
    )


GATHER_ROWS = 1 << 15
"""Rows each rank sends to rank 0 per gather (12 MB of 384-dimensional float32 vectors)."""
TIMEOUT = timedelta(hours=12)
"""How long a rank waits for the others at a step: the slowest rank's whole shard."""


class RankFailure(XlirError):
    """A failure on some rank, known to every rank: rank 0 prints it and exits with status 1,
    the others (``quiet``) print nothing and exit with status 0, so the command shows one line,
    not one per rank. Quiet ranks leave without a failure status of their own because torchrun
    stops every rank as soon as one fails, which could kill rank 0 before it prints the line;
    the launch fails all the same, with rank 0's status."""

    def __init__(self, message: str, *, quiet: bool) -> None:
        super().__init__(message)
        self.quiet = quiet


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the ranks torchrun started."""

    rank: int
    size: int
    local_rank: int = 0

    @property
    def leader(self) -> bool:
        return self.rank == 0


def launched(env: dict[str, str] | None = None) -> Ranks | None:
    """The ranks of a ``torchrun`` launch (its environment variables), None for a plain run or
    a launch of one process, which is a plain run."""
    env = dict(os.environ if env is None else env)
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return None
    try:
        size, rank = int(env["WORLD_SIZE"]), int(env["RANK"])
        local = int(env.get("LOCAL_RANK", "0") or 0)
    except ValueError:
        raise XlirError(
            f"WORLD_SIZE={env['WORLD_SIZE']!r} and RANK={env['RANK']!r} must be whole numbers "
            "(torchrun sets them)"
        ) from None
    if size < 1 or not 0 <= rank < size:
        raise XlirError(f"RANK={rank} is not a rank of WORLD_SIZE={size}")
    return Ranks(rank, size, local) if size > 1 else None


def shard_bounds(n: int, size: int, rank: int) -> tuple[int, int]:
    """Rows ``lo:hi`` of ``n`` that ``rank`` of ``size`` encodes: contiguous, sizes differing by
    one at most, so rank 0's gather puts the vectors back in candidate order."""
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def agree(ranks: Ranks, error: str | None) -> None:
    """Tell every rank every rank's error; raise on all of them if any rank failed."""
    import torch.distributed as dist

    errors: list[str | None] = [None] * ranks.size
    dist.all_gather_object(errors, error)
    failed = [(r, e) for r, e in enumerate(errors) if e]
    if failed:
        r, e = failed[0]
        raise RankFailure(f"rank {r} of {ranks.size}: {e}", quiet=not ranks.leader)


def _failure(e: BaseException) -> str:
    if isinstance(e, XlirError):
        return str(e)
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def gather_rows(block: np.ndarray, ranks: Ranks, counts: list[int]) -> np.ndarray | None:
    """Rank 0 receives every rank's ``block`` (``counts[r]`` rows each), in rank order; the
    others get None. Sent :data:`GATHER_ROWS` rows at a time, padded to equal sizes."""
    import torch
    import torch.distributed as dist

    dim = block.shape[1]
    out = np.empty((sum(counts), dim), np.float32) if ranks.leader else None
    starts = np.concatenate([[0], np.cumsum(counts)])
    for lo in range(0, max(counts), GATHER_ROWS):
        send = torch.zeros((GATHER_ROWS, dim), dtype=torch.float32)
        part = block[lo : lo + GATHER_ROWS]
        send[: len(part)] = torch.from_numpy(np.ascontiguousarray(part, np.float32))
        if ranks.leader:
            recv = [torch.empty_like(send) for _ in range(ranks.size)]
            dist.gather(send, recv, dst=0)
            for r, t in enumerate(recv):
                take = max(0, min(GATHER_ROWS, counts[r] - lo))
                out[starts[r] + lo : starts[r] + lo + take] = t[:take].numpy()  # type: ignore[index]
        else:
            dist.gather(send, dst=0)
    return out


class GatheredEncoder:
    """An encoder whose candidates are encoded by every rank and gathered on rank 0.

    :meth:`~xlir_tui.retrieval.dense.DenseIndex.build` calls it on rank 0 like any encoder; every
    other rank calls :meth:`encode_candidates` alone, to take its part."""

    def __init__(self, encoder: Any, ranks: Ranks, progress: StageProgress | None) -> None:
        self._encoder = encoder
        self._ranks = ranks
        self._progress = progress

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode_candidates(self, candidates: Any, progress: Any = None) -> np.ndarray | None:
        ranks = self._ranks
        n = candidates.height
        counts = [b - a for a, b in (shard_bounds(n, ranks.size, r) for r in range(ranks.size))]
        lo, hi = shard_bounds(n, ranks.size, ranks.rank)
        stage = f"encoding candidates {lo:,}-{hi:,} (rank 0 of {ranks.size})"
        step = (lambda d, t: self._progress(stage, d, t)) if self._progress else None
        error, block = None, np.zeros((0, self._encoder.dimension), np.float32)
        try:
            block = self._encoder.encode_candidates(candidates[lo:hi], progress=step)
        except Exception as e:  # every rank must learn of it, or the others wait forever
            error = _failure(e)
        agree(ranks, error)
        vectors = gather_rows(block, ranks, counts)
        if vectors is not None and self._encoder.use_cache:
            # rank 0 keeps every vector, as one process would have: a report reuses them
            store = self._encoder.cache_for(self._encoder.passage_prompt)
            from ..models.encoders import EmbeddingCache

            keys = [EmbeddingCache.key(t) for t in self._encoder.candidate_texts(candidates)]
            store.add(keys, vectors)
        return vectors


def build_index_ranks(
    plan: IndexPlan,
    ranks: Ranks,
    progress: StageProgress | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[Retriever | None, str]:
    """:func:`~xlir_tui.app.index.build_index` as one rank of several: rank 0 returns the
    retriever and the summary line, the others None and an empty line."""
    import torch
    import torch.distributed as dist

    from ..models.backends import configure_threads

    if torch.cuda.is_available():
        torch.cuda.set_device(ranks.local_rank)
    configure_threads()  # this rank's share of the cores (LOCAL_WORLD_SIZE)
    dist.init_process_group("gloo", timeout=TIMEOUT)
    try:
        return _build(plan, ranks, progress if ranks.leader else None, notify)
    finally:
        dist.destroy_process_group()


def _build(
    plan: IndexPlan,
    ranks: Ranks,
    progress: StageProgress | None,
    notify: Callable[[str], None] | None,
) -> tuple[Retriever | None, str]:
    import torch.distributed as dist

    from ..data.collections import load_collection
    from ..retrieval.dense import DenseIndex
    from ..storage.files import check_free_space

    say = (notify if ranks.leader else None) or (lambda _text: None)
    started = time.perf_counter()
    loaded: dict[str, Any] = {}

    def load() -> str | None:
        try:
            if plan.spec.system != "dense":
                raise XlirError(
                    f"under torchrun, index encodes a dense system (got --system "
                    f"{plan.spec.system}); a lexical index needs no ranks"
                )
            if ranks.leader:
                plan.validate()
            collection = load_collection(plan.collection, lang=plan.file_lang, strict=plan.strict)
            if collection.candidates.is_empty():
                raise XlirError(f"collection {collection.name} has no candidates")
            if ranks.leader:
                summary = collection.skipped_summary()
                if summary:
                    say(f"warning: {summary}")
                check_free_space(Path(plan.out), collection.candidates.height * 8192)
            encoder = Models(dict(plan.encoder_options), say).encoder(plan.spec.model)
            encoder.cache_writes = ranks.leader
            loaded.update(collection=collection, encoder=encoder)
        except Exception as e:
            return _failure(e)
        return None

    # rank 0 first: what it writes to the cache (the parsed collection, a model's export) the
    # others then read instead of writing it at the same time
    error = load() if ranks.leader else None
    agree(ranks, error)
    error = None if ranks.leader else load()
    agree(ranks, error)
    collection, encoder = loaded["collection"], loaded["encoder"]
    mine = (collection.fingerprint, encoder.fingerprint)
    every: list[Any] = [None] * ranks.size
    dist.all_gather_object(every, mine)
    for r, theirs in enumerate(every):
        if tuple(theirs) != mine:
            what = "collection" if theirs[0] != mine[0] else "model"
            raise RankFailure(
                f"rank {r} of {ranks.size} read another {what} than rank {ranks.rank} "
                "(give every rank the same files)",
                quiet=not ranks.leader,
            )
    if ranks.leader:
        say(f"encoding {collection.candidates.height:,} candidates over {ranks.size} ranks")
    gathered = GatheredEncoder(encoder, ranks, progress)
    if not ranks.leader:
        gathered.encode_candidates(collection.candidates)
        return None, ""
    index = DenseIndex.build(
        collection,
        gathered,  # type: ignore[arg-type]
        Path(plan.out),
        m=plan.m,
        ef_construction=plan.ef_construction,
        ef=plan.ef,
        overwrite=plan.overwrite,
    )
    retriever = DenseRetriever(index, encoder)
    return retriever, (
        f"indexed {index.size} candidates in {len(index.languages)} languages with "
        f"{retriever.label} over {ranks.size} ranks in {time.perf_counter() - started:.1f} s "
        f"-> {plan.out}"
    )
