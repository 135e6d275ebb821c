"""The paper's comparison on the default encoder: mono, cross and hybrid batches over seeds.

    .venv/bin/python bench/study.py [--steps 150] [--seeds 0,1,2] [--lr 3e-5]
        [--freeze-embeddings] [--backend openvino] [--records docs/records/study] [--status]
        [--only hybrid-a0.5-s0,...] [--max-runs N] [--report]

Trains the embedded default encoder (multilingual-e5-small) on MLQA-R with each batch strategy
(`xlir-tui train`, as a person runs it: mono, cross, hybrid at alpha 0.5) for every seed, plus a
sweep of alpha (0.25 and 0.75 at the first seed; alpha 0 is cross batches and alpha 1 mono
batches, so those ends are the cross and mono runs of that seed), then scores each model
zero-shot on the whole of XQuAD-R, which no run saw, with the bias-report metrics.

Resumable: every finished run leaves its record (summary, per-language figures, training time)
and its per-query AP in ``--records`` and is skipped when the script runs again; the script
prints what is done and what remains, so a study can be completed over several sittings. A
run itself keeps a checkpoint every 10 steps: one stopped or killed half-way (a sitting's end,
the out-of-memory killer) goes on from its last checkpoint (``xlir-tui train --resume``), and
its record counts the wall time of every start (``starts`` says how many). The
study's settings are kept in ``study.json`` there: running it again with other settings is
refused (use another ``--records`` folder for another study). Models go to ``--runs``
(not kept in the repository).

``--report`` (the default when nothing remains) writes ``docs/training.md``: mean and standard
deviation over seeds, hybrid against mono and against cross per query (AP averaged over seeds,
then a paired bootstrap interval and randomisation test, Holm-corrected), per-language tables,
the alpha sweep, reference rows, the paper's figures and the commands. Before the study is
complete it writes an interim page from the seeds whose three runs are done, saying what remains.
The reading of the figures at the end of that page is written by hand and kept across runs.

Other settings (another scale, learning rate, number of steps ...) go in a folder of their own
named after this study's, ``--records docs/records/study-<name>``, usually with ``--only`` to
train one run of the plan; the page shows each such run beside the same run of this study.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from study_settings import DATA, LEGACY, ROOT, STRATEGIES, make_parser, run_id, settings_of


def fail(message: str) -> int:
    print(f"study: error: {message}", file=sys.stderr)
    return 1


def plan(seeds: list[int], alphas: list[float]) -> list[tuple[str, float, int]]:
    """Every run of the study, in the order they are trained: the main grid seed by seed (so an
    interrupted study has whole seeds), then the alpha sweep."""
    runs = [(s, 0.5, seed) for seed in seeds for s in ("mono", "cross", "hybrid")]
    runs += [("hybrid", a, seeds[0]) for a in alphas if a not in (0.0, 0.5, 1.0)]
    return runs


CHECKPOINT_EVERY = 10
"""Steps between a run's checkpoints, so that a run stopped or killed (a session's end, the
out-of-memory killer) goes on from its last checkpoint when the study runs again."""


def resumable(out: Path) -> bool:
    """Whether ``out`` holds an unfinished run with a checkpoint to go on from."""
    steps = sorted((out / "checkpoints").glob("step-*")) if (out / "checkpoints").is_dir() else []
    if not steps or not (out / "events.jsonl").exists():
        return False
    return not any(e["event"] == "done" for e in read_events(out))


def read_events(out: Path) -> list[dict[str, Any]]:
    """A run's events; a line cut short by a killed process is left out."""
    events = []
    for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def training_seconds(events: list[dict[str, Any]]) -> tuple[float, int]:
    """Wall seconds a run trained over all its starts (each start to its last event; steps a
    killed start did after its last checkpoint are counted where they were done, and again when
    redone), and the number of starts."""
    total, begun, last = 0.0, None, None
    starts = 0
    for e in events:
        if e["event"] == "start":
            if begun is not None and last is not None:
                total += last - begun
            begun, last, starts = e["time"], e["time"], starts + 1
        elif "time" in e:
            last = e["time"]
    if begun is not None and last is not None:
        total += last - begun
    return total, starts


def train_command(args: argparse.Namespace, strategy: str, alpha: float, seed: int) -> list[str]:
    cmd = [
        "train",
        args.train,
        "--base",
        args.base,
        "--strategy",
        strategy,
        "--alpha",
        str(alpha),
        "--steps",
        str(args.steps),
        "--batch-size",
        str(args.batch_size),
        "--lr",
        str(args.lr),
        "--seed",
        str(seed),
        "--max-seq-length",
        str(args.max_seq_length),
        *(["--scale", str(args.scale)] if args.scale is not None else []),
        "--precision",
        args.precision,
        "--length-group-size",
        str(args.length_group_size),
        "--save-dtype",
        args.save_dtype,
        *(["--mini-batch-size", str(args.mini_batch_size)] if args.mini_batch_size else []),
        "--warmup-steps",
        str(args.warmup_steps),
        "--checkpoint-every",
        # a run's own when rebuilt from its xlir_train.json (runs before resuming had one)
        str(getattr(args, "checkpoint_every", None) or min(args.steps, CHECKPOINT_EVERY)),
        "--out",
        str(Path(args.runs) / run_id(strategy, alpha, seed)),
        "--overwrite",
    ]
    for flag in ("freeze_embeddings", "hard_negatives", "passage_context"):
        if getattr(args, flag):
            cmd.append(f"--{flag.replace('_', '-')}")
    return cmd


def shown(cmd: list[str]) -> str:
    return "xlir-tui " + " ".join(cmd).replace(str(DATA), "../shared/data").replace(
        str(ROOT) + "/", ""
    )


def evaluate(model: str, eval_data: str, backend: str) -> tuple[dict[str, Any], Any]:
    """The bias-report entry of ``model`` on the evaluation collection and its per-query AP."""
    from xlir_tui.data.collections import load_collection
    from xlir_tui.evaluation.compare import per_query
    from xlir_tui.evaluation.evaluate import evaluate_encoder
    from xlir_tui.models.encoders import load_encoder

    options = {"backend": backend} if backend != "torch" else {}
    ev = evaluate_encoder(load_collection(eval_data), load_encoder(model, **options))
    entry = {k: ev.entry[k] for k in ("label", "summary", "languages", "bias", "timings")}
    return entry, per_query(ev.queries()).drop("system", strict=False)


def evaluate_system(system: str, eval_data: str, backend: str, fusion: str = "") -> dict:
    """The bias-report entry of a lexical system or a fusion with the default model."""
    from xlir_tui.data.collections import load_collection
    from xlir_tui.evaluation.evaluate import evaluate as run
    from xlir_tui.models.store import Models
    from xlir_tui.retrieval.specs import FusionSpec, SystemSpec
    from xlir_tui.retrieval.systems import open_system

    c = load_collection(eval_data)
    spec = SystemSpec(
        system, "default", FusionSpec.parse(*fusion.split(":")) if system == "fusion" else None
    )
    models = Models({"backend": backend} if backend != "torch" else {})
    ev = run(c, open_system(c, spec, models))
    return {k: ev.entry[k] for k in ("label", "summary", "languages", "bias", "timings")}


REFERENCE_SYSTEMS = [
    ("bm25", ""),
    ("chargram", ""),
    ("fusion", "dense,chargram:rrf:0.5"),
    ("fusion", "dense,chargram:interpolate:0.3"),
]
"""Reference rows: the better lexical system and the better fusion (by multi mAP) are shown."""


def save_record(records: Path, name: str, record: dict[str, Any], queries: Any) -> None:
    """The per-query table first, then the record: a record's presence means the run is done."""
    tmp = records / f".{name}.parquet.tmp"
    queries.write_parquet(tmp)
    tmp.replace(records / f"{name}.parquet")
    tmp = records / f".{name}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(records / f"{name}.json")


def load_record(records: Path, name: str) -> dict[str, Any] | None:
    path = records / f"{name}.json"
    if not (path.exists() and (records / f"{name}.parquet").exists()):
        return None
    return json.loads(path.read_text())


def check_settings(records: Path, settings: dict[str, Any]) -> str | None:
    """None when the study in ``records`` has these settings (or is new); else the differences."""
    path = records / "study.json"
    if not path.exists():
        return None
    kept = {**LEGACY, **json.loads(path.read_text())["settings"]}
    diff = [f"{k} {kept.get(k)!r} -> {v!r}" for k, v in settings.items() if kept.get(k) != v]
    return ", ".join(diff) or None


def main() -> int:
    args = make_parser().parse_args()
    if args.runs is None:
        args.runs = str(ROOT / "bench" / "results" / Path(args.records).name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        seeds = [int(x) for x in args.seeds.split(",")]
        alphas = [float(x) for x in args.alphas.split(",")]
    except ValueError:
        return fail(
            f"--seeds {args.seeds!r} and --alphas {args.alphas!r} are comma-separated numbers"
        )
    if len(seeds) < 3:
        return fail(f"the study needs at least 3 seeds, got {len(seeds)} ({args.seeds})")
    for p in (args.train, args.eval):
        if not Path(p).is_dir():
            return fail(f"no data at {p}")
    records = Path(args.records)
    settings = settings_of(args)
    changed = check_settings(records, settings)
    if changed:
        return fail(
            f"the study in {records} was run with other settings ({changed}); finish it with "
            "its own settings or give another --records folder"
        )
    records.mkdir(parents=True, exist_ok=True)
    if not (records / "study.json").exists():
        (records / "study.json").write_text(json.dumps({"settings": settings}, indent=1) + "\n")

    runs = plan(seeds, alphas)
    done = [r for r in runs if load_record(records, run_id(*r)) is not None]
    remaining = [r for r in runs if r not in done]
    only = None if args.only is None else [x.strip() for x in args.only.split(",") if x.strip()]
    if only is not None:
        unknown = [x for x in only if x not in {run_id(*r) for r in runs}]
        if unknown:
            return fail(
                f"--only {','.join(unknown)}: not a run of this study "
                f"({', '.join(run_id(*r) for r in runs)})"
            )
    refs_done = (
        load_record(records, "reference-default") is not None
        and (records / "references.json").exists()
    )
    print(
        f"study in {records}: {len(done)} of {len(runs)} runs done"
        + (f"; remaining: {', '.join(run_id(*r) for r in remaining)}" if remaining else "")
        + ("" if refs_done else "; the reference rows remain"),
        flush=True,
    )
    if args.status:
        return 0
    if not args.report:
        if not refs_done and only is None:  # with --only, the reference rows wait
            print("scoring the untrained default ...", flush=True)
            entry, queries = evaluate(args.base, args.eval, args.backend)
            save_record(records, "reference-default", {"run": "untrained", **entry}, queries)
        if not (records / "references.json").exists() and only is None:
            print("scoring the lexical systems and fusions ...", flush=True)
            refs = [evaluate_system(s, args.eval, args.backend, f) for s, f in REFERENCE_SYSTEMS]
            (records / "references.json").write_text(json.dumps(refs, indent=1) + "\n")
        todo = remaining if only is None else [r for r in remaining if run_id(*r) in only]
        for n, (strategy, alpha, seed) in enumerate(todo):
            if args.max_runs is not None and n >= args.max_runs:
                print(f"stopping after {args.max_runs} run(s) (--max-runs)", flush=True)
                break
            name = run_id(strategy, alpha, seed)
            cmd = train_command(args, strategy, alpha, seed)
            out = Path(args.runs) / name
            run = cmd
            if resumable(out):  # a run stopped or killed before: on from its last checkpoint
                run = ["train", "--out", str(out), "--resume"]
                print(f"{name}: resuming: {shown(run)}", flush=True)
            else:
                print(f"{name}: {shown(cmd)}", flush=True)
            done_train = subprocess.run([sys.executable, "-m", "xlir_tui.cli", *run], cwd=ROOT)
            if done_train.returncode != 0:
                return fail(f"training {name} failed (exit {done_train.returncode})")
            events = read_events(out)
            train_s, starts = training_seconds(events)
            rates = [e["examples_per_s"] for e in events if e["event"] == "step"][1:]
            started = time.perf_counter()
            entry, queries = evaluate(str(out), args.eval, args.backend)
            record = {
                "run": name,
                "strategy": strategy,
                "alpha": alpha,
                "seed": seed,
                "command": shown(cmd),
                "train_s": round(train_s, 1),
                "starts": starts,
                "examples_per_s": round(statistics.mean(rates), 2) if rates else None,
                "eval_s": round(time.perf_counter() - started, 1),
                **entry,
            }
            save_record(records, name, record, queries)
            s = entry["summary"]
            print(
                f"{name}: trained in {train_s / 60:.1f} min; mono {s['mono']['map']:.3f} cross "
                f"{s['cross']['map']:.3f} multi {s['multi']['map']:.3f} rank distance "
                f"{s['multi']['rank_distance']:.0f}",
                flush=True,
            )
        done = [r for r in runs if load_record(records, run_id(*r)) is not None]
    if len(done) < len(runs) and not args.report:
        print(f"{len(runs) - len(done)} run(s) remain: run this script again", flush=True)
        return 0
    from study_report import write_page

    whole = [x for x in seeds if all(load_record(records, run_id(s, 0.5, x)) for s in STRATEGIES)]
    if not whole:
        return fail(f"no seed has its mono, cross and hybrid runs in {records} yet")
    missing = [run_id(*r) for r in runs if r not in done]
    write_page(args, records, runs, whole, alphas, missing)
    print(f"written {args.doc}" + (f" (interim: {len(missing)} run(s) remain)" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
