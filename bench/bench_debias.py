"""Benchmark: what the training-free remedies cost (fit, transforms, one-query latency).

    .venv/bin/python bench/bench_debias.py [--data ../shared/data/xquad-r] [--model default]
        [--backend openvino] [--latency-queries 200]

Everything in one run, against baselines measured in the same run:

1. each remedy's fit on the collection's questions and candidates (the vectors come from the
   embedding cache, encoded first if need be; the encoding is not the fit's cost): seconds, best
   of three;
2. the transform of every candidate (once, when a debiased system opens) and of one query;
3. one-query latency, encode + search of the whole pool, p50 and p99, interleaved over the
   same questions: the plain system through hnsw (what ``search`` does without ``--debias``),
   the plain system by an exact scan, and each remedy (an exact scan of the transformed
   vectors: ``DebiasedRetriever`` keeps no graph of its own). The ratio to the plain exact scan
   is the remedy's query-time overhead.

The figures go to stdout and to ``--out`` (JSON).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from bench_common import ROOT, collection_parser, percentile

METHODS = ("center", "lir", "leace", "subspace")


def main() -> int:
    parser = collection_parser(__doc__.splitlines()[0])
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "debias.json"))
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        print(f"bench: no data at {args.data}", file=sys.stderr)
        return 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(
        f"before: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} on "
        f"{os.cpu_count()} CPUs (a shared machine: a loaded one is slower)"
    )
    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.encoders import load_encoder
    from xlir_tui.retrieval.debias_fit import DebiasFit
    from xlir_tui.retrieval.dense import DenseIndex
    from xlir_tui.retrieval.dense_system import DebiasedRetriever, DenseRetriever
    from xlir_tui.retrieval.retriever import Retriever

    collection = load_collection(args.data)
    encoder = load_encoder(args.model, backend=args.backend)
    started = time.perf_counter()
    index = DenseIndex.build(collection, encoder, None)  # candidates from the cache, and a graph
    questions = encoder.encode_queries(collection.questions["text"].to_list())
    print(
        f"collection {collection.name}: {index.size} candidates, {len(questions)} questions; "
        f"model {args.model} ({args.backend}); vectors and graph ready in "
        f"{time.perf_counter() - started:.1f} s"
    )
    q_langs = collection.questions["lang"].to_list()
    c_langs = collection.candidates["lang"].to_list()
    plain = DenseRetriever(index, encoder)
    plain.keep_queries(False)
    results: dict[str, dict] = {}
    systems: dict[str, Retriever] = {}
    for method in METHODS:
        times, fit = [], None
        for _ in range(3):
            t = time.perf_counter()
            fit = DebiasFit.fit(method, questions, q_langs, index.vectors, c_langs)
            times.append(time.perf_counter() - t)
        assert fit is not None
        system = DebiasedRetriever(plain, fit, "fitted")
        system.keep_queries(False)
        systems[fit.name] = system
        one = questions[:1]
        reps = []
        for _ in range(200):
            t = time.perf_counter()
            fit.transform(one, q_langs[:1], "query")
            reps.append(time.perf_counter() - t)
        results[fit.name] = {
            "fit_s": min(times),
            "candidates_s": system.candidates_s,
            "one_query_transform_ms": 1000 * percentile(reps, 50),
        }
        print(
            f"{fit.name:>14}: fit {min(times):.3f} s (best of 3), candidates transformed in "
            f"{system.candidates_s:.3f} s, one query in "
            f"{results[fit.name]['one_query_transform_ms']:.3f} ms"
        )

    rng = np.random.default_rng(0)
    texts = collection.questions["text"].to_list()
    pick = rng.choice(len(texts), size=min(args.latency_queries, len(texts)), replace=False)
    runs = {
        "plain, hnsw": lambda q, lang: plain.search(q, k=10),
        "plain, exact": lambda q, lang: Retriever.search(plain, q, k=10),
        **{
            name: (lambda s: lambda q, lang: s.search(q, k=10, query_lang=lang))(system)
            for name, system in systems.items()
        },
    }
    latency: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        run(texts[0], q_langs[0])
    for i in pick.tolist():
        for name, run in runs.items():
            t = time.perf_counter()
            run(texts[i], q_langs[i])
            latency[name].append(time.perf_counter() - t)
    base = percentile(latency["plain, exact"], 50)
    print(f"one query, encode + top 10 of the whole pool ({len(pick)} questions, interleaved):")
    for name, values in latency.items():
        p50, p99 = 1000 * percentile(values, 50), 1000 * percentile(values, 99)
        ratio = percentile(values, 50) / base
        results.setdefault(name, {}).update(
            {"p50_ms": p50, "p99_ms": p99, "p50_vs_plain_exact": ratio}
        )
        print(f"  {name:>14}: p50 {p50:6.1f} ms, p99 {p99:6.1f} ms, {ratio:.2f}x plain exact")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "collection": collection.name,
                "model": args.model,
                "backend": args.backend,
                "load_average": os.getloadavg(),
                "results": results,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
