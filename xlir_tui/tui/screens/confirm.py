"""A question with two answers, and a failure the explorer cannot go on from."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from ...safe_text import inert_text
from .dialog import Dialog, KeyButton


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
