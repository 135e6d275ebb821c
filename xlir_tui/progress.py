"""Progress: the callback types the core reports through, rates and ETAs, and plain lines.

Every slow part of the core (encoding, scoring, translating, training) reports progress through
one of two callback types, defined here once:

- :data:`Progress`, ``progress(done, total)``: one piece of work (a list of texts to encode);
- :data:`StageProgress`, ``progress(stage, done, total)``: work in named stages (a report's
  ``encoding candidates`` then ``scoring``); :func:`stage_callback` gives one stage's
  :data:`Progress`.

:class:`Rate` turns a stage's updates into a smoothed rate and an ETA from its first update
with progress on, so an estimate shows as soon as the first batch is done. rich's own ETA
column estimates from the updates of the last 30 seconds only and shows ``-:--:--`` while it
has fewer than two of them, which is all of a run whose steps take longer than that (a training
step, a chunk of encoding on a busy CPU).

:class:`PlainProgress` takes ``(stage, done, total)`` updates when stderr is a log file, a
pipe, CI or ``nohup`` and prints, at most every ``interval`` seconds and at the end of each
stage, one line such as::

    encode candidates: 4096/13014 (71.3/s, ETA 02:05)
    encode candidates: 13014/13014 (70.9/s, done in 03:03)

Hand-written because rich's ``Progress`` redraws a bar in place, which only a terminal shows (on a
log it gives the final state at best), and ``tqdm`` writes its bar with carriage returns, which a
log file keeps as one ever-growing line.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from .safe_text import inert

__all__ = [
    "PlainProgress",
    "Progress",
    "Rate",
    "StageProgress",
    "format_duration",
    "stage_callback",
]

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while one piece of work goes on."""
StageProgress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``: work in named stages, each with its own count."""


def stage_callback(progress: StageProgress | None, stage: str) -> Progress | None:
    """The :data:`Progress` of one named stage of ``progress`` (None without one)."""
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def format_duration(seconds: float) -> str:
    """``125`` -> ``02:05``; an hour or more -> ``1:02:05``."""
    s = max(round(seconds), 0)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@dataclass
class Rate:
    """Items per second of one stage, smoothed, and the time left at that rate.

    The first update is the baseline (work found done already, such as cached embeddings, does
    not count as speed). Each later update that moves forward gives the rate since the previous
    one; the estimate is their exponential moving average weighted by time, with a
    ``half_life`` in seconds: the first batch gives an estimate at once, and a change of pace
    (long texts first, short ones later) moves it within a minute or so, whatever the number of
    updates in between.
    """

    half_life: float = 20.0
    first_done: int | None = None
    started: float = 0.0
    last_done: int = 0
    last_time: float = 0.0
    per_second: float | None = None

    def update(self, done: int, now: float) -> None:
        """Record that ``done`` items are done at time ``now`` (seconds, any monotonic clock)."""
        if self.first_done is None:
            self.first_done, self.started = done, now
            self.last_done, self.last_time = done, now
            return
        if done <= self.last_done:
            if done < self.last_done:  # counted again from lower: a new baseline
                self.first_done, self.started, self.per_second = done, now, None
                self.last_done, self.last_time = done, now
            return
        dt = now - self.last_time
        if dt <= 0:
            return  # same instant: wait for time to pass before taking a rate
        current = (done - self.last_done) / dt
        if self.per_second is None:
            self.per_second = current
        else:
            weight = 1.0 - math.pow(0.5, dt / self.half_life)
            self.per_second += weight * (current - self.per_second)
        self.last_done, self.last_time = done, now

    @property
    def average(self) -> float | None:
        """Items per second since the baseline (what a finished stage reports)."""
        if self.first_done is None or self.last_time <= self.started:
            return None
        return (self.last_done - self.first_done) / (self.last_time - self.started)

    def eta(self, total: int | None, now: float | None = None) -> float | None:
        """Seconds left to reach ``total`` at the smoothed rate; counted down from the last
        update when ``now`` is given. None before the first rate or without a total."""
        if not total or self.per_second is None or self.per_second <= 0:
            return None
        left = max(total - self.last_done, 0) / self.per_second
        if now is not None:
            left -= max(now - self.last_time, 0.0)
        return max(left, 0.0)


@dataclass
class _Stage:
    started: float
    last_line: float
    rate: Rate = field(default_factory=Rate)
    finished: bool = False


class PlainProgress:
    """Receives ``(stage, done, total)`` updates; writes a plain line now and then.

    A line is written when a stage reaches its total and, while it runs, once it has run for
    ``interval`` seconds and then at most once every ``interval`` seconds (over all stages, so
    parallel stages cannot flood a log). A stage that ends or fails within the interval says
    nothing on the way, so a quick failure stays the one line of its error. The rate counts
    items done since the stage's first update (:class:`Rate`), so work resumed from a cache does
    not inflate it. Safe to call from worker threads.
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

    def callback(self, stage: str) -> Progress:
        """A ``progress(done, total)`` callback for one named stage."""
        return lambda done, total: self.update(stage, done, total)

    def update(self, stage: str, done: int, total: int) -> None:
        """Record an update; write a line when one is due."""
        with self._lock:
            now = self.clock()
            st = self._stages.get(stage)
            if st is None:
                st = self._stages[stage] = _Stage(started=now, last_line=now)
            st.rate.update(done, now)
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
        end = total > 0 and done >= total
        rate = st.rate.average if end else st.rate.per_second
        if rate is None or rate <= 0:
            return f"{stage}: {count}"
        shown = f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s"
        if end:
            return f"{stage}: {count} ({shown}, done in {format_duration(now - st.started)})"
        eta = st.rate.eta(total) if total > 0 else None
        if eta is not None:
            return f"{stage}: {count} ({shown}, ETA {format_duration(eta)})"
        return f"{stage}: {count} ({shown})"
