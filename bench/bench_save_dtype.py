"""What the stored weight type of a trained model (``train --save-dtype``) does to its figures.

    .venv/bin/python bench/bench_save_dtype.py --model MODEL_FOLDER [--eval ../shared/data/xquad-r]
        [--langs de,en,zh] [--resamples 2000]

Copies the model's folder (its weights stored in float32) once per type: float32, float16 and
bfloat16, each written by the same conversion ``train`` uses
(``xlir_tui.training.checkpoints.store_weights_as``). Each copy is loaded as every command loads a
model (its configuration says float32, so the weights come back as float32) and encodes the
collection with the torch backend, which computes in float32: the stored type is the only
difference. Prints,
per type, the weights' size on disk, the mAP in the mono, cross and multi settings and the multi
rank distance, each copy's difference from float32 query by query (mean, 95% bootstrap interval,
paired randomisation test, Holm-corrected: ``xlir_tui.evaluation.compare``), and the cosine between
each candidate's vector and float32's. Writes the figures to ``bench/results/save_dtype.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DTYPES = ("float32", "float16", "bfloat16")


def weights_dtypes(folder: Path) -> set[str]:
    from safetensors import safe_open

    out = set()
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as f:
            out |= {f.get_slice(k).get_dtype() for k in f.keys()}  # noqa: SIM118
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="A trained model, weights in float32.")
    parser.add_argument("--eval", default=str(DATA / "xquad-r"))
    parser.add_argument("--langs", default="de,en,zh")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "save_dtype.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    source = Path(args.model)
    if not (source / "modules.json").exists():
        print(f"bench: not a sentence-transformers model folder: {source}", file=sys.stderr)
        return 1
    if weights_dtypes(source) != {"F32"}:
        print(f"bench: the weights of {source} are not stored in float32", file=sys.stderr)
        return 1
    import numpy as np

    from xlir_tui.data.collections import load_collection
    from xlir_tui.evaluation.compare import compare, per_query
    from xlir_tui.evaluation.evaluate import evaluate_encoder
    from xlir_tui.models.encoders import load_encoder
    from xlir_tui.models.run_files import EVENTS_FILE
    from xlir_tui.training.checkpoints import CHECKPOINTS, store_weights_as

    langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    collection = load_collection(args.eval)
    if langs:
        collection = collection.restrict(langs)
    load = os.getloadavg()[0]
    print(
        f"{collection.name} ({', '.join(collection.languages)}): "
        f"{collection.questions.height} questions, {collection.candidates.height} candidates; "
        f"model {source}; load average {load:.1f}",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="xlir-save-dtype-"))
    results: dict[str, dict] = {}
    tables = []
    vectors = {}
    try:
        for dtype in DTYPES:
            folder = work / dtype
            shutil.copytree(
                source, folder, ignore=shutil.ignore_patterns(CHECKPOINTS, EVENTS_FILE, ".*")
            )
            store_weights_as(folder, dtype)
            size = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
            encoder = load_encoder(str(folder), use_cache=False, backend="torch")
            started = time.perf_counter()
            ev = evaluate_encoder(collection, encoder)
            seconds = time.perf_counter() - started
            vectors[dtype] = encoder.encode_candidates(collection.candidates.head(1000))
            s = ev.entry["summary"]
            results[dtype] = {
                "stored": sorted(weights_dtypes(folder)),
                "loaded_as": str(next(encoder.model.parameters()).dtype),
                "precision": encoder.precision,
                "weights_bytes": size,
                "mono": s["mono"]["map"],
                "cross": s["cross"]["map"] if s["cross"] else None,
                "multi": s["multi"]["map"] if s["multi"] else None,
                "rank_distance": s["multi"]["rank_distance"] if s["multi"] else None,
                "evaluate_s": round(seconds, 1),
            }
            tables.append((dtype, per_query(ev.queries())))
            r = results[dtype]
            print(
                f"{dtype:<9} stored {'/'.join(r['stored'])}, loaded as {r['loaded_as']}, "
                f"weights {size / 1e6:.0f} MB: mAP mono {r['mono']:.4f} cross "
                f"{r['cross'] or 0:.4f} multi {r['multi'] or 0:.4f}, rank distance "
                f"{r['rank_distance'] or 0:.1f} ({seconds / 60:.1f} min)",
                flush=True,
            )
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    comparisons = compare(tables, resamples=args.resamples)
    print(f"against float32, query by query ({args.resamples} resamples, Holm-corrected):")
    for c in comparisons:
        digits = 2 if c.metric == "rank_distance" else 5
        print(
            f"  {c.setting:<5} {c.metric:<13} {c.system:<9} {c.mean_difference:+.{digits}f} "
            f"[{c.ci95[0]:+.{digits}f}, {c.ci95[1]:+.{digits}f}] p {c.p_holm:.2g}"
        )
    for dtype in DTYPES[1:]:
        cos = np.sum(vectors[dtype] * vectors["float32"], axis=1)
        results[dtype]["cosine_with_float32"] = {"mean": float(cos.mean()), "min": float(cos.min())}
        print(
            f"cosine of {len(cos)} candidate vectors, {dtype} against float32: mean "
            f"{cos.mean():.6f}, min {cos.min():.6f}"
        )
    out = {
        "model": str(source),
        "collection": collection.name,
        "languages": collection.languages,
        "load_average": load,
        "dtypes": results,
        "comparisons": [c.to_dict() for c in comparisons],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
