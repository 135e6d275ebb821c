"""Widgets of the explorer: result panes, the loading panel, and the pieces every widget shares
(language tags, plot colours, inert input fields; the bias panel is in :mod:`~xlir_tui.tui.bias`).

Text from data (sentences, questions, language codes, system names, which name model folders)
is drawn only as :func:`~xlir_tui.safe_text.inert_text` or through
:func:`~xlir_tui.evaluation.render.shorten` (inert too): a ``Text`` is never parsed as markup, and
its control characters are made visible.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.highlighter import Highlighter
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from ..cells import text_width, truncate, wrap
from ..evaluation.render import shorten
from ..langs import lang_style
from ..safe_text import inert, inert_text

SYSTEM_COLORS = ((66, 165, 245), (255, 167, 38))
"""The main system, then the one it is compared with."""


class InertHighlighter(Highlighter):
    """Shows an input field's value made inert (a pasted escape sequence is drawn, not sent to
    the terminal); the value itself, what is searched, stays as it was typed. One code point
    for one, so the cursor and the selection stay where they were."""

    def highlight(self, text: Text) -> None:
        text.plain = inert(text.plain)


INERT = InertHighlighter()


def rgb(color: tuple[int, int, int]) -> str:
    """A plot colour as a rich style, so legends match the bars."""
    return "rgb({},{},{})".format(*color)


def lang_tag(lang: str) -> Text:
    return Text(f" {inert(lang)} ", style=f"{lang_style(lang)} reverse")


def fit_name(name: str, room: int) -> str:
    """``name`` cut to ``room`` cells for a pane's border, keeping what tells systems apart: a
    debiased system's remedy (``multilingual-e5-small + center`` becomes
    ``multilingual-e5… + center``), so two panes of one model never read the same."""
    if len(name) <= room:
        return name
    base, sep, suffix = name.rpartition(" + ")
    if sep and len(sep) + len(suffix) + 2 <= room:
        keep = room - len(sep) - len(suffix) - 1
        return f"{base[:keep]}…{sep}{suffix}"
    return f"{name[: max(room - 1, 0)]}…"


def pool_tag(lang: str | None) -> Text:
    """A pane's language tag, or ``all`` for the whole pool."""
    return lang_tag(lang) if lang else Text(" all ", style="reverse")


# ------------------------------------------------------------------------------ results


def hit_text(
    hit: Any,
    *,
    width: int,
    max_lines: int | None,
    rank_width: int = 2,
    score_width: int = 5,
    show_lang: bool = True,
    relevant: bool | None = None,
) -> Text:
    """One result in ``width`` columns: rank, score, language tag and ✓ (``relevant`` is None
    when relevance is unknown), then the sentence, wrapped under them with a hanging indent of
    the rank's width and cut with an ellipsis after ``max_lines`` lines (None: all of it).
    Lines break between words (Thai words too) and are measured as the terminal draws them
    (:mod:`xlir_tui.cells`), so no row runs past the pane's border.

    Written by hand because a table column would leave the sentence only what the prefix
    leaves on every line; wrapped under the rank, it gets nearly the pane's width from the
    second line on, which is what makes it readable in a 40-column pane.
    """
    prefix = Text()
    prefix.append(f"{hit.rank:>{rank_width}} ", style="dim")
    prefix.append(f"{hit.score:>{score_width}.3f} ")
    if show_lang:
        prefix.append_text(lang_tag(hit.lang))
    if relevant is not None:
        prefix.append("✓" if relevant else " ", style="bold green")
    if show_lang or relevant is not None:
        prefix.append(" ")
    indent = rank_width + 1
    width = max(width, text_width(prefix.plain) + 6)
    first_width, rest_width = width - text_width(prefix.plain), width - indent
    sentence = " ".join(inert(hit.text).split())
    # the first line is shorter than the others (the prefix stands before it)
    lines = wrap(sentence, rest_width, first_width)
    if max_lines is not None and len(lines) > max_lines:
        # the last kept line runs on into the cut text, ended by an ellipsis
        kept = max(max_lines, 1)
        start = 0
        for line in lines[: kept - 1]:
            start = sentence.index(line, start) + len(line)
        room = first_width if kept == 1 else rest_width
        lines = [*lines[: kept - 1], truncate(sentence[start:].lstrip(), room)]
    out = Text()
    out.append_text(prefix)
    out.append(lines[0])
    for line in lines[1:]:
        out.append("\n" + " " * indent + line)
    return out


def wrap_text(text: Text, width: int) -> Text:
    """``text`` (its lines, each a paragraph) wrapped to ``width`` columns by
    :func:`~xlir_tui.cells.wrap`, its styles kept: Textual's own wrapping breaks only at
    spaces and cuts a Thai paragraph inside a syllable."""
    out = Text()
    offset = 0
    plain = text.plain
    for n, paragraph in enumerate(plain.split("\n")):
        if n:
            out.append("\n")
        start = 0
        for i, line in enumerate(wrap(paragraph, width) if paragraph else [""]):
            start = paragraph.index(line, start) if line else start
            if i:
                out.append("\n")
            out.append_text(text[offset + start : offset + start + len(line)])
            start += len(line)
        offset += len(paragraph) + 1
    return out


class WrappedText(Static):
    """A :class:`~rich.text.Text` wrapped by :func:`wrap_text` to the widget's width, again
    whenever that width changes."""

    def __init__(self, text: Text, **kwargs: Any) -> None:
        super().__init__(text, **kwargs)
        self.text = text
        self._wrapped_at = 0

    def on_resize(self) -> None:
        width = self.content_size.width
        if width > 0 and width != self._wrapped_at:
            self._wrapped_at = width
            self.update(wrap_text(self.text, width))


class ResultPane(Vertical):
    """One column: the language and system in its border, the pane's own question (question
    mode), and the ranked results, each a sentence wrapped to the pane's width.

    Sentences take at most ``max_lines`` lines (None: whole sentences); the highlighted result
    is always shown whole. Results are drawn again whenever the pane's width changes.

    Shift+Tab goes back to the query bar from any pane, and a key typed in a pane goes on in
    the query bar: keys typed in a list would otherwise go nowhere.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("shift+tab", "app.focus_query", "Query bar", show=False)
    ]

    def __init__(
        self,
        number: int,
        pane: Any = None,
        system_name: str = "",
        max_lines: int | None = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(classes="pane", **kwargs)
        self.number = number
        self.pane = pane
        self.system_name = system_name
        self.max_lines = max_lines
        self.result: Any = None
        self._width = 0
        self._pending_highlight: int | None = 0
        self._expanded: int | None = None  # the result shown whole

    def compose(self) -> ComposeResult:
        yield Static("", classes="pane-query", id=f"query-{self.number}")
        yield OptionList(id=f"hits-{self.number}", classes="hits")

    def on_mount(self) -> None:
        # before the first query the border already says what the pane will show
        self.border_title = self._title()
        self.query_one(".pane-query", Static).display = False

    def _title(self) -> Text:
        title = Text()
        if self.pane is not None:
            title.append_text(pool_tag(self.pane.lang))
        # the AP before the name: a narrow pane's border cuts the end of its title
        if self.result is not None and self.result.ap is not None:
            title.append(f" AP {self.result.ap:.3f}", style="bold green")
        own = "own pool " if self.pane is not None and self.pane.restrict else ""
        room = self.size.width - 6 - title.cell_len - len(own)  # corners, margins, spaces
        name = inert(self.system_name)
        title.append(f" {fit_name(name, room) if self.size.width else name} ", style="bold")
        if own:
            title.append(own, style="dim")
        return title

    def show(self, result: Any) -> None:
        """Fill the pane from a :class:`~xlir_tui.app.explore.PaneResult` (the results are drawn
        again only when they differ from those shown: Enter after typing repeats the query)."""
        same = self.result is not None and _shown(self.result) == _shown(result)
        self.result = result
        if same:
            self.border_title = self._title()
            return
        self.system_name = result.system_name
        self.pane = result.pane
        self.border_title = self._title()
        self.refill(highlight=0)  # a new result list starts at its top, shown whole

    def _query_line(self) -> None:
        """Question mode: the pane's own translation of the question; and the pane's note
        (no candidates, a translated query), each shortened to the pane's width."""
        result = self.result
        line = self.query_one(".pane-query", Static)
        width = max(line.content_size.width or self.size.width - 4, 10)
        text = Text()
        if result.query and result.query_lang:
            text.append(shorten(result.query, width), style="italic")
        if result.note:
            room = width - text.cell_len - 2
            if room < 12:
                text = Text()
                room = width
            text.append(("  " if text else "") + shorten(result.note, room), style="yellow")
        line.display = bool(text)
        line.update(text, layout=False)  # one row, whatever it says
        tip = "\n".join(x for x in (result.query, result.note) if x)
        line.tooltip = inert_text(tip, multiline=True) if tip else None

    def set_max_lines(self, max_lines: int | None) -> None:
        if max_lines != self.max_lines:
            self.max_lines = max_lines
            self.refill()

    def _hits_width(self) -> int:
        hits = self.query_one(OptionList)
        padding = hits.get_component_styles("option-list--option").padding.width
        return hits.scrollable_content_region.width - padding

    def _prompt(self, index: int, full: bool = False) -> Text:
        result = self.result
        hit = result.hits[index]
        scores = [h.score for h in result.hits]
        score_width = max(len(f"{s:.3f}") for s in scores)
        whole_pool = result.pane.lang is None or (result.query_lang and not result.pane.restrict)
        return hit_text(
            hit,
            width=self._width,
            max_lines=None if full else self.max_lines,
            rank_width=len(str(result.hits[-1].rank)),
            score_width=score_width,
            show_lang=bool(whole_pool),
            relevant=(hit.id in result.relevant_ids) if result.relevant_ids else None,
        )

    def refill(self, highlight: int | None = None) -> None:
        """Draw the results again for the pane's current width (``highlight``: the result to
        highlight, else the one highlighted now)."""
        hits = self.query_one(OptionList)
        highlighted = hits.highlighted if highlight is None else highlight
        self._width = self._hits_width()
        if self._width <= 0 or self.result is None:
            self._pending_highlight = highlighted
            return  # not laid out yet: drawn on the first resize
        highlighted = highlighted if highlighted is not None else self._pending_highlight
        self._query_line()
        hits.clear_options()
        if self.result is None or not self.result.hits:
            return
        hits.add_options(
            Option(self._prompt(i, full=i == highlighted), id=hit.id)
            for i, hit in enumerate(self.result.hits)
        )
        self._expanded = highlighted
        if highlighted is not None and highlighted < hits.option_count:
            hits.highlighted = highlighted

    def on_resize(self) -> None:
        self.border_title = self._title()  # the model's name is fitted to the pane's width
        if self.result is not None and self._hits_width() != self._width:
            self.refill()

    @on(OptionList.OptionHighlighted)
    def _expand(self, event: OptionList.OptionHighlighted) -> None:
        """The highlighted result whole, the others back to ``max_lines``."""
        if self.result is None or self.max_lines is None:
            return
        hits = event.option_list
        if event.option_index == self._expanded:
            return
        if self._expanded is not None and self._expanded < hits.option_count:
            hits.replace_option_prompt_at_index(self._expanded, self._prompt(self._expanded))
        index = event.option_index
        hits.replace_option_prompt_at_index(index, self._prompt(index, full=True))
        self._expanded = index

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character and event.character != " ":
            event.stop()
            event.prevent_default()
            self.app.type_into_query(event.character)  # type: ignore[attr-defined]

    def selected_hit(self) -> Any:
        hits = self.query_one(OptionList)
        if self.result is None or not self.result.hits or hits.highlighted is None:
            return None
        i = hits.highlighted
        return self.result.hits[i] if 0 <= i < len(self.result.hits) else None


def _shown(result: Any) -> tuple[Any, ...]:
    """What a pane draws of a result."""
    return (
        [(h.id, h.rank, h.score) for h in result.hits],
        result.relevant_ids,
        result.query if result.query_lang else None,
        result.note,
        result.pane,
    )


class LoadingPanel(Vertical):
    """What happens while the model and the index load, with a bar and an estimate.

    A stage with counts (encoding the candidates) gets a bar with its own ETA; a stage without
    (building the embedded model on first use) shows the time so far against ``estimate_s``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage = ""
        self.estimate_s: float | None = None
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        yield Static(Text("Opening the explorer", style="bold"), id="load-title")
        yield Static("", id="load-stage")
        yield ProgressBar(total=None, show_eta=True, id="load-bar")
        yield Static("", id="load-note")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def set_stage(
        self, stage: str, done: int, total: int, note: str = "", estimate_s: float | None = None
    ) -> None:
        bar = self.query_one(ProgressBar)
        if stage != self.stage:
            self.stage = stage
            self.started = time.monotonic()
            self.estimate_s = estimate_s
            bar.update(total=total if total > 1 else None, progress=0)
            # without counts the bar only says that work goes on: no percentage, no ETA
            bar.show_percentage = bar.show_eta = total > 1
        if total > 1:
            bar.update(total=total, progress=done)
        if note:
            self.query_one("#load-note", Static).update(inert_text(note, "dim"))
        self._tick()

    def fail(self, error: str) -> None:
        """Stop the clock and the bar: nothing more will load."""
        self.stage = ""
        self.query_one(ProgressBar).display = False
        self.query_one("#load-stage", Static).update(Text("could not open", style="bold red"))
        self.query_one("#load-note", Static).update(inert_text(error, multiline=True))

    def _tick(self) -> None:
        if not self.stage:
            return
        elapsed = time.monotonic() - self.started
        text = inert_text(self.stage, "bold")
        if self.query_one(ProgressBar).total is None:
            text.append(f"  {elapsed:.0f} s", style="dim")
            if self.estimate_s:
                text.append(f" of about {self.estimate_s:.0f} s", style="dim")
        self.query_one("#load-stage", Static).update(text)
