"""The reach study's bookkeeping (bench/reach.py, bench/reach_report.py): which steps it plans
(screening on the first seed), the settings each configuration trains with, what it refuses, and
the page's verdicts. No training here: records are written by hand in the records' format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import reach  # noqa: E402
import reach_report  # noqa: E402
import reach_settings  # noqa: E402


def record(seed: int, mono: float, multi: float, rd: float, train_min: float = 20.0) -> dict:
    return {
        "run": f"hybrid-a0.5-s{seed}",
        "seed": seed,
        "train_s": train_min * 60,
        "summary": {
            "mono": {"map": mono},
            "cross": {"map": 0.7},
            "multi": {"map": multi, "r@10": 0.5, "rank_distance": rd},
        },
        "bias": {"same_language_share": 0.2},
    }


def keep(folder: Path, name: str, rec: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(rec))


def test_the_configurations_train_the_best_setting_with_one_lever_changed() -> None:
    best = reach_settings.settings("best")
    assert best["steps"] == 50 and best["hard_negatives"] and best["freeze_embeddings"]
    assert best["precision"] == "bfloat16" and best["scale"] == 100.0
    for name, (_, lever) in reach_settings.CONFIGS.items():
        changed = {k: v for k, v in reach_settings.settings(name).items() if best[k] != v}
        assert changed == lever, name
    # the best configuration is the study already on record, not a new folder
    assert reach_settings.records_of("best").name == "study-scale100-hardneg-bf16"


def test_a_first_seed_far_from_the_target_gets_no_more_seeds(tmp_path: Path) -> None:
    folder = reach_settings.records_of("context", tmp_path)
    assert reach.todo("context", tmp_path) == [("train", 0), ("center", 0)]
    keep(folder, "hybrid-a0.5-s0", record(0, 0.82, 0.60, 340))
    assert reach.todo("context", tmp_path) == [("center", 0)]  # screened out
    keep(folder, "hybrid-a0.5-s2", record(2, 0.82, 0.60, 340))  # trained before: centred too
    assert reach.todo("context", tmp_path) == [("center", 0), ("center", 2)]
    (folder / "hybrid-a0.5-s2.json").unlink()
    keep(folder, "hybrid-a0.5-s0", record(0, 0.82, 0.645, 260))
    assert reach.todo("context", tmp_path) == [
        ("center", 0),
        ("train", 1),
        ("center", 1),
        ("train", 2),
        ("center", 2),
    ]


def test_the_page_says_which_configuration_reaches_and_why_not(tmp_path: Path) -> None:
    ok = reach_settings.records_of("context", tmp_path)
    for seed, multi in enumerate((0.665, 0.66, 0.67)):
        keep(ok, f"hybrid-a0.5-s{seed}", record(seed, 0.81, multi, 240))
        keep(ok, f"center-s{seed}", record(seed, 0.80, multi + 0.01, 230))
    slow = reach_settings.records_of("batch128", tmp_path)
    for seed in reach_settings.SEEDS:
        keep(slow, f"hybrid-a0.5-s{seed}", record(seed, 0.81, 0.67, 240, train_min=95))
    far = reach_settings.records_of("lr1e-4", tmp_path)
    keep(far, "hybrid-a0.5-s0", record(0, 0.81, 0.60, 350))
    best = reach_settings.records_of("best", tmp_path)
    for seed, multi in enumerate((0.59, 0.60, 0.61)):
        keep(best, f"hybrid-a0.5-s{seed}", record(seed, 0.82, multi, 350 + 10 * seed))
    for seed in reach_settings.SEEDS:  # the remedies study's translate-test ceiling, for scale
        translated = {**record(seed, 0.78, 0.66 + seed / 100, 230), "translate_query": {"to": "en"}}
        ceiling = {"report": {"systems": [record(seed, 0.82, 0.6, 350), translated]}}
        keep(tmp_path / "remedies", f"s{seed}-sentence-ceiling", ceiling)
    doc = tmp_path / "reach.md"
    reach_report.write_page(doc, ["context", "batch128", "lr1e-4", "unfrozen"], tmp_path)
    table = doc.read_text().split("## What came out")[0]
    rows = {line.split(" | ")[0][2:]: line for line in table.splitlines() if "|" in line}
    assert rows["context"].endswith("| **yes** |") and "0.665 ± 0.005" in rows["context"]
    assert rows["context + center"].endswith("| **yes** |")
    assert "no: training 95 min > 90" in rows["batch128"]
    assert "more than 0.02 below 0.66" in rows["lr1e-4"]
    assert rows["unfrozen"].endswith("not run yet |")
    text = doc.read_text()
    assert "- 3 of 4 configurations measured; context reaches the target." in text
    assert "- The highest multi mAP: context + center, 0.675 (mean of 3 seed(s))." in text
    assert "- The lowest rank distance: context + center, 230.0 (mean of 3 seed(s)), within" in text
    # each lever's first seed against the best setting's first seed, the seed spread beside
    assert "| context | -0.010 | 0.000 | +0.075 | -110.0 | 20 min |" in text
    assert "| batch128 | -0.010 | 0.000 | +0.080 | -110.0 | 95 min |" in text
    assert "| lr1e-4 | -0.010 | 0.000 | +0.010 | 0.0 | 20 min |" in text
    assert "| unfrozen |" not in text.split("## Each lever")[1]  # not run: no row
    assert "between its 3 seeds: mono 0.000, cross 0.000, multi 0.010, rank distance 10.0" in text
    assert "3 seeds) reach multi 0.670, rank distance 230, at mono 0.780." in text
    assert "--records docs/records/reach-context" not in text  # tmp, not the repo's
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unknown_configuration_is_refused_in_one_line() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reach.py"), "--configs", "context,faster"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert "--configs faster: not a configuration" in res.stderr


def test_a_resumed_run_says_its_starts_and_its_pace(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    events = [
        {"event": "start", "time": 0.0},
        {"event": "step", "time": 100.0, "step": 1, "total_steps": 3},
        {"event": "start", "time": 5000.0},  # killed after step 1; resumed
        {"event": "step", "time": 5060.0, "step": 2, "total_steps": 3},
        {"event": "step", "time": 5120.0, "step": 3, "total_steps": 3},
    ]
    (run / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events))
    folder = reach_settings.records_of("lr1e-4", tmp_path)
    rec = {**record(0, 0.81, 0.60, 350, train_min=95), "starts": 2, "label": str(run)}
    keep(folder, "hybrid-a0.5-s0", rec)
    doc = tmp_path / "reach.md"
    reach_report.write_page(doc, ["lr1e-4"], tmp_path)
    row = next(line for line in doc.read_text().splitlines() if line.startswith("| lr1e-4 |"))
    # the pace within a start only (60 s a step, 3 steps), not the wait between starts
    assert "| 95 min (max 95), 2 starts (~3 min at its median step) |" in row
    (run / "events.jsonl").unlink()  # the model folder gone: the starts still said
    reach_report.write_page(doc, ["lr1e-4"], tmp_path)
    assert "| 95 min (max 95), 2 starts |" in doc.read_text()
