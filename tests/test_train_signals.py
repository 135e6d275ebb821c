"""SIGTERM and SIGHUP stop ``xlir-tui train`` as Ctrl-C does, in real child processes.

Before the output folder exists a signal ends the run at once with nothing written, so the same
command works again; once it trains, the first signal stops it after the current step with a
checkpoint and a usable model (exit status 128 + the signal), and ``--resume`` continues; a
second signal before any checkpoint leaves no folder. Where a signal must come at one exact
point, the child sends it to itself from a patched function (a real signal, a real handler).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, read_events

SMALL = ["--batch-size", "8", "--max-seq-length", "32"]

CHILD = """
import os, signal, sys, time
import xlir_tui.models.encoders as encoders
import xlir_tui.training.saving as saving
import xlir_tui.training.trainer as training
{patch}
from xlir_tui.cli import main
sys.argv = ["xlir-tui", *sys.argv[1:]]
main()
"""

SIGNAL_WHILE_LOADING = """
real = encoders.load_encoder
def load_encoder(*args, **kwargs):
    os.kill(os.getpid(), signal.{name})
    time.sleep(60)  # the handler's exception ends the sleep; a lost signal fails the test
    return real(*args, **kwargs)
encoders.load_encoder = load_encoder
"""

SIGNAL_TWICE = """
build, save = training.build_trainer, saving.save_trainable
def build_trainer(*args, **kwargs):
    trainer = build(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)  # the first: stop after the step, and save
    return trainer
def save_trainable(model, folder):
    os.kill(os.getpid(), signal.SIGTERM)  # the second, while the stop's checkpoint is written
    time.sleep(60)
    return save(model, folder)
training.build_trainer = build_trainer
saving.save_trainable = save_trainable
"""


def _default_signals() -> None:
    """In the child, before it runs: the default action for every signal these tests send (the
    suite may run as a background job, whose children inherit an ignored SIGINT)."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}


def run_train(args: list[str], patch: str = "", timeout: float = 300) -> tuple[int, str]:
    """``xlir-tui train ARGS`` in a child process (patched by ``patch``); (status, stderr)."""
    cmd = [sys.executable, "-c", CHILD.format(patch=patch), "train", *args]
    res = subprocess.run(
        cmd,
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_default_signals,
    )
    return res.returncode, res.stderr


def start_train(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "xlir_tui.cli", "train", *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )


def wait_for(out: Path, ready, timeout: float = 180) -> list[dict]:
    """The run's events once ``ready(events)`` holds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ev = read_events(out / "events.jsonl")
        if ready(ev):
            return ev
        time.sleep(0.1)
    raise AssertionError(f"the run never got there: {read_events(out / 'events.jsonl')}")


def our_lines(err: str) -> list[str]:
    """What the run said (the model library's own progress bars left out)."""
    return [x for x in err.splitlines() if x and "it/s]" not in x and "%|" not in x]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_while_loading_writes_nothing_and_the_same_command_works(
    sample_dir: Path, tiny_model: Path, tmp_path: Path, name: str, status: int
) -> None:
    out = tmp_path / "run"
    args = [str(sample_dir), "--base", str(tiny_model), "--steps", "1", "--out", str(out), *SMALL]
    code, err = run_train(args, SIGNAL_WHILE_LOADING.format(name=name))
    assert code == status, err
    assert our_lines(err) == [f"stopped by {name} before training began: nothing was written"]
    assert not out.exists()
    code, err = run_train(args)  # the same command, undisturbed
    assert code == 0, err
    assert read_events(out / "events.jsonl")[-1]["event"] == "done"


@pytest.mark.slow
def test_sighup_before_the_first_checkpoint_saves_one_and_resume_finishes(
    sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    common = [str(sample_dir), "--base", str(tiny_model), "--out", str(out), *SMALL]
    proc = start_train([*common, "--steps", "400", "--checkpoint-every", "1000"])
    ev = wait_for(out, lambda ev: any(e["event"] == "step" and e["step"] >= 2 for e in ev))
    assert not any(e["event"] == "checkpoint" for e in ev)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 129, err
    ev = read_events(out / "events.jsonl")
    stopped = ev[-1]
    assert stopped["event"] == "stopped" and stopped["signal"] == "SIGHUP"
    assert [e["step"] for e in ev if e["event"] == "checkpoint"] == [stopped["step"]]
    assert "Traceback" not in err
    assert our_lines(err)[-1] == (
        f"stopped by SIGHUP at step {stopped['step']}: the model and a checkpoint are in "
        f"{out} (continue with --resume)"
    )
    assert json.loads((out / "xlir_train.json").read_text())["stopped"] is True
    total = stopped["step"] + 2
    code, err = run_train(
        [*common, "--steps", str(total), "--resume", "--resume-with-changes"], timeout=300
    )
    assert code == 0, err
    ev = read_events(out / "events.jsonl")
    assert ev[-1]["event"] == "done" and ev[-1]["step"] == total


@pytest.mark.slow
def test_sigterm_after_a_checkpoint_saves_at_the_stop_and_resume_finishes(
    sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    common = [str(sample_dir), "--base", str(tiny_model), "--out", str(out), *SMALL]
    proc = start_train([*common, "--steps", "400", "--checkpoint-every", "2"])
    wait_for(
        out,
        lambda ev: (
            any(e["event"] == "checkpoint" for e in ev)
            and any(e["event"] == "step" and e["step"] >= 3 for e in ev)
        ),
    )
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 143, err
    ev = read_events(out / "events.jsonl")
    stopped = ev[-1]
    assert stopped["event"] == "stopped" and stopped["signal"] == "SIGTERM"
    saved = [e["step"] for e in ev if e["event"] == "checkpoint"]
    assert saved[0] == 2 and saved[-1] == stopped["step"] >= 3
    # only the latest checkpoint stays (keep_checkpoints 1): the stop's
    assert [p.name for p in (out / "checkpoints").iterdir()] == [f"step-{stopped['step']}"]
    total = stopped["step"] + 2
    code, err = run_train(
        [*common, "--steps", str(total), "--resume", "--resume-with-changes"], timeout=300
    )
    assert code == 0, err
    ev = read_events(out / "events.jsonl")
    resumed = [e for e in ev if e["event"] == "start"][-1]
    assert resumed["resumed_from_step"] == stopped["step"]
    assert ev[-1]["event"] == "done" and ev[-1]["step"] == total


@pytest.mark.slow
def test_a_second_signal_before_any_checkpoint_leaves_no_folder(
    sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = [str(sample_dir), "--base", str(tiny_model), "--steps", "400", "--out", str(out)]
    code, err = run_train([*args, *SMALL], SIGNAL_TWICE)
    assert code == 143, err
    assert "Traceback" not in err
    lines = our_lines(err)
    assert lines[-1] == (
        "stopped by SIGTERM at step 1: interrupted before the first checkpoint: nothing kept"
    )
    assert not out.exists()  # so the same command starts afresh


SIGNAL_AFTER_THE_LAST_STEP = """
finish = training.Run.finish
def late_finish(self):
    os.kill(os.getpid(), signal.SIGTERM)  # a stop asked for once every step is done
    time.sleep(0.2)
    return finish(self)
training.Run.finish = late_finish
"""


@pytest.mark.slow
def test_a_stop_after_the_last_step_leaves_a_whole_run(
    sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """Cancel pressed as the last step ends: the run is done, not stopped (its model is the one
    its settings describe), and the final evaluation it was asked to stop for is skipped."""
    out = tmp_path / "run"
    code, err = run_train(
        [str(sample_dir), "--base", str(tiny_model), "--out", str(out), *SMALL,
         "--steps", "2", "--eval", str(sample_dir)],
        patch=SIGNAL_AFTER_THE_LAST_STEP,
    )  # fmt: skip
    assert code == 0, err
    ev = read_events(out / "events.jsonl")
    assert ev[-1]["event"] == "done" and ev[-1]["step"] == ev[-1]["total_steps"] == 2
    assert not [e for e in ev if e["event"] in ("stopped", "eval")]
    record = json.loads((out / "xlir_train.json").read_text())
    assert record["stopped"] is False and record["eval"] is None and record["steps"] == 2
