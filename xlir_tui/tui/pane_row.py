"""The explorer's row of result panes, which scrolls by whole panes (or groups of them)."""

from __future__ import annotations

from typing import Any

from textual.containers import HorizontalScroll

from ..safe_text import inert_text
from .widgets import ResultPane


class PaneRow(HorizontalScroll, can_focus=False):
    """The row of panes: it shares its width among them again whenever that width changes,
    and when more panes than fit are shown, it moves by whole panes to the focused one.

    In compare mode the panes come in groups of ``group`` (one language, each system), and
    the row moves by whole groups, so that a language's panes are always seen side by side.

    Its overflow is hidden (see explorer.tcss): Textual would centre a focused pane, leaving
    halves of two panes in view; the borders of the panes at the edges say what waits beyond.
    """

    group = 1
    """Panes that stay together: the systems compared, else 1."""

    def on_resize(self) -> None:
        self.app.fit_panes()  # type: ignore[attr-defined]

    def on_descendant_focus(self, event: Any) -> None:
        pane = event.widget if isinstance(event.widget, ResultPane) else event.widget.parent
        if isinstance(pane, ResultPane):
            self.show_pane(pane)

    def show_pane(self, pane: ResultPane | None = None) -> None:
        """Bring ``pane`` into view (None: keep the view), and mark the edges."""
        panes = list(self.query(ResultPane))
        if not panes:
            return
        step = panes[0].outer_size.width + 1  # a pane and its left margin
        fit = max(1, self.size.width // step) if step > 1 else len(panes)
        group = self.group if fit % self.group == 0 else 1
        first = round(self.scroll_x / step) if step > 1 else 0
        if pane in panes:
            i = panes.index(pane)
            if i < first:
                first = i - i % group
            elif i >= first + fit:
                first = -(-(i - fit + 1) // group) * group  # up to a whole group
        first = max(0, min(first, len(panes) - fit))
        x = first * step if step > 1 else 0
        if x != self.scroll_x:
            # Through scroll_to, not set_scroll: set_scroll moves the row without telling the
            # screen, and a terminal then kept parts of the old frame (de's border over en's
            # results). force: the row's overflow is hidden, which refuses a plain scroll.
            self.scroll_to(x, None, animate=False, force=True, immediate=True)
            self.refresh()  # every cell of the row, the margins between panes included
        left, right = panes[:first], panes[first + fit :]
        for i, p in enumerate(panes):
            edge = []
            if i == first and left:
                edge.append(f"← {waiting(left, group)}")
            if i == first + fit - 1 and right:
                edge.append(f"{waiting(right, group)} → (Tab)")
            p.border_subtitle = inert_text(" · ".join(edge)) if edge else None


def waiting(panes: list[ResultPane], group: int) -> str:
    """What waits beyond an edge of the pane row: ``N more``, or in compare mode (``group``
    systems per language) the languages, since a count of panes would not say which."""
    if group == 1:
        return f"{len(panes)} more"
    langs = dict.fromkeys(p.pane.lang or "all" for p in panes if p.pane is not None)
    return " ".join(langs)
