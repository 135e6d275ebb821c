"""The explorer app: side-by-side queries across languages with live bias statistics.

Everything slow (loading models, building indexes, encoding, searching, training) runs in thread
workers that post messages back; widgets are only touched on the app's thread. A worker's error
becomes a notification and the app carries on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from .messages import LoadProgress, ResultsReady, SystemAdded, WorkspaceReady
from .screens import (
    CompareScreen,
    HelpScreen,
    LanguagesScreen,
    ParagraphScreen,
    QuestionPicker,
    TrainScreen,
)
from .widgets import BiasPanel, ResultPane

FREE, QUESTION = "free text", "question"


class ExplorerApp(App[None]):
    """``xlir-tui explore``."""

    CSS_PATH = Path(__file__).parent / "explorer.tcss"  # absolute: subclasses live elsewhere
    TITLE = "xlir-tui explorer"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f2", "toggle_mode", "Mode"),
        Binding("f3", "pick_question", "Question"),
        Binding("ctrl+n", "next_question", "Next"),
        Binding("ctrl+r", "random_question", "Random"),
        Binding("f4", "toggle_pool", "Pool"),
        Binding("f5", "choose_languages", "Languages"),
        Binding("f6", "compare", "Compare"),
        Binding("f7", "train", "Train"),
        Binding("f8", "change_theme", "Theme"),
        Binding("ctrl+q", "quit", "Quit"),
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
        langs: list[str] | None = None,
        k: int = 10,
    ) -> None:
        super().__init__()
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
        self.restrict = False
        self.compare = False
        self.request = 0
        self.painted_request = 0
        self.last_results: list[Any] = []
        self.last_elapsed_ms: float | None = None

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="top"):
            yield Static(self._mode_label(), id="mode")
            yield Input(placeholder="loading the model ...", id="query", disabled=True)
        with Horizontal(id="main"):
            yield Horizontal(id="panes")
            with VerticalScroll(id="side"):
                yield BiasPanel(
                    "Language bias appears here after the first query.\n\nType a query, or "
                    "press F2 to run the collection's questions in every pane.",
                    id="bias",
                )
        yield Static("starting ...", id="status")
        yield Footer()

    def _mode_label(self) -> Text:
        label = Text(f" {self.mode} ", style="bold reverse")
        if self.mode == QUESTION and self.qid:
            label.append(f" {self.qid}", style="bold")
        if self.mode == QUESTION and self.restrict:
            label.append(" own pools", style="dim")
        if self.compare:
            label.append(" compare", style="bold magenta")
        return label

    def on_mount(self) -> None:
        self.query_one("#status", Static).update("loading the model and the index ...")
        self.open_workspace()

    # -- workers -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_workspace(self) -> None:
        from ..session import Workspace
        from ..systems import SystemSpec

        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(LoadProgress(stage, done, total))

        collection = self.source_collection
        if self.source_index is None and not collection:
            collection = [str(default_sample_data())]
        ws = Workspace.open(
            index=self.source_index,
            collection=collection,
            spec=self.spec or SystemSpec("dense", self.model_spec),
            encoder_options=self.encoder_options,
            query_lang=self.query_lang,
            progress=progress,
        )
        ws.k = self.k
        self.post_message(WorkspaceReady(ws))

    @work(thread=True, exclusive=True, group="query", exit_on_error=False)
    def run_query(
        self, request: int, panes: list[Any], text: str | None, qid: str | None, record: bool = True
    ) -> None:
        started = time.perf_counter()
        results = self.workspace.run(panes, text=text, qid=qid, record=record)
        self.post_message(ResultsReady(request, results, (time.perf_counter() - started) * 1000))

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def load_second_model(self, choice: str) -> None:
        """Load the system named in the compare dialog (a model, bm25, chargram, fusion)."""
        from ..session import choice_spec

        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(LoadProgress(f"{stage} for {choice}", done, total))

        ws = self.workspace
        place = ws.add_system(choice_spec(choice, ws.systems[0]), progress=progress)
        self.post_message(SystemAdded(place, ws.names[place]))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{error}", title="error", severity="error", timeout=8)
            status = self.query_one("#status", Static)
            if self.workspace is None and event.worker.group == "open":
                status.update(Text(f"could not open: {error}", style="red"))
            else:
                status.update(Text(f"error: {error}", style="red"))

    # -- messages from workers ---------------------------------------------------------------
    def on_load_progress(self, message: LoadProgress) -> None:
        total = f"/{message.total}" if message.total > 1 else ""
        done = f" {message.done}{total}" if message.total > 1 else ""
        self.query_one("#status", Static).update(f"{message.stage}{done} ...")

    def on_workspace_ready(self, message: WorkspaceReady) -> None:
        ws = message.workspace
        self.workspace = ws
        if not self.langs:
            preferred = [x for x in ("en", "de", "zh") if x in ws.languages]
            self.langs = (preferred + [x for x in ws.languages if x not in preferred])[:3]
        bad = [x for x in self.langs if x is not None and x not in ws.languages]
        if bad:
            self.notify(f"no candidates in {', '.join(bad)}", severity="warning")
            self.langs = [x for x in self.langs if x not in bad] or ws.languages[:2]
        self.sub_title = f"{ws.collection.name} · {ws.names[0]}"
        query = self.query_one("#query", Input)
        query.disabled = False
        query.placeholder = "type a query in any language (F2: question mode, F1: help)"
        query.focus()
        self.query_one("#status", Static).update(
            f"{ws.collection.name}: {len(ws.question_ids)} questions, "
            f"{ws.pool.size} candidates in {len(ws.languages)} languages"
        )
        self.rebuild_panes()

    def on_results_ready(self, message: ResultsReady) -> None:
        if message.request < self.painted_request:
            return  # an older request finished late
        self.painted_request = message.request
        self.last_results = message.results
        panes = list(self.query(ResultPane))
        for pane, result in zip(panes, message.results, strict=False):
            pane.show(result)
        self.refresh_bias()
        self.last_elapsed_ms = message.elapsed_ms
        what = f"question {self.qid}" if self.mode == QUESTION else "query"
        self.query_one("#status", Static).update(
            f"{what}: {len(message.results)} panes updated (F1: help, Ctrl+P: commands)"
        )

    def on_system_added(self, message: SystemAdded) -> None:
        self.compare = True
        self.notify(f"comparing with {message.name}")
        self.rebuild_panes()

    # -- panes and queries -------------------------------------------------------------------
    def pane_specs(self) -> list[Any]:
        from ..session import Pane

        if self.compare and self.workspace is not None and len(self.workspace.systems) > 1:
            lang = self.langs[0] if self.langs else None
            return [Pane(lang, 0, self.restrict), Pane(lang, 1, self.restrict)]
        return [Pane(lang, 0, self.restrict) for lang in self.langs]

    def rebuild_panes(self) -> None:
        if self.workspace is None:
            return  # keys pressed while the model loads change nothing yet
        container = self.query_one("#panes", Horizontal)
        container.remove_children()
        names = self.workspace.names
        container.mount_all(
            [ResultPane(i, pane, names[pane.system]) for i, pane in enumerate(self.pane_specs())]
        )
        self.query_one("#mode", Static).update(self._mode_label())
        self.call_after_refresh(self.submit)

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
            self.request += 1
            self.run_query(self.request, self.pane_specs(), None, self.qid)
        elif text.strip():
            self.request += 1
            self.run_query(self.request, self.pane_specs(), text, None, not live)

    @on(Input.Changed, "#query")
    def _typed(self, event: Input.Changed) -> None:
        if self.mode == FREE:
            self.submit(live=True)

    @on(Input.Submitted, "#query")
    def _submitted(self) -> None:
        self.submit()

    def refresh_bias(self) -> None:
        ws = self.workspace
        names = ws.names if self.compare else ws.names[:1]
        sessions = [s.summary() for s in ws.stats]
        self.query_one(BiasPanel).render_stats(
            self.last_results, sessions, ws.expected, names, ws.k
        )

    @on(DataTable.RowSelected)
    def _open_paragraph(self, event: DataTable.RowSelected) -> None:
        pane = event.data_table.parent
        if isinstance(pane, ResultPane):
            hit = pane.selected_hit()
            if hit is not None:
                self.push_screen(ParagraphScreen(hit, self.workspace.context_of(hit.id)))

    # -- actions -----------------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_mode(self) -> None:
        if self.workspace is None:
            return
        self.mode = QUESTION if self.mode == FREE else FREE
        self.query_one("#mode", Static).update(self._mode_label())
        self.submit()

    def set_question(self, qid: str | None) -> None:
        if qid is None:
            return
        self.qid = qid
        self.mode = QUESTION
        self.submit()

    def action_pick_question(self) -> None:
        if self.workspace is not None:
            lang = next((x for x in self.langs if x), None)
            self.push_screen(QuestionPicker(self.workspace, lang), self.set_question)

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

    def action_choose_languages(self) -> None:
        if self.workspace is None:
            return

        def apply(langs: list[str] | None) -> None:
            if langs:
                self.langs = [None if x == "all" else x for x in langs]
                self.rebuild_panes()

        current = [x or "all" for x in self.langs]
        self.push_screen(LanguagesScreen(self.workspace.languages, current), apply)

    def action_compare(self) -> None:
        if self.workspace is None:
            return

        def chosen(spec: str | None) -> None:
            if spec:
                self.query_one("#status", Static).update(f"loading {spec} ...")
                self.load_second_model(spec)

        self.push_screen(CompareScreen(), chosen)

    def action_train(self) -> None:
        if self.workspace is None:
            return
        sources = self.workspace.collection.sources
        data = str(Path(sources[0]).parent) if sources else "sample_data"
        out_root = Path("runs")

        def trained(path: str | None) -> None:
            if path:
                self.query_one("#status", Static).update(f"indexing {path} ...")
                self.load_second_model(path)

        self.push_screen(TrainScreen(data, out_root), trained)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and what the panes show", self.action_help)
        yield SystemCommand(
            "Switch mode", "Free text or collection questions", self.action_toggle_mode
        )
        yield SystemCommand(
            "Pick a question", "Search the collection's questions", self.action_pick_question
        )
        yield SystemCommand("Next question", "The next question id", self.action_next_question)
        yield SystemCommand("Random question", "A random question", self.action_random_question)
        yield SystemCommand(
            "Whole pool / own pools",
            "Question mode: where each pane searches",
            self.action_toggle_pool,
        )
        yield SystemCommand(
            "Pane languages", "Choose 2 to 4 pane languages", self.action_choose_languages
        )
        yield SystemCommand(
            "Compare models", "Load a second model beside the first", self.action_compare
        )
        yield SystemCommand(
            "Train a model", "Start xlir-tui train and follow it", self.action_train
        )


def default_sample_data() -> Path:
    """``sample_data/`` of a source checkout, else of the current folder."""
    here = Path(__file__).resolve().parents[2] / "sample_data"
    return here if here.is_dir() else Path("sample_data")
