"""The training loss as a line plot (imported when the training dialog opens: plotext costs the
first frame 60 ms)."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot

from .widgets import SYSTEM_COLORS


class LossPlot(PlotextPlot):
    """The training loss by step."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps: list[int] = []
        self.losses: list[float] = []

    def set_data(self, steps: list[int], losses: list[float]) -> None:
        self.steps, self.losses = steps, losses
        self.refresh()

    def render(self) -> Any:
        plt = self.plt
        plt.clear_figure()
        plt.title("training loss")
        if self.losses:
            plt.plot(self.steps, self.losses, color=SYSTEM_COLORS[0], marker="braille")
            plt.xlabel("step")
        return super().render()
