"""A run's event log (``events.jsonl``) and the lines a person reads of it.

One JSON object per line, flushed as written, so another program (the explorer) can follow a
run (:class:`EventFollower`): ``start`` (settings), ``step`` (loss, lr, examples/s), ``eval``
(bias-report figures on a held-out collection), ``checkpoint``, and last ``done``, ``stopped``
(with the signal that stopped it) or ``failed`` (with the reason). :func:`describe_event` says
each as one line, the same in the command line and in the explorer.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..progress import format_duration
from .config import changes_text

EventSink = Callable[[dict[str, Any]], None]


def eval_figures(metrics: dict[str, float | None]) -> str:
    """``mono 0.512, multi 0.301 mAP, rank distance 77.5``: an evaluation's figures in the
    words and precision the explorer and the study write them (the event's keys are names for
    programs: ``rank_distance 77.4549`` read as a variable, not a figure)."""
    maps = [f"{k} {v:.3f}" for k, v in metrics.items() if k != "rank_distance" and v is not None]
    parts = [", ".join(maps) + " mAP"] if maps else []
    if metrics.get("rank_distance") is not None:
        parts.append(f"rank distance {metrics['rank_distance']:.1f}")
    return ", ".join(parts)


def count(n: int | float, word: str, plural: str | None = None) -> str:
    """``1 step``, ``2 steps``: the only English plural rule these messages need."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def describe_event(e: dict[str, Any]) -> str:
    """The line a person reads for one training event; the CLI and the explorer both print
    these, so a run reads the same wherever it is followed."""
    kind = e.get("event")
    if kind == "start":
        s = e.get("settings", {})
        strategy = s.get("strategy", "?")
        if strategy == "hybrid":
            strategy += f" (alpha {s.get('alpha')})"
        from ..models.encoders import display_name

        base = display_name(str(s["base"])) if s.get("base") else "?"
        line = (
            f"training {base} on {count(e['train_rows'], 'pair')} in "
            f"{count(len(e['languages']), 'language')}, strategy {strategy}, "
            f"{count(e['total_steps'], 'step')}"
        )
        if s.get("scale") is not None:
            line += f", scale {s['scale']:g}"
        if s.get("precision"):
            line += f", {s['precision']}"
        if e.get("resumed_from_step"):
            line += f", resumed at step {e['resumed_from_step']}"
        if e.get("changes"):
            line += f" with changes: {changes_text(e['changes'])}"
        return line
    if kind == "step":
        eta = e.get("eta_s")  # absent in the events of older runs
        return (
            f"step {e['step']}/{e['total_steps']}  loss {e['loss']:.4f}  "
            f"{e['examples_per_s']:.1f} examples/s"
            + (f"  ETA {format_duration(eta)}" if eta is not None else "")
        )
    if kind == "eval":
        return f"eval at step {e['step']} on {e['collection']}: {eval_figures(e['metrics'])}"
    if kind == "checkpoint":
        return f"checkpoint at step {e['step']}"
    by = f" by {e['signal']}" if kind == "stopped" and e.get("signal") else ""
    if kind == "stopped" and e.get("started") is False:
        return f"stopped{by} {e['reason']}"
    if kind == "stopped" and e.get("reason", "interrupted") != "interrupted":
        return f"stopped{by} at step {e['step']}: {e['reason']}"
    if kind == "stopped":
        return (
            f"stopped{by} at step {e['step']}: the model and a checkpoint are in {e['path']} "
            "(continue with --resume)"
        )
    if kind == "done":
        early = ", stopped early: the best model kept" if e.get("early_stopped") else ""
        return f"done: {count(e['step'], 'step')}{early}; model in {e['path']}"
    if kind == "failed":
        return f"failed at step {e.get('step', 0)}: {e.get('reason', '')}"
    return str(kind)


class EventLog:
    """``events.jsonl``: append-only, one flushed line per event, readable while written."""

    def __init__(self, path: Path, sink: EventSink | None = None, enabled: bool = True) -> None:
        self.path = path
        self.sink = sink
        self.enabled = enabled
        self._file = path.open("a", encoding="utf-8") if enabled else None

    def emit(self, event: str, **data: Any) -> dict[str, Any]:
        record = {"event": event, "time": round(time.time(), 3), **data}
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        if self.sink is not None and self.enabled:
            self.sink(record)
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EventFollower:
    """Follows a growing ``events.jsonl``: each :meth:`poll` returns the new complete lines."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.buffer = b""

    def poll(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        out = []
        for line in lines:
            with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
                out.append(json.loads(line))
        return out


def exit_status(event: dict[str, Any]) -> int:
    """The exit status of a run that ended with ``event``: 0 when done, else the shell's
    status for the signal that stopped it (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
    if event.get("event") != "stopped":
        return 0
    name = event.get("signal")
    try:
        return 128 + signal.Signals[name].value if name else 130
    except KeyError:
        return 130
