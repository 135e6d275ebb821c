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
    again = run_study(
        *data, "--records", str(records), "--steps", "60", "--scale", "100", "--status"
    )
    assert again.returncode == 1
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "steps 50 -> 60" in lines[0] and "scale 20.0 -> 100.0" in lines[0]
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
    settings = study.settings_of(study.make_parser().parse_args([]))
    settings.update(steps=50, lr=1e-5, scale=100.0, freeze_embeddings=True, hard_negatives=True)
    command = study_report._study_command(settings, "--only", "hybrid-a0.5-s0")
    argv = shlex.split(command)[2:]  # after the interpreter and the script
    assert "--only" in argv and "--base" not in argv  # defaults are left out
    assert study.settings_of(study.make_parser().parse_args(argv)) == settings


def record(run: str, mono: float, multi: float, rd: float) -> dict:
    return {
        "run": run,
        "train_s": 300.0,
        "summary": {
            "mono": {"map": mono},
            "cross": {"map": 0.6},
            "multi": {"map": multi, "r@10": 0.5, "rank_distance": rd},
        },
        "bias": {"same_language_share": 0.2},
    }


def test_runs_under_other_settings_are_shown_beside_the_same_run(tmp_path: Path) -> None:
    main = tmp_path / "study"
    settings = study.settings_of(study.make_parser().parse_args(["--steps", "50"]))
    recs, by = {}, {"hybrid": []}
    for seed, (mono, multi, rd) in enumerate([(0.75, 0.54, 360), (0.76, 0.55, 370)]):
        name = f"hybrid-a0.5-s{seed}"
        recs[name] = record(name, mono, multi, rd)
        by["hybrid"].append(name)
    main.mkdir()
    (main / "hybrid-a0.5-s0.json").write_text(json.dumps(recs["hybrid-a0.5-s0"]))
    assert study_report._other_settings(main, settings, recs, by) == []  # none yet
    other = tmp_path / "study-scale100"
    other.mkdir()
    (other / "study.json").write_text(json.dumps({"settings": {**settings, "scale": 100.0}}))
    (other / "hybrid-a0.5-s0.json").write_text(
        json.dumps(record("hybrid-a0.5-s0", 0.79, 0.58, 320))
    )
    (tmp_path / "study-empty").mkdir()  # a folder without study.json is not a study
    lines = study_report._other_settings(main, settings, recs, by)
    table = [x for x in lines if x.startswith("| ") and "hybrid-a0.5-s0" in x]
    assert table[0].startswith("| this study | hybrid-a0.5-s0 | 0.750 |")
    assert table[1].startswith("| scale 100 | hybrid-a0.5-s0 | 0.790 | 0.600 | 0.580 |")
    assert "320.0" in table[1]
    # the yardstick: the standard deviation between this study's hybrid seeds
    assert "mono 0.007, multi 0.007 mAP, rank distance 7" in " ".join(lines)
    commands = [x for x in lines if x.startswith(".venv/bin/python bench/study.py")]
    assert commands == [
        f".venv/bin/python bench/study.py --steps 50 --scale 100 --records "
        f"{other} "
        "--only hybrid-a0.5-s0"
    ]
