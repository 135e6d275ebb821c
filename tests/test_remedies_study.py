"""The remedies study's bookkeeping (bench/remedies.py, bench/remedies_report.py): what it
refuses, when a trained run is ready, and the page built from records. The page test writes
records by hand in the records' own format (no encoding); one slow test runs the script's cells
for real on the sample collection with the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import remedies  # noqa: E402
import remedies_report  # noqa: E402

TRAINING = {
    "base": "default",
    "steps": 50,
    "batch_size": 32,
    "lr": 3e-05,
    "max_seq_length": 96,
    "freeze_embeddings": True,
    "scale": 100.0,
    "warmup_steps": 0,
    "hard_negatives": True,
    "passage_context": False,
    "backend": "openvino",
    "train": "mlqa-r",
    "eval": "xquad-r",
}
REMEDY_NAMES = ["center", "lir(r=2/1)", "leace", "subspace(r=1)"]


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "remedies.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def fake_run(folder: Path, seed: int, *, done: bool = True, **changes: object) -> Path:
    """A training run's folder as `xlir-tui train` leaves it (no weights worth loading)."""
    folder.mkdir(parents=True)
    settings = {
        "collections": ["../shared/data/mlqa-r"],
        **{k: TRAINING[k] for k in remedies.TRAINING_KEYS},
        "strategy": "hybrid",
        "alpha": 0.5,
        "seed": seed,
        **changes,
    }
    events = [{"event": "start", "time": 1000.0, "settings": settings, "total_steps": 50}]
    events += [
        {
            "event": "step",
            "time": 1000.0 + 60 * i,
            "step": i,
            "total_steps": 50,
            "examples_per_s": 1.0 + i,
        }
        for i in (1, 2, 3)
    ]
    if done:
        events.append({"event": "done", "time": 1000.0 + 600 + 60 * seed, "step": 50})
        (folder / "model.safetensors").write_bytes(b"")
        (folder / "xlir_train.json").write_text(json.dumps({"settings": settings}))
    (folder / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return folder


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, object]:
    """An --eval folder, a training study's records and three finished runs."""
    (tmp_path / "xquad-r").mkdir()
    study = tmp_path / "records" / "study-scale100-hardneg"
    study.mkdir(parents=True)
    (study / "study.json").write_text(json.dumps({"settings": TRAINING}))
    runs = [fake_run(tmp_path / "runs" / f"hybrid-a0.5-s{s}", s) for s in (0, 1, 2)]
    args = [
        "--eval",
        str(tmp_path / "xquad-r"),
        "--training-records",
        str(study),
        "--records",
        str(tmp_path / "records" / "remedies"),
        "--trained",
        ",".join(map(str, runs)),
        "--doc",
        str(tmp_path / "remedies.md"),
    ]
    return {"args": args, "tmp": tmp_path, "study": study, "runs": runs}


def test_a_resumed_study_with_other_settings_is_refused(setup: dict) -> None:
    args, tmp = setup["args"], setup["tmp"]
    first = run_script(*args, "--status")
    assert first.returncode == 0, first.stderr
    assert "0 of 17 cells done" in first.stdout
    kept = (tmp / "records" / "remedies" / "remedies.json").read_text()
    again = run_script(*args, "--map-depth", "10", "--status")
    assert again.returncode == 1
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "map_depth 20 -> 10" in lines[0] and "--records" in lines[0]
    assert (tmp / "records" / "remedies" / "remedies.json").read_text() == kept


def test_bad_cells_runs_and_seeds_are_refused_in_one_line(setup: dict) -> None:
    args, tmp = setup["args"], setup["tmp"]
    only = run_script(*args, "--only", "default-sentence-remedies,s9-sentence-remedies")
    assert only.returncode == 1 and only.stderr.count("\n") == 1
    assert "--only s9-sentence-remedies: not a cell of this study" in only.stderr
    two = run_script(*args[:-4], "--trained", ",".join(map(str, setup["runs"][:2])))
    assert two.returncode == 1 and "2 run(s) for 3 seeds" in two.stderr
    depth = run_script(*args, "--map-depth", "0")
    assert depth.returncode == 1 and "--map-depth must be at least 1" in depth.stderr
    # a run trained with another scale (or another seed) is not the best setting's
    other = fake_run(tmp / "other" / "hybrid-a0.5-s1", 1, scale=20.0)
    runs = setup["runs"]
    wrong = run_script(*args[:-4], "--trained", f"{runs[0]},{other},{runs[2]}", "--status")
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert "scale 20.0 (not 100.0)" in wrong.stderr and "seed 1" in wrong.stderr
    swapped = run_script(*args[:-4], "--trained", f"{runs[1]},{runs[0]},{runs[2]}", "--status")
    assert swapped.returncode == 1 and "seed 1 (not 0)" in swapped.stderr
    nothing = run_script(*args, "--report")
    assert nothing.returncode == 1 and "no cell is done" in nothing.stderr
    assert not (tmp / "remedies.md").exists()


def test_a_run_still_training_waits(setup: dict) -> None:
    args, tmp = setup["args"], setup["tmp"]
    runs = setup["runs"]
    busy = fake_run(tmp / "busy" / "hybrid-a0.5-s2", 2, done=False)
    res = run_script(*args[:-4], "--trained", f"{runs[0]},{runs[1]},{busy}", "--status")
    assert res.returncode == 0, res.stderr
    assert "hybrid-a0.5-s2: training (step 3 of 50)" in res.stdout
    assert remedies.training_state(runs[0]) == (remedies.training_state(runs[0])[0], None)
    t = remedies.training_time(runs[1])
    assert t == {
        "seconds": 660.0,
        "steps": 50,
        "batch_size": 32,
        "examples_per_s": 3.5,
        "starts": 1,
    }


def test_per_query_table_averages_the_cross_pools() -> None:
    raw = pl.DataFrame(
        {
            "system": ["a"] * 4 + ["a + center"] * 4,
            "baseline": [None] * 4 + ["a"] * 4,
            "query_id": ["q1"] * 8,
            "query_lang": ["de"] * 8,
            "setting": ["mono", "cross", "cross", "multi"] * 2,
            "pool_lang": ["de", "en", "zh", None] * 2,
            "ap": [0.5, 0.2, 0.4, 0.3, 0.5, 0.6, 0.8, 0.7],
            "rank_distance": [None, None, None, 12.0, None, None, None, 3.0],
        }
    )
    table = remedies.per_query_table(raw)
    cross = table.filter(pl.col("setting") == "cross").sort("system")
    assert cross["ap"].to_list() == pytest.approx([0.3, 0.7])
    assert cross["baseline"].to_list() == [None, "a"]
    assert table.height == 6


# --------------------------------------------------------------------------- the page


def entry(label: str, base: float, depth: int = 20, **extra: object) -> dict:
    return {
        "label": label,
        "summary": {
            "mono": {"map": 0.8 - base / 10, f"map@{depth}": 0.79 - base / 10},
            "cross": {"map": 0.6 + base / 10, f"map@{depth}": 0.59 + base / 10},
            "multi": {
                "map": 0.3 + base,
                f"map@{depth}": 0.28 + base,
                "r@10": 0.25 + base,
                "rank_distance": 1200 - 1000 * base,
            },
        },
        "bias": {"same_language_share": 0.7 - base, "expected_same_language_share": 0.5},
        "timings": {"build_s": 1.0, "queries_s": 2.0, "score_s": 3.0},
        **extra,
    }


def cell_record(name: str, plain: str, gains: list[float], seed: int | None = None) -> dict:
    systems = [entry(plain, 0.0)]
    results = []
    for remedy, gain in zip(REMEDY_NAMES, gains, strict=True):
        systems.append(
            {
                **entry(f"{plain} + {remedy}", gain, debias={"method": remedy, "fit_s": 1.5}),
                "timings": {"debias_candidates_s": 0.5, "debias_queries_s": 0.25},
            }
        )
        for setting, metric, diff in (("mono", "ap", -gain / 10), ("multi", "ap", gain)):
            results.append(
                {
                    "system": f"{plain} + {remedy}",
                    "baseline": plain,
                    "setting": setting,
                    "metric": metric,
                    "mean_difference": diff,
                    "ci95": [diff - 0.01, diff + 0.01],
                    "p_holm": 0.004,
                    "significant": True,
                }
            )
    record = {
        "cell": name,
        "command": f"xlir-tui bias-report ../shared/data/xquad-r --model {name}",
        "report": {
            "questions": 20,
            "candidates": 18,
            "languages": ["de", "en"],
            "systems": systems,
            "comparisons": {"resamples": 2000, "seed": 0, "results": results},
        },
    }
    if seed is not None:
        record["seed"] = seed
        record["training"] = {
            "seconds": 600.0 + seed,
            "steps": 50,
            "batch_size": 32,
            "examples_per_s": 2.0,
            "starts": 1,
        }
        record["train_command"] = f"xlir-tui train ../shared/data/mlqa-r --seed {seed}"
    return record


def queries(record: dict, rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    plain = record["report"]["systems"][0]["label"]
    for e in record["report"]["systems"]:
        shift = e["summary"]["multi"]["map"] - 0.3
        for q in range(20):
            for setting in ("mono", "cross", "multi"):
                rows.append(
                    {
                        "system": e["label"],
                        "baseline": None if e["label"] == plain else plain,
                        "query_id": f"q{q}",
                        "query_lang": "de" if q % 2 else "en",
                        "setting": setting,
                        "ap": float(np.clip(rng.uniform(0.1, 0.6) + shift, 0, 1)),
                        "rank_distance": float(100 - 100 * shift) if setting == "multi" else None,
                    }
                )
    return pl.DataFrame(rows)


def test_the_page_builds_from_records(setup: dict) -> None:
    args, tmp = setup["args"], setup["tmp"]
    assert run_script(*args, "--status").returncode == 0  # writes remedies.json
    records = tmp / "records" / "remedies"
    rng = np.random.default_rng(0)
    cells = {
        "default-sentence-remedies": cell_record("default", "e5", [0.24, 0.15, 0.2, 0.21]),
        "s0-sentence-remedies": cell_record("s0", "run0", [0.0, 0.01, 0.004, 0.003], seed=0),
        "s1-sentence-remedies": cell_record("s1", "run1", [0.0, 0.005, 0.006, 0.001], seed=1),
    }
    for name, record in cells.items():
        remedies.save_record(records, name, record, queries(record, rng))
    ceiling = {
        "cell": "default-sentence-ceiling",
        "command": "xlir-tui bias-report ../shared/data/xquad-r --model default "
        "--translate-query en --mt parallel",
        "report": {
            "systems": [
                entry("e5", 0.0),
                entry(
                    "e5 (queries: their own en version)",
                    0.14,
                    translate_query={"to": "en", "mt": "parallel"},
                ),
            ],
            "comparisons": {"resamples": 2000, "seed": 0, "results": []},
        },
    }
    remedies.save_record(records, "default-sentence-ceiling", ceiling, queries(ceiling, rng))
    for seed, gain in ((0, 0.02), (1, 0.04)):  # the trained seeds' ceilings
        trained = {
            **ceiling,
            "cell": f"s{seed}-sentence-ceiling",
            "report": {
                **ceiling["report"],
                "systems": [
                    entry(f"run{seed}", 0.0),
                    entry(
                        f"run{seed} (queries: their own en version)",
                        gain,
                        translate_query={"to": "en", "mt": "parallel"},
                    ),
                ],
            },
        }
        remedies.save_record(records, trained["cell"], trained, queries(trained, rng))
    (tmp / "study-scale100-hardneg").mkdir(exist_ok=True)
    res = run_script(*args, "--report", "--resamples", "200")
    assert res.returncode == 0, res.stderr
    page = (tmp / "remedies.md").read_text()
    assert "**Interim:** 6 of the 17 cells are done" in page
    assert "default-sentence-costs" in page.split("**Interim:**")[1].split("\n")[0]
    # the untrained table, from the record's figures
    assert "| plain | 0.800 | 0.600 | 0.300 | 0.280 | 0.250 | 1200.0 | 0.70 |" in page
    assert "| center | 0.776 | 0.624 | 0.540 | 0.520 | 0.490 | 960.0 | 0.46 |" in page
    # the report's own tests, by remedy name
    assert "| lir(r=2/1) | multi AP | +0.150 | [+0.140, +0.160] | 0.004 | better |" in page
    # seeds: mean ± sd over the two seeds done, and the tests on AP averaged over seeds
    assert "over 2 seed(s) (0, 1; 1 still to run)" in page
    assert "| lir(r=2/1) | 0.799 ± 0.000 | 0.601 ± 0.000 | 0.307 ± 0.004 |" in page
    assert "averaged over the 2 seeds" in page and "p between seeds (Holm)" in page
    # side by side, the ceiling, the costs, the reading and the commands
    assert "| center | 0.540 | 0.300 | -0.240 |" in page
    assert "| untrained, sentence: translate-test ceiling | 0.786 |" in page
    assert "| untrained, sentence: center (the best remedy by multi mAP) |" in page
    assert "| trained (2 seeds), sentence: translate-test ceiling | 0.797 ± 0.001 |" in page
    assert "| trained (2 seeds), sentence: plain | 0.800 ± 0.000 |" in page
    assert "The trained seeds' ceiling, candidates as their sentence:" in page
    assert "| center | 1.50 s | 0.50 s | 0.25 s | — | — | — | — |" in page
    assert "| 1 | 10.0 min | 50 × 32 | 2.0 | — |" in page
    reading = page.split("## Reading these figures")[1]
    assert "4 of the 4 remedies raise the default's multi mAP (0.300 plain)" in reading
    assert "the best, center, reaches 0.540" in reading
    assert "center -0.024" in reading  # mono cost, significant in the record
    assert "below center (0.540)" in reading
    assert "perfect translate-test reaches 0.330 multi mAP against 0.300" in reading
    assert "xlir-tui bias-report ../shared/data/xquad-r --model s1" in page
    assert "xlir-tui train ../shared/data/mlqa-r --seed 0" in page
    assert "(not run yet)" in page  # the context cells


@pytest.mark.slow
def test_the_cells_run_for_real_on_the_sample(
    tmp_path: Path, sample_dir: Path, tiny_model: Path
) -> None:
    """The untrained cells on the sample collection with the tiny model, then
    the page: the records hold the tool's own report and per-query AP."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text(json.dumps({"settings": TRAINING}))
    args = [
        "--eval",
        str(sample_dir),
        "--base",
        str(tiny_model),
        "--backend",
        "torch",
        "--training-records",
        str(study),
        "--records",
        str(tmp_path / "records"),
        "--trained",
        ",".join(str(tmp_path / f"none-s{s}") for s in (0, 1, 2)),
        "--outputs",
        str(tmp_path / "outputs"),
        "--doc",
        str(tmp_path / "remedies.md"),
    ]
    res = run_script(*args, "--only", "default-sentence-remedies,default-sentence-ceiling")
    assert res.returncode == 0, res.stderr
    assert "15 cell(s) remain" in res.stdout
    record = json.loads((tmp_path / "records" / "default-sentence-remedies.json").read_text())
    assert (
        "--debias none,center,lir,leace,subspace --map-depth 20 --backend torch"
        in record["command"]
    )
    names = [remedies_report.system_name(e) for e in record["report"]["systems"]]
    assert names[0] == "plain" and names[1] == "center" and len(names) == 5
    table = pl.read_parquet(tmp_path / "records" / "default-sentence-remedies.parquet")
    assert table["system"].n_unique() == 5 and set(table["setting"]) == {"mono", "cross", "multi"}
    assert not (tmp_path / "outputs" / "default-sentence-remedies").exists()  # removed
    again = run_script(*args, "--only", "default-sentence-remedies")
    assert "default-sentence-remedies:" not in again.stdout  # done: skipped
    page = run_script(*args, "--report", "--resamples", "200")
    assert page.returncode == 0, page.stderr
    text = (tmp_path / "remedies.md").read_text()
    assert "## Reading these figures" in text and "translate-test ceiling" in text
    assert "| center | " in text.split("## What each remedy costs")[1]


def test_a_run_trained_before_precision_existed_gets_its_exact_command(tmp_path: Path) -> None:
    """A run whose xlir_train.json predates --precision and --save-dtype was trained in float32
    and saved so: its command says it (the page's reproduction line)."""
    run = tmp_path / "hybrid-a0.5-s1"
    run.mkdir()
    settings = {k: v for k, v in TRAINING.items() if k not in ("backend", "train", "eval")}
    settings |= {"collections": ["/data/mlqa-r"], "strategy": "hybrid", "alpha": 0.5, "seed": 1}
    (run / "xlir_train.json").write_text(json.dumps({"settings": settings}))
    cmd = remedies.train_command_of(run)
    assert cmd.startswith("xlir-tui train ")
    assert "--precision float32 --length-group-size 0 --save-dtype float32" in cmd
    assert "--seed 1" in cmd and "--scale 100.0" in cmd and "--hard-negatives" in cmd
    assert f"--checkpoint-every {min(settings['steps'], 10)} " in cmd  # none recorded
    settings["checkpoint_every"] = 50  # the run's own, as it was trained
    (run / "xlir_train.json").write_text(json.dumps({"settings": settings}))
    assert "--checkpoint-every 50 " in remedies.train_command_of(run)
    settings["precision"] = "bfloat16"  # a newer run says its own
    (run / "xlir_train.json").write_text(json.dumps({"settings": settings}))
    assert "--precision bfloat16" in remedies.train_command_of(run)
