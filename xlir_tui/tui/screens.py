"""Modal screens: help, paragraph, question picker, languages, compare, training, errors.

Every dialog fits an 80x24 terminal: widths follow the screen up to a comfortable maximum, long
lists scroll inside the dialog, and on short screens form widgets drop their borders
(:func:`fit_height`).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    OptionList,
    ProgressBar,
    Select,
    SelectionList,
    Static,
)
from textual.widgets.option_list import Option, OptionDoesNotExist
from textual.widgets.selection_list import Selection

from ..errors import XlirError
from .messages import TrainingEnded, TrainingEvent
from .widgets import lang_tag

SHORT = 30
"""Screens lower than this many rows get borderless (compact) form widgets."""

KEYS = [
    ("F2", "free text or question mode"),
    ("F3", "pick a question (type to search)"),
    ("Ctrl+N / Ctrl+R", "next / random question"),
    ("F4", "question mode: whole pool or own pools"),
    ("F5", "pane languages, 2 to 4"),
    ("F6", "compare with a second system (none: stop comparing)"),
    ("F7", "train a model and follow it"),
    ("F8", "change the theme"),
    ("F9", "bias plots: show or hide"),
    ("Up / Down", "move in a pane (the result shows whole)"),
    ("Enter on a result", "its whole paragraph"),
    ("Tab / Shift+Tab", "next pane / back to the query bar"),
    ("Ctrl+P", "every action by name"),
    ("F1 / Ctrl+Q", "this help / quit"),
]
HELP = """\
**Free text**: each pane shows the top results of its language's pool.
**Question mode**: each pane runs the question's translation in its language against the whole
multilingual pool; ✓ marks the relevant sentences (the answer, in every language). The query bar
shows the question, selected: what you type replaces it, back in free text.

**Bias**: the plots compare each language's share of the top results (this query, and the
session) with its share of the pool, which is what an unbiased retriever would give.
"""


def keys_table() -> Any:
    """The keys as a plain two-column table (a Markdown table draws a rule under every row,
    which would double its height)."""
    from rich.table import Table

    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, action in KEYS:
        table.add_row(key, action)
    return table


def fit_height(root: Widget, rows: int) -> None:
    """Borderless form widgets on a screen of fewer than :data:`SHORT` rows."""
    compact = rows < SHORT
    for widget in root.query("Input, Button, Select, Checkbox, OptionList, SelectionList"):
        widget.compact = compact  # type: ignore[attr-defined]


class Dialog(ModalScreen[Any]):
    """A modal dialog whose form widgets follow the terminal's height."""

    def on_mount(self) -> None:
        fit_height(self, self.app.size.height)

    def on_resize(self) -> None:
        fit_height(self, self.app.size.height)


class KeyButton(Button):
    """A button that Enter and Space both press, as a person expects from the keyboard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "press", "Press button", show=False)
    ]


class HelpScreen(Dialog):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="help") as box:
            box.border_title = "xlir-tui explorer: keys"
            yield Static(
                "Queries across languages, side by side, with live language-bias statistics.\n"
            )
            yield Static(keys_table(), id="keys")
            from textual.widgets import Markdown  # its parser costs the first frame 60 ms

            yield Markdown(HELP)
            yield KeyButton("Close", id="close")

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class ParagraphScreen(Dialog):
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
        with VerticalScroll(classes="dialog wide") as box:
            box.border_title = Text.assemble(
                lang_tag(self.hit.lang), f" {self.hit.id} · score {self.hit.score:.3f}"
            )
            yield Static(text, classes="paragraph")
            yield KeyButton("Close", id="close")

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class QuestionPicker(Dialog):
    """Search the collection's questions by text or id."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, workspace: Any, lang: str | None) -> None:
        super().__init__()
        self.workspace = workspace
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall") as box:
            box.border_title = "Pick a question"
            yield Label("Type to filter (words or an id), Enter or a click to choose")
            yield Input(placeholder="words of the question, or its id", id="filter")
            yield OptionList(id="questions")

    def on_mount(self) -> None:
        super().on_mount()
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for qid, question in self.workspace.questions_matching(text, self.lang):
            options.add_option(Option(Text.assemble((qid, "dim"), "  ", question), id=qid))
        if options.option_count:
            options.highlighted = 0

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


class LanguageList(SelectionList[str]):
    """The languages dialog's list: each row starts with ``[n]``, the pane it will be (left
    to right), or ``[ ]`` when it is not ticked, and Enter applies the dialog.

    SelectionList's own ``▐X▌`` differs between ticked and unticked only by the colour of the
    X, which some terminals (tmux with few colours) hardly show; and its Enter toggles the row
    again, so Space then Enter untoggled what was just ticked, and Apply then changed nothing.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "screen.apply", "Apply", show=False)]

    def render_line(self, y: int) -> Strip:
        line = OptionList.render_line(self, y)  # the prompt, without SelectionList's button
        index = self.scroll_offset.y + y
        try:
            value = self.get_option_at_index(index).value
        except OptionDoesNotExist:
            return line
        chosen = list(self.selected)
        base = next(iter(line)).style or self.rich_style
        meta = Style(meta={"option": index})  # a click on the mark toggles the row
        if value in chosen:
            n = chosen.index(value) + 1
            mark = f"[{n}]" if n < 10 else "[+]"
            color = self.get_component_rich_style("selection-list--button-selected").color
            style = base + Style(bold=True, color=color) + meta
        else:
            mark, style = "[ ]", base + Style(dim=True) + meta
        return Strip([Segment(mark, style), Segment(" ", base), *line])


class LanguagesScreen(Dialog):
    """Choose 2 to 4 pane languages (or ``all``, the whole pool), in the order they are
    ticked; a line under the list shows the panes as they will be, or why Apply would refuse."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self, available: list[str], current: list[str], counts: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.available = available
        self.current = current
        self.counts = counts or {}

    def compose(self) -> ComposeResult:
        choices = [*self.available, "all"]
        with Vertical(classes="dialog") as box:
            box.border_title = "Pane languages"
            yield Label(
                "Tick 2 to 4 (Space); panes follow the order you tick them in. Enter applies."
            )
            yield LanguageList(
                *(
                    Selection(
                        Text.assemble(
                            lang_tag(x) if x != "all" else (" all ", "reverse"),
                            " ",
                            (self.counts.get(x, ""), "dim"),
                        ),
                        x,
                        x in self.current,
                    )
                    for x in choices
                ),
                id="langs",
            )
            yield Static("", id="order")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield KeyButton("Apply", variant="primary", id="apply")
                yield KeyButton("Cancel", id="cancel")

    def on_mount(self) -> None:
        super().on_mount()
        chosen = self.query_one(SelectionList)
        # the current panes' order, not the list's
        for lang in self.current:
            chosen.deselect(lang)
        for lang in self.current:
            chosen.select(lang)
        chosen.focus()
        self._show_order()

    @on(SelectionList.SelectedChanged)
    def _show_order(self) -> None:
        """The panes, left to right, as Apply would make them; the refusal goes away as soon
        as the count is right again."""
        chosen = list(self.query_one(SelectionList).selected)
        line = Text("Panes, left to right: ", style="bold")
        for lang in chosen:
            line.append_text(lang_tag(lang) if lang != "all" else Text(" all ", "reverse"))
            line.append(" ")
        if not chosen:
            line.append("none ticked", style="dim")
        self.query_one("#order", Static).update(line)
        if 2 <= len(chosen) <= 4:
            self.query_one("#error", Static).update("")

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        chosen = list(self.query_one(SelectionList).selected)
        if not 2 <= len(chosen) <= 4:
            self.query_one("#error", Static).update(
                f"not applied: choose 2 to 4 languages ({len(chosen)} ticked)"
            )
        else:
            self.dismiss(chosen)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


STOP_COMPARING = "\0none"
"""What the compare dialog returns for its ``none`` entry: no name a model or a path can have."""


def recent_models(limit: int = 5) -> list[Path]:
    """Model folders trained lately: the outputs of the training runs started from the
    explorer (their settings are kept in the cache) and the folders under ``runs/``, newest
    first, those that hold a model."""
    import tomllib

    from ..paths import cache_root

    found: set[Path] = set()
    for settings in (cache_root() / "train-logs").glob("*.toml"):
        try:
            out = tomllib.loads(settings.read_text(encoding="utf-8")).get("out")
        except (OSError, ValueError):
            continue
        if isinstance(out, str) and out:
            found.add(Path(out))
    runs = Path("runs")
    if runs.is_dir():
        found.update(p for p in runs.iterdir() if p.is_dir())

    def is_model(p: Path) -> bool:
        return (p / "modules.json").is_file() or (p / "config.json").is_file()

    models = [p for p in found if is_model(p)]
    models.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return models[:limit]


def shown_path(path: Path) -> str:
    """A path relative to the current folder when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class CompareScreen(Dialog):
    """Choose a second system to compare with the first: from a list (embedded models,
    lexical systems, the fusion, models trained lately) or by a path (completed as it is
    typed) or a hub name. While comparing, its first entry, ``none``, stops comparing (it is
    listed, not only a key, so that the way back is where the way in was)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        main_model: str | None = None,
        trained: list[Path] | None = None,
        comparing: str | None = None,
    ) -> None:
        super().__init__()
        self.main_model = main_model
        self.trained = trained if trained is not None else recent_models()
        self.comparing = comparing  # the name of the system compared now

    def choices(self) -> list[tuple[str, str]]:
        """(what is loaded, what the list says of it)."""
        from ..embedded import EMBEDDED, embedded_name

        main = embedded_name(self.main_model) if self.main_model else None
        out: list[tuple[str, str]] = []
        if self.comparing:
            out.append((STOP_COMPARING, f"stop comparing with {self.comparing}"))
        for name, model in EMBEDDED.items():
            if name != main:
                default = " (default)" if embedded_name("default") == name else ""
                languages = model.languages.split(" (")[0]
                out.append((name, f"embedded{default}, languages: {languages}"))
        out += [
            ("bm25", "lexical: whole words (BM25)"),
            ("chargram", "lexical: character n-grams"),
            ("fusion", "the main model fused with chargram (reciprocal ranks)"),
        ]
        for path in self.trained:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
            out.append((str(path), f"trained, {when}"))
        return out

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide") as box:
            box.border_title = "Compare with a second system"
            yield Label("Choose one (Enter), or type a model folder or a hub name below.")
            choices = [
                ("none" if v == STOP_COMPARING else shown_path(Path(v)), v, note)
                for v, note in self.choices()
            ]
            pad = min(max(len(shown) for shown, _, _ in choices), 28)
            yield OptionList(
                *(
                    Option(Text.assemble((f"{shown:<{pad}}", "bold"), "  ", (note, "dim")), id=v)
                    for shown, v, note in choices
                ),
                id="choices",
            )
            path = Input(
                placeholder="a model folder or a hub name (Tab completes a path)", id="model"
            )
            yield path
            from .completion import PathCompletion

            yield PathCompletion(
                path, folder_prefix=Content(""), file_prefix=Content(""), show_dotfiles=False
            )
            with Horizontal(classes="buttons"):
                yield KeyButton("Compare", variant="primary", id="go")
                yield KeyButton("Cancel", id="cancel")

    def on_mount(self) -> None:
        super().on_mount()
        choices = self.query_one("#choices", OptionList)
        # the first system, not none: F6 then Enter by habit should not stop comparing
        choices.highlighted = 1 if self.comparing else 0
        choices.focus()

    @on(OptionList.OptionSelected, "#choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Submitted, "#model")
    def _typed(self) -> None:
        value = self.query_one("#model", Input).value.strip()
        if value:
            self.dismiss(value)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        value = self.query_one("#model", Input).value.strip()
        if not value:
            option = self.query_one("#choices", OptionList).highlighted_option
            value = option.id if option is not None else ""
        if value:
            self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ErrorScreen(Dialog):
    """A failure that leaves the explorer nothing to show (the model or the index did not
    load): the whole error, and a way out with a non-zero exit status."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "quit_failed", "Quit")]
    # focused by Textual once the screen is shown (not from on_mount, which can run while the
    # app is closing and the button is gone)
    AUTO_FOCUS = "#quit"

    def __init__(self, title: str, error: str) -> None:
        super().__init__()
        self.heading = title
        self.error = error

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide error-dialog") as box:
            box.border_title = self.heading
            yield Static(Text(self.error), id="error-text")
            yield Static(
                Text(
                    "The explorer cannot go on without it; it ends with exit status 1.",
                    style="dim",
                )
            )
            with Horizontal(classes="buttons"):
                yield KeyButton("Quit", variant="error", id="quit")

    @on(Button.Pressed, "#quit")
    def action_quit_failed(self) -> None:
        self.app.exit(return_code=1)


class TrainScreen(Dialog):
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
        ("scale", "InfoNCE scale"),
        ("freeze_embeddings", "embeddings"),
        ("precision", "precision"),
        ("out", "output folder"),
    ]

    def __init__(self, data: str, out_root: Path) -> None:
        super().__init__()
        self.data = data
        self.out_root = out_root
        self.proc: Any = None
        self.out: str | None = None
        self.cancelled = False  # Cancel run was pressed for the current run
        self._proc_lock = threading.Lock()  # the worker starts the process, Cancel signals it
        self.losses: list[float] = []
        self.steps: list[int] = []
        self.finished = False

    def compose(self) -> ComposeResult:
        from dataclasses import fields

        from ..training import TrainConfig, shown_default

        meta = {f.name: f.metadata for f in fields(TrainConfig)}

        defaults = TrainConfig()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        values = {
            **{name: getattr(defaults, name) for name, _ in self.FIELDS},
            "collections": self.data,
            "out": str(self.out_root / f"run-{stamp}"),
        }
        with VerticalScroll(classes="dialog wide", id="train") as box:
            box.border_title = "Train a model (hybrid batch training)"
            with Container(classes="form"):
                for name, label in self.FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="field")
                        value = values[name]
                        if "choices" in meta[name]:
                            # an unset setting (chosen when the run starts) is the first choice
                            choices = [(x, x) for x in meta[name]["choices"]]
                            if value is None:
                                brief = meta[name].get("brief") or shown_default(name)
                                choices.insert(0, (f"default: {brief}", ""))
                                value = ""
                            yield Select(choices, value=value, allow_blank=False, id=name)
                        elif isinstance(value, bool):
                            yield Checkbox("frozen", value=value, id=name)
                        else:
                            yield Input(
                                value="" if value is None else str(value),
                                placeholder=meta[name].get("brief") or shown_default(name),
                                id=name,
                            )
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield KeyButton("Start", variant="primary", id="start")
                yield KeyButton("Cancel run", variant="error", id="cancel", disabled=True)
                yield KeyButton("Load into compare", variant="success", id="load", disabled=True)
                yield KeyButton("Close", id="close")
            yield ProgressBar(total=None, show_eta=True, id="progress")
            from .plots import LossPlot

            yield LossPlot(id="loss")
            yield Static("", id="status")
            yield Static("", id="evals")

    def on_mount(self) -> None:
        super().on_mount()
        # shown once a run starts (an idle bar would animate, an empty plot says nothing)
        self.query_one("#progress", ProgressBar).display = False
        self.query_one("#loss").display = False

    def settings(self) -> Any:
        """The form as training settings, checked as ``xlir-tui train`` checks them (types,
        ranges, the output folder); an :class:`XlirError` names what is wrong."""
        from ..training import TrainConfig, check_out_folder, settings_from_text

        texts: dict[str, str | bool] = {}
        for name, _ in self.FIELDS:
            widget = self.query_one(f"#{name}")
            if isinstance(widget, Select) and widget.value == "":
                continue  # the default choice: left to the run, as the command line leaves it
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
        self.steps = []
        self.finished = False
        self.cancelled = False
        self.out = config.out
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#load", Button).disabled = True
        self.query_one("#cancel", Button).focus()
        self.query_one("#status", Static).update("starting xlir-tui train ...")
        self.query_one("#progress", ProgressBar).display = True
        self.follow(config)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def follow(self, config: Any) -> None:
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
            with self._proc_lock:
                self.proc = start_training_process(["--config", str(settings)], log)
                if self.cancelled:  # Cancel run came before the process existed
                    self.proc.send_signal(signal.SIGTERM)
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
        if status is None and self.cancelled:
            # stopped before its output folder existed (or killed before it could say so)
            status, reason = "cancelled", "stopped before training began: nothing was written"
        elif status is None:
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
            self.steps.append(e["step"])
            plot = self.query_one("#loss")
            plot.display = True
            plot.set_data(list(self.steps), list(self.losses))
        if e["event"] == "eval":
            self.query_one("#evals", Static).update(describe_event(e))
        elif e["event"] in ("start", "step", "checkpoint"):
            status.update(describe_event(e))

    def on_training_ended(self, message: TrainingEnded) -> None:
        self.finished = True
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        status = self.query_one("#status", Static)
        kept = (Path(message.out) / "modules.json").is_file()
        if message.status in ("done", "stopped") and kept:
            status.update(f"{message.status}: the model is in {message.out}")
            load = self.query_one("#load", Button)
            load.disabled = False
            load.focus()
        elif message.status in ("cancelled", "stopped"):  # stopped with nothing kept
            status.update(f"training {message.status}: {message.reason or 'nothing kept'}")
            self.query_one("#start", Button).focus()
        else:
            status.update(Text(f"training {message.status}: {message.reason}", style="red"))
            self.query_one("#start", Button).focus()
            self.app.notify(f"training {message.status}", severity="error")

    @on(Button.Pressed, "#cancel")
    def cancel_run(self) -> None:
        """Ask the run to stop: after its current step once it trains (it saves a usable
        checkpoint and model), at once while it loads (nothing is written).

        SIGTERM rather than SIGINT: a process inherits an ignored SIGINT (an explorer started
        as a background job), and until the run installs its own handler the signal would be
        lost; SIGTERM's default action ends it as cleanly, with nothing written yet."""
        with self._proc_lock:
            if self.cancelled:
                return  # a second press would interrupt the saving of the first
            self.cancelled = True
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
        self.query_one("#status", Static).update("stopping after the current step ...")

    @on(Button.Pressed, "#load")
    def _load(self) -> None:
        self.dismiss(self.out)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.app.notify("the training run goes on in the background")
        self.dismiss(None)
