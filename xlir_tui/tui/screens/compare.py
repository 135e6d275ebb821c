"""The compare dialog (F6): a second system to compare with the first, or none."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from ...safe_text import inert
from ..widgets import INERT
from .dialog import Dialog, KeyButton, shown_path

STOP_COMPARING = "\0none"
"""What the compare dialog returns for its ``none`` entry: no name a model or a path can have."""


def recent_models(limit: int = 5) -> list[Path]:
    """Model folders trained lately: the outputs of the training runs started from the
    explorer (their settings are kept in the cache) and the folders under ``runs/``, newest
    first, those that hold a model."""
    import tomllib

    from ...storage.files import cache_root

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


class ChoiceList(OptionList):
    """An option list whose cursor stops at its ends: Up from ``none`` at the top wrapped round
    to the last entry, and a person compared with a system never meant."""

    def action_cursor_up(self) -> None:
        if self.highlighted is None or self.highlighted > 0:
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if self.highlighted is None or self.highlighted < self.option_count - 1:
            super().action_cursor_down()


def choice_label(choice: str) -> str:
    """A choice as the list shows it, and as every message about it names it: ``none``, a
    remedy as ``debias lir``, a folder by :func:`shown_path`, else the name typed."""
    from ...app.explore import REMEDY_CHOICE

    if choice == STOP_COMPARING:
        return "none"
    if choice.startswith(REMEDY_CHOICE):
        return "debias " + choice[len(REMEDY_CHOICE) :]
    return shown_path(Path(choice))


def choice_prompt(shown: str, note: str, pad: int) -> Table:
    """One entry of the list: the name in a column of ``pad`` cells (a longer name cut with an
    ellipsis), the description in its own column beside it, wrapped there (a Text padded to
    the column ran its second line from the list's left edge, under the names)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(width=pad, no_wrap=True, overflow="ellipsis", style="bold")
    grid.add_column(ratio=1, style="dim")
    grid.add_row(Text(shown), Text(note))  # Text: a str cell would be read as markup
    return grid


NAME_COLUMN = 24
"""The widest the names' column gets: the descriptions keep the rest of an 80-column list."""


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
        pending: str | None = None,
    ) -> None:
        super().__init__()
        self.main_model = main_model
        self.trained = trained if trained is not None else recent_models()
        self.comparing = comparing  # the name of the system compared now
        self.pending = pending  # a choice still opening: ``none`` cancels it
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
        from ...models.embedded import embedded_name

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
        from ...models.embedded import EMBEDDED, embedded_name

        out: list[tuple[str, str]] = []
        if self.comparing:
            out.append((STOP_COMPARING, f"stop comparing with {self.comparing}"))
        elif self.pending:
            out.append((STOP_COMPARING, f"cancel: {choice_label(self.pending)} is still loading"))
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
        from ...training.runs import run_tags

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
            choices = [(inert(choice_label(v)), v, inert(note)) for v, note in self.choices()]
            pad = min(max(len(shown) for shown, _, _ in choices), NAME_COLUMN)
            yield ChoiceList(
                *(Option(choice_prompt(shown, note, pad), id=v) for shown, v, note in choices),
                id="choices",
            )
            path = Input(
                placeholder="a model folder or a hub name (Tab completes a path)",
                id="model",
                highlighter=INERT,
            )
            yield path
            from ..completion import PathCompletion

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
        choices.highlighted = 1 if self.comparing or self.pending else 0
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
