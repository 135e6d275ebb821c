"""The explorer's keys that open a dialog and act on its answer: help, the question picker, the
pane languages, training, and the export of the session (written in a worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work

from .bias import session_counts
from .screens.export import ExportScreen
from .screens.help import HelpScreen
from .screens.languages import LanguagesScreen
from .screens.questions import QuestionPicker
from .screens.train import TrainScreen


class DialogActions:
    """The dialogs' keys, for :class:`~xlir_tui.tui.app.ExplorerApp` (a mixin: it uses the
    app's workspace, panes and session)."""

    workspace: Any
    langs: list[str | None]
    trained: list[Path]

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pick_question(self) -> None:
        if self.workspace is not None:
            lang = next((x for x in self.langs if x), None)
            self.push_screen(QuestionPicker(self.workspace, lang), self.set_question)

    def action_choose_languages(self) -> None:
        if self.workspace is None:
            return

        def apply(langs: list[str] | None) -> None:
            if not langs:
                return
            chosen: list[str | None] = [None if x == "all" else x for x in langs]
            if chosen == self.langs:
                # said, not silent: an Apply that changes nothing looked like a broken one
                self.notify(f"the panes stay {' · '.join(langs)}")
                return
            self.langs = chosen
            self.rebuild_panes()

        current = [x or "all" for x in self.langs]
        self.push_screen(
            LanguagesScreen(self.workspace.languages, current, language_counts(self.workspace)),
            apply,
        )

    def action_train(self) -> None:
        if self.workspace is None:
            return
        collection = self.workspace.collection
        out_root = Path("runs")

        def trained(path: str | None) -> None:
            if path:
                self.trained.insert(0, Path(path))
                self.choose_compared(path)

        self.push_screen(TrainScreen(collection.sources, out_root, collection.name), trained)

    def action_export_session(self) -> None:
        """Ctrl+S: write the session's figures and runs into a folder (:class:`ExportScreen`)."""
        ws = self.workspace
        if ws is None:
            return
        names = self.shown_names()
        summary = ws.session.summary(list(range(len(names))), names, self.lang_order())
        if not summary["runs"]:
            self.notify("nothing to export yet: Enter records a query, F2 runs the questions")
            return
        from ..app.explore import default_session_folder

        def chosen(answer: tuple[str, bool] | None) -> None:
            if answer:
                self.export_session(Path(answer[0]), answer[1])

        counts = session_counts(summary)
        if len(names) > 1:
            counts += f", the same for {' and '.join(names)}"
        self.push_screen(ExportScreen(str(default_session_folder()), counts), chosen)

    @work(thread=True, group="export", exit_on_error=False)
    def export_session(self, out: Path, overwrite: bool) -> None:
        """Write the session (:func:`~xlir_tui.app.explore.write_session`) in a worker."""
        import datetime

        from ..app.explore import write_session

        ws = self.workspace
        names = self.shown_names()
        places = list(range(len(names)))
        langs = self.lang_order()
        summary = ws.session.summary(places, names, langs)
        rows = ws.session.rows(places, names, langs)
        about = {
            "collection": ws.collection.name,
            "candidates": ws.pool.size,
            "k": ws.k,
            "pane_languages": [x or "all" for x in self.langs],
            "pool_shares": {x: ws.expected.get(x, 0.0) for x in langs},
            "exported": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        write_session(out, summary, rows, about, overwrite=overwrite)
        self.call_from_thread(
            self.notify, f"session written to {out} ({summary['runs']} runs per system)"
        )


def language_counts(ws: Any) -> dict[str, str]:
    """Per language (and ``all``): its candidates and questions, for the languages dialog."""
    q = ws.collection.questions
    questions = dict(q.group_by("lang").len().iter_rows())
    sizes = {lang: round(share * ws.pool.size) for lang, share in ws.expected.items()}
    out = {
        lang: f"{sizes.get(lang, 0):,} candidates, {questions.get(lang, 0):,} questions"
        for lang in ws.languages
    }
    out["all"] = f"the whole pool: {ws.pool.size:,} candidates"
    return out
