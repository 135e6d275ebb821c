"""What the command line prints: data on stdout, lines and progress bars on stderr.

Both consoles are this module's attributes, read when a line is printed (never bound elsewhere
with ``from ... import``), so that a test can swap them for a console that writes to a buffer.
Every line for the person running a command is made inert first: it may name a path, a
language or a collection.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from .. import progress as core_progress
from ..cells import measure_as_terminals
from ..safe_text import inert, inert_text, json_dumps

# Piped output is not cut to 80 columns: reports are wide tables.
measure_as_terminals()  # tables of Hindi or Thai text measured as terminals draw them
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)


def say(line: str, style: str = "") -> None:
    """A line for the person running the command (stderr), made inert: it may name a path, a
    language or a collection."""
    err.print(inert_text(line, style), highlight=False)


def notify(text: str) -> None:
    """A line for the person running the command (stderr); warnings stand out."""
    if text.startswith("warning:"):
        line = Text("warning:", style="yellow")
        line.append_text(inert_text(text[len("warning:") :]))
        err.print(line, highlight=False)
    else:
        say(text)


def print_json(value: Any) -> None:
    """``--json`` output: exact, and inert on a terminal."""
    print(json_dumps(value, indent=2))


class EtaColumn(ProgressColumn):
    """Time left from the first batch on, at a smoothed rate (:class:`~xlir_tui.progress.Rate`).

    rich's own ``TimeRemainingColumn`` estimates from the updates of the last 30 seconds and
    shows ``-:--:--`` while it has fewer than two, which is the whole of a run whose steps take
    longer than that. Each task's rate is fed with its count whenever the bar is drawn, and the
    estimate counts down between updates.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rates: dict[TaskID, Any] = {}

    def render(self, task: Task) -> Text:
        from ..progress import Rate, format_duration

        if task.finished:
            return Text(format_duration(0), style="progress.remaining")
        if not task.total:  # no count yet (a run that has not started): nothing to time
            return Text("--:--", style="progress.remaining")
        rate = self._rates.setdefault(task.id, Rate())
        now = task.get_time()
        rate.update(int(task.completed), now)
        left = rate.eta(int(task.total), now)
        return Text("--:--" if left is None else format_duration(left), style="progress.remaining")


def _progress() -> Progress:
    """Progress bars on stderr; hidden when stderr is not a terminal (logs, pipes, CI). A
    stage's name is shown as text, never as markup (it may hold a language code)."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        EtaColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@contextmanager
def stage_progress() -> Iterator[core_progress.StageProgress]:
    """Bars handed to the core as ``progress(stage, done, total)``: one bar per stage; plain
    lines every few seconds when stderr is not a terminal (a log file, CI, nohup)."""
    if not err.is_terminal:
        from ..progress import PlainProgress

        yield PlainProgress(sys.stderr)
        return
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:  # the first count is the baseline (cached work is no speed)
                tasks[stage] = bar.add_task(inert(stage), total=total, completed=done)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@contextmanager
def progress_bar(description: str) -> Iterator[core_progress.Progress]:
    """One bar, handed to the core as a ``progress(done, total)`` callback."""
    with stage_progress() as update:
        yield lambda done, total: update(description, done, total)


def train_progress() -> Progress:
    """The training bar: the line of the latest step beside it (it says the step count and
    the ETA from the smoothed step rate, as the event log and the explorer do)."""
    return Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("{task.fields[info]}", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )
