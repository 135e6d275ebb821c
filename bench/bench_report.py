"""Benchmark: the whole bias report on XQuAD-R against plain encoding of the same texts.

    .venv/bin/python bench/bench_report.py [--data ../shared/data/xquad-r] [--model default]
        [--backend openvino]

Measured in one run, on this machine:

1. plain ``SentenceTransformer.encode`` of every candidate and every question (the baseline);
2. ``xlir-tui bias-report DATA --model M --json`` as a fresh process with an empty embedding
   cache: its wall time against (1), and the metric computation after encoding (from the report's
   own timings);
3. the same command again, served by the embedding cache.

Targets (from the project's issue): (2) <= 1.1x (1); metrics <= 10 s; (3) <= 20 s.

The model runs with ``--backend`` (default ``openvino``, the report's own default) in both: the
plain baseline is ``SentenceTransformer.encode`` of a model whose transformer is the backend's
export, so (2) against (1) measures the report's own work (``bench/bench_backends.py`` compares
the backends).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "xquad-r"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--backend", default="openvino", help="What runs the model (both).")
    parser.add_argument("--cache", default=None, help="cache folder to use (default: a new one)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "report.json"))
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        print(f"bench: no data at {args.data}", file=sys.stderr)
        return 1
    print(
        f"before: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} on "
        f"{os.cpu_count()} CPUs (a shared machine: a loaded one is slower)"
    )
    cache = args.cache or tempfile.mkdtemp(prefix="xlir-bench-cache-")
    os.environ["XLIR_TUI_CACHE"] = cache
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.encoders import load_encoder

    c = load_collection(args.data)
    enc = load_encoder(args.model, backend=args.backend)
    texts_c = c.candidates["text"].to_list()
    texts_q = c.questions["text"].to_list()
    enc.model.encode(texts_c[:256], batch_size=64)  # warm-up
    t = time.perf_counter()
    for texts, prompt in ((texts_c, enc.passage_prompt), (texts_q, enc.query_prompt)):
        enc.model.encode(
            texts,
            batch_size=64,
            prompt=prompt or None,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    plain_s = time.perf_counter() - t
    print(
        f"{c.name}: {len(texts_q)} questions x {len(texts_c)} candidates, "
        f"{len(c.languages) ** 2} query x pool language settings + multi"
    )
    print(
        f"plain SentenceTransformer.encode of candidates and questions ({args.backend}): "
        f"{plain_s:.1f} s"
    )
    del enc

    cmd = [
        sys.executable,
        "-m",
        "xlir_tui.cli",
        "bias-report",
        args.data,
        "--model",
        args.model,
        "--backend",
        args.backend,
        "--json",
    ]
    runs = []
    for label in ("empty cache", "cached"):
        t = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - t
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            return 1
        report = json.loads(res.stdout)
        timings = report["systems"][0]["timings"]
        runs.append({"label": label, "wall_s": wall, **timings})
        print(
            f"xlir-tui bias-report ({label}): {wall:.1f} s in all "
            f"(encoding {timings['build_s'] + timings['queries_s']:.1f} s, metrics "
            f"{timings['score_s']:.1f} s)"
        )
    first, second = runs
    print(f"whole report / plain encoding: {first['wall_s'] / plain_s:.3f} (target <= 1.1)")
    print(f"metrics after encoding: {first['score_s']:.1f} s (target <= 10 s)")
    print(f"second run from the cache: {second['wall_s']:.1f} s (target <= 20 s)")
    s = report["systems"][0]["summary"]
    print(
        f"figures: mono mAP {s['mono']['map']:.3f}, cross {s['cross']['map']:.3f}, "
        f"multi {s['multi']['map']:.3f}, rank distance {s['multi']['rank_distance']:.1f}"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"plain_encode_s": plain_s, "runs": runs, "cache": cache}, indent=2) + "\n"
    )
    print(f"after: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"written {args.out}; cache {cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
