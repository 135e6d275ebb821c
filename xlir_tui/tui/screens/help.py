"""Dialogs that only show text: the keys and what the panes show (F1), a result's whole
paragraph (Enter on a result)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from ...safe_text import inert, inert_text
from ..widgets import WrappedText, lang_tag
from .dialog import Dialog, KeyButton

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
