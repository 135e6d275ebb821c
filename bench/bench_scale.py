"""Benchmark: how the tool grows with the candidate pool (10^4, 10^5, 10^6 candidates).

    nice -n 19 .venv/bin/python bench/bench_scale.py --index IDX [--sizes 10000 100000 1000000]
        [--label current] [--work DIR] [--phases pool build load search report explore]

``IDX`` is an index of XQuAD-R built with the default encoder (``xlir-tui index
../shared/data/xquad-r --model default --out IDX``): its 13,014 candidate vectors are the real
part of every pool, and its questions (encoded once through the encoder's cache) are the queries.

**Pools.** A pool of N candidates holds the real candidates (for N below 13,014, a seeded sample
that keeps every candidate relevant to the sampled queries) and N - 13,014 synthetic ones. Each
synthetic vector is drawn, per language, from a Gaussian with that language's real mean and
covariance, then normalised to unit length: the two properties retrieval depends on here are
kept (each language's own region of the space, which is where language bias comes from, and the
anisotropy of the embeddings), with no text to encode. A Gaussian has none of the topical
clusters of real text, so it is, if anything, harder for hnsw than real passages (a graph
search is easiest on clustered data): the recall figures are conservative. Resampling real
vectors plus noise was the other choice; it makes near-duplicates of 13,014 points, which makes
a graph search easy and the exact top 10 degenerate. The ``pool`` phase records how close the
two are (queries' best cosine against real and synthetic candidates of the same number, and the
mean cosine within and across languages).

**Queries.** 1,000 of XQuAD-R's questions (seeded, the same at every size); relevance is the real
one (synthetic candidates are relevant to nothing).

**Phases**, each in its own child process so that peak memory (``VmHWM`` of ``/proc``) is one
phase's, and each recorded in ``<records>/<label>/<N>.json`` as soon as it ends; a phase already
recorded is skipped, so an interrupted run resumes where it stopped (``--redo`` forces it):

- ``pool``: draw the pool (not timed as the tool's work) into ``<work>/<N>/``;
- ``build``: ``DenseIndex.build`` and ``save`` (the tool's own code, given the vectors): graph
  build seconds, save seconds, peak memory, and the hnsw parameters it chose;
- ``load``: ``DenseIndex.load``: seconds and memory after loading, and the first whole-pool
  search (which a lazily loaded graph pays for);
- ``search``: hnswlib recall@10 against the exact top 10 at several ``ef``, one-query latency
  p50/p99 for the whole pool (hnsw) and for one and three languages (the exact subset scan the
  tool uses for a language filter, and hnswlib's label filter), without the query's encoding;
- ``report``: the bias report's full-pool ranking (``report.rank_collection``, the dense
  system's own scorer) of the 1,000 queries: seconds and peak memory, against the bare matrix
  product of the same queries and candidates measured in the same process (the hardware's part);
- ``explore``: the explorer headless on the pool's index with the real default model: launch to
  ready, and a question typed into the query bar to its results painted (3 panes and the bias
  plots, 120x40), p50 and p99.

``--fit`` (also run after the phases) fits each figure against N on log-log axes
(``scipy.stats.linregress``), extrapolates to 10^7, and draws ``docs/scale.svg``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PHASES = ("pool", "build", "load", "search", "report", "explore")
SEED = 0
N_QUERIES = 1000
MACHINE_BYTES = 24 * 2**30
"""The development machine: 2 cores, 24 GiB of memory (the limit the fit is read against)."""


# ------------------------------------------------------------------------------- helpers


def proc_status() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in bytes."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


class Clock:
    """Wall and CPU seconds of a stretch of work. On a shared machine the wall time is mostly
    the others' load (a query that outlasts its time slice waits for the next); the CPU time
    of this process (all its threads) is the work itself, and is what the fit reads."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: Any) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "n": len(ms),
    }


def overlap(exact: np.ndarray, found: np.ndarray) -> float:
    """Mean share of each row of ``exact`` (top-k rows) that ``found`` holds: recall@k."""
    k = exact.shape[1]
    return round(
        float(np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, found, strict=True)])), 4
    )


class VectorEncoder:
    """Stands in for the real encoder where the vectors are already known: the tool's index,
    scorer and report code run unchanged, the model's identity is the real one's."""

    def __init__(self, model: dict[str, Any], candidates: np.ndarray | None, queries: Any) -> None:
        self.model = model
        self.candidates = candidates
        self.queries = queries  # {text: vector}
        self.dimension = int(model["dimension"])
        self.fingerprint = model["fingerprint"]
        self.name = model["model"]

    def describe(self) -> dict[str, Any]:
        return dict(self.model)

    def encode_candidates(self, candidates: Any, progress: Any = None) -> np.ndarray:
        assert self.candidates is not None and len(self.candidates) == candidates.height
        return self.candidates

    def encode_queries(self, texts: Any, progress: Any = None, cache: Any = None) -> np.ndarray:
        return np.stack([self.queries[t] for t in texts]).astype(np.float32)


# ------------------------------------------------------------------------------ the pools


def real_part(index_dir: Path, work: Path) -> dict[str, Any]:
    """The real index's vectors and tables, the query sample and its vectors (encoded once,
    through the encoder's cache, into ``<work>/queries.npy``)."""
    import polars as pl

    from xlir_tui.retrieval.dense import DenseIndex

    real = DenseIndex.load(index_dir)
    questions = real.questions
    rng = np.random.default_rng(SEED)
    sample = np.sort(rng.choice(questions.height, size=N_QUERIES, replace=False))
    qfile = work / "queries.npy"
    texts = questions["text"].to_list()
    if not qfile.exists():
        from xlir_tui.models.encoders import load_encoder_of

        model = real.manifest["model"]
        encoder = load_encoder_of(model, backend=model.get("backend", "torch"))
        vec = encoder.encode_queries(texts)  # the report cached them
        work.mkdir(parents=True, exist_ok=True)
        np.save(qfile, vec, allow_pickle=False)
    qvec = np.load(qfile)
    q = questions[sample.tolist()]
    rel = real.relevance.filter(pl.col("question_id").is_in(q["id"].implode()))
    return {
        "index": real,
        "vectors": np.asarray(real.vectors, np.float32),
        "questions": q,
        "relevance": rel,
        "query_vectors": {t: qvec[i] for i, t in enumerate(texts)},
        "sample_vectors": qvec[sample],
    }


def draw_pool(real: dict[str, Any], n: int, out: Path) -> dict[str, Any]:
    """Write ``vectors.npy`` and ``candidates.parquet`` of an N-candidate pool to ``out``."""
    import polars as pl

    rng = np.random.default_rng(SEED + n)
    cands: pl.DataFrame = real["index"].candidates
    vecs: np.ndarray = real["vectors"]
    n_real = cands.height
    stats: dict[str, Any] = {}
    if n <= n_real:
        keep = set(real["relevance"]["candidate_id"].to_list())
        ids = cands["id"].to_list()
        must = [i for i, c in enumerate(ids) if c in keep]
        rest = np.setdiff1d(np.arange(n_real), must)
        extra = rng.choice(rest, size=n - len(must), replace=False)
        rows = np.sort(np.concatenate([must, extra]))
        frame, vectors = cands[rows.tolist()], vecs[rows]
        stats["real"] = n
    else:
        langs = cands["lang"].to_numpy()
        order = sorted(set(langs.tolist()))
        counts = np.array([(langs == x).sum() for x in order])
        todo = n - n_real
        per = np.floor(counts / counts.sum() * todo).astype(int)
        per[: todo - per.sum()] += 1
        blocks, frames = [vecs], [cands]
        for lang, k in zip(order, per.tolist(), strict=True):
            real_l = vecs[langs == lang].astype(np.float64)
            mean, cov = real_l.mean(axis=0), np.cov(real_l, rowvar=False)
            v = rng.multivariate_normal(mean, cov, size=k, method="eigh").astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            blocks.append(v)
            ids = [f"{lang}/synthetic/{i}" for i in range(k)]
            frames.append(
                pl.DataFrame(
                    {
                        "id": ids,
                        "lang": [lang] * k,
                        "paragraph_id": [f"{lang}/synthetic/{i // 5}" for i in range(k)],
                        "sentence_index": pl.Series([i % 5 for i in range(k)], dtype=pl.Int32),
                        "text": [f"(synthetic {lang} candidate {i})" for i in range(k)],
                        "context": [""] * k,
                    },
                    schema=cands.schema,
                )
            )
        vectors = np.concatenate(blocks)
        frame = pl.concat(frames)
        stats["real"] = n_real
        stats["synthetic_per_language"] = dict(zip(order, per.tolist(), strict=True))
        stats["distribution_check"] = distribution_check(real, blocks[1:], order, per, langs)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "vectors.npy", np.ascontiguousarray(vectors, np.float32), allow_pickle=False)
    frame.write_parquet(out / "candidates.parquet")
    stats["candidates"] = frame.height
    return stats


def distribution_check(
    real: dict[str, Any], synth: list[np.ndarray], order: list[str], per: Any, langs: np.ndarray
) -> dict[str, Any]:
    """How alike the real and synthetic candidates look from where retrieval stands."""
    rng = np.random.default_rng(SEED)
    vecs = real["vectors"]
    syn = np.concatenate(synth)
    syn_lang = np.repeat(np.array(order), per)
    pick = rng.choice(len(syn), size=min(len(syn), len(vecs)), replace=False)
    q = real["sample_vectors"]
    best_real = (q @ vecs.T).max(axis=1)
    best_syn = (q @ syn[pick].T).max(axis=1)

    def mean_cos(a: np.ndarray, b: np.ndarray) -> float:
        return float((a[:500] @ b[:500].T).mean())

    within_r, across_r, within_s, across_s = [], [], [], []
    for i, x in enumerate(order[:4]):
        for y in order[: i + 1]:
            rx, ry = vecs[langs == x], vecs[langs == y]
            sx, sy = syn[syn_lang == x], syn[syn_lang == y]
            (within_r if x == y else across_r).append(mean_cos(rx, ry))
            (within_s if x == y else across_s).append(mean_cos(sx, sy))
    return {
        "query_best_cosine_real": round(float(best_real.mean()), 4),
        "query_best_cosine_synthetic_same_count": round(float(best_syn.mean()), 4),
        "mean_cosine_within_language_real": round(float(np.mean(within_r)), 4),
        "mean_cosine_within_language_synthetic": round(float(np.mean(within_s)), 4),
        "mean_cosine_across_languages_real": round(float(np.mean(across_r)), 4),
        "mean_cosine_across_languages_synthetic": round(float(np.mean(across_s)), 4),
    }


def pool_collection(real: dict[str, Any], folder: Path) -> Any:
    """The pool as a :class:`~xlir_tui.data.collections.Collection` (the sampled queries)."""
    import polars as pl

    from xlir_tui.data.collections import SKIPPED_SCHEMA, Collection
    from xlir_tui.storage.files import text_digest

    cands = pl.read_parquet(folder / "candidates.parquet")
    rel = real["relevance"].filter(pl.col("candidate_id").is_in(cands["id"].implode()))
    return Collection(
        f"xquad-r+synthetic-{cands.height}",
        real["questions"],
        cands,
        rel,
        pl.DataFrame(schema=SKIPPED_SCHEMA),
        text_digest("bench-scale", str(cands.height), str(SEED)),
        [],
    )


# ---------------------------------------------------------------------------------- phases


def phase_pool(real: dict[str, Any], n: int, folder: Path) -> dict[str, Any]:
    """Draw the pool once (seeded, so every label measures the same pool)."""
    done = folder / "pool.json"
    if done.exists() and (folder / "vectors.npy").exists():
        return json.loads(done.read_text())
    t = time.perf_counter()
    stats = draw_pool(real, n, folder)
    stats["draw_s"] = round(time.perf_counter() - t, 2)
    done.write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def phase_build(real: dict[str, Any], n: int, folder: Path) -> dict[str, Any]:
    from xlir_tui.retrieval.dense import DenseIndex

    collection = pool_collection(real, folder)
    vectors = np.load(folder / "vectors.npy")
    base = proc_status()["VmRSS"]
    encoder = VectorEncoder(real["index"].manifest["model"], vectors, None)
    out = folder / "index"
    with Clock() as build:
        index = DenseIndex.build(collection, encoder, None)  # type: ignore[arg-type]
    with Clock() as save:
        index.save(out, overwrite=True)
    mem = proc_status()
    files = {p.name: p.stat().st_size for p in out.iterdir()}
    return {
        "hnsw": index.manifest["hnsw"],
        "build_s": round(build.wall, 2),
        "build_cpu_s": round(build.cpu, 2),
        "save_s": round(save.wall, 2),
        "peak_rss": mem["VmHWM"],
        "rss_before": base,
        "vectors_bytes": int(vectors.nbytes),
        "files": files,
    }


def phase_load(real: dict[str, Any], n: int, folder: Path) -> dict[str, Any]:
    from xlir_tui.retrieval.dense import DenseIndex

    base = proc_status()["VmRSS"]
    with Clock() as load:
        index = DenseIndex.load(folder / "index")
    after = proc_status()
    with Clock() as first:
        index.search_vectors(real["sample_vectors"][:1], k=10, method="hnsw")
    return {
        "load_s": round(load.wall, 3),
        "load_cpu_s": round(load.cpu, 3),
        "rss_after_load": after["VmRSS"] - base,
        "first_search_s": round(first.wall, 3),
        "first_search_cpu_s": round(first.cpu, 3),
        "rss_after_first_search": proc_status()["VmRSS"] - base,
        "peak_rss": proc_status()["VmHWM"],
        "vectors_in_memory": bool(not isinstance(index.vectors, np.memmap)),
    }


def phase_search(real: dict[str, Any], n: int, folder: Path) -> dict[str, Any]:
    from xlir_tui.retrieval.dense import DenseIndex

    index = DenseIndex.load(folder / "index")
    q = real["sample_vectors"]
    t = time.perf_counter()
    exact = np.concatenate(
        [index.search_vectors(q[i : i + 50], k=10, method="exact")[0] for i in range(0, len(q), 50)]
    )
    exact_s = time.perf_counter() - t
    default_ef = int(index.manifest["hnsw"]["ef"])
    try:  # the beam this code chooses for a pool of this size (the index may be older)
        from xlir_tui.retrieval.dense import hnsw_parameters

        chosen_ef = hnsw_parameters(n)["ef"]
    except ImportError:  # code from before the choice by pool size
        chosen_ef = default_ef
    recall: dict[str, float] = {}
    for ef in sorted({16, 32, 64, 128, 256, 512, default_ef, chosen_ef}):
        rows, _ = index.search_vectors(q, k=10, ef=ef, method="hnsw")
        recall[str(ef)] = overlap(exact, rows)
    synthetic = index.candidates["id"].str.contains("/synthetic/").to_numpy()
    top_synthetic = float(synthetic[exact].mean())

    def timed(langs: list[str] | None, method: str, queries: int = 200) -> dict[str, Any]:
        ms, cpu = [], []
        for v in q[:queries]:
            with Clock() as c:
                index.search_vectors(v[None, :], k=10, langs=langs, method=method)
            ms.append(c.wall * 1000)
            cpu.append(c.cpu * 1000)
        return {**percentiles(ms), "cpu": percentiles(cpu)}

    index.graph.set_ef(chosen_ef)
    index.manifest["hnsw"]["ef"] = chosen_ef  # every search below at the chosen beam
    latency: dict[str, Any] = {"whole_pool_hnsw": timed(None, "hnsw", 500)}
    for name, langs in (("one_language", ["de"]), ("three_languages", ["de", "zh", "th"])):
        latency[f"{name}_exact"] = timed(langs, "exact")
        latency[f"{name}_hnsw_filter"] = timed(langs, "hnsw", 100)
        latency[f"{name}_subset"] = len(index.rows_for(langs))
        rows_e, _ = index.search_vectors(q[:200], k=10, langs=langs, method="exact")
        rows_h, _ = index.search_vectors(q[:200], k=10, langs=langs, method="hnsw")
        latency[f"{name}_hnsw_filter_recall"] = overlap(rows_e, rows_h)
    return {
        "hnsw": index.manifest["hnsw"],
        "exact_top10_1000_queries_s": round(exact_s, 2),
        "recall_at_10": recall,
        "recall_at_10_default_ef": recall[str(default_ef)],
        "chosen_ef": chosen_ef,
        "recall_at_10_chosen_ef": recall[str(chosen_ef)],
        "synthetic_share_of_exact_top10": round(top_synthetic, 4),
        "synthetic_share_of_pool": round(float(synthetic.mean()), 4),
        "latency": latency,
        "peak_rss": proc_status()["VmHWM"],
    }


def phase_report(real: dict[str, Any], n: int, folder: Path) -> dict[str, Any]:
    import torch

    from xlir_tui.evaluation.evaluate import rank_collection
    from xlir_tui.evaluation.metrics import summarize
    from xlir_tui.retrieval.dense import DenseIndex
    from xlir_tui.retrieval.dense_system import DenseRetriever

    index = DenseIndex.load(folder / "index")
    collection = index.collection()
    questions = collection.questions["text"].to_list()
    encoder = VectorEncoder(index.manifest["model"], None, real["query_vectors"])
    # the hardware's part, measured first in the same process: the bare product, chunk by chunk
    qv = encoder.encode_queries(questions)
    vec = np.asarray(index.vectors)
    with Clock() as matmul, torch.inference_mode():
        vt = torch.from_numpy(np.ascontiguousarray(vec))
        for lo in range(0, len(qv), 100):
            torch.from_numpy(qv[lo : lo + 100]) @ vt.T
    del vt
    base = proc_status()["VmRSS"]
    with open("/proc/self/clear_refs", "w") as f:  # the peak from here on
        f.write("5")
    with Clock() as rank:
        retriever = DenseRetriever(index, encoder)
        scorer = retriever.scorer(questions, collection.questions["lang"].to_list())
        ranked, _, _ = rank_collection(collection, scorer, 10, _report_chunk(), None, None)
    with Clock() as summing:
        summary = summarize(ranked)
    peak = proc_status()["VmHWM"]
    flops = 2.0 * len(qv) * vec.shape[0] * vec.shape[1]
    return {
        "queries": len(questions),
        "rank_s": round(rank.wall, 2),
        "rank_cpu_s": round(rank.cpu, 2),
        "summary_s": round(summing.wall, 2),
        "matmul_s": round(matmul.wall, 2),
        "matmul_cpu_s": round(matmul.cpu, 2),
        "matmul_gflops": round(flops / matmul.wall / 1e9, 1),
        "matmul_gflops_per_cpu_second": round(flops / matmul.cpu / 1e9, 1),
        "peak_rss_during_scoring": peak - base,
        "rss_before_scoring": base,
        "peak_rss": peak,
        "multi_map": round(summary["summary"]["multi"]["map"], 4),
        "mono_map": round(summary["summary"]["mono"]["map"], 4),
    }


def _report_chunk() -> int | None:
    """The chunk ``evaluate`` passes (its default), None when the tool sizes it itself."""
    import inspect

    from xlir_tui.evaluation.evaluate import evaluate

    default = inspect.signature(evaluate).parameters["chunk"].default
    return default


EXPLORE_PROBE = """
import asyncio, json, sys, time
import numpy as np
from xlir_tui.retrieval.dense import scores_of
from xlir_tui.tui.app import ExplorerApp

async def main(index, n):
    t0 = time.perf_counter()
    app = ExplorerApp(index=index, langs=["en", "de", "zh"])
    async with app.run_test(size=(120, 40)) as pilot:
        while app.workspace is None:
            await pilot.pause(0.05)
        ready = time.perf_counter() - t0
        queries = app.workspace.collection.questions["text"].to_list()[:n]
        # the floor, in the same process: the bare encoding and the bare product of one query
        system = app.workspace.systems[0]
        vectors = np.asarray(system.index.vectors)
        encode, product = [], []
        for q in queries[:20]:
            t = time.perf_counter()
            v = system.encoder.encode_queries([q], cache=False)
            encode.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            scores_of(v, vectors)
            product.append((time.perf_counter() - t) * 1000)
        box = app.query_one("#query")
        times, cpu = [], []
        for q in queries:
            await app.workers.wait_for_complete()
            await pilot.pause()
            target = app.request + 1
            t, c = time.perf_counter(), time.process_time()
            box.value = q
            while app.painted_request < target:
                await asyncio.sleep(0.001)
            await pilot.pause()
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    print("RESULT " + json.dumps({"ready_s": ready, "times_ms": times, "cpu_ms": cpu,
                                  "encode_ms": encode, "product_ms": product}))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def phase_explore(real: dict[str, Any], n: int, folder: Path, queries: int = 40) -> dict[str, Any]:
    probe = Path(tempfile.mkdtemp()) / "probe.py"  # Textual reads the app's source location
    probe.write_text(EXPLORE_PROBE)
    res = subprocess.run(
        [sys.executable, str(probe), str(folder / "index"), str(queries)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
    if res.returncode or line is None:
        raise RuntimeError(f"explorer probe failed: {res.stderr[-2000:]}")
    data = json.loads(line[len("RESULT ") :])
    times = data["times_ms"][1:]  # the first query pays for one-off work (tie keys)
    return {
        "ready_s": round(data["ready_s"], 2),
        "first_query_ms": round(data["times_ms"][0], 1),
        "query_to_paint": percentiles(times),
        "query_to_paint_cpu": percentiles(data["cpu_ms"][1:]),
        "bare_encode": percentiles(data["encode_ms"]),
        "bare_product": percentiles(data["product_ms"]),
    }


RUNNERS = {
    "pool": phase_pool,
    "build": phase_build,
    "load": phase_load,
    "search": phase_search,
    "report": phase_report,
    "explore": phase_explore,
}


def child(args: argparse.Namespace) -> int:
    """One phase at one size, in this process; prints its record as one JSON line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work)
    real = real_part(Path(args.index), work)
    folder = work / str(args.size)
    started = time.perf_counter()
    load_before = load_avg()
    record = RUNNERS[args.child](real, args.size, folder)
    record.update(
        {
            "wall_s": round(time.perf_counter() - started, 2),
            "load_before": load_before,
            "load_after": load_avg(),
        }
    )
    print("RECORD " + json.dumps(record))
    return 0


# ------------------------------------------------------------------------------- the runs


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


def run_phases(args: argparse.Namespace) -> None:
    records = Path(args.records) / args.label
    records.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        path = records / f"{n}.json"
        rec: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"size": n}
        for phase in args.phases:
            if phase in rec.get("phases", {}) and phase not in args.redo:
                print(f"{n:>9,} {phase}: recorded, skipped")
                continue
            if phase == "build" and args.reuse_build:
                # the graph is built by code and parameters another label measured already
                other = json.loads(
                    (Path(args.records) / args.reuse_build / f"{n}.json").read_text()
                )
                rec.setdefault("phases", {})["build"] = {
                    **other["phases"]["build"],
                    "reused_from": args.reuse_build,
                }
                path.write_text(json.dumps(rec, indent=2) + "\n")
                print(f"{n:>9,} build: reused from {args.reuse_build}")
                continue
            print(f"{n:>9,} {phase} ...", flush=True)
            cmd = [sys.executable, __file__, "--child", phase, "--size", str(n),
                   "--index", args.index, "--work", args.work]  # fmt: skip
            res = subprocess.run(cmd, capture_output=True, text=True)
            line = next((x for x in res.stdout.splitlines() if x.startswith("RECORD ")), None)
            if res.returncode or line is None:
                print(res.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"bench: phase {phase} at {n} failed (exit {res.returncode})")
            result = json.loads(line[len("RECORD ") :])
            result["commit"] = git_commit()
            rec.setdefault("phases", {})[phase] = result
            path.write_text(json.dumps(rec, indent=2) + "\n")
            print(f"{n:>9,} {phase}: {short(phase, result)}", flush=True)


def short(phase: str, r: dict[str, Any]) -> str:
    gib = 2**30
    if phase == "build":
        return (
            f"graph {r['build_s']} s, save {r['save_s']} s, peak {r['peak_rss'] / gib:.2f} GiB, "
            f"hnsw {r['hnsw']}"
        )
    if phase == "load":
        return (
            f"load {r['load_s']} s (+{r['rss_after_load'] / gib:.2f} GiB), first search "
            f"{r['first_search_s']} s"
        )
    if phase == "search":
        lat = r["latency"]
        return (
            f"recall@10 {r['recall_at_10']}, hnsw p50 {lat['whole_pool_hnsw']['p50_ms']} ms, "
            f"one language exact p50 {lat['one_language_exact']['p50_ms']} ms"
        )
    if phase == "report":
        return (
            f"ranking {r['queries']} queries {r['rank_s']} s (bare product {r['matmul_s']} s), "
            f"peak +{r['peak_rss_during_scoring'] / gib:.2f} GiB"
        )
    if phase == "explore":
        return (
            f"ready {r['ready_s']} s, query to paint p50 {r['query_to_paint']['p50_ms']} ms, "
            f"p99 {r['query_to_paint']['p99_ms']} ms (bare encoding p50 "
            f"{r.get('bare_encode', {}).get('p50_ms')} ms, bare product p50 "
            f"{r.get('bare_product', {}).get('p50_ms')} ms)"
        )
    return json.dumps(r)[:300]


# --------------------------------------------------------------------------------- the fit


def dig(record: dict[str, Any], *path: str) -> Any:
    """``record[path[0]][path[1]]...``, None where a step is missing (an older record)."""
    for key in path:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record


def _gib(value: Any) -> float | None:
    return None if value is None else value / 2**30


SERIES = {
    # name: (phase, how to read it, unit, what it is). CPU seconds are the work itself (see
    # Clock); the wall figures are what a person waited on this shared machine.
    "build_cpu_s": ("build", lambda r: dig(r, "build_cpu_s"), "s", "graph build, CPU"),
    "build_s": ("build", lambda r: dig(r, "build_s"), "s", "graph build, wall"),
    "build_peak_gib": ("build", lambda r: _gib(dig(r, "peak_rss")), "GiB", "peak memory, build"),
    "load_s": ("load", lambda r: dig(r, "load_s"), "s", "index load, wall"),
    "load_gib": ("load", lambda r: _gib(dig(r, "rss_after_load")), "GiB", "memory after load"),
    "hnsw_cpu_ms": (
        "search",
        lambda r: dig(r, "latency", "whole_pool_hnsw", "cpu", "p50_ms"),
        "ms",
        "one query, whole pool, hnsw, CPU p50",
    ),
    "hnsw_p50_ms": (
        "search",
        lambda r: dig(r, "latency", "whole_pool_hnsw", "p50_ms"),
        "ms",
        "one query, whole pool, hnsw, wall p50",
    ),
    "filter_cpu_ms": (
        "search",
        lambda r: dig(r, "latency", "one_language_exact", "cpu", "p50_ms"),
        "ms",
        "one query, one language, exact scan, CPU p50",
    ),
    "filter_p50_ms": (
        "search",
        lambda r: dig(r, "latency", "one_language_exact", "p50_ms"),
        "ms",
        "one query, one language, exact scan, wall p50",
    ),
    "report_cpu_s": ("report", lambda r: dig(r, "rank_cpu_s"), "s", "report ranking, CPU"),
    "report_s": ("report", lambda r: dig(r, "rank_s"), "s", "report ranking, wall"),
    "report_matmul_cpu_s": (
        "report",
        lambda r: dig(r, "matmul_cpu_s"),
        "s",
        "the bare product alone, CPU",
    ),
    "report_peak_gib": (
        "report",
        lambda r: _gib(dig(r, "peak_rss_during_scoring")),
        "GiB",
        "report ranking, peak memory above the loaded index",
    ),
    "explore_cpu_ms": (
        "explore",
        lambda r: dig(r, "query_to_paint_cpu", "p50_ms"),
        "ms",
        "explorer, query to paint, CPU p50",
    ),
    "explore_p50_ms": (
        "explore",
        lambda r: dig(r, "query_to_paint", "p50_ms"),
        "ms",
        "explorer, query to paint, wall p50",
    ),
}
PLOTTED = (
    ("time", ["build_cpu_s", "report_cpu_s", "load_s", "hnsw_cpu_ms", "filter_cpu_ms",
              "explore_cpu_ms"]),
    ("memory (GiB)", ["build_peak_gib", "load_gib", "report_peak_gib"]),
)  # fmt: skip


def fit(args: argparse.Namespace) -> dict[str, Any]:
    from scipy.stats import linregress

    folder = Path(args.records) / args.label
    recs = sorted(
        (json.loads(p.read_text()) for p in folder.glob("*.json") if p.stem.isdigit()),
        key=lambda r: r["size"],
    )
    out: dict[str, Any] = {"label": args.label, "series": {}}
    for name, (phase, read, unit, what) in SERIES.items():
        pts = [
            (r["size"], read(r["phases"][phase]))
            for r in recs
            if phase in r.get("phases", {}) and read(r["phases"][phase]) is not None
        ]
        entry: dict[str, Any] = {"what": what, "unit": unit, "points": pts}
        if len(pts) >= 2 and all(v > 0 for _, v in pts):
            x = np.log10([p[0] for p in pts])
            y = np.log10([p[1] for p in pts])
            lr = linregress(x, y)
            entry.update(
                {
                    "slope": round(float(lr.slope), 3),
                    "intercept": round(float(lr.intercept), 3),
                    "r2": round(float(lr.rvalue**2), 4),
                    "at_1e7": float(10 ** (lr.intercept + lr.slope * 7)),
                }
            )
        out["series"][name] = entry
    out["limit"] = machine_limit(recs, args.index)
    (folder / "fit.json").write_text(json.dumps(out, indent=2) + "\n")
    svg = plot_svg(out)
    Path(args.plot).write_text(svg, encoding="utf-8")
    for name, e in out["series"].items():
        if "slope" in e:
            print(
                f"{name:>16}: slope {e['slope']:.2f} (r2 {e['r2']:.3f}), at 10^7 "
                f"{e['at_1e7']:.3g} {e['unit']}"
            )
    print(json.dumps(out["limit"], indent=2))
    print()
    print(markdown_tables(Path(args.records), [args.label, *args.compare]))
    return out


def _records(folder: Path) -> dict[int, dict[str, Any]]:
    return {
        int(p.stem): json.loads(p.read_text()) for p in folder.glob("*.json") if p.stem.isdigit()
    }


def markdown_tables(records: Path, labels: list[str]) -> str:
    """The figures of each label side by side, per pool size, and the recall at each ``ef``:
    what docs/benchmarks.md shows."""
    by_label = {lab: _records(records / lab) for lab in labels}
    sizes = sorted({n for recs in by_label.values() for n in recs})
    head = "| figure | " + " | ".join(f"{n:,}" for n in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for phase, read, unit, what in SERIES.values():
        for lab in labels:
            cells = []
            for n in sizes:
                ph = by_label[lab].get(n, {}).get("phases", {}).get(phase)
                value = read(ph) if ph else None
                cells.append(f"{value:.3g}" if value is not None else "")
            if any(cells):
                tag = f" ({lab})" if len(labels) > 1 else ""
                lines.append(f"| {what}, {unit}{tag} | " + " | ".join(cells) + " |")
    lines += ["", "| recall@10 against exact, by ef | " + " | ".join(f"{n:,}" for n in sizes)]
    lines.append("|---|" + "---|" * len(sizes))
    recs = by_label[labels[-1]]
    efs = sorted(
        {int(e) for r in recs.values() for e in r.get("phases", {}).get("search", {}).get(
            "recall_at_10", {})}
    )  # fmt: skip
    for ef in efs:
        cells = [
            str(recs.get(n, {}).get("phases", {}).get("search", {}).get("recall_at_10", {}).get(
                str(ef), ""))
            for n in sizes
        ]  # fmt: skip
        lines.append(f"| ef {ef} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_limit(recs: list[dict[str, Any]], index: str | None) -> dict[str, Any]:
    """Bytes per candidate of each part that must sit in memory, from the largest pool
    measured, and the largest pool they allow on this machine.

    The synthetic candidates have almost no text, so the candidate table's share is taken from
    the real index (``--index``): its polars frame in memory, where each sentence carries its
    paragraph (``context``).
    """
    built = [r for r in recs if "build" in r.get("phases", {})]
    if not built:
        return {}
    r = built[-1]
    n = r["size"]
    files = r["phases"]["build"]["files"]
    per = {"vectors": files["vectors.npy"] / n, "hnsw_graph": files["hnsw.bin"] / n}
    if index and (Path(index) / "candidates.parquet").exists():
        import polars as pl

        real = pl.read_parquet(Path(index) / "candidates.parquet")
        per["candidate_table_real_text"] = real.estimated_size() / real.height
        per["of_which_context"] = real["context"].str.len_bytes().mean()  # type: ignore[assignment]
    need = per["vectors"] + per["hnsw_graph"] + per.get("candidate_table_real_text", 0.0)
    return {
        "from_size": n,
        "bytes_per_candidate": {k: round(v, 1) for k, v in per.items()},
        "at_1e7_gib": {k: round(v * 1e7 / 2**30, 1) for k, v in per.items()},
        "machine_gib": MACHINE_BYTES / 2**30,
        "largest_pool_vectors_graph_and_table_in_memory": int(MACHINE_BYTES / need),
        "largest_pool_graph_in_memory_vectors_mapped": int(MACHINE_BYTES / per["hnsw_graph"]),
        "largest_pool_vectors_only_exact_scoring": int(MACHINE_BYTES / per["vectors"]),
    }


def plot_svg(fit_data: dict[str, Any]) -> str:
    """Two log-log panels (time, memory) against the pool size, with each fit extended to 10^7.

    Written by hand: matplotlib is not among the project's dependencies, and the report's
    heatmap is drawn the same way.
    """
    w, h, pad_l, pad_t, gap = 900, 420, 70, 50, 90
    pw = (w - pad_l - gap - 160) / 2
    ph = h - pad_t - 70
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    panels = PLOTTED
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="11">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{pad_l}" y="20" font-size="14" font-weight="bold">xlir-tui at scale: '
        "pool size against time and memory (log-log; dashed: fit extended to 10^7)</text>",
    ]
    x_lo, x_hi = 4.0, 7.0
    for p, (title, names) in enumerate(panels):
        x0 = pad_l + p * (pw + gap)
        series = [(n, fit_data["series"][n]) for n in names if fit_data["series"][n]["points"]]
        vals = [v for _, e in series for _, v in e["points"]] + [
            e["at_1e7"] for _, e in series if "at_1e7" in e
        ]
        if not vals:
            continue
        y_lo = math.floor(math.log10(min(vals)))
        y_hi = math.ceil(math.log10(max(vals)))
        y_hi = max(y_hi, y_lo + 1)

        def px(n: float, x0: float = x0) -> float:
            return x0 + (math.log10(n) - x_lo) / (x_hi - x_lo) * pw

        def py(v: float, y_lo: int = y_lo, y_hi: int = y_hi) -> float:
            return pad_t + ph - (math.log10(v) - y_lo) / (y_hi - y_lo) * ph

        out.append(f'<rect x="{x0}" y="{pad_t}" width="{pw}" height="{ph}" fill="none" '
                   'stroke="#999"/>')  # fmt: skip
        out.append(f'<text x="{x0}" y="{pad_t - 8}" font-weight="bold">{title}</text>')
        for e in range(int(x_lo), int(x_hi) + 1):
            x = px(10**e)
            out.append(f'<line x1="{x}" y1="{pad_t}" x2="{x}" y2="{pad_t + ph}" stroke="#eee"/>')
            out.append(f'<text x="{x}" y="{pad_t + ph + 16}" text-anchor="middle">10^{e}</text>')
        for e in range(y_lo, y_hi + 1):
            y = py(10**e)
            out.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + pw}" y2="{y}" stroke="#eee"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4}" text-anchor="end">{10.0**e:g}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{pad_t + ph + 34}" text-anchor="middle">'
                   "candidates in the pool</text>")  # fmt: skip
        if p == 1:
            y = py(MACHINE_BYTES / 2**30)
            if pad_t <= y <= pad_t + ph:
                out.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + pw}" y2="{y}" stroke="black" '
                           'stroke-dasharray="2,2"/>')  # fmt: skip
                out.append(f'<text x="{x0 + 4}" y="{y - 4}">this machine: 24 GiB</text>')
        for i, (_name, e) in enumerate(series):
            c = colors[i % len(colors)]
            pts = e["points"]
            out.append(
                '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                    c, " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in pts)
                )
            )
            for n, v in pts:
                out.append(f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3" fill="{c}"/>')
            if "at_1e7" in e:
                n_last, _ = pts[-1]
                v_last = 10 ** (e["intercept"] + e["slope"] * math.log10(n_last))
                out.append(
                    f'<line x1="{px(n_last):.1f}" y1="{py(v_last):.1f}" x2="{px(1e7):.1f}" '
                    f'y2="{py(e["at_1e7"]):.1f}" stroke="{c}" stroke-dasharray="5,4"/>'
                )
            label = f"{e['what']} ({e['unit']})"
            if "slope" in e:
                label += f", slope {e['slope']:.2f}"
            out.append(
                f'<text x="{x0 + pw + 8}" y="{pad_t + 12 + i * 28}" fill="{c}">'
                f"{_esc(label[:38])}</text>"
            )
            if len(label) > 38:
                out.append(
                    f'<text x="{x0 + pw + 8}" y="{pad_t + 25 + i * 28}" fill="{c}">'
                    f"{_esc(label[38:76])}</text>"
                )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="An index of XQuAD-R built with the default encoder.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    parser.add_argument("--redo", nargs="*", default=[], choices=PHASES)
    parser.add_argument("--label", default="current", help="Records go under <records>/<label>.")
    parser.add_argument("--records", default=str(ROOT / "docs" / "records" / "scale"))
    parser.add_argument(
        "--work",
        default=str(ROOT / "bench" / "results" / "scale-work"),
        help="Where the pools and their indexes are written (GBs at 10^6).",
    )
    parser.add_argument("--plot", default=str(ROOT / "docs" / "scale.svg"))
    parser.add_argument("--fit", action="store_true", help="Only fit and plot the records.")
    parser.add_argument(
        "--compare", nargs="*", default=[], metavar="LABEL", help="Labels shown beside --label."
    )
    parser.add_argument(
        "--reuse-build",
        metavar="LABEL",
        help="Take the build phase from LABEL's records and use the indexes it built (when the "
        "graph's code and parameters did not change).",
    )
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if not args.fit:
        if not args.index or not (Path(args.index) / "manifest.json").exists():
            print("bench: --index must be an index folder of XQuAD-R", file=sys.stderr)
            return 1
        print(f"load average {load_avg()} on {os.cpu_count()} CPUs (a shared machine)")
        run_phases(args)
    fit(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
