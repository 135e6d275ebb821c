"""Benchmark: lexical systems on XQuAD-R: indexing, one query, and scoring every question.

    .venv/bin/python bench/bench_lexical.py [--data ../shared/data/xquad-r]

For BM25 and character n-grams: building the index of the whole pool (13,014 candidates),
one query's search (p50 and p99 over a sample of questions), and scoring all 13,090 questions
against the pool, as the bias report does. Targets (from the project's issue): indexing <= 15 s,
a query <= 10 ms p50, scoring all questions <= 60 s, per system.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "xquad-r"))
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        print(f"bench: no data at {args.data}", file=sys.stderr)
        return 1
    from xlir_tui.data.collections import load_collection
    from xlir_tui.retrieval.lexical import LexicalIndex
    from xlir_tui.retrieval.lexical_system import LexicalRetriever

    c = load_collection(args.data)
    questions = c.questions["text"].to_list()
    print(f"{c.name}: {c.candidates.height} candidates, {len(questions)} questions")
    for system in ("bm25", "chargram"):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            index = LexicalIndex.build(c, system, Path(tmp) / system)
            build_s = time.perf_counter() - t
            loaded = LexicalRetriever(LexicalIndex.load(Path(tmp) / system))
        times = []
        for q in questions[:: max(1, len(questions) // args.queries)][: args.queries]:
            t = time.perf_counter()
            loaded.search(q, k=10)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        t = time.perf_counter()
        for lo in range(0, len(questions), 256):
            index.retriever.scores(questions[lo : lo + 256])
        score_s = time.perf_counter() - t
        print(
            f"{system}: index (build and save) {build_s:.1f} s (target <= 15 s); one query p50 "
            f"{statistics.median(times):.1f} ms, p99 {times[int(0.99 * (len(times) - 1))]:.1f}"
            f" ms (target p50 <= 10 ms); all {len(questions)} questions scored in "
            f"{score_s:.1f} s (target <= 60 s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
