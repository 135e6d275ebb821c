"""Language-bias remedies without training beside training: the study of docs/remedies.md.

    nice -n 19 .venv/bin/python bench/remedies.py [--trained RUN0,RUN1,RUN2]
        [--eval ../shared/data/xquad-r] [--records docs/records/remedies] [--status]
        [--only CELL,...] [--max-cells N] [--report]

Scores plain and debiased systems (``--debias none,center,lir,leace,subspace``) with the
project's own command, ``xlir-tui bias-report``, on the whole of XQuAD-R:

- the untrained default encoder, candidates read as their sentence (the tool's default input);
- the best training setting of docs/training.md (hybrid batches, scale 100, hard negatives,
  50 steps, frozen word embeddings: ``docs/records/study-scale100-hardneg``), one cell per seed,
  the models being the runs ``bench/study.py`` trained (``--trained``, three folders);
- each of those with every candidate read with its paragraph (``--passage-context``, LAReQA's
  input; the in-context encodings are the slow part, so they come last);
- the translate-test ceiling (``--translate-query en --mt parallel``) of the untrained default
  and of each trained seed, in each input (the trained seeds' vectors come from the cache of
  their remedies cells: a ceiling cell is scoring);
- what the remedies cost: ``bench/bench_debias.py`` on the untrained default (fit, transforms,
  one-query latency, against the plain system in the same run).

Each cell (model x input x what is scored) is one command; its report and per-query AP are
kept in ``--records`` (``CELL.json`` and ``CELL.parquet``; the cost cell has only the JSON) and a
cell with its record is skipped when the script runs again; ``--status`` says what is done and
what remains, and a cell whose trained model is not finished yet waits for it. The settings
are kept in ``remedies.json`` there: running the study again with other settings is refused.
``--report`` (the default once nothing remains) writes ``docs/remedies.md`` from the records
alone (``bench/remedies_report.py``); before then it is an interim page that says what remains.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from remedies_settings import CEILING, DATA, ROOT, Cell
from study_settings import LEGACY, SETTINGS

REMEDIES = "none,center,lir,leace,subspace"
TRAINED = "study-scale100-hardneg"
"""The records folder of the best training setting of docs/training.md (its ``study.json``
holds the settings every trained run must have been trained with)."""
TRAINING_KEYS = tuple(k for k in SETTINGS if k != "backend" and k not in LEGACY)
"""The training settings a run folder's ``xlir_train.json`` must share with that study."""
LATENCY_QUERIES = 200
"""Questions of the one-query latency of the cost cell (``bench/bench_debias.py``)."""
INPUTS = ("sentence", "context")
KINDS = ("remedies", "ceiling", "costs")


def plan(seeds: list[int]) -> list[Cell]:
    """Every cell, in the order they run: the untrained default first (its vectors are in the
    cache), its in-context cells next, then the trained seeds, their in-context cells last."""
    cells = [
        Cell("default", "sentence", "remedies"),
        Cell("default", "sentence", "ceiling"),
        Cell("default", "sentence", "costs"),
        Cell("default", "context", "remedies"),
        Cell("default", "context", "ceiling"),
    ]
    for input_ in ("sentence", "context"):
        cells += [Cell(f"s{seed}", input_, "remedies") for seed in seeds]
        cells += [Cell(f"s{seed}", input_, "ceiling") for seed in seeds]
    return cells


def fail(message: str) -> int:
    print(f"remedies: error: {message}", file=sys.stderr)
    return 1


def shown_path(path: str) -> str:
    """A path as the page gives it: the data as ``../shared/data``, a run as where
    ``bench/study.py`` puts it (``bench/results/...``, whichever checkout holds it)."""
    text = str(path).replace(str(DATA), "../shared/data")
    if "/bench/results/" in text:
        return "bench/results/" + text.split("/bench/results/", 1)[1]
    return text.replace(str(ROOT) + "/", "")


def report_options(cell: Cell, model: str, args: argparse.Namespace) -> list[str]:
    """The options of the cell's ``xlir-tui bias-report`` (after the collection)."""
    options = ["--model", model]
    if cell.input == "context":
        options.append("--passage-context")
    if cell.kind == "remedies":
        options += ["--debias", REMEDIES]
    else:
        options += CEILING
    options += ["--map-depth", str(args.map_depth)]
    if args.backend != "openvino":  # the report's default
        options += ["--backend", args.backend]
    return options


def training_state(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A trained run's settings (from ``xlir_train.json``, else the start of its events) and
    why it is not ready yet (None: finished, ``model.safetensors`` written and the events ending
    with ``done``)."""
    events_path = folder / "events.jsonl"
    events = []
    if events_path.exists():
        for line in events_path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line being written
    settings = None
    meta = folder / "xlir_train.json"
    if meta.exists():
        settings = json.loads(meta.read_text(encoding="utf-8")).get("settings")
    elif events and events[0].get("event") == "start":
        settings = events[0].get("settings")
    if not events:
        return settings, "not started"
    last = events[-1]
    if last.get("event") != "done" or not (folder / "model.safetensors").exists():
        steps = [e for e in events if e.get("event") == "step"]
        where = f"step {steps[-1]['step']} of {steps[-1]['total_steps']}" if steps else "starting"
        return settings, f"training ({where})"
    return settings, None


def check_run(folder: Path, seed: int, expected: dict[str, Any]) -> str | None:
    """None when the run in ``folder`` (finished or not) was trained with the best setting and
    ``seed``; else what differs."""
    settings, _ = training_state(folder)
    if settings is None:
        return None  # nothing to check yet
    want = {k: expected[k] for k in TRAINING_KEYS if k in expected}
    want.update(strategy="hybrid", alpha=0.5, seed=seed)
    diff = [f"{k} {settings.get(k)!r} (not {v!r})" for k, v in want.items() if settings.get(k) != v]
    return ", ".join(diff) or None


def training_time(folder: Path) -> dict[str, Any]:
    """What the run's own events say of its training: wall time from the first ``start`` to
    ``done`` (resumptions included), steps, mean examples per second after the first step."""
    events = [
        json.loads(line)
        for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    start = next(e for e in events if e["event"] == "start")
    done = next(e for e in reversed(events) if e["event"] == "done")
    rates = [e["examples_per_s"] for e in events if e["event"] == "step"][1:]
    return {
        "seconds": round(done["time"] - start["time"], 1),
        "steps": done["step"],
        "batch_size": start["settings"]["batch_size"],
        "examples_per_s": round(sum(rates) / len(rates), 2) if rates else None,
        "starts": sum(e["event"] == "start" for e in events),
    }


def save_record(records: Path, name: str, record: dict[str, Any], queries: Any = None) -> None:
    """The per-query table first, then the record: a record's presence means the cell is done."""
    if queries is not None:
        tmp = records / f".{name}.parquet.tmp"
        queries.write_parquet(tmp)
        tmp.replace(records / f"{name}.parquet")
    tmp = records / f".{name}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(records / f"{name}.json")


def is_done(records: Path, cell: Cell) -> bool:
    if not (records / f"{cell.name}.json").exists():
        return False
    return cell.kind == "costs" or (records / f"{cell.name}.parquet").exists()


def per_query_table(queries: Any) -> Any:
    """The report's ``queries.parquet`` (one row per query, setting and pool language, per
    system) as one row per query and setting per system, the cross pools averaged as the
    report's paired tests average them (:func:`xlir_tui.evaluation.compare.per_query`)."""
    import polars as pl

    from xlir_tui.evaluation.compare import per_query

    frames = []
    for (system, baseline), rows in queries.group_by("system", "baseline", maintain_order=True):
        frames.append(
            per_query(rows).select(
                pl.lit(system, dtype=pl.String).alias("system"),
                pl.lit(baseline, dtype=pl.String).alias("baseline"),
                pl.all(),
            )
        )
    return pl.concat(frames)


def run_cell(cell: Cell, model: str, args: argparse.Namespace, records: Path) -> str | None:
    """Run one cell and keep its record; None when done, else what went wrong."""
    import polars as pl

    load_before = os.getloadavg()
    started = time.perf_counter()
    if cell.kind == "costs":
        out = Path(args.outputs) / f"{cell.name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(ROOT / "bench" / "bench_debias.py"),
            "--data",
            args.eval,
            "--model",
            model,
            "--backend",
            args.backend,
            "--latency-queries",
            str(LATENCY_QUERIES),
            "--out",
            str(out),
        ]
        shown = ".venv/bin/python bench/bench_debias.py " + " ".join(shown_path(x) for x in cmd[1:])
        print(f"{cell.name}: {shown}", flush=True)
        res = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True)
        if res.returncode != 0:
            return f"{cell.name} failed (exit {res.returncode}): {res.stderr.strip()[-300:]}"
        bench = json.loads(out.read_text(encoding="utf-8"))
        record = {
            "cell": cell.name,
            "command": shown,
            "latency_queries": LATENCY_QUERIES,
            "output": res.stdout.splitlines(),
            "bench": bench,
            "wall_s": round(time.perf_counter() - started, 1),
            "load_average": [list(load_before), list(os.getloadavg())],
        }
        save_record(records, cell.name, record)
        out.unlink()
        return None
    out = Path(args.outputs) / cell.name
    args_ = ["bias-report", args.eval, *report_options(cell, model, args)]
    cmd = [*args_, "--json", "--out", str(out), "--overwrite"]
    shown = "xlir-tui " + " ".join(shown_path(x) for x in cmd)
    print(f"{cell.name}: {shown}", flush=True)
    res = subprocess.run(
        [sys.executable, "-m", "xlir_tui.cli", *cmd],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if res.returncode != 0:
        return f"{cell.name} failed (exit {res.returncode}); its output: {out}"
    report = json.loads(res.stdout)
    queries = per_query_table(pl.read_parquet(out / "queries.parquet"))
    record: dict[str, Any] = {
        "cell": cell.name,
        "model": cell.model,
        "input": cell.input,
        "kind": cell.kind,
        "command": shown,
        "wall_s": round(time.perf_counter() - started, 1),
        "load_average": [list(load_before), list(os.getloadavg())],
    }
    if cell.seed is not None:
        record["seed"] = cell.seed
        record["training"] = training_time(Path(model))
        record["train_command"] = train_command_of(Path(model))
    record["report"] = report
    save_record(records, cell.name, record, queries)
    shutil.rmtree(out)  # the runs and heatmaps (hundreds of MB): the record keeps the figures
    return None


def train_command_of(folder: Path) -> str:
    """The ``xlir-tui train`` command of a run, from its ``xlir_train.json``: as bench/study.py
    gave it (its ``train_command``), for the page."""
    from study import train_command

    settings = json.loads((folder / "xlir_train.json").read_text(encoding="utf-8"))["settings"]
    ns = argparse.Namespace(
        train=str(DATA / Path(settings["collections"][0]).name),
        runs=str(Path("bench/results") / TRAINED),
        checkpoint_every=settings.get("checkpoint_every"),
        **{k: settings[k] for k in TRAINING_KEYS},
        # a run recorded before these settings existed was trained and saved as LEGACY says
        **{k: settings.get(k, v) for k, v in LEGACY.items()},
    )
    cmd = train_command(ns, settings["strategy"], settings["alpha"], settings["seed"])
    return "xlir-tui " + " ".join(shown_path(x) for x in cmd)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", default=str(DATA / "xquad-r"))
    parser.add_argument("--base", default="default", help="The untrained model.")
    parser.add_argument(
        "--trained",
        default=",".join(
            str(ROOT / "bench" / "results" / TRAINED / f"hybrid-a0.5-s{s}") for s in (0, 1, 2)
        ),
        help="The runs of the best training setting, one folder per seed, comma-separated "
        "(default: where bench/study.py puts them).",
    )
    parser.add_argument("--seeds", default="0,1,2", help="The seeds of --trained, in order.")
    parser.add_argument("--map-depth", type=int, default=20)
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--records", default=str(ROOT / "docs" / "records" / "remedies"))
    parser.add_argument(
        "--training-records",
        default=str(ROOT / "docs" / "records" / TRAINED),
        help="The training study whose setting the trained runs must have.",
    )
    parser.add_argument(
        "--outputs",
        default=str(ROOT / "bench" / "results" / "remedies"),
        help="Where each cell's report writes (removed once its record is kept).",
    )
    parser.add_argument("--doc", default=str(ROOT / "docs" / "remedies.md"))
    parser.add_argument("--status", action="store_true", help="Say what is done; run nothing.")
    parser.add_argument("--only", default=None, help="Comma-separated cells: run only these.")
    parser.add_argument("--max-cells", type=int, default=None, help="Stop after this many cells.")
    parser.add_argument("--report", action="store_true", help="Only write the page.")
    parser.add_argument(
        "--resamples",
        type=int,
        default=10000,
        help="Resamples of the page's tests on AP averaged over seeds.",
    )
    return parser


def settings_of(args: argparse.Namespace, training: dict[str, Any], seeds: list[int]) -> dict:
    """What makes one study differ from another (kept in ``remedies.json``)."""
    return {
        "eval": Path(args.eval).name,
        "base": args.base,
        "backend": args.backend,
        "map_depth": args.map_depth,
        "debias": REMEDIES,
        "ceiling": " ".join(CEILING),
        "training": {"study": Path(args.training_records).name, **training},
        "seeds": seeds,
    }


def check_settings(records: Path, settings: dict[str, Any]) -> str | None:
    """None when the study in ``records`` has these settings (or is new); else the differences."""
    path = records / "remedies.json"
    if not path.exists():
        return None
    kept = json.loads(path.read_text(encoding="utf-8"))["settings"]
    diff = [f"{k} {kept.get(k)!r} -> {v!r}" for k, v in settings.items() if kept.get(k) != v]
    return ", ".join(diff) or None


def main() -> int:
    args = make_parser().parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        seeds = [int(x) for x in args.seeds.split(",")]
    except ValueError:
        return fail(f"--seeds {args.seeds!r}: comma-separated numbers")
    runs = [Path(x) for x in args.trained.split(",") if x.strip()]
    if len(runs) != len(seeds):
        return fail(f"--trained names {len(runs)} run(s) for {len(seeds)} seeds ({args.seeds})")
    if args.map_depth < 1:
        return fail(f"--map-depth must be at least 1, got {args.map_depth}")
    if not Path(args.eval).is_dir():
        return fail(f"no data at {args.eval}")
    study = Path(args.training_records) / "study.json"
    if not study.exists():
        return fail(f"no training study at {study.parent} (its study.json)")
    training = json.loads(study.read_text(encoding="utf-8"))["settings"]
    for seed, folder in zip(seeds, runs, strict=True):
        differs = check_run(folder, seed, training)
        if differs:
            return fail(
                f"{folder} is not a run of the setting of {study.parent.name} with seed {seed}: "
                f"{differs}"
            )
    records = Path(args.records)
    settings = settings_of(args, training, seeds)
    changed = check_settings(records, settings)
    if changed:
        return fail(
            f"the study in {records} was run with other settings ({changed}); finish it with "
            "its own settings or give another --records folder"
        )
    cells = plan(seeds)
    only = None if args.only is None else [x.strip() for x in args.only.split(",") if x.strip()]
    if only is not None:
        unknown = [x for x in only if x not in {c.name for c in cells}]
        if unknown:
            return fail(
                f"--only {','.join(unknown)}: not a cell of this study "
                f"({', '.join(c.name for c in cells)})"
            )
    records.mkdir(parents=True, exist_ok=True)
    if not (records / "remedies.json").exists():
        text = json.dumps({"settings": settings}, indent=1) + "\n"
        (records / "remedies.json").write_text(text, encoding="utf-8")
    model_of = {"default": args.base} | {
        f"s{seed}": str(folder) for seed, folder in zip(seeds, runs, strict=True)
    }
    waiting = {}
    for seed, folder in zip(seeds, runs, strict=True):
        state = training_state(folder)[1]
        if state is not None:
            waiting[f"s{seed}"] = state
    done = [c for c in cells if is_done(records, c)]
    remaining = [c for c in cells if c not in done]
    print(
        f"remedies study in {records}: {len(done)} of {len(cells)} cells done"
        + (f"; remaining: {', '.join(c.name for c in remaining)}" if remaining else ""),
        flush=True,
    )
    for key, state in waiting.items():
        print(f"waiting for {shown_path(model_of[key])}: {state}", flush=True)
    if args.status:
        return 0
    if not args.report:
        todo = [c for c in remaining if only is None or c.name in only]
        ran = 0
        for cell in todo:
            if cell.model in waiting:
                print(f"{cell.name}: its model is not finished ({waiting[cell.model]})")
                continue
            if args.max_cells is not None and ran >= args.max_cells:
                print(f"stopping after {args.max_cells} cell(s) (--max-cells)", flush=True)
                break
            error = run_cell(cell, model_of[cell.model], args, records)
            if error:
                return fail(error)
            ran += 1
        done = [c for c in cells if is_done(records, c)]
        if len(done) < len(cells):
            print(f"{len(cells) - len(done)} cell(s) remain: run this script again", flush=True)
            return 0
    from remedies_report import write_page

    if not done:
        return fail(f"no cell is done in {records} yet")
    write_page(args, records, cells, [c.name for c in cells if c not in done])
    print(f"written {args.doc}" + ("" if len(done) == len(cells) else " (interim)"))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
