"""Benchmark: what checking an index folder's content costs, against loading it (XQuAD-R).

    .venv/bin/python bench/bench_verify.py --index IDX [--index IDX2 ...] [--rounds 7]
    .venv/bin/python bench/bench_verify.py --data ../shared/data/xquad-r   # lexical, no model

Every load of an index folder (``search``, ``explore --index``, ``bias-report --ann --index``,
a fusion's parts) hashes each file and compares it with the manifest
(:func:`xlir_tui.retrieval.dense.check_file_table`). For each folder, in alternating rounds of one
run on this machine:

1. the load without the content check (sizes only): the baseline;
2. the content check alone (every file hashed; the process's memo of hashed files cleared);
3. the load as every command does it (both).

It prints the medians, the bytes hashed and the check's share of the load. Dense folders are
loaded with their hnsw graph, not their model (the model's load is the same with or without the
check). Without ``--index``, BM25 and character n-gram indexes of ``--data`` are built into a
temporary folder first (no model needed); a dense index comes from ``xlir-tui index``.

Target (issue 19): the check well under a second on XQuAD-R. The script prints the figures with
the target; it does not fail.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parts_of(folder: Path) -> list[Path]:
    """The index folders a folder is made of: itself, or a fusion's parts."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") == "xlir-tui/fusion-index":
        return [folder / p for p in manifest["fusion"]["parts"]]
    return [folder]


def loader(folder: Path) -> Callable[[bool], object]:
    """``load(verify)`` for one index folder, by the format its manifest names."""
    from xlir_tui.retrieval.dense import FORMAT as DENSE
    from xlir_tui.retrieval.dense import DenseIndex
    from xlir_tui.retrieval.lexical import LexicalIndex

    fmt = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("format")
    if fmt == DENSE:
        return lambda verify: DenseIndex.load(folder, verify=verify)
    return lambda verify: LexicalIndex.load(folder, verify=verify)


def measure(folder: Path, rounds: int) -> dict[str, float]:
    from xlir_tui.retrieval import dense as index_module
    from xlir_tui.retrieval.dense import check_file_table

    parts = parts_of(folder)
    loads = [loader(p) for p in parts]
    manifests = [json.loads((p / "manifest.json").read_text(encoding="utf-8")) for p in parts]

    def plain() -> None:
        for load in loads:
            load(False)

    def check() -> None:
        index_module._verified.clear()
        for p, m in zip(parts, manifests, strict=True):
            check_file_table(p, m, verify=True)

    def full() -> None:
        index_module._verified.clear()
        for load in loads:
            load(True)

    plain()
    full()  # warm-up: the files in the page cache, as on a second search
    times: dict[str, list[float]] = {"load": [], "check": [], "load+check": []}
    for _ in range(rounds):
        for name, run in (("load", plain), ("check", check), ("load+check", full)):
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    hashed = sum(sum(f["bytes"] for f in m["files"].values()) for m in manifests if m.get("files"))
    return {"bytes": hashed, **{k: statistics.median(v) for k, v in times.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append", default=[], help="an index folder (repeat)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "xquad-r"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(
        f"before: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} on "
        f"{os.cpu_count()} CPUs (a shared machine: a loaded one is slower)"
    )
    folders = [Path(x) for x in args.index]
    scratch = None
    if not folders:
        if not Path(args.data).is_dir():
            print(f"bench: no data at {args.data}; give --index or --data", file=sys.stderr)
            return 1
        from xlir_tui.data.collections import load_collection
        from xlir_tui.retrieval.lexical import LexicalIndex

        scratch = tempfile.TemporaryDirectory(prefix="xlir-bench-verify-")
        collection = load_collection(args.data)
        for system in ("bm25", "chargram"):
            out = Path(scratch.name) / system
            LexicalIndex.build(collection, system, out)
            folders.append(out)
    for folder in folders:
        if not (folder / "manifest.json").is_file():
            print(f"bench: {folder} is not an index folder", file=sys.stderr)
            return 1
    for folder in folders:
        r = measure(folder, args.rounds)
        share = r["check"] / r["load"]
        print(
            f"{folder}: {r['bytes'] / 1e6:.1f} MB in its files; median of {args.rounds} rounds: "
            f"load without the check {r['load'] * 1000:.0f} ms, the check alone "
            f"{r['check'] * 1000:.0f} ms ({r['bytes'] / 1e6 / r['check']:.0f} MB/s, "
            f"{share:.0%} of that load), load with the check {r['load+check'] * 1000:.0f} ms "
            "(target: the check well under 1 s)"
        )
    print(f"after: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if scratch is not None:
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
