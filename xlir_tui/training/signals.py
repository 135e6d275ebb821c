"""What Ctrl-C, SIGTERM and SIGHUP do to a training run (:class:`StopSignals`)."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

from ..storage.files import Terminated

STOP_SIGNALS = tuple(
    s
    for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s is not None
)


class StopSignals:
    """What Ctrl-C (SIGINT), ``kill`` (SIGTERM) and a closed terminal (SIGHUP) do to a run.

    Until the output folder is made nothing has been written, so a signal interrupts at once
    (``KeyboardInterrupt`` for SIGINT, :class:`~xlir_tui.storage.files.Terminated` for the others).
    Once the run trains (``gentle``), the first signal asks it to stop after the current step,
    which saves a checkpoint and the model, and a second one interrupts at once. Installed
    from the main thread only (the one Python delivers signals to); SIGTERM and SIGHUP only
    over their default action, so a SIGHUP ignored under ``nohup`` stays ignored and a program
    that runs the training in its own process keeps its own handler. Put back on exit.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.signum: int | None = None
        self.gentle = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                with contextlib.suppress(ValueError, OSError):
                    if s == signal.SIGINT or signal.getsignal(s) == signal.SIG_DFL:
                        self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(s, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    @property
    def name(self) -> str | None:
        """The signal that stopped the run (``SIGTERM``), None for none."""
        return signal.Signals(self.signum).name if self.signum else None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.gentle and not self.stop.is_set():
            self.signum = signum
            self.stop.set()
            return
        self.signum = self.signum or signum
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)
