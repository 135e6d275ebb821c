"""The question picker (F3): the collection's questions, searched in any language."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
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

ID_COLUMN = 24
"""The widest the ids' column gets (XQuAD-R's ids are 24 characters)."""
WORDS_SHOWN = 20
"""The most of the typed words the count line repeats: at 80 columns it stays one row."""


def question_prompt(qid: str, question: str, found: tuple[str, str] | None, pad: int) -> Table:
    """One question of the list: its id in a column of ``pad`` cells (at most
    :data:`ID_COLUMN`), the text wrapped in its own column beside it (a Text wrapped at the
    list's width ran a question's second line under a 24-character id, from column 1), and
    under it, when the words were ``found`` in another language's version, that version with
    its language tag."""
    shown = Table.grid(padding=(0, 2))
    shown.add_column(width=min(pad, ID_COLUMN), no_wrap=True, overflow="ellipsis")
    shown.add_column(ratio=1)
    # Text, never a str: a table reads a str as markup ([link=...] became a live hyperlink)
    shown.add_row(Text(inert(qid), style="dim"), Text(inert(question)))
    if found is not None:
        lang, other = found
        shown.add_row("", Text.assemble(lang_tag(lang), (" " + inert(other), "italic")))
    return shown


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
        pad = max((len(inert(qid)) for qid, _, _ in matching), default=0)
        for qid, question, found in matching:
            options.add_option(Option(question_prompt(qid, question, found, pad), id=qid))
        if options.option_count:
            options.highlighted = 0
        total = len(self.workspace.question_ids)
        words = inert(text.strip())
        if len(words) > WORDS_SHOWN:  # the line keeps what it says of them on one row
            words = words[: WORDS_SHOWN - 1] + "…"
        if not matching:
            said = f"no question has '{words}' in any language or its id (of {total})"
        elif len(matching) >= self.LIMIT:
            said = f"the first {len(matching)} of the matching questions: type more to narrow"
        else:
            said = f"{len(matching)} of {total} questions" + (f" match '{words}'" if words else "")
        self.query_one("#matches", Label).update(
            Text(said, style="dim", no_wrap=True, overflow="ellipsis")
        )

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
