"""The question picker (F3): the collection's questions, searched in any language."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from ...safe_text import inert
from ..widgets import INERT, lang_tag
from .dialog import Dialog


class QuestionPicker(Dialog):
    """Search the collection's questions by id or by their text in any language; a question
    found through another language's version shows that version under it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]
    LIMIT = 200
    """Questions listed at most (a long list is read by narrowing it, not by scrolling)."""

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
            yield Label("", id="matches")

    def on_mount(self) -> None:
        super().on_mount()
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        matching = self.workspace.questions_matching(text, self.lang, limit=self.LIMIT)
        for qid, question, found in matching:
            shown = Text.assemble((inert(qid), "dim"), "  ", inert(question))
            if found is not None:  # the words are in another language's version: shown too
                lang, other = found
                shown.append("\n" + " " * (len(qid) + 2))
                shown.append_text(lang_tag(lang))
                shown.append(" " + inert(other), style="italic")
            options.add_option(Option(shown, id=qid))
        if options.option_count:
            options.highlighted = 0
        total = len(self.workspace.question_ids)
        words = inert(text.strip())
        if not matching:
            said = f"no question has '{words}' in any language or its id (of {total})"
        elif len(matching) >= self.LIMIT:
            said = f"the first {len(matching)} of the matching questions: type more to narrow"
        else:
            said = f"{len(matching)} of {total} questions" + (f" match '{words}'" if words else "")
        self.query_one("#matches", Label).update(Text(said, style="dim"))

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
