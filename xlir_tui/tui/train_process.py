"""The training dialog's child process: ``xlir-tui train`` started with the dialog's settings,
followed through its event log until it ends, and stopped when asked."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.worker import Worker

from .messages import TrainingEnded, TrainingEvent


class TrainingProcess:
    """One run of ``xlir-tui train`` in a separate process.

    :meth:`follow` runs in a worker: it writes the settings as the TOML file ``--config`` reads
    (so the explorer and the command line cannot disagree on them), starts the process and posts
    its events, never touching widgets. :meth:`stop` comes from the app's thread at any time,
    even before the process exists; a lock keeps the two apart.
    """

    POLL_S = 0.2
    """How often the event log is read and the process looked at."""

    def __init__(self) -> None:
        self.proc: Any = None
        self.cancelled = False  # stop() was asked for
        self._lock = threading.Lock()  # the worker starts the process, stop() signals it

    def running(self) -> bool:
        """Whether the process was started and has not ended."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> bool:
        """Ask the run to stop: after its current step once it trains (it saves a usable
        checkpoint and model), at once while it loads (nothing is written); False when it was
        asked already (a second signal would interrupt the saving of the first).

        SIGTERM rather than SIGINT: a process inherits an ignored SIGINT (an explorer started
        as a background job), and until the run installs its own handler the signal would be
        lost; SIGTERM's default action ends it as cleanly, with nothing written yet."""
        with self._lock:
            if self.cancelled:
                return False
            self.cancelled = True
            if self.running():
                self.proc.send_signal(signal.SIGTERM)
        return True

    def follow(self, config: Any, post: Callable[[Message], Any], worker: Worker[Any]) -> None:
        """Write the settings, start the process and ``post`` its events until it ends, then a
        :class:`TrainingEnded` (in a worker: ``worker`` cancelled means the explorer is
        closing, and the run goes on in the background)."""
        from ..models.run_files import EVENTS_FILE
        from ..storage.files import atomic_write_text, cache_root
        from ..training.events import EventFollower
        from ..training.process import last_error, start_training_process

        out = Path(config.out)
        logs = cache_root() / "train-logs"
        settings = logs / f"{out.name}.toml"
        log = logs / f"{out.name}.log"
        try:
            atomic_write_text(settings, config.toml())
            with self._lock:
                self.proc = start_training_process(["--config", str(settings)], log)
                if self.cancelled:  # stop() came before the process existed
                    self.proc.send_signal(signal.SIGTERM)
        except OSError as e:
            post(TrainingEnded("failed", str(out), f"cannot start: {e}"))
            return
        follower = EventFollower(out / EVENTS_FILE)
        status, reason = None, ""
        while True:
            if worker.is_cancelled:
                return  # the explorer is closing: the run goes on in the background
            ended = self.proc.poll() is not None
            for event in follower.poll():
                post(TrainingEvent(event))
                if event["event"] in ("done", "stopped", "failed"):
                    status, reason = event["event"], event.get("reason", "")
            if ended:
                break
            time.sleep(self.POLL_S)
        if status is None and self.cancelled:
            # stopped before its output folder existed (or killed before it could say so)
            status, reason = "cancelled", "stopped before training began: nothing was written"
        elif status is None:
            status = "died" if self.proc.returncode else "ended"
        if status in ("failed", "died"):
            reason = last_error(log) or reason or f"exit status {self.proc.returncode}"
        post(TrainingEnded(status, str(out), reason))
