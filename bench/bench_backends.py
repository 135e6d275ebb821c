"""Benchmark: each encoder backend against torch float32 on XQuAD-R, in one run.

    .venv/bin/python bench/bench_backends.py [--data ../shared/data/xquad-r] [--model default]
        [--backends torch,onnx-int8,openvino,openvino-int8] [--rounds 3] [--texts 512]

Measured, for the same model (``default``: multilingual-e5-small) in each backend:

1. the first load: the export into the cache (made once per model and backend), or reading it;
2. throughput on the same texts (XQuAD-R candidates with the passage prompt and questions with
   the query prompt, no embedding cache), in alternating rounds so every backend shares the
   machine's noise; the ratio to torch is taken round by round, and the cosine of every vector
   with torch's. torch on one thread is measured beside (``torch-1-thread``): on a loaded
   machine, two OpenMP threads may be slower than one;
3. retrieval quality: ``xlir_tui.evaluation.evaluate.evaluate`` on the whole collection,
   mono / cross / multi
   mAP of each backend minus torch's (criterion for a report default: |difference| <= 0.005 in
   each), and the whole ``evaluate`` wall time (target <= 3.5 minutes for the report default).
   torch uses the embedding cache (leave ``XLIR_TUI_CACHE`` unset to reuse the user's), so its
   wall time may be a cached one; the fast backends encode everything (no cache);
4. one query's encode + exact search over the collection's 13k candidate vectors (torch's, from
   the cache: the product costs the same for any backend's vectors), p50 and p99
   (target p50 <= 25 ms).

The machine is shared: ``uptime`` is printed at the start and the end. Figures go to the
console and to ``bench/results/backends.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from bench_common import ROOT, collection_parser, uptime, use_this_checkout

use_this_checkout()


def main() -> int:
    from xlir_tui.models.backends import BACKENDS

    parser = collection_parser(__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--texts", type=int, default=512, help="texts per throughput round")
    parser.add_argument("--queries", type=int, default=200, help="queries for the latency")
    parser.add_argument("--skip-evaluate", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "backends.json"))
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        print(f"bench: no data at {args.data}", file=sys.stderr)
        return 1
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "torch" not in backends:
        backends.insert(0, "torch")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from xlir_tui.data.collections import load_collection
    from xlir_tui.evaluation.evaluate import evaluate
    from xlir_tui.models.encoders import load_encoder
    from xlir_tui.retrieval.dense import DenseIndex
    from xlir_tui.storage.files import cache_root

    result: dict = {"uptime_start": uptime(), "model": args.model, "data": args.data}
    print(f"load: {result['uptime_start']}")
    collection = load_collection(args.data)
    print(
        f"collection {collection.name}: {collection.candidates.height} candidates, "
        f"{collection.questions.height} questions; cache {cache_root()}"
    )

    # 1. first load (export) of every backend
    encoders = {}
    for backend in backends:
        t = time.perf_counter()
        encoders[backend] = load_encoder(args.model, backend=backend)
        took = time.perf_counter() - t
        enc = encoders[backend]
        precision = enc.runtime.precision if enc.runtime else "f32"
        print(f"{backend}: loaded in {took:.1f} s ({precision}); threads {_threads()}")
        result.setdefault("load_s", {})[backend] = round(took, 2)
        result.setdefault("precision", {})[backend] = precision
    ref = encoders["torch"]

    # 2. throughput, alternating rounds, same texts
    rng = random.Random(0)
    cands = collection.candidates["text"].to_list()
    questions = collection.questions["text"].to_list()
    n_q = args.texts // 4
    sample_c = rng.sample(cands, args.texts - n_q)
    sample_q = rng.sample(questions, n_q)

    def encode(enc):
        return np.concatenate(
            [enc.encode_passages(sample_c, cache=False), enc.encode_queries(sample_q, cache=False)]
        )

    for enc in encoders.values():  # warm-up: first-call allocations, kernel compilation
        enc.encode_passages(sample_c[:64], cache=False)
    # torch on one thread as well: on a loaded machine two OpenMP threads can be slower than one
    # (each of the model's ~250 parallel regions waits for a thread the scheduler gave away)
    encoders[ONE] = ref
    runs = [*backends, ONE]
    times: dict[str, list[float]] = {b: [] for b in runs}
    vectors: dict[str, np.ndarray] = {}
    for r in range(args.rounds):
        order = runs if r % 2 == 0 else runs[::-1]
        for backend in order:
            with one_thread(backend == ONE):
                t = time.perf_counter()
                vectors[backend] = encode(encoders[backend])
                times[backend].append(time.perf_counter() - t)
    print(
        f"\nthroughput, {args.texts} texts ({len(sample_c)} candidates, {n_q} questions), "
        f"{args.rounds} alternating rounds:"
    )
    speed = {}
    for backend in runs:
        ratios = [tt / tb for tt, tb in zip(times["torch"], times[backend], strict=True)]
        cos = (vectors[backend] * vectors["torch"]).sum(axis=1)
        speed[backend] = {
            "texts_per_s": round(args.texts / float(np.median(times[backend])), 1),
            "ratio_vs_torch": round(float(np.median(ratios)), 3),
            "ratios": [round(x, 3) for x in ratios],
            "cosine_mean": round(float(cos.mean()), 5),
            "cosine_min": round(float(cos.min()), 5),
        }
        s = speed[backend]
        print(
            f"  {backend:14s} {s['texts_per_s']:6.1f} texts/s  x{s['ratio_vs_torch']:.2f} vs torch "
            f"(rounds {', '.join(f'{x:.2f}' for x in ratios)}); cosine with torch mean "
            f"{s['cosine_mean']:.5f} min {s['cosine_min']:.5f}"
        )
    result["throughput"] = speed

    # 3. retrieval quality and the whole evaluate
    if not args.skip_evaluate:
        print("\nevaluate on the whole collection (mAP; difference from torch):")
        quality = {}
        # torch last: it reads the embedding cache, which another process may still be filling
        for backend in [*backends[1:], "torch"]:
            enc = encoders[backend]
            enc.use_cache = backend == "torch"
            t = time.perf_counter()
            ev = evaluate(collection, enc)
            wall = time.perf_counter() - t
            enc.use_cache = True
            summary = ev.entry["summary"]
            quality[backend] = {
                "map": {s: round(float(summary[s]["map"]), 5) for s in ("mono", "cross", "multi")},
                "evaluate_s": round(wall, 1),
                "encode_s": ev.entry["timings"]["encode_s"],
                "embedding_cache": backend == "torch",
            }
            print(f"  {backend:14s} evaluate {wall / 60:5.2f} min", flush=True)
        for backend in backends:
            maps = quality[backend]["map"]
            line = f"  {backend:14s} mAP " + ", ".join(f"{s} {v:.4f}" for s, v in maps.items())
            if backend != "torch":
                diff = {s: round(maps[s] - quality["torch"]["map"][s], 5) for s in maps}
                ok = all(abs(d) <= 0.005 for d in diff.values())
                quality[backend]["map_diff"] = diff
                quality[backend]["within_0.005"] = ok
                line += "; diff " + ", ".join(f"{s} {d:+.4f}" for s, d in diff.items())
                line += " (meets |diff| <= 0.005)" if ok else " (misses |diff| <= 0.005)"
            print(line)
        total = collection.candidates.height + collection.questions.height
        torch_rate = speed["torch"]["texts_per_s"]
        print(
            f"  torch without the cache would encode {total} texts at {torch_rate} texts/s: "
            f"{total / torch_rate / 60:.2f} min"
        )
        result["evaluate"] = quality

    # 4. one query: encode + exact search over the collection's vectors
    index = DenseIndex.build(collection, ref)
    picks = rng.sample(questions, args.queries)
    print(f"\none query, encode + exact search over {index.size} vectors, {args.queries} queries:")
    latency = {}
    for backend in runs:
        enc = encoders[backend]
        samples = []
        with one_thread(backend == ONE):
            for q in picks[:10]:  # warm-up
                index.search_vectors(enc.encode_queries([q], cache=False), k=10, method="exact")
            for q in picks:
                t = time.perf_counter()
                index.search_vectors(enc.encode_queries([q], cache=False), k=10, method="exact")
                samples.append((time.perf_counter() - t) * 1000)
        p50, p99 = (float(np.percentile(samples, p)) for p in (50, 99))
        latency[backend] = {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2)}
        print(f"  {backend:14s} p50 {p50:6.1f} ms, p99 {p99:6.1f} ms")
    result["query_latency"] = latency
    result["uptime_end"] = uptime()
    print(f"\nload: {result['uptime_end']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


ONE = "torch-1-thread"


@contextlib.contextmanager
def one_thread(active: bool) -> Iterator[None]:
    """torch on one thread inside the block (when ``active``), its usual count after."""
    import torch

    before = torch.get_num_threads()
    if active:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
