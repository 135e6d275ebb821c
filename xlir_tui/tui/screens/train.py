"""The training dialog (F7): start ``xlir-tui train`` in a separate process and follow it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, ProgressBar, Static
from textual.worker import get_current_worker

from ...errors import XlirError
from ...progress import format_duration
from ...safe_text import inert, inert_text
from ..messages import TrainingDataChecked, TrainingEnded, TrainingEvent
from ..train_process import TrainingProcess
from .confirm import ConfirmScreen
from .dialog import Dialog, KeyButton
from .train_form import TrainForm


class Line(Static):
    """A line of the training dialog that takes no row while it says nothing."""

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.display = _says(content)

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        self.display = _says(content)
        super().update(content, layout=layout)


def _says(content: Any) -> bool:
    return bool(content.plain if isinstance(content, Text) else content)


class StepRate:
    """Seconds per training step, for the dialog's estimate of the time left.

    From the first step on: the first step's own rate (its ``examples_per_s``, measured by the
    run without checkpoints and evaluations), then the times the run wrote on its step events,
    smoothed (an exponential average) so that a checkpoint or an evaluation between two steps
    moves the estimate without throwing it.
    """

    WEIGHT = 0.3

    def __init__(self, examples_per_step: int = 0) -> None:
        self.examples_per_step = examples_per_step
        self.per_step: float | None = None
        self.last: tuple[int, float] | None = None

    def add(self, event: dict[str, Any]) -> None:
        step, when = event.get("step"), event.get("time")
        if not isinstance(step, int) or not isinstance(when, int | float):
            return
        if self.last is not None and step > self.last[0] and when >= self.last[1]:
            per = (when - self.last[1]) / (step - self.last[0])
            self.per_step = (
                per
                if self.per_step is None
                else self.WEIGHT * per + (1 - self.WEIGHT) * self.per_step
            )
        elif self.per_step is None and self.examples_per_step:
            rate = event.get("examples_per_s")
            if isinstance(rate, int | float) and rate > 0:
                self.per_step = self.examples_per_step / rate
        self.last = (step, float(when))

    def left(self, step: int, total: int) -> float | None:
        """Seconds until step ``total``, or None before the first step."""
        if self.per_step is None:
            return None
        return max(total - step, 0) * self.per_step


class TrainScreen(Dialog):
    """Start ``xlir-tui train`` in a separate process (:class:`TrainingProcess`) and follow its
    event log.

    The form (:class:`TrainForm`) starts from :class:`~xlir_tui.training.config.TrainConfig`'s
    defaults and is checked by the training code's own rules before anything starts. Dismissed
    with the trained model's folder when the person asks to load it.

    The explored collection is the evaluation data; training on the explored questions asks
    first, and the run then says so until the dialog closes (and the model's name says it
    wherever the explorer shows it).

    A run in progress shows its settings in a line instead of the form (nothing in the form
    would change it), which leaves room for a readable loss plot at 80x24. Each button is
    shown only while it can act (Start; Cancel run; Load into compare and New run).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]
    PLOT_HEIGHT = 16
    """The loss plot's most rows (it leaves the dialog's other lines 12 rows); on a terminal
    of fewer than :data:`ROOMY` rows the loss is two rows of text instead."""
    ROOMY = 22

    def __init__(self, explored: list[str], out_root: Path, explored_name: str = "") -> None:
        super().__init__()
        self.explored = list(explored)  # the files of the collection being explored
        self.explored_name = explored_name or "the explored collection"
        self.out_root = out_root
        self.form: TrainForm  # made with the dialog's widgets (its defaults are read then)
        self.training = TrainingProcess()
        """The run started last (one not started yet before Start)."""
        self.out: str | None = None
        self.losses: list[float] = []
        self.steps: list[int] = []
        self.total: int | None = None
        self.rate = StepRate()
        self.shared = False  # the run trains on the explored collection's questions
        self.finished = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="train") as box:
            box.border_title = "Train a model (hybrid batch training)"
            self.form = TrainForm(
                self.explored, self.out_root, self.explored_name, classes="form", id="form"
            )
            yield self.form
            yield Line(self.form.data_line(self.form.first_values), id="data-note")
            yield Line("", id="summary")
            yield Line("", id="shared-note", classes="warning")
            yield Line("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield KeyButton("Start", variant="primary", id="start")
                yield KeyButton("Cancel run", variant="error", id="cancel")
                yield KeyButton("Load into compare", variant="success", id="load")
                yield KeyButton("New run", id="new")
                yield KeyButton("Close", id="close")
            yield ProgressBar(total=None, show_eta=False, id="progress")
            from ..plots import LossPlot

            yield LossPlot(id="loss")
            yield Line("", id="run-status")
            yield Line("", id="evals")

    @on(Input.Changed, "#collections")
    @on(Input.Changed, "#eval")
    def _data_changed(self) -> None:
        values = {n: self.query_one(f"#{n}", Input).value for n in ("collections", "eval")}
        self.query_one("#data-note", Static).update(self.form.data_line(values))

    @on(Input.Changed, "#base")
    def _base_changed(self, event: Input.Changed) -> None:
        self.query_one("#scale", Input).placeholder = self.form.scale_hint(event.value)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_state("idle")
        self.fit_plot()
        # the training data first: required, or the choice that matters most (typing at once
        # went nowhere before)
        self.query_one("#collections", Input).focus()

    def on_resize(self) -> None:
        super().on_resize()
        self.fit_plot()

    def fit_plot(self) -> None:
        """A plot where the terminal has the rows for one, else the loss as two rows of text."""
        rows = self.app.size.height
        height = min(self.PLOT_HEIGHT, rows - 12) if rows >= self.ROOMY else 2
        self.query_one("#loss").styles.height = height

    def show_state(self, state: str, loadable: bool = False) -> None:
        """``idle`` (the form, Start), ``running`` (the run's line, Cancel run) or ``ended``
        (Load into compare where a model was kept, New run): a button is shown only while it
        does something."""
        idle = state == "idle"
        self.query_one("#form").display = idle
        self.query_one("#data-note").display = idle
        self.query_one("#summary").display = not idle
        shown = {
            "start": idle,
            "cancel": state == "running",
            "load": state == "ended" and loadable,
            "new": state == "ended",
        }
        for name, visible in shown.items():
            button = self.query_one(f"#{name}", Button)
            button.display = visible
            button.disabled = not visible
        self.query_one("#progress").display = not idle
        self.query_one("#loss").display = not idle and bool(self.losses)
        if state == "running":
            self.query_one("#cancel", Button).focus()
        elif state == "ended":
            self.query_one("#load" if loadable else "#new", Button).focus()

    # -- starting a run --------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        error = self.query_one("#error", Static)
        try:
            config = self.form.settings()
        except XlirError as e:
            error.update(inert_text(str(e)))
            return
        error.update("")
        self.query_one("#start", Button).disabled = True  # until the data is checked
        self.check_data(config)

    @work(thread=True, group="training-check", exit_on_error=False)
    def check_data(self, config: Any) -> None:
        """Whether the training data holds the explored questions (files compared by size,
        then content: never touches widgets)."""
        from ...training.runs import shares_data

        try:
            shared = shares_data(config.collections, self.explored)
        except OSError:
            shared = False  # unreadable now: the run itself says why
        self.post_message(TrainingDataChecked(config, shared))

    def on_training_data_checked(self, message: TrainingDataChecked) -> None:
        config = message.config
        if not message.shared:
            self.begin(config, shared=False)
            return
        data = ", ".join(config.collections)
        question = Text.assemble(
            "The training data ",
            (inert(data), "bold"),
            f" holds the questions of {inert(self.explored_name)}, the collection explored "
            "here. A model trained on them answers them from memory: its figures on them "
            "(AP, the bias plots, Load into compare) are not held out, and it will be named "
            "",
            ("trained on these questions", "bold"),
            ".\n\nTrain on them anyway?",
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.begin(config, shared=True)
            else:
                start = self.query_one("#start", Button)
                start.disabled = False
                self.query_one("#collections", Input).focus()
                self.query_one("#error", Static).update("not started: choose other training data")

        self.app.push_screen(
            ConfirmScreen(
                "Train on the questions explored here?",
                question,
                yes="Train on them",
                no="Back",
            ),
            answer,
        )

    def begin(self, config: Any, shared: bool) -> None:
        """Start the run of ``config`` and follow it."""
        self.losses, self.steps, self.total = [], [], None
        self.rate = StepRate(config.batch_size)
        self.finished = False
        self.training = TrainingProcess()
        self.shared = shared
        self.out = config.out
        evaluation = ", ".join(config.eval) or "none"
        self.query_one("#summary", Static).update(
            inert_text(
                f"training on {', '.join(config.collections)}; evaluation on {evaluation}; "
                f"output folder {config.out}"
            )
        )
        self.query_one("#shared-note", Static).update(
            Text(
                "trained on the questions explored here: its figures on them are not held out",
                style="bold",
            )
            if shared
            else ""
        )
        self.query_one("#evals", Static).update("")
        self.query_one("#run-status", Static).update("starting xlir-tui train ...")
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.show_state("running")
        self.follow(self.training, config)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def follow(self, training: TrainingProcess, config: Any) -> None:
        """Start and follow the run of ``config`` (:meth:`TrainingProcess.follow`) in a
        worker."""
        training.follow(config, self.post_message, get_current_worker())

    # -- following it ----------------------------------------------------------------------
    def on_training_event(self, message: TrainingEvent) -> None:
        from ...training.events import describe_event

        e = message.event
        bar = self.query_one("#progress", ProgressBar)
        status = self.query_one("#run-status", Static)
        if e["event"] == "start":
            self.total = e["total_steps"]
            bar.update(total=e["total_steps"], progress=e["resumed_from_step"])
            self.query_one("#summary", Static).update(
                inert_text(f"{describe_event(e)}; output folder {self.out}")
            )
            status.update(f"step {e['resumed_from_step']}/{e['total_steps']}: the first batch ...")
        elif e["event"] == "step":
            bar.update(progress=e["step"])
            self.losses.append(e["loss"])
            self.steps.append(e["step"])
            self.rate.add(e)
            self.total = e.get("total_steps", self.total)
            plot = self.query_one("#loss")
            plot.display = True
            plot.set_data(list(self.steps), list(self.losses), self.total)
            # the event's own ETA left out: the dialog says its own, and none once cancelled
            line = describe_event({k: v for k, v in e.items() if k != "eta_s"})
            if self.training.cancelled:
                status.update(inert_text(f"stopping after the current step; {line}"))
            else:
                left = self.rate.left(e["step"], e["total_steps"])
                eta = f"  ETA {format_duration(left)}" if left is not None else ""
                status.update(inert_text(line + eta))
        elif e["event"] == "eval":
            self.query_one("#evals", Static).update(inert_text(describe_event(e)))
        elif e["event"] == "checkpoint" and not self.training.cancelled:
            status.update(inert_text(describe_event(e)))

    def on_training_ended(self, message: TrainingEnded) -> None:
        from ...training.runs import run_record

        self.finished = True
        status = self.query_one("#run-status", Static)
        kept = (Path(message.out) / "modules.json").is_file()
        loadable = message.status in ("done", "stopped") and kept
        self.show_state("ended", loadable=loadable)
        if loadable:
            record = run_record(message.out)
            if record is not None and record.stopped:
                what = f"{record.progress}, before its end"
            elif record is not None and record.steps is not None:
                from ...training.events import count

                what = f"done: {count(record.steps, 'step')}"
            else:
                what = message.status
            status.update(inert_text(f"{what}; the model is in {message.out}"))
        elif message.status in ("cancelled", "stopped"):  # stopped with nothing kept
            status.update(
                inert_text(f"training {message.status}: {message.reason or 'nothing kept'}")
            )
        else:
            status.update(inert_text(f"training {message.status}: {message.reason}", "red"))
            self.app.notify(f"training {message.status}", severity="error")

    @on(Button.Pressed, "#cancel")
    def cancel_run(self) -> None:
        """Ask the run to stop: after its current step once it trains (it saves a usable
        checkpoint and model), at once while it loads (nothing is written). The estimate of
        the time left goes at once: the run no longer goes to its end
        (:meth:`TrainingProcess.stop`)."""
        if not self.training.stop():
            return  # a second press would interrupt the saving of the first
        self.query_one("#run-status", Static).update("stopping after the current step ...")

    @on(Button.Pressed, "#new")
    def _new_run(self) -> None:
        """Back to the form, with a new output folder where the last run wrote the one shown
        (Start would refuse it: the dialog never overwrites)."""
        out = self.query_one("#out", Input)
        if out.value == self.out and Path(self.out).exists():
            out.value = self.form.new_out()
        self.query_one("#error", Static).update("")
        self.query_one("#shared-note", Static).update("")
        self.query_one("#run-status", Static).update("")
        self.query_one("#evals", Static).update("")
        self.losses, self.steps = [], []
        self.show_state("idle")
        self.query_one("#start", Button).focus()

    @on(Button.Pressed, "#load")
    def _load(self) -> None:
        self.dismiss(self.out)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.training.running():
            self.app.notify("the training run goes on in the background")
        self.dismiss(None)
