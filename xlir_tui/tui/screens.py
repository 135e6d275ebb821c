"""Modal screens: help, paragraph, question picker, languages, compare, training."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    Markdown,
    OptionList,
    ProgressBar,
    Select,
    Sparkline,
    Static,
)
from textual.widgets.option_list import Option

from ..errors import XlirError
from ..training import TrainConfig
from .messages import TrainingEnded, TrainingEvent

HELP = """\
# xlir-tui explorer

Queries across languages, side by side, with live language-bias statistics.

| key | action |
|---|---|
| **F2** | switch between free-text and question mode |
| **F3** | pick a question of the collection (searchable) |
| **Ctrl+N** / **Ctrl+R** | next / random question |
| **F4** | question mode: whole pool or each pane's own language |
| **F5** | choose the pane languages (2 to 4 panes) |
| **F6** | compare with a second model |
| **F7** | train a model (runs `xlir-tui train` in the background) |
| **F8** | change the theme |
| **Enter** on a result | show its whole paragraph |
| **Tab** / **Shift+Tab** | move between the query bar and the panes |
| **Ctrl+P** | command palette: every action by name |
| **F1** | this help; **Ctrl+Q** quits |

**Free-text mode**: each pane shows the top results from its language's pool.
**Question mode**: each pane runs the chosen question's translation in its language against
the whole multilingual pool; ✓ marks the relevant sentences (the answer, in every language).

The bias panel compares each language's share of the top results with its share of the pool
(│ marks the share an unbiased retriever would give), for this query and for the session.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Markdown(HELP)
            yield Button("Close", id="close")

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class ParagraphScreen(ModalScreen[None]):
    """A result's whole paragraph, its sentence highlighted."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, hit: Any, context: str) -> None:
        super().__init__()
        self.hit = hit
        self.context = context

    def compose(self) -> ComposeResult:
        text = Text(self.context or self.hit.text)
        start = (self.context or "").find(self.hit.text)
        if start >= 0:
            text.stylize("bold reverse", start, start + len(self.hit.text))
        with VerticalScroll(classes="dialog wide"):
            yield Label(
                Text(f"{self.hit.lang} · {self.hit.id} · score {self.hit.score:.3f}", style="bold")
            )
            yield Static(text, classes="paragraph")
            yield Button("Close", id="close")

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class QuestionPicker(ModalScreen[str | None]):
    """Search the collection's questions by text or id."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, workspace: Any, lang: str | None) -> None:
        super().__init__()
        self.workspace = workspace
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Pick a question (type to filter, Enter to choose)")
            yield Input(placeholder="words of the question, or its id", id="filter")
            yield OptionList(id="questions")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for qid, question in self.workspace.questions_matching(text, self.lang):
            options.add_option(Option(f"{question}  [{qid}]", id=qid))

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#filter")
    def _first(self) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted or 0).id)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class LanguagesScreen(ModalScreen[list[str] | None]):
    """Choose 2 to 4 pane languages."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, available: list[str], current: list[str]) -> None:
        super().__init__()
        self.available = available
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                f"Pane languages, 2 to 4, comma-separated (available: "
                f"{', '.join(self.available)}; 'all' for the whole pool)"
            )
            yield Input(value=",".join(self.current), id="langs")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Apply", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        raw = [x.strip() for x in self.query_one("#langs", Input).value.split(",") if x.strip()]
        bad = [x for x in raw if x != "all" and x not in self.available]
        if bad:
            self.query_one("#error", Static).update(f"unknown language: {', '.join(bad)}")
        elif not 2 <= len(raw) <= 4:
            self.query_one("#error", Static).update("choose 2 to 4 languages")
        else:
            self.dismiss(raw)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class CompareScreen(ModalScreen[str | None]):
    """Name a second model to compare with the first."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, suggestion: str = "") -> None:
        super().__init__()
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                "Second system: 'default', a model folder (for example one written by "
                "xlir-tui train), a hub name, or a system: bm25, chargram, fusion (the main "
                "model with chargram)"
            )
            yield Input(value=self.suggestion, id="model")
            with Horizontal(classes="buttons"):
                yield Button("Compare", variant="primary", id="go")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        value = self.query_one("#model", Input).value.strip()
        if value:
            self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class KeyButton(Button):
    """A button that Enter and Space both press, as a person expects from the keyboard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "press", "Press button", show=False)
    ]


class TrainScreen(ModalScreen[str | None]):
    """Start ``xlir-tui train`` in a separate process and follow its event log.

    The form starts from :class:`~xlir_tui.training.TrainConfig`'s defaults and is checked by
    the training code's own rules before anything starts; the run gets the settings as the
    TOML file ``--config`` reads, so the explorer and the command line cannot disagree on them.
    Dismissed with the trained model's folder when the person asks to load it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]
    FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("base", "base model"),
        ("collections", "training data"),
        ("strategy", "strategy"),
        ("alpha", "alpha"),
        ("steps", "steps"),
        ("batch_size", "batch size"),
        ("freeze_embeddings", "embeddings"),
        ("out", "output folder"),
    ]

    def __init__(self, data: str, out_root: Path) -> None:
        super().__init__()
        self.data = data
        self.out_root = out_root
        self.proc: Any = None
        self.out: str | None = None
        self.losses: list[float] = []
        self.finished = False

    def compose(self) -> ComposeResult:
        from ..sampling import STRATEGIES
        from ..training import shown_default

        defaults = TrainConfig()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        values = {
            **{name: getattr(defaults, name) for name, _ in self.FIELDS},
            "collections": self.data,
            "out": str(self.out_root / f"run-{stamp}"),
        }
        with VerticalScroll(classes="dialog wide"):
            yield Label(Text("Train a model (hybrid batch training)", style="bold"))
            for name, label in self.FIELDS:
                with Horizontal(classes="form-row"):
                    yield Label(label, classes="field")
                    value = values[name]
                    if name == "strategy":
                        yield Select(
                            [(s, s) for s in STRATEGIES], value=value, allow_blank=False, id=name
                        )
                    elif isinstance(value, bool):
                        yield Checkbox("frozen", value=value, id=name)
                    else:
                        yield Input(
                            value="" if value is None else str(value),
                            placeholder=shown_default(name),
                            id=name,
                        )
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield KeyButton("Start", variant="primary", id="start")
                yield KeyButton("Cancel run", variant="error", id="cancel", disabled=True)
                yield KeyButton("Load into compare", variant="success", id="load", disabled=True)
                yield KeyButton("Close", id="close")
            yield ProgressBar(total=None, show_eta=True, id="progress")
            yield Sparkline([], id="loss")
            yield Static("", id="status")
            yield Static("", id="evals")

    def on_mount(self) -> None:
        # shown once a run starts (an idle bar would animate, which says nothing)
        self.query_one("#progress", ProgressBar).display = False

    def settings(self) -> TrainConfig:
        """The form as training settings, checked as ``xlir-tui train`` checks them (types,
        ranges, the output folder); an :class:`XlirError` names what is wrong."""
        from ..training import check_out_folder, settings_from_text

        texts: dict[str, str | bool] = {}
        for name, _ in self.FIELDS:
            widget = self.query_one(f"#{name}")
            texts[name] = widget.value if isinstance(widget, Checkbox) else str(widget.value)
        config = TrainConfig.merged({}, settings_from_text(texts))
        config.validate()
        check_out_folder(config)
        return config

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        error = self.query_one("#error", Static)
        try:
            config = self.settings()
        except XlirError as e:
            error.update(str(e))
            return
        error.update("")
        self.losses = []
        self.finished = False
        self.out = config.out
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#load", Button).disabled = True
        self.query_one("#cancel", Button).focus()
        self.query_one("#status", Static).update("starting xlir-tui train ...")
        self.query_one("#progress", ProgressBar).display = True
        self.follow(config)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def follow(self, config: TrainConfig) -> None:
        """Write the settings, start the process and post its events until it ends (never
        touches widgets)."""
        from ..paths import atomic_write_text, cache_root
        from ..training import EventFollower, last_error, start_training_process

        out = Path(config.out)
        logs = cache_root() / "train-logs"
        settings = logs / f"{out.name}.toml"
        log = logs / f"{out.name}.log"
        try:
            atomic_write_text(settings, config.toml())
            self.proc = start_training_process(["--config", str(settings)], log)
        except OSError as e:
            self.post_message(TrainingEnded("failed", str(out), f"cannot start: {e}"))
            return
        follower = EventFollower(out / "events.jsonl")
        status, reason = None, ""
        while True:
            ended = self.proc.poll() is not None
            for event in follower.poll():
                self.post_message(TrainingEvent(event))
                if event["event"] in ("done", "stopped", "failed"):
                    status, reason = event["event"], event.get("reason", "")
            if ended:
                break
            time.sleep(0.2)
        if status is None:
            status = "died" if self.proc.returncode else "ended"
        if status in ("failed", "died"):
            reason = last_error(log) or reason or f"exit status {self.proc.returncode}"
        self.post_message(TrainingEnded(status, str(out), reason))

    def on_training_event(self, message: TrainingEvent) -> None:
        from ..training import describe_event

        e = message.event
        bar = self.query_one("#progress", ProgressBar)
        status = self.query_one("#status", Static)
        if e["event"] == "start":
            bar.update(total=e["total_steps"], progress=e["resumed_from_step"])
        elif e["event"] == "step":
            bar.update(progress=e["step"])
            self.losses.append(e["loss"])
            self.query_one("#loss", Sparkline).data = list(self.losses)
        if e["event"] == "eval":
            self.query_one("#evals", Static).update(describe_event(e))
        elif e["event"] in ("start", "step", "checkpoint"):
            status.update(describe_event(e))

    def on_training_ended(self, message: TrainingEnded) -> None:
        self.finished = True
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        status = self.query_one("#status", Static)
        if message.status in ("done", "stopped"):
            status.update(f"{message.status}: the model is in {message.out}")
            load = self.query_one("#load", Button)
            load.disabled = False
            load.focus()
        else:
            status.update(Text(f"training {message.status}: {message.reason}", style="red"))
            self.query_one("#start", Button).focus()
            self.app.notify(f"training {message.status}", severity="error")

    @on(Button.Pressed, "#cancel")
    def cancel_run(self) -> None:
        """Ask the run to stop after its current step (it saves a usable checkpoint)."""
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.query_one("#status", Static).update("stopping after the current step ...")

    @on(Button.Pressed, "#load")
    def _load(self) -> None:
        self.dismiss(self.out)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.app.notify("the training run goes on in the background")
        self.dismiss(None)
