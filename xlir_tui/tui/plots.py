"""The training loss as a line plot (imported when the training dialog opens: plotext costs the
first frame 60 ms)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual_plotext import PlotextPlot

from .widgets import SYSTEM_COLORS, rgb

PLOT_ROWS = 8
"""Fewer rows than this leave plotext one or two rows of plot (its title, axis and labels take
the rest): the loss is then drawn as a line of text instead (:func:`loss_sparkline`)."""

BLOCKS = "▁▂▃▄▅▆▇█"


def loss_sparkline(losses: list[float], width: int) -> str:
    """The losses as one row of block characters, at most ``width`` of them (consecutive steps
    averaged into one column when there are more steps than columns); the highest loss is the
    tallest block."""
    if not losses or width < 1:
        return ""
    n = len(losses)
    columns = min(n, width)
    means = []
    for i in range(columns):
        part = losses[i * n // columns : (i + 1) * n // columns] or [losses[-1]]
        means.append(sum(part) / len(part))
    lo, hi = min(means), max(means)
    span = hi - lo
    if span <= 0:
        return BLOCKS[3] * columns
    return "".join(BLOCKS[min(int((m - lo) / span * len(BLOCKS)), len(BLOCKS) - 1)] for m in means)


def step_ticks(lo: int, hi: int, count: int = 5) -> list[int]:
    """Whole-step ticks from ``lo`` to ``hi``: steps are counted, never 8.25 of them."""
    if hi <= lo:
        return [lo]
    return sorted({round(lo + (hi - lo) * i / (count - 1)) for i in range(count)})


class LossPlot(PlotextPlot):
    """The training loss by step, on an axis that runs to the run's last step, so that it
    reads like the status line (``step 30/40``); titled with the last loss as the status line
    writes it. Too low for a plot, it is one line of text: the last loss, a sparkline and the
    steps it covers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.total: int | None = None

    def set_data(self, steps: list[int], losses: list[float], total: int | None = None) -> None:
        self.steps, self.losses, self.total = steps, losses, total
        self.refresh()

    def headline(self) -> str:
        """``loss 0.8421 at step 30 of 40``: the status line's figures, in the same format."""
        if not self.losses:
            return "training loss"
        of = f" of {self.total}" if self.total else ""
        return f"loss {self.losses[-1]:.4f} at step {self.steps[-1]}{of}"

    def render(self) -> Any:
        if self.size.height < PLOT_ROWS:
            return self.compact()
        plt = self.plt
        plt.clear_figure()
        plt.title(self.headline())
        if self.losses:
            plt.plot(self.steps, self.losses, color=SYSTEM_COLORS[0], marker="braille")
            first = min(self.steps[0], 1)
            last = max(self.total or 0, self.steps[-1])
            # a run of one step: plotext divides by the axis's length, so the one step gets
            # half a step either side
            if last <= first:
                plt.xlim(first - 0.5, last + 0.5)
            else:
                plt.xlim(first, last)
            plt.xticks(step_ticks(first, last))
            lo, hi = min(self.losses), max(self.losses)
            if hi - lo < 1e-9:  # one step, or a flat loss: plotext needs a range
                pad = max(abs(hi) * 0.25, 1e-3)  # around the loss, at its own scale
                plt.ylim(max(lo - pad, 0.0), hi + pad)  # a contrastive loss is never negative
            plt.xlabel("step")
        return super().render()

    def compact(self) -> Text:
        """The loss as text: the headline, then a sparkline of every step, on as many rows as
        there are (one row: the sparkline after the headline)."""
        width = max(self.size.width, 10)
        head = self.headline()
        if not self.losses:
            return Text(head, style="dim")
        steps = f"steps {self.steps[0]}-{self.steps[-1]}"
        if self.size.height >= 2:
            line = loss_sparkline(self.losses, width - len(steps) - 1)
            return Text.assemble((head, "bold"), "\n", (line, rgb(SYSTEM_COLORS[0])), " ", steps)
        line = loss_sparkline(self.losses, width - len(head) - 2)
        return Text.assemble((head, "bold"), "  ", (line, rgb(SYSTEM_COLORS[0])))
