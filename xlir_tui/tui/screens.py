"""Modal screens: help, paragraph, question picker, languages, compare, export, training,
errors.

Every dialog fits an 80x24 terminal: widths follow the screen up to a comfortable maximum, long
lists scroll inside the dialog, and on short screens form widgets drop their borders
(:func:`fit_height`).

Text from data (paragraphs, questions, ids, paths, errors, training lines) is shown only as
:func:`~xlir_tui.safe_text.inert_text`: never parsed as markup, control characters made visible.
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
from textual.worker import get_current_worker

from ..errors import XlirError
from ..safe_text import inert, inert_text
from .messages import TrainingDataChecked, TrainingEnded, TrainingEvent
from .widgets import INERT, WrappedText, lang_tag

SHORT = 30
"""Screens lower than this many rows get borderless (compact) form widgets."""

KEYS = [
    ("F2", "free text or question mode"),
    ("F3", "pick a question (search its text in any language)"),
    ("Ctrl+N / Ctrl+R", "next / random question"),
    ("F4", "question mode: whole pool or own pools"),
    ("F5", "pane languages, 2 to 4"),
    ("F6", "compare with a second system (none: stop comparing)"),
    ("F7", "train a model and follow it"),
    ("F8", "change the theme"),
    ("F9", "bias plots: show or hide"),
    ("Ctrl+S", "export the session: its figures and runs, to a folder"),
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
        # inert keeps every offset (one code point for one), so the sentence is found as it was
        text = inert_text(self.context or self.hit.text, multiline=True)
        start = (self.context or "").find(self.hit.text)
        if start >= 0:
            text.stylize("bold reverse", start, start + len(self.hit.text))
        with VerticalScroll(classes="dialog wide") as box:
            box.border_title = Text.assemble(
                lang_tag(self.hit.lang), f" {inert(self.hit.id)} · score {self.hit.score:.3f}"
            )
            yield WrappedText(text, classes="paragraph")
            yield KeyButton("Close", id="close")

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class QuestionPicker(Dialog):
    """Search the collection's questions by id or by their text in any language; a question
    found through another language's version shows that version under it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, workspace: Any, lang: str | None) -> None:
        super().__init__()
        self.workspace = workspace
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall") as box:
            box.border_title = "Pick a question"
            yield Label(
                "Type to filter (words in any language, or an id); Enter or a click chooses"
            )
            yield Input(
                placeholder="words of the question in any language, or its id",
                id="filter",
                highlighter=INERT,
            )
            yield OptionList(id="questions")

    def on_mount(self) -> None:
        super().on_mount()
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for qid, question, found in self.workspace.questions_matching(text, self.lang):
            shown = Text.assemble((inert(qid), "dim"), "  ", inert(question))
            if found is not None:  # the words are in another language's version: shown too
                lang, other = found
                shown.append("\n" + " " * (len(qid) + 2))
                shown.append_text(lang_tag(lang))
                shown.append(" " + inert(other), style="italic")
            options.add_option(Option(shown, id=qid))
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

    from ..storage.files import cache_root

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
        shown: list[str] | None = None,
        remedies: list[tuple[str, str]] | None = None,
        explored: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.main_model = main_model
        self.trained = trained if trained is not None else recent_models()
        self.comparing = comparing  # the name of the system compared now
        self.remedies = remedies or []
        """(choice, what it does) of each language-bias remedy of the main system."""
        self.explored = explored  # the explored collection's files; None: the app's
        self.shown = [x for x in [main_model, *(shown or [])] if x]
        """What the panes show already (the main system, the one compared): not offered."""

    def explored_files(self) -> list[str]:
        """The files of the collection the trained models would be scored on."""
        if self.explored is not None:
            return self.explored
        workspace = getattr(self.app, "workspace", None)
        return list(workspace.collection.sources) if workspace is not None else []

    def is_shown(self, choice: str) -> bool:
        """Whether ``choice`` names a system the panes show already: the same name, the same
        embedded model (``default`` is multilingual-e5-small), or the same folder."""
        from ..models.embedded import embedded_name

        for other in self.shown:
            if choice.strip() == other.strip():
                return True
            embedded = embedded_name(choice)
            if embedded is not None and embedded == embedded_name(other):
                return True
            try:
                a, b = Path(choice).resolve(), Path(other).resolve()
            except (OSError, RuntimeError):
                continue
            if a == b and a.exists():
                return True
        return False

    def choices(self) -> list[tuple[str, str]]:
        """(what is loaded, what the list says of it); what the panes show already is left
        out (the main model was offered as a second system to compare with itself)."""
        from ..models.embedded import EMBEDDED, embedded_name

        out: list[tuple[str, str]] = []
        if self.comparing:
            out.append((STOP_COMPARING, f"stop comparing with {self.comparing}"))
        for name, model in EMBEDDED.items():
            default = " (default)" if embedded_name("default") == name else ""
            languages = model.languages.split(" (")[0]
            out.append((name, f"embedded{default}, languages: {languages}"))
        out += [
            ("bm25", "lexical: whole words (BM25)"),
            ("chargram", "lexical: character n-grams"),
            ("fusion", "the main model fused with chargram (reciprocal ranks)"),
        ]
        out += self.remedies
        from ..training.runs import run_tags

        explored = self.explored_files()
        for path in self.trained:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
            # a stopped run and a model trained on these questions say so where they are offered
            tags = run_tags(path, explored)
            out.append((str(path), f"{', '.join(tags) or 'trained'}, {when}"))
        return [(v, note) for v, note in out if v == STOP_COMPARING or not self.is_shown(v)]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide") as box:
            box.border_title = "Compare with a second system"
            yield Label("Choose one (Enter), or type a model folder or a hub name below.")
            choices = [
                (
                    "none"
                    if v == STOP_COMPARING
                    else inert(
                        v.replace(":", " ") if v.startswith("debias:") else shown_path(Path(v))
                    ),
                    v,
                    inert(note),
                )
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
                placeholder="a model folder or a hub name (Tab completes a path)",
                id="model",
                highlighter=INERT,
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


class ExportScreen(Dialog):
    """Export the session: its figures (``session.json``) and its runs (``runs.parquet``)
    into a new folder, named in the dialog (a folder under the current one by default). A
    session exported before is replaced only when Export is pressed a second time for it;
    anything else that exists is never replaced."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, default: str, counts: str) -> None:
        super().__init__()
        self.default = default
        self.counts = counts
        self.confirmed: Path | None = None  # the existing session Export replaces if pressed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export") as box:
            box.border_title = "Export the session"
            yield Static(inert_text(f"{self.counts}."), id="export-counts")
            yield Static(
                "Into a new folder: session.json (the figures, per system and language) and "
                "runs.parquet (each run and system)."
            )
            yield Input(value=self.default, id="folder", highlighter=INERT)
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield KeyButton("Export", variant="primary", id="export-go")
                yield KeyButton("Cancel", id="cancel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#folder", Input).focus()

    @on(Input.Changed, "#folder")
    def _changed(self) -> None:
        self.confirmed = None
        self.query_one("#error", Static).update("")

    @on(Input.Submitted, "#folder")
    @on(Button.Pressed, "#export-go")
    def _export(self) -> None:
        from ..storage.files import check_writable, own_output_kind

        error = self.query_one("#error", Static)
        value = self.query_one("#folder", Input).value.strip()
        if not value:
            error.update("name a folder to write the session into")
            return
        target = Path(value).expanduser()
        overwrite = False
        if target.exists() or target.is_symlink():
            kind = own_output_kind(target)
            if kind not in ("explore", "empty folder"):
                what = (
                    f"holds the output of xlir-tui {kind}" if kind else "xlir-tui did not write it"
                )
                error.update(
                    inert_text(
                        f"{value}: exists and {what}; it is not replaced (choose another name)"
                    )
                )
                return
            if self.confirmed != target:
                self.confirmed = target
                error.update(
                    inert_text(f"{value}: a session exported before; Export again replaces it")
                )
                return
            overwrite = True
        try:
            check_writable(target)
        except XlirError as e:
            error.update(inert_text(str(e)))
            return
        self.dismiss((str(target), overwrite))

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
            yield Static(inert_text(self.error, multiline=True), id="error-text")
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


class StateBox(Checkbox):
    """A tick box that says its state: ``[x]`` and the words for on, ``[ ]`` and the words for
    off. Space, Enter and a click toggle it, as any Checkbox.

    Textual's ``▐X▌`` differs between on and off only by the colour of the X, which some
    terminals (tmux with few colours) hardly show: the training dialog's ``frozen`` box looked
    ticked while it was off, and a run trained (and saved) every weight unexpectedly.
    """

    def __init__(self, on: str, off: str, value: bool = False, **kwargs: Any) -> None:
        self.words = (off, on)
        super().__init__(on if value else off, value, **kwargs)

    @property
    def _button(self) -> Content:
        return Content.styled("[x]", "bold") if self.value else Content.styled("[ ]", "dim")

    def watch_value(self) -> None:
        super().watch_value()
        self.label = self.words[bool(self.value)]


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


STATE_WORDS: dict[str, tuple[str, str]] = {
    "freeze_embeddings": ("frozen", "not frozen: trained"),
}
"""A yes/no setting's words in the training form (on, off); others say ``on`` and ``off``."""


class ConfirmScreen(Dialog):
    """A question with two answers; Escape and the focused button give the safe one (No)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Back")]
    AUTO_FOCUS = "#no"

    def __init__(self, title: str, text: str | Text, yes: str, no: str) -> None:
        super().__init__()
        self.heading, self.text, self.yes, self.no = title, text, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm") as box:
            box.border_title = self.heading
            yield Static(self.text, id="question")
            with Horizontal(classes="buttons"):
                yield KeyButton(self.no, variant="primary", id="no")
                yield KeyButton(self.yes, variant="warning", id="yes")

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


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


def clock(seconds: float) -> str:
    """``0:04:12``: hours, minutes and seconds, as the explorer's other bars write time."""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class TrainScreen(Dialog):
    """Start ``xlir-tui train`` in a separate process and follow its event log.

    The form starts from :class:`~xlir_tui.training.config.TrainConfig`'s defaults and is checked
    by the training code's own rules before anything starts; the run gets the settings as the TOML
    file ``--config`` reads, so the explorer and the command line cannot disagree on them. Dismissed
    with the trained model's folder when the person asks to load it.

    The training data is never the explored collection by default
    (:func:`~xlir_tui.training.runs.training_suggestion`: MLQA-R beside an explored XQuAD-R, else
    empty and required), and the explored collection is the evaluation data; training on the
    explored questions asks first, and the run then says so until the dialog closes (and the
    model's name says it wherever the explorer shows it).

    A run in progress shows its settings in a line instead of the form (nothing in the form
    would change it), which leaves room for a readable loss plot at 80x24. Each button is
    shown only while it can act (Start; Cancel run; Load into compare and New run).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]
    FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("collections", "training data"),
        ("eval", "evaluation data"),
        ("base", "base model"),
        ("strategy", "strategy"),
        ("alpha", "alpha"),
        ("steps", "steps"),
        ("batch_size", "batch size"),
        ("scale", "InfoNCE scale"),
        ("freeze_embeddings", "embeddings"),
        ("precision", "precision"),
        ("out", "output folder"),
    ]
    PLOT_HEIGHT = 16
    """The loss plot's most rows (it leaves the dialog's other lines 12 rows); on a terminal
    of fewer than :data:`ROOMY` rows the loss is two rows of text instead."""
    ROOMY = 22

    def __init__(self, explored: list[str], out_root: Path, explored_name: str = "") -> None:
        super().__init__()
        self.explored = list(explored)  # the files of the collection being explored
        self.explored_name = explored_name or "the explored collection"
        self.out_root = out_root
        self.proc: Any = None
        self.out: str | None = None
        self.cancelled = False  # Cancel run was pressed for the current run
        self._proc_lock = threading.Lock()  # the worker starts the process, Cancel signals it
        self.losses: list[float] = []
        self.steps: list[int] = []
        self.total: int | None = None
        self.rate = StepRate()
        self.shared = False  # the run trains on the explored collection's questions
        self.suggested = ""  # the training data found for it (runs.training_suggestion)
        self.finished = False

    # -- the form ------------------------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        """The form's first values: TrainConfig's defaults, training data other than the
        explored collection, the explored collection as evaluation data, a new output folder."""
        from ..training.config import TrainConfig
        from ..training.runs import explored_folder, training_suggestion

        config = TrainConfig()
        suggestion = training_suggestion(self.explored)
        explored = explored_folder(self.explored)
        self.suggested = shown_path(suggestion) if suggestion is not None else ""
        return {
            **{name: getattr(config, name) for name, _ in self.FIELDS},
            "collections": self.suggested,
            "eval": shown_path(explored) if explored is not None else "",
            "out": self.new_out(),
        }

    def new_out(self) -> str:
        return str(self.out_root / f"run-{time.strftime('%Y%m%d-%H%M%S')}")

    def compose(self) -> ComposeResult:
        from dataclasses import fields

        from ..training.config import TrainConfig, shown_default

        meta = {f.name: f.metadata for f in fields(TrainConfig)}
        values = self.defaults()
        with VerticalScroll(classes="dialog wide", id="train") as box:
            box.border_title = "Train a model (hybrid batch training)"
            with Container(classes="form", id="form"):
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
                            on, off = STATE_WORDS.get(name, ("on", "off"))
                            yield StateBox(on, off, value=value, id=name)
                        else:
                            if name == "collections":
                                hint = f"required (not {inert(self.explored_name)})"
                            else:
                                hint = meta[name].get("brief") or f"unset: {shown_default(name)}"
                            yield Input(
                                value="" if value is None else str(value),
                                placeholder=hint,
                                id=name,
                                highlighter=INERT,  # a path from the collection's name
                            )
            yield Line(self.data_line(values), id="data-note")
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
            from .plots import LossPlot

            yield LossPlot(id="loss")
            yield Line("", id="run-status")
            yield Line("", id="evals")

    def data_line(self, values: dict[str, Any]) -> Text:
        """Under the form: what the training and evaluation data are, and why."""
        name = inert(self.explored_name)
        train, evaluate = str(values["collections"]).strip(), str(values["eval"]).strip()
        if train and train == self.suggested:
            return Text(
                f"Trains on {inert(train)}, not on {name} (explored here, and the evaluation "
                "data: its figures stay held out).",
                style="dim",
            )
        if train:
            return Text(
                f"Trains on {inert(train)}, evaluates on {inert(evaluate) or 'nothing'}; Start "
                f"asks first if {inert(train)} holds the questions of {name}, explored here.",
                style="dim",
            )
        return Text(
            f"Name the training data: not {name}, explored here (its figures would then come "
            "from memory); xlir-tui data get mlqa-r fetches MLQA-R.",
            style="dim",
        )

    @on(Input.Changed, "#collections")
    @on(Input.Changed, "#eval")
    def _data_changed(self) -> None:
        values = {n: self.query_one(f"#{n}", Input).value for n in ("collections", "eval")}
        self.query_one("#data-note", Static).update(self.data_line(values))

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

    def settings(self) -> Any:
        """The form as training settings, checked as ``xlir-tui train`` checks them (types,
        ranges, the output folder); an :class:`XlirError` names what is wrong."""
        from ..training.config import TrainConfig, settings_from_text
        from ..training.plan import check_out_folder

        texts: dict[str, str | bool] = {}
        for name, _ in self.FIELDS:
            widget = self.query_one(f"#{name}")
            if isinstance(widget, Select) and widget.value == "":
                continue  # the default choice: left to the run, as the command line leaves it
            texts[name] = widget.value if isinstance(widget, Checkbox) else str(widget.value)
        if not str(texts["collections"]).strip():
            raise XlirError(
                f"training data: name a collection to train on (not {self.explored_name}, "
                "which is explored here)"
            )
        config = TrainConfig.merged({}, settings_from_text(texts))
        config.validate()
        check_out_folder(config)
        return config

    # -- starting a run --------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        error = self.query_one("#error", Static)
        try:
            config = self.settings()
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
        from ..training.runs import shares_data

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
        self.cancelled = False
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
        self.follow(config)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def follow(self, config: Any) -> None:
        """Write the settings, start the process and post its events until it ends (never
        touches widgets)."""
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
            with self._proc_lock:
                self.proc = start_training_process(["--config", str(settings)], log)
                if self.cancelled:  # Cancel run came before the process existed
                    self.proc.send_signal(signal.SIGTERM)
        except OSError as e:
            self.post_message(TrainingEnded("failed", str(out), f"cannot start: {e}"))
            return
        follower = EventFollower(out / EVENTS_FILE)
        status, reason = None, ""
        worker = get_current_worker()
        while True:
            if worker.is_cancelled:
                return  # the explorer is closing: the run goes on in the background
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

    # -- following it ----------------------------------------------------------------------
    def on_training_event(self, message: TrainingEvent) -> None:
        from ..training.events import describe_event

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
            if self.cancelled:
                status.update(inert_text(f"stopping after the current step; {line}"))
            else:
                left = self.rate.left(e["step"], e["total_steps"])
                eta = f"  ETA {clock(left)}" if left is not None else ""
                status.update(inert_text(line + eta))
        elif e["event"] == "eval":
            self.query_one("#evals", Static).update(inert_text(describe_event(e)))
        elif e["event"] == "checkpoint" and not self.cancelled:
            status.update(inert_text(describe_event(e)))

    def on_training_ended(self, message: TrainingEnded) -> None:
        from ..training.runs import run_record

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
                what = f"done: {record.steps} steps"
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
        the time left goes at once: the run no longer goes to its end.

        SIGTERM rather than SIGINT: a process inherits an ignored SIGINT (an explorer started
        as a background job), and until the run installs its own handler the signal would be
        lost; SIGTERM's default action ends it as cleanly, with nothing written yet."""
        with self._proc_lock:
            if self.cancelled:
                return  # a second press would interrupt the saving of the first
            self.cancelled = True
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
        self.query_one("#run-status", Static).update("stopping after the current step ...")

    @on(Button.Pressed, "#new")
    def _new_run(self) -> None:
        """Back to the form, with a new output folder where the last run wrote the one shown
        (Start would refuse it: the dialog never overwrites)."""
        out = self.query_one("#out", Input)
        if out.value == self.out and Path(self.out).exists():
            out.value = self.new_out()
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
        if self.proc is not None and self.proc.poll() is None:
            self.app.notify("the training run goes on in the background")
        self.dismiss(None)
