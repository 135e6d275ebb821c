"""The study script's bookkeeping (bench/study.py, bench/study_report.py): what it refuses, the
commands it writes on the page, and the page's tables of runs under other settings. No training
here: records are written by hand in the records' own format."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import study  # noqa: E402
import study_report  # noqa: E402
import study_settings  # noqa: E402


def run_study(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "study.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture
def data(tmp_path: Path) -> list[str]:
    """--train and --eval folders (only their names matter before any training)."""
    for name in ("mlqa-r", "xquad-r"):
        (tmp_path / name).mkdir()
    return ["--train", str(tmp_path / "mlqa-r"), "--eval", str(tmp_path / "xquad-r")]


def test_a_resumed_study_with_other_settings_is_refused(tmp_path: Path, data: list[str]) -> None:
    records = tmp_path / "records"
    first = run_study(*data, "--records", str(records), "--steps", "50", "--status")
    assert first.returncode == 0, first.stderr
    kept = (records / "study.json").read_text()
    # the scale left out is the default model's own, 100: recorded as such
    assert json.loads(kept)["settings"]["scale"] == 100.0
    again = run_study(
        *data, "--records", str(records), "--steps", "60", "--scale", "20", "--status"
    )
    assert again.returncode == 1
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "steps 50 -> 60" in lines[0] and "scale 100.0 -> 20.0" in lines[0]
    assert "--records" in lines[0]
    assert (records / "study.json").read_text() == kept  # nothing rewritten


def test_an_unknown_run_and_too_few_seeds_are_refused(tmp_path: Path, data: list[str]) -> None:
    records = str(tmp_path / "records")
    only = run_study(*data, "--records", records, "--only", "hybrid-a0.5-s0,hybrid-s9")
    assert only.returncode == 1 and only.stderr.count("\n") == 1
    assert "--only hybrid-s9: not a run of this study" in only.stderr
    seeds = run_study(*data, "--records", records, "--seeds", "0,1")
    assert seeds.returncode == 1 and "at least 3 seeds" in seeds.stderr
    assert not (tmp_path / "records" / "hybrid-a0.5-s0.json").exists()


def test_the_command_on_the_page_gives_back_the_settings() -> None:
    settings = study_settings.settings_of(study_settings.make_parser().parse_args([]))
    settings.update(steps=50, lr=1e-5, freeze_embeddings=True, hard_negatives=True)
    settings.update(precision="bfloat16", length_group_size=8, save_dtype="float16")
    settings.update(mini_batch_size=32)
    command = study_report._study_command(settings, "--only", "hybrid-a0.5-s0")
    argv = shlex.split(command)[2:]  # after the interpreter and the script
    assert "--only" in argv and "--base" not in argv  # defaults are left out
    assert "--scale" not in argv  # the default model's own, 100
    assert "--precision bfloat16 --length-group-size 8 --save-dtype float16" in command
    assert study_settings.settings_of(study_settings.make_parser().parse_args(argv)) == settings
    assert "--mini-batch-size 32" in command
    parsed = study_settings.make_parser().parse_args([*argv, "--runs", "runs"])
    train = study.train_command(parsed, "hybrid", 0.5, 0)
    assert train[train.index("--mini-batch-size") + 1] == "32"
    plain = study_settings.make_parser().parse_args(["--runs", "runs"])
    assert "--mini-batch-size" not in study.train_command(plain, "hybrid", 0.5, 0)  # one pass


def record(run: str, mono: float, multi: float, rd: float, seed: int = 0) -> dict:
    return {
        "run": run,
        "seed": seed,
        "train_s": 300.0,
        "examples_per_s": 4.0,
        "summary": {
            "mono": {"map": mono},
            "cross": {"map": 0.6},
            "multi": {"map": multi, "r@10": 0.5, "rank_distance": rd},
        },
        "bias": {"same_language_share": 0.2},
    }


def test_runs_under_other_settings_are_shown_beside_the_same_run(tmp_path: Path) -> None:
    main = tmp_path / "study"
    settings = study_settings.settings_of(
        study_settings.make_parser().parse_args(["--steps", "50", "--scale", "20"])
    )
    recs, by = {}, {"hybrid": []}
    for seed, (mono, multi, rd) in enumerate([(0.75, 0.54, 360), (0.76, 0.55, 370)]):
        name = f"hybrid-a0.5-s{seed}"
        recs[name] = record(name, mono, multi, rd)
        by["hybrid"].append(name)
    main.mkdir()
    (main / "hybrid-a0.5-s0.json").write_text(json.dumps(recs["hybrid-a0.5-s0"]))
    assert study_report._other_settings(main, settings, recs, by, 0) == []  # none yet
    other = tmp_path / "study-scale100"
    other.mkdir()
    (other / "study.json").write_text(json.dumps({"settings": {**settings, "scale": 100.0}}))
    (other / "hybrid-a0.5-s0.json").write_text(
        json.dumps(record("hybrid-a0.5-s0", 0.79, 0.58, 320))
    )
    (tmp_path / "study-empty").mkdir()  # a folder without study.json is not a study
    (other / "hybrid-a0.5-s1.json").write_text(
        json.dumps(record("hybrid-a0.5-s1", 0.70, 0.50, 400, seed=1))
    )  # another seed: not a one-seed look, left to the precision comparison
    lines = study_report._other_settings(main, settings, recs, by, 0)
    table = [x for x in lines if x.startswith("| ") and "hybrid-a0.5-s0" in x]
    assert table[0].startswith("| this study | hybrid-a0.5-s0 | 0.750 |")
    assert table[1].startswith("| scale 100 | hybrid-a0.5-s0 | 0.790 | 0.600 | 0.580 |")
    assert "320.0" in table[1] and len(table) == 2 and "hybrid-a0.5-s1" not in "".join(lines)
    # the yardstick: the standard deviation between this study's hybrid seeds
    assert "mono 0.007, multi 0.007 mAP, rank distance 7" in " ".join(lines)
    commands = [x for x in lines if x.startswith(".venv/bin/python bench/study.py")]
    assert commands == [  # scale 100 is the default model's own: left out
        f".venv/bin/python bench/study.py --steps 50 --records {other} --only hybrid-a0.5-s0"
    ]


def write_run(folder: Path, seed: int, shift: float) -> None:
    """A run's record and per-query table: 40 queries in two settings, AP moved by ``shift``."""
    import numpy as np
    import polars as pl

    name = f"hybrid-a0.5-s{seed}"
    rng = np.random.default_rng(0)  # the same queries' AP for every seed: only the shift moves
    ap = rng.uniform(0.2, 0.9, 40) + shift
    frames = [
        pl.DataFrame(
            {
                "query_id": [f"q{i}" for i in range(40)],
                "query_lang": ["en"] * 40,
                "setting": [setting] * 40,
                "ap": ap,
                "rank_distance": rng.uniform(100, 400, 40),
            }
        )
        for setting in ("mono", "cross", "multi")
    ]
    pl.concat(frames).write_parquet(folder / f"{name}.parquet")
    rec = record(name, 0.80 + shift + seed * 0.002, 0.59 + shift + seed * 0.003, 330 + seed, seed)
    (folder / f"{name}.json").write_text(json.dumps(rec))


def test_a_bfloat16_study_is_compared_with_its_float32_seeds(tmp_path: Path) -> None:
    settings = study_settings.settings_of(
        study_settings.make_parser().parse_args(["--steps", "50"])
    )
    main = tmp_path / "study-scale100-hardneg"
    main.mkdir()
    old = {
        k: v for k, v in settings.items() if k not in study_settings.LEGACY
    }  # recorded before them
    (main / "study.json").write_text(json.dumps({"settings": old}))
    low = tmp_path / "study-scale100-hardneg-bf16"
    low.mkdir()
    (low / "study.json").write_text(
        json.dumps(
            {
                "settings": {
                    **settings,
                    "precision": "bfloat16",
                    "length_group_size": 8,
                    "save_dtype": "float16",
                }
            }
        )
    )
    for seed in range(3):
        write_run(main, seed, 0.0)
    assert study_report._precision(main, 200) == []  # no bfloat16 seeds yet
    for seed in range(2):
        write_run(low, seed, 0.001)
    lines = study_report._precision(main, 200)
    text = "\n".join(lines)
    assert lines[0] == "## Training precision: hybrid-a0.5, float32 against bfloat16"
    rows = [x for x in lines if x.startswith("| float32 |") or x.startswith("| bfloat16 |")]
    assert len(rows) == 5  # every seed of each side
    assert "| **bfloat16** | mean ± sd | 0.802 ± 0.001 |" in text
    assert "within the range of the float32 seeds for mono mAP" in text
    tests = [x for x in lines if x.startswith("| multi AP |") or x.startswith("| mono AP |")]
    assert len(tests) == 2 and "+0.0010" in tests[0]
    assert (
        f".venv/bin/python bench/study.py --steps 50 --hard-negatives --records {low}" not in text
    )
    assert f"--records {low} --only hybrid-a0.5-s0,hybrid-a0.5-s1" in text
    assert "--precision bfloat16 --length-group-size 8 --save-dtype float16" in text


def test_a_run_stopped_half_way_goes_on_from_its_checkpoint(tmp_path: Path) -> None:
    """A run with a checkpoint and no ``done`` event is resumed; its training time is the wall
    time of each start, from the start to its last event (a killed start has no last word)."""
    out = tmp_path / "hybrid-a0.5-s0"
    (out / "checkpoints").mkdir(parents=True)
    events = [
        {"event": "start", "time": 100.0},
        {"event": "step", "time": 160.0, "step": 1},
        {"event": "checkpoint", "time": 170.0, "step": 1},
        {"event": "step", "time": 230.0, "step": 2},  # killed here, after its checkpoint
    ]
    (out / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + '\n{"ev')
    assert not study.resumable(out)  # no checkpoint kept yet
    (out / "checkpoints" / "step-1").mkdir()
    assert study.resumable(out)
    events += [{"event": "start", "time": 1000.0}, {"event": "done", "time": 1090.0}]
    (out / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    assert not study.resumable(out)  # finished
    assert study.training_seconds(study.read_events(out)) == (130.0 + 90.0, 2)
    parsed = study_settings.make_parser().parse_args(["--steps", "50", "--runs", "runs"])
    cmd = study.train_command(parsed, "hybrid", 0.5, 0)
    assert cmd[cmd.index("--checkpoint-every") + 1] == "10"
