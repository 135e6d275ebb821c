"""A training run in a process of its own, as the explorer starts and watches one.

The explorer starts ``python -m xlir_tui.cli train ...`` (:func:`start_training_process`),
follows its ``events.jsonl`` (:class:`~xlir_tui.training.events.EventFollower`) and, should the
process die without a last event, shows what it said last (:func:`last_error`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def start_training_process(args: list[str], log: Path) -> Any:
    """Start ``xlir-tui train ARGS`` as a separate process; its stderr goes to ``log``."""
    import subprocess
    import sys

    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("w", encoding="utf-8")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "xlir_tui.cli", "train", *args],
            stdout=subprocess.DEVNULL,
            stderr=handle,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        handle.close()


def last_error(path: Path) -> str | None:
    """What a dead training process said last: its ``xlir-tui: error: ...`` line, else its
    last line (a crash's last traceback line); None for an empty or missing log. Progress bars
    redraw with carriage returns, so each line counts from its last one."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = [x.rsplit("\r", 1)[-1].strip() for x in text.splitlines()]
    lines = [x for x in lines if x]
    errors = [x for x in lines if x.startswith("xlir-tui: error:")]
    return (errors or lines or [None])[-1]
