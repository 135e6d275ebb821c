"""``xlir-tui train`` as a person uses it: events, checkpoints, Ctrl-C, resume, config, DDP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SMALL, read_events, run_cli, train_args
from test_bad_input import assert_one_line_error

from xlir_tui.errors import XlirError
from xlir_tui.training.config import TrainConfig
from xlir_tui.training.events import describe_event


def events(out: Path) -> list[dict]:
    return read_events(out / "events.jsonl")


@pytest.mark.slow
def test_train_writes_a_usable_model(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(
        train_args(
            sample_dir,
            tiny_model,
            out,
            "--strategy",
            "hybrid",
            "--steps",
            "6",
            "--checkpoint-every",
            "3",
            "--eval",
            str(sample_dir),
        ),
        capsys,
    )
    assert code == 0, err
    ev = events(out)
    kinds = [e["event"] for e in ev]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds.count("step") == 6 and "checkpoint" in kinds and "eval" in kinds
    start = ev[0]
    assert start["settings"]["strategy"] == "hybrid" and start["total_steps"] == 6
    step = next(e for e in ev if e["event"] == "step")
    assert set(step) >= {"step", "loss", "lr", "examples_per_s", "eta_s"}
    etas = [e["eta_s"] for e in ev if e["event"] == "step"]
    assert etas[0] is not None and etas[0] > 0 and etas[-1] == 0  # from the first step on
    evals = [e for e in ev if e["event"] == "eval"]
    assert set(evals[-1]["metrics"]) == {"mono", "cross", "multi", "rank_distance"}
    # only the latest checkpoint keeps its optimizer state; the model on top carries none
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-6"]
    assert (out / "checkpoints" / "step-6" / "optimizer.safetensors").exists()
    assert not list(out.glob("optimizer*"))
    assert "Computing widget" not in err and "%|" not in err  # no third-party progress bars
    assert "6 steps" in err and "done: 6 steps;" in err
    assert (
        not list(out.rglob("*.pt"))
        and not list(out.rglob("*.bin"))
        and not list(out.rglob("*.pkl"))
    )  # nothing pickled
    mask = os.umask(0o022)
    os.umask(mask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.rglob("*") if p.is_file()}
    wrong = {k: oct(v) for k, v in modes.items() if v != 0o666 & ~mask}
    assert not wrong, wrong  # the weights and the optimizer state too: the user's umask
    from xlir_tui.models.encoders import load_encoder

    enc = load_encoder(str(out))
    assert (enc.query_prompt, enc.passage_prompt) == ("Query: ", "Passage: ")
    # every other command loads it by path
    code, _, err = run_cli(
        ["index", str(sample_dir), "--model", str(out), "--out", str(tmp_path / "idx")], capsys
    )
    assert code == 0, err
    code, out_json, err = run_cli(["search", str(tmp_path / "idx"), "honey", "--json"], capsys)
    assert code == 0 and json.loads(out_json)["results"], err
    code, out_json, err = run_cli(
        ["bias-report", str(sample_dir), "--model", str(out), "--langs", "en,de", "--json"], capsys
    )
    assert code == 0, err
    # an existing output folder is refused
    code, _, err = run_cli(
        train_args(sample_dir, tiny_model, out, "--steps", "1"),
        capsys,
    )
    assert_one_line_error(code, err, "output folder exists")


def test_config_file_with_command_line_winning(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "train.toml"
    cfg.write_text(
        f'collections = ["{sample_dir}"]\nbase = "{tiny_model}"\nstrategy = "mono"\n'
        f"steps = 2\nbatch_size = 4\nalpha = 0.2\nmax_seq_length = 32\n"
    )
    out = tmp_path / "run"
    code, _, err = run_cli(
        ["train", "--config", str(cfg), "--strategy", "cross", "--out", str(out)], capsys
    )
    assert code == 0, err
    settings = events(out)[0]["settings"]
    assert settings["strategy"] == "cross" and settings["alpha"] == 0.2
    assert settings["steps"] == 2 and settings["batch_size"] == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("stratgy = 'mono'\n")
    code, _, err = run_cli(["train", "--config", str(bad), "--out", str(tmp_path / "x")], capsys)
    assert_one_line_error(code, err, "unknown setting 'stratgy'")


@pytest.mark.slow
def test_hard_negatives_and_early_stopping(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """Early stopping keeps the best evaluated model; three-column batches train."""
    scores = iter([0.30, 0.20, 0.10, 0.05])

    class Entry:
        def __init__(self, multi: float) -> None:
            self.entry = {
                "summary": {
                    "mono": {"map": 0.5},
                    "cross": {"map": 0.1},
                    "multi": {"map": multi, "rank_distance": 9.0},
                }
            }

    monkeypatch.setattr(
        "xlir_tui.evaluation.evaluate.evaluate", lambda *a, **k: Entry(next(scores))
    )
    out = tmp_path / "run"
    code, _, err = run_cli(
        train_args(
            sample_dir,
            tiny_model,
            out,
            "--steps",
            "20",
            "--eval",
            str(sample_dir),
            "--eval-every",
            "2",
            "--checkpoint-every",
            "100",
            "--early-stopping",
            "2",
            "--hard-negatives",
        ),
        capsys,
    )
    assert code == 0, err
    ev = events(out)
    evals = [e for e in ev if e["event"] == "eval"]
    assert [e["step"] for e in evals] == [2, 4, 6]  # best at 2, then two worse: stop
    assert ev[-1]["event"] == "done" and ev[-1]["early_stopped"] and ev[-1]["step"] == 6
    import torch
    from safetensors.torch import load_file

    final = load_file(str(out / "model.safetensors"))
    best = load_file(str(out / "checkpoints" / "best" / "model.safetensors"))
    last = load_file(str(out / "checkpoints" / "step-6" / "trainable.safetensors"))
    assert final.keys() == best.keys()
    assert all((final[k] == best[k]).all() for k in final)  # the best model, not the last
    last = {k.removeprefix("0.model."): v.to(torch.float16) for k, v in last.items()}
    assert any((final[k] != last[k]).any() for k in last)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_finishes(
    sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "xlir_tui.cli",
        "train",
        str(sample_dir),
        "--base",
        str(tiny_model),
        "--steps",
        "400",
        "--checkpoint-every",
        "1000",
        "--out",
        str(out),
        *SMALL,
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if any(e["event"] == "step" and e["step"] >= 3 for e in events(out)):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err  # saved, but not the run asked for
    ev = events(out)
    stopped = ev[-1]
    assert stopped["event"] == "stopped" and 3 <= stopped["step"] < 400
    assert "Traceback" not in err and "--resume" in err
    saved = [e["step"] for e in ev if e["event"] == "checkpoint"]
    assert saved == [stopped["step"]]  # saved once at the stop
    assert err.count("checkpoint at step") == 1
    from xlir_tui.models.encoders import load_encoder

    load_encoder(str(out))  # the stopped run left a usable model
    ckpt = out / "checkpoints" / f"step-{stopped['step']}"
    assert (ckpt / "trainer_state.json").exists()
    # resume to a nearby total: a shorter run than recorded is a change, and asked for
    total = stopped["step"] + 3
    res = subprocess.run(
        [
            *cmd[: cmd.index("--steps")],
            "--steps",
            str(total),
            "--checkpoint-every",
            "1000",
            "--out",
            str(out),
            "--resume",
            "--resume-with-changes",
            *SMALL,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    ev = events(out)
    assert ev[-1]["event"] == "done" and ev[-1]["step"] == total
    resumed = [e for e in ev if e["event"] == "start"][-1]
    assert resumed["resumed_from_step"] == stopped["step"]
    steps_after = [e["step"] for e in ev[ev.index(resumed) :] if e["event"] == "step"]
    assert steps_after == list(range(stopped["step"] + 1, total + 1))


def test_bad_input(capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    base = train_args(sample_dir, tiny_model, out, "--steps", "1")
    code, _, err = run_cli([*base, "--alpha", "1.5"], capsys)
    assert_one_line_error(code, err, "--alpha must be between 0 and 1")
    code, _, err = run_cli([*base, "--strategy", "sideways"], capsys)
    assert_one_line_error(code, err, "--strategy must be one of")
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(sample_dir / "de.json", one / "de.json")
    code, _, err = run_cli(
        [
            "train",
            str(one),
            "--base",
            str(tiny_model),
            "--strategy",
            "cross",
            "--steps",
            "1",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert_one_line_error(code, err, "needs cross-lingual pairs", "one language")
    code, _, err = run_cli([*base[:-2], "--batch-size", "5000"], capsys)
    assert_one_line_error(code, err, "larger than the number of distinct question ids")
    code, _, err = run_cli(
        [
            "train",
            str(sample_dir),
            "--base",
            str(tmp_path / "nomodel"),
            "--steps",
            "1",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert_one_line_error(code, err, "no such model folder")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(
        train_args(sample_dir, tiny_model, blocker / "run", "--steps", "1"),
        capsys,
    )
    assert_one_line_error(code, err, "cannot write here", "is a file, not a folder")
    code, _, err = run_cli([*base, "--resume"], capsys)
    assert_one_line_error(code, err, "nothing to resume")
    assert not out.exists()  # nothing half-written


@pytest.mark.slow
def test_ddp_two_cpu_processes(sample_dir: Path, tiny_model: Path, tmp_path: Path) -> None:
    """torchrun, 2 processes (gloo): every rank trains on other batches, each keeps its kind."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this Python")
    out = tmp_path / "ddp"
    log = tmp_path / "batches"
    env = {**os.environ, "XLIR_TUI_BATCH_LOG": str(log), "OMP_NUM_THREADS": "1"}
    with socket.socket() as s:  # a free port: a fixed one may still be held by an earlier run
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(port),
            "-m",
            "xlir_tui.cli",
            "train",
            str(sample_dir),
            "--base",
            str(tiny_model),
            "--strategy",
            "hybrid",
            "--alpha",
            "0.5",
            "--steps",
            "4",
            "--out",
            str(out),
            *SMALL,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    ev = events(out)
    assert ev[0]["world_size"] == 2 and ev[-1]["event"] == "done"
    assert [e["event"] for e in ev].count("start") == 1  # only rank 0 writes
    from xlir_tui.data.collections import load_collection

    c = load_collection(sample_dir)
    lang_of_q = dict(c.questions.select("text", "lang").rows())
    lang_of_p = dict(c.candidates.select("text", "lang").rows())
    per_rank = []
    for rank in (0, 1):
        lines = Path(f"{log}.rank{rank}.jsonl").read_text().splitlines()
        batches = [json.loads(x) for x in lines]
        assert len(batches) >= 4  # the loader may fetch one batch ahead of the last step
        per_rank.append(batches)
        for b in batches:
            ql = [lang_of_q[t.removeprefix("Query: ")] for t in b["query"]]
            pl_ = [lang_of_p[t.removeprefix("Passage: ")] for t in b["passage"]]
            mono = all(a == p for a, p in zip(ql, pl_, strict=True)) and len(set(ql)) == 1
            cross = all(a != p for a, p in zip(ql, pl_, strict=True))
            assert mono or cross, (ql, pl_)
    first = {json.dumps(b) for b in per_rank[0]}
    assert not first & {json.dumps(b) for b in per_rank[1]}  # different batches per rank


@pytest.mark.slow
def test_passage_context_travels_with_the_model(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ctx"
    code, _, err = run_cli(
        train_args(sample_dir, tiny_model, out, "--steps", "2", "--passage-context"),
        capsys,
    )
    assert code == 0, err
    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.encoders import load_encoder

    enc = load_encoder(str(out))
    assert enc.passage_context and not load_encoder(str(tiny_model)).passage_context
    c = load_collection(sample_dir)
    texts = enc.candidate_texts(c.candidates)
    assert texts[0].startswith(c.candidates["text"][0]) and c.candidates["context"][0] in texts[0]
    code, _, err = run_cli(
        ["index", str(sample_dir), "--model", str(out), "--out", str(tmp_path / "idx")], capsys
    )
    assert code == 0, err
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["model"]["passage_context"] is True


# ----------------------------------------------------------------- settings declared once


def test_help_shows_every_setting_with_its_default(capsys, monkeypatch) -> None:
    from dataclasses import fields

    monkeypatch.setenv("COLUMNS", "400")
    code, out, err = run_cli(["train", "--help"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    for f in fields(TrainConfig):
        if f.metadata.get("argument"):
            assert "{collection}..." in out
            continue
        flag = "--" + f.name.replace("_", "-")
        line = next((x for x in lines if f" {flag} " in x), None)
        assert line is not None, flag
        assert f.metadata["help"] in line, flag
        if f.name != "out":
            assert "(default: " in line, line
    # every spelling a person already types
    for flag in ("--out", "-o", "--eval", "--lr", "--batch-size", "--config", "--overwrite"):
        assert f" {flag} " in out, flag
    for flag in ("--no-hard-negatives", "--no-passage-context", "--no-freeze-embeddings"):
        assert flag in out, flag
    assert "(default: 32)" in out and "(default: 3e-05)" in out and "(default: hybrid)" in out
    assert "--file-lang" in out and " --lang " not in out  # the old name works, unlisted


def test_config_types_are_checked_before_anything_runs(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "config.toml"
    out = tmp_path / "never"
    for line, needle in (
        ('alpha = "half"', "alpha must be a number, got 'half'"),
        ("steps = 3.5", "steps must be an integer, got 3.5"),
        ("batch_size = true", "batch_size must be an integer, got true"),
        ("hard_negatives = 1", "hard_negatives must be true or false, got 1"),
        ("collections = 3", "collections must be a list of strings, got 3"),
        ("base = 7", "base must be a string, got 7"),
        ("[train]\nstratgy = 'mono'", "unknown setting 'stratgy'"),
        ("[train", "malformed TOML"),
    ):
        cfg.write_text(line + "\n")
        with pytest.raises(XlirError, match="^" + str(cfg).replace(".", r"\.")) as e:
            TrainConfig.from_toml(cfg)
        assert needle in str(e.value) and "\n" not in str(e.value)
    # through the command: one line, before any model loads (the model does not exist)
    cfg.write_text(
        f'collections = ["{sample_dir}"]\nbase = "{tmp_path / "nomodel"}"\nalpha = "half"\n'
    )
    code, _, err = run_cli(["train", "--config", str(cfg), "--out", str(out)], capsys)
    assert_one_line_error(code, err, "config.toml: alpha must be a number, got 'half'")
    assert not out.exists()
    # an integer is a number; one string is a list of one; the old name lang is file_lang
    cfg.write_text(f'collections = "{sample_dir}"\nalpha = 1\nlang = "xx"\n')
    values = TrainConfig.from_toml(cfg)
    assert values == {"collections": [str(sample_dir)], "alpha": 1.0, "file_lang": "xx"}
    assert isinstance(values["alpha"], float)
    cfg.write_text('lang = "xx"\nfile_lang = "yy"\n')
    with pytest.raises(XlirError, match="give file_lang, not both"):
        TrainConfig.from_toml(cfg)
    # the hidden --lang still sets file_lang: a file whose name carries no language
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(sample_dir / "de.json", one / "questions.json")
    cfg.write_text(f'base = "{tiny_model}"\nsteps = 1\nbatch_size = 4\nmax_seq_length = 32\n')
    code, _, err = run_cli(
        [
            "train",
            str(one),
            "--config",
            str(cfg),
            "--strategy",
            "mono",
            "--lang",
            "de",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    start = events(out)[0]
    assert start["settings"]["file_lang"] == "de" and start["languages"] == ["de"]


def test_describe_event_is_the_line_a_person_reads() -> None:
    start = {
        "event": "start",
        "settings": {"base": "m", "strategy": "hybrid", "alpha": 0.5},
        "train_rows": 1,
        "languages": ["en"],
        "total_steps": 1,
        "resumed_from_step": 0,
    }
    assert describe_event(start) == (
        "training m on 1 pair in 1 language, strategy hybrid (alpha 0.5), 1 step"
    )
    start |= {
        "train_rows": 7,
        "languages": ["en", "de"],
        "total_steps": 9,
        "resumed_from_step": 6,
        "changes": {"alpha": [0.5, 0.2]},
    }
    start["settings"] |= {"scale": 100.0, "precision": "bfloat16"}  # as chosen at the start
    assert describe_event(start) == (
        "training m on 7 pairs in 2 languages, strategy hybrid (alpha 0.5), 9 steps, scale 100, "
        "bfloat16, resumed at step 6 with changes: alpha 0.5 -> 0.2"
    )
    step = {"event": "step", "step": 2, "total_steps": 9, "loss": 1.5, "examples_per_s": 3.25}
    assert describe_event(step) == "step 2/9  loss 1.5000  3.2 examples/s"
    assert describe_event({"event": "done", "step": 1, "path": "r"}) == "done: 1 step; model in r"
    assert describe_event({"event": "failed", "step": 0, "reason": "x"}) == "failed at step 0: x"
    ev = {"event": "eval", "step": 2, "collection": "c", "metrics": {"mono": 0.5, "multi": None}}
    assert describe_event(ev) == "eval at step 2 on c: mono 0.500 mAP"
    ev["metrics"] = {"mono": 0.5, "cross": 0.41234, "multi": 0.3, "rank_distance": 77.4549}
    assert describe_event(ev) == (
        "eval at step 2 on c: mono 0.500, cross 0.412, multi 0.300 mAP, rank distance 77.5"
    )


# ------------------------------------------------------------------ resume, faults, sizes


@pytest.mark.slow
def test_resume_refuses_changed_settings_unless_asked(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    first = train_args(
        sample_dir,
        tiny_model,
        out,
        "--steps",
        "4",
        "--checkpoint-every",
        "1",
        "--keep-checkpoints",
        "2",
    )
    code, _, err = run_cli(first, capsys)
    assert code == 0, err
    ckpts = out / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["step-3", "step-4"]
    # a changed setting is refused, in one line naming each change; nothing is touched
    code, _, err = run_cli([*first, "--alpha", "0.2", "--lr", "1e-4", "--resume"], capsys)
    assert_one_line_error(
        code, err, "alpha 0.5 -> 0.2", "lr 3e-05 -> 0.0001", "--resume-with-changes"
    )
    assert "steps" not in err.splitlines()[-1].split("settings:")[1]
    assert sorted(p.name for p in ckpts.iterdir()) == ["step-3", "step-4"]
    # --resume alone continues with the run's own settings; more steps only extend it
    code, _, err = run_cli(["train", "--out", str(out), "--resume", "--steps", "6"], capsys)
    assert code == 0, err
    ev = events(out)
    assert ev[-1]["event"] == "done" and ev[-1]["step"] == 6
    resumed = [e for e in ev if e["event"] == "start"][-1]
    assert resumed["resumed_from_step"] == 4 and resumed["settings"]["batch_size"] == 8
    assert sorted(p.name for p in ckpts.iterdir()) == ["step-5", "step-6"]  # kept: 2, as recorded
    # --resume-with-changes continues, and xlir_train.json records old and new with the step
    code, _, err = run_cli(
        [
            "train",
            "--out",
            str(out),
            "--resume",
            "--resume-with-changes",
            "--alpha",
            "0.2",
            "--steps",
            "7",
        ],
        capsys,
    )
    assert code == 0, err
    assert "with changes: alpha 0.5 -> 0.2" in err
    record = json.loads((out / "xlir_train.json").read_text())
    assert record["settings"]["alpha"] == 0.2 and record["steps"] == 7
    history = record["history"]
    assert [h["step"] for h in history] == [4, 6]
    assert history[0]["changes"] == {"steps": {"before": 4, "after": 6}}
    assert history[1]["changes"]["alpha"] == {"before": 0.5, "after": 0.2}
    assert history[1]["before"]["alpha"] == 0.5 and history[1]["before"]["steps"] == 6
    ckpt = json.loads((ckpts / "step-7" / "xlir_train.json").read_text())
    assert ckpt["history"] == history  # a later resume still knows
    assert not list(out.glob("optimizer*"))


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    base = ["train", str(sample_dir), "--base", str(tiny_model), "--out", str(out)]
    # passages with their paragraph are longer than the tiny model's 128 positions: the
    # first step fails, after the output folder was made
    code, _, err = run_cli(
        [
            *base,
            "--steps",
            "2",
            "--batch-size",
            "8",
            "--passage-context",
            "--max-seq-length",
            "1000",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "training failed at step 0")
    assert not out.exists()
    code, _, err = run_cli([*base, "--steps", "1", *SMALL], capsys)  # no "output folder exists"
    assert code == 0, err
    assert "1 step" in err and "1 steps" not in err and "done: 1 step;" in err
    assert "%|" not in err


def test_an_interrupt_before_any_checkpoint_leaves_no_folder(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """A second Ctrl-C interrupts at once: with no checkpoint written, nothing of the run stays
    (the real signal is in test_ctrl_c_stops_cleanly_and_resume_finishes; here it comes at a
    known point, after the last step and before the final checkpoint)."""

    def interrupted(self) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("xlir_tui.training.trainer.Run.finish", interrupted)
    out = tmp_path / "run"
    code, _, err = run_cli(
        train_args(sample_dir, tiny_model, out, "--steps", "2"),
        capsys,
    )
    assert code == 130 and "Traceback" not in err
    assert "stopped at step 2: interrupted before the first checkpoint: nothing kept" in err
    assert not out.exists()


@pytest.mark.slow
def test_evaluation_with_a_fast_backend_matches_torch_and_leaves_no_export(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """``--backend openvino`` encodes the --eval collection with an export of the step's weights
    (a copy: training goes on in torch), gives torch's figures, and removes the export."""
    from xlir_tui.storage.files import cache_root

    exports = cache_root() / "exports"
    before = set(exports.iterdir()) if exports.exists() else set()
    metrics = {}
    for backend in ("torch", "openvino"):
        out = tmp_path / backend
        code, _, err = run_cli(
            [
                *["train", str(sample_dir), "--base", str(tiny_model), "--steps", "2"],
                *["--checkpoint-every", "2", "--eval", str(sample_dir), "--seed", "3"],
                *["--backend", backend, "--out", str(out), *SMALL],
            ],
            capsys,
        )
        assert code == 0, err
        (ev,) = [e for e in events(out) if e["event"] == "eval"]
        metrics[backend] = ev["metrics"]
    for name in ("mono", "cross", "multi"):
        assert metrics["openvino"][name] == pytest.approx(metrics["torch"][name], abs=0.005)
    after = set(exports.iterdir()) if exports.exists() else set()
    assert after == before
    code, _, err = run_cli(
        ["train", str(sample_dir), "--backend", "tensorrt", "--out", str(tmp_path / "x")], capsys
    )
    assert_one_line_error(code, err, "unknown backend 'tensorrt'", "openvino")
