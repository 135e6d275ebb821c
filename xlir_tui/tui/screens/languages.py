"""The pane languages dialog (F5): 2 to 4 languages, in the order they are ticked."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.strip import Strip
from textual.widgets import Button, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import OptionDoesNotExist
from textual.widgets.selection_list import Selection

from ..widgets import lang_tag
from .dialog import Dialog, KeyButton


class LanguageList(SelectionList[str]):
    """The languages dialog's list: each row starts with ``[n]``, the pane it will be (left
    to right), or ``[ ]`` when it is not ticked, and Enter applies the dialog.

    SelectionList's own ``▐X▌`` differs between ticked and unticked only by the colour of the
    X, which some terminals (tmux with few colours) hardly show; and its Enter toggles the row
    again, so Space then Enter untoggled what was just ticked, and Apply then changed nothing.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "screen.apply", "Apply", show=False)]

    def render_line(self, y: int) -> Strip:
        line = OptionList.render_line(self, y)  # the prompt, without SelectionList's button
        index = self.scroll_offset.y + y
        try:
            value = self.get_option_at_index(index).value
        except OptionDoesNotExist:
            return line
        chosen = list(self.selected)
        base = next(iter(line)).style or self.rich_style
        meta = Style(meta={"option": index})  # a click on the mark toggles the row
        if value in chosen:
            n = chosen.index(value) + 1
            mark = f"[{n}]" if n < 10 else "[+]"
            color = self.get_component_rich_style("selection-list--button-selected").color
            style = base + Style(bold=True, color=color) + meta
        else:
            mark, style = "[ ]", base + Style(dim=True) + meta
        return Strip([Segment(mark, style), Segment(" ", base), *line])


class LanguagesScreen(Dialog):
    """Choose 2 to 4 pane languages (or ``all``, the whole pool), in the order they are
    ticked; a line under the list shows the panes as they will be, or why Apply would refuse."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self, available: list[str], current: list[str], counts: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.available = available
        self.current = current
        self.counts = counts or {}

    def compose(self) -> ComposeResult:
        choices = [*self.available, "all"]
        with Vertical(classes="dialog") as box:
            box.border_title = "Pane languages"
            yield Label(
                "Tick 2 to 4 (Space); panes follow the order you tick them in. Enter applies."
            )
            yield LanguageList(
                *(
                    Selection(
                        Text.assemble(
                            lang_tag(x) if x != "all" else (" all ", "reverse"),
                            " ",
                            (self.counts.get(x, ""), "dim"),
                        ),
                        x,
                        x in self.current,
                    )
                    for x in choices
                ),
                id="langs",
            )
            yield Static("", id="order")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield KeyButton("Apply", variant="primary", id="apply")
                yield KeyButton("Cancel", id="cancel")

    def on_mount(self) -> None:
        super().on_mount()
        chosen = self.query_one(SelectionList)
        # the current panes' order, not the list's
        for lang in self.current:
            chosen.deselect(lang)
        for lang in self.current:
            chosen.select(lang)
        chosen.focus()
        self._show_order()

    @on(SelectionList.SelectedChanged)
    def _show_order(self) -> None:
        """The panes, left to right, as Apply would make them; the refusal goes away as soon
        as the count is right again."""
        chosen = list(self.query_one(SelectionList).selected)
        line = Text("Panes, left to right: ", style="bold")
        for lang in chosen:
            line.append_text(lang_tag(lang) if lang != "all" else Text(" all ", "reverse"))
            line.append(" ")
        if not chosen:
            line.append("none ticked", style="dim")
        self.query_one("#order", Static).update(line)
        if 2 <= len(chosen) <= 4:
            self.query_one("#error", Static).update("")

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        chosen = list(self.query_one(SelectionList).selected)
        if not 2 <= len(chosen) <= 4:
            self.query_one("#error", Static).update(
                f"not applied: choose 2 to 4 languages ({len(chosen)} ticked)"
            )
        else:
            self.dismiss(chosen)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
