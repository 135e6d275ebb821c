"""What every dialog shares: the modal screen whose form widgets follow the terminal's height,
a button the keyboard presses, and paths shown relative to the current folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button

SHORT = 30
"""Screens lower than this many rows get borderless (compact) form widgets."""


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


def shown_path(path: Path) -> str:
    """A path relative to the current folder when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
