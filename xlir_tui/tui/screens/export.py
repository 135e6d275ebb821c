"""The export dialog (Ctrl+S): the folder the session's figures and runs go into."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from ...errors import XlirError
from ...safe_text import inert_text
from ..widgets import INERT
from .dialog import Dialog, KeyButton


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
        from ...storage.files import check_writable, own_output_kind

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
