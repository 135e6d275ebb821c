"""Progress as plain lines, for when stderr is a log file, a pipe, CI or ``nohup``.

On a terminal the command line draws rich bars; elsewhere those are hidden, and a run of twenty
minutes would print nothing between "loading model" and its result. :class:`PlainProgress` takes
the same ``(stage, done, total)`` updates and prints, at most every ``interval`` seconds and at
the end of each stage, one line such as::

    encode candidates: 4096/13014 (71.3/s, ETA 02:05)
    encode candidates: 13014/13014 (70.9/s, done in 03:03)

Hand-written because rich's ``Progress`` redraws a bar in place, which only a terminal shows (on a
log it gives the final state at best), and ``tqdm`` writes its bar with carriage returns, which a
log file keeps as one ever-growing line.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from .safe_text import inert

__all__ = ["PlainProgress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``125`` -> ``02:05``; an hour or more -> ``1:02:05``."""
    s = max(round(seconds), 0)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@dataclass
class _Stage:
    started: float
    first_done: int
    last_line: float
    finished: bool = False


class PlainProgress:
    """Receives ``(stage, done, total)`` updates; writes a plain line now and then.

    A line is written when a stage reaches its total and, while it runs, once it has run for
    ``interval`` seconds and then at most once every ``interval`` seconds (over all stages, so
    parallel stages cannot flood a log). A stage that ends or fails within the interval says
    nothing on the way, so a quick failure stays the one line of its error. The rate counts
    items done since the stage's first update, so work resumed from a cache does not inflate
    it. Safe to call from worker threads.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.clock = clock
        self._stages: dict[str, _Stage] = {}
        self._last_line = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.update(stage, done, total)

    def callback(self, stage: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback for one named stage."""
        return lambda done, total: self.update(stage, done, total)

    def update(self, stage: str, done: int, total: int) -> None:
        """Record an update; write a line when one is due."""
        with self._lock:
            now = self.clock()
            st = self._stages.get(stage)
            if st is None:
                st = self._stages[stage] = _Stage(started=now, first_done=done, last_line=now)
            end = total > 0 and done >= total
            if end and st.finished:
                return  # the end of a stage is said once
            running_long = now - st.started >= self.interval
            if not (end or (running_long and now - self._last_line >= self.interval)):
                return
            st.finished = end
            st.last_line = now
            self._last_line = now
            line = self.line(stage, done, total, st, now)
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed log must not end the run

    @staticmethod
    def line(stage: str, done: int, total: int, st: _Stage, now: float) -> str:
        """``stage: done/total (rate/s, ETA mm:ss)``; at the end, the time the stage took. The
        stage's name is made inert: it may name a language or a file."""
        stage = inert(stage)
        count = f"{done}/{total}" if total > 0 else str(done)
        elapsed = now - st.started
        if elapsed <= 0 or done <= st.first_done:
            return f"{stage}: {count}"
        rate = (done - st.first_done) / elapsed
        shown = f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s"
        if total > 0 and done >= total:
            return f"{stage}: {count} ({shown}, done in {format_duration(elapsed)})"
        if total > 0:
            return f"{stage}: {count} ({shown}, ETA {format_duration((total - done) / rate)})"
        return f"{stage}: {count} ({shown})"
