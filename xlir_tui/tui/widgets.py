"""Widgets of the explorer: result panes, the bias panel and its plots, the loading panel.

Text from data (sentences, questions, language codes, system names, which name model folders)
is drawn only as :func:`~xlir_tui.safe_text.inert_text` or through
:func:`~xlir_tui.evaluation.render.shorten` (inert too): a ``Text`` is never parsed as markup, and
its control characters are made visible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.highlighter import Highlighter
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from ..cells import text_width, truncate, wrap
from ..evaluation.render import shorten
from ..langs import lang_style
from ..safe_text import inert, inert_text

EXPECTED_COLOR = (140, 140, 140)
"""The pool's share (what an unbiased retriever gives) in every plot and legend."""
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


# --------------------------------------------------------------------------------- bias


EIGHTHS = " ▁▂▃▄▅▆▇█"


def share_chart(
    heading: str,
    langs: list[str],
    series: list[tuple[list[float], tuple[int, int, int]]],
    width: int,
    height: int,
) -> Text:
    """Grouped vertical bars of per-language shares in ``width`` x ``height`` cells: one bar
    per system in each language's group, and the pool's share (``series[0]``, what an
    unbiased retriever would give) as a grey tick across the group.

    Drawn by hand because plotext, at the eight to twelve rows a terminal can spare, draws
    bars in whole or half rows and lets two systems' bars overlap; a share read against the
    pool's share needs an eighth of a row and bars side by side.
    """
    if not langs or len(series) < 2:
        return Text(inert(heading).center(width)[:width], style="bold")
    (pool, _), systems = series[0], series[1:]
    rows = max(height - 3, 2)
    top = max(max(values) for values, _ in series)
    ceiling = min(1.0, max(0.2, math.ceil(top * 5 - 1e-9) / 5))
    axis = 5  # "100%" and the axis line; left out when the groups would not fit
    if (width - axis) // len(langs) < 1 + len(systems):
        axis = 0
        # no room for the axis: its scale goes in the heading, so the bars can still be read
        scaled = f"{heading} · top {ceiling:.0%}"
        heading = scaled if len(inert(scaled)) <= width else heading
    out = Text(inert(heading).center(width)[:width], style="bold")
    group = max(1 + len(systems), (width - axis) // len(langs))
    bar = max(1, min(4, (group - 1) // len(systems)))
    before = (group - bar * len(systems)) // 2  # bars in the middle of their group
    pool_style = rgb(EXPECTED_COLOR)

    def eighths(value: float) -> int:
        return round(max(0.0, min(value, ceiling)) / ceiling * rows * 8)

    for row in range(rows, 0, -1):  # from the top row down
        line = Text()
        label = {rows: f"{ceiling:.0%}", (rows + 1) // 2: f"{ceiling / 2:.0%}"}.get(row, "")
        if axis:
            line.append(f"{label:>4}┤" if label else "    │", style="dim")
        for i, _lang in enumerate(langs):
            cells = Text(" " * before)
            for values, color in systems:
                level = eighths(values[i]) - (row - 1) * 8
                char = EIGHTHS[max(0, min(level, 8))]
                cells.append(char * bar, style=rgb(color))
            cells.append(" " * (group - before - bar * len(systems)))
            if eighths(pool[i]) // 8 == row - 1 or (row == 1 and eighths(pool[i]) < 8):
                # the pool's share: a tick in the empty cells of this row
                plain = cells.plain
                mark = "▔" if eighths(pool[i]) % 8 >= 4 else "▁"
                for x, ch in enumerate(plain):
                    if ch == " ":
                        cells.stylize(pool_style, x, x + 1)
                cells = Text.assemble(
                    *(
                        (mark, pool_style) if ch == " " else cells[x : x + 1]
                        for x, ch in enumerate(plain)
                    )
                )
            line.append_text(cells)
        line.truncate(width)
        out.append("\n")
        out.append_text(line)
    out.append("\n")
    out.append(Text(("   0└" if axis else "") + "─" * (group * len(langs)))[:width])
    out.stylize("dim", len(out) - min(width, axis + group * len(langs)))
    labels = Text(" " * axis)
    for lang in langs:
        code = inert(lang)[: group - 1]
        left = max(0, min(before + (bar * len(systems) - len(code)) // 2, group - len(code)))
        labels.append((" " * left + code).ljust(group), style=lang_style(lang))
    labels.truncate(width)
    out.append("\n")
    out.append_text(labels)
    return out


class SharePlot(Static):
    """A :func:`share_chart`, drawn again only when its data or its size change."""

    def __init__(self, heading: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heading = heading
        self.langs: list[str] = []
        self.series: list[tuple[list[float], tuple[int, int, int]]] = []
        self._drawn: tuple[Any, ...] | None = None

    def set_data(
        self,
        heading: str,
        langs: list[str],
        series: list[tuple[list[float], tuple[int, int, int]]],
    ) -> None:
        """``series``: the pool's shares first, then each system's."""
        self.heading, self.langs, self.series = heading, langs, series
        self.draw()

    def draw(self) -> None:
        width, height = self.content_size
        key = (self.heading, tuple(self.langs), repr(self.series), width, height)
        if key != self._drawn and width > 0:
            self._drawn = key
            chart = share_chart(self.heading, self.langs, self.series, width, height)
            self.update(chart, layout=False)

    def on_resize(self) -> None:
        self.draw()


class BiasPanel(Vertical):
    """Language shares of the top k (this query and the session) against the pool's shares,
    as two plots, with the figures beside them (own-language share, AP, rank distance)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="bias-legend")
        with Horizontal(id="bias-body"):
            yield SharePlot("this query", id="plot-query", classes="share-plot")
            yield SharePlot("session", id="plot-session", classes="share-plot")
            with VerticalScroll(id="bias-figures"):
                yield Static(
                    "Language bias appears here after the first query.\n\nType a query, or "
                    "press F2 to run the collection's questions in every pane.",
                    id="bias-text",
                )

    def render_stats(
        self,
        results: list[Any],
        session: dict[str, Any],
        expected: dict[str, float],
        system_names: list[str],
        k: int,
        langs: list[str] | None = None,
    ) -> None:
        """Draw the plots and figures: this query's ``results``, the ``session`` summary
        (:meth:`~xlir_tui.app.explore.Session.summary`, on the same runs for every system), the
        pool's shares ``expected``; languages in the order ``langs`` (the panes' first)."""
        langs = list(langs or sorted(expected))
        self.legend_names = (k, list(system_names))
        self.query_one("#bias-legend", Static).update(
            legend(k, system_names, self._legend_width()), layout=True
        )
        now: list[tuple[list[float], tuple[int, int, int]]] = [
            ([expected.get(x, 0.0) for x in langs], EXPECTED_COLOR)
        ]
        past = list(now)
        runs = session["runs"] if session else 0
        for place in range(len(system_names)):
            shares = query_shares(results, place)
            if shares:
                now.append(([shares.get(x, 0.0) for x in langs], SYSTEM_COLORS[place % 2]))
            if runs and place < len(session["systems"]):
                mine = session["systems"][place]["all"]["shares"]
                past.append(([mine.get(x, 0.0) for x in langs], SYSTEM_COLORS[place % 2]))
        self.query_one("#plot-query", SharePlot).set_data("this query", langs, now)
        heading = session_counts(session, short=True) if runs else "session: none yet (Enter)"
        room = self.query_one("#plot-session", SharePlot).size.width - 2
        if runs and room > 0 and text_width(heading) > room:  # 80x24: cut, "+ 4 fr" was left
            heading = session_counts(session, short=True, tiny=True)
        self.query_one("#plot-session", SharePlot).set_data(heading, langs, past if runs else [])
        self.query_one("#bias-text", Static).update(
            bias_figures(results, session, expected, system_names)
        )

    legend_names: tuple[int, list[str]] | None = None

    def _legend_width(self) -> int:
        return self.query_one("#bias-legend", Static).content_size.width or self.size.width - 4

    def on_resize(self) -> None:
        if self.legend_names is not None:
            k, names = self.legend_names
            self.query_one("#bias-legend", Static).update(
                legend(k, names, self._legend_width()), layout=True
            )


def legend(k: int, system_names: Sequence[str], width: int) -> Text:
    """What the colours of the plots are, in ``width`` columns: on one line when it fits, else
    the systems on a second line, each name shortened to its share of the line (at 80 columns
    the second system's name was cut off)."""
    head = Text(f"Share of the top {k} by language: ", style="bold")
    pool = Text.assemble(("█ ", rgb(EXPECTED_COLOR)), "pool (no bias)")
    items = [
        Text.assemble(("█ ", rgb(SYSTEM_COLORS[place % 2])), inert(name))
        for place, name in enumerate(system_names)
    ]
    one = Text.assemble(head, pool, *(Text.assemble("  ", x) for x in items))
    if text_width(one.plain) <= width:
        return one
    first = Text.assemble(Text(f"top {k} by language: ", style="bold"), pool)
    room = max((width - 2 * (len(items) - 1)) // max(len(items), 1) - 2, 4)
    second = Text()
    for i, name in enumerate(system_names):
        if i:
            second.append("  ")
        second.append("█ ", style=rgb(SYSTEM_COLORS[i % 2]))
        second.append(shorten(name, room))
    return Text.assemble(first, "\n", second)


def query_shares(results: Sequence[Any], place: int) -> dict[str, float]:
    """The mean language shares of one system's panes for the last query."""
    mine = [r for r in results if r.pane.system == place and r.hits]
    shares: dict[str, float] = {}
    for r in mine:
        for lang, s in r.shares.items():
            shares[lang] = shares.get(lang, 0.0) + s / len(mine)
    return shares


def session_counts(session: dict[str, Any], short: bool = False, tiny: bool = False) -> str:
    """What the session's figures count, in words: questions and the languages each was
    asked in (a run: one question in one pane language), and free texts (a run each);
    ``tiny`` for a narrow plot's heading (``2 q in 5 runs + 4 free``)."""
    q, runs, free = session["questions"], session["question_runs"], session["free_texts"]
    langs = len(session["languages"])
    parts = []
    if q:
        plural = "s" if q != 1 else ""
        question = "q" if tiny else f"question{plural}"
        if runs == q * langs:
            lang_word = ("lang" if short or tiny else "language") + ("s" if langs != 1 else "")
            parts.append(f"{q} {question} × {langs} {lang_word}")
        else:
            parts.append(f"{q} {question} in {runs} runs")
    if free:
        parts.append(f"{free} free" if tiny else f"{free} free text{'s' if free != 1 else ''}")
    return "session: " + " + ".join(parts) if parts else "session: none yet"


def _percent(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "—"


def _ap(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "—"


def _rank(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value < 100 and value != int(value) else f"{value:.0f}"


def _figures_table(
    corner: str,
    first: str,
    rows: list[tuple[Text, str, list[tuple[float | None, float | None, float | None]]]],
    system_names: Sequence[str],
) -> Any:
    """A table of figures, one row per language: a first column (the pool's share, or the
    runs counted), then own-language share, AP and rank distance, each with a column per
    system marked by its colour when systems are compared; ``corner`` names the table."""
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    n = len(system_names)
    for _ in range(3 * n):
        table.add_column(justify="right", no_wrap=True)
    head: list[Text] = [Text(corner, style="bold"), Text(first, style="dim")]
    for label in ("own", "AP" if first == "pool" else "MAP", "rank"):
        for place in range(n):
            cell = Text(label, style="dim")
            if n > 1:
                cell.append("█", style=rgb(SYSTEM_COLORS[place % 2]))
            head.append(cell)
    table.add_row(*head)
    for tag, lead, values in rows:
        cells: list[Any] = [tag, lead]
        cells += [_percent(v[0]) for v in values]
        cells += [_ap(v[1]) for v in values]
        cells += [_rank(v[2]) for v in values]
        table.add_row(*cells)
    return table


def bias_figures(
    results: Sequence[Any],
    session: dict[str, Any] | None,
    expected: dict[str, float],
    system_names: list[str],
) -> Any:
    """The figures the plots cannot show: for this query, each pane language's own-language
    share of the top k (against the pool's share of that language), AP and rank distance;
    for the session, the same means over all its runs and per language, every system on the
    same runs. Systems side by side in each row, marked by their colours."""
    from rich.console import Group

    if not any(r.hits for r in results) and not (session and session["runs"]):
        return Text(
            "Language bias appears here after the first query.\n\nType a query, or press F2 "
            "to run the collection's questions in every pane."
        )
    n = len(system_names)
    parts: list[Any] = []
    # this query: a row per pane language, each system's figures side by side
    by_lang: dict[str | None, list[Any]] = {}
    for r in results:
        if r.pane.system < n and (r.own_share is not None or r.ap is not None):
            by_lang.setdefault(r.pane.lang, [None] * n)[r.pane.system] = r
    if by_lang:
        rows = []
        for lang, mine in by_lang.items():
            pool = expected.get(lang or "")
            values = [
                (r.own_share, r.ap, r.rank_distance) if r is not None else (None, None, None)
                for r in mine
            ]
            rows.append((pool_tag(lang), _percent(pool), values))
        parts.append(_figures_table("query", "pool", rows, system_names))
    elif any(r.hits for r in results):
        parts.append(
            Text(
                "Free text: the plots count the languages of the whole pool's top results. "
                "Question mode (F2) adds each language's own-language share, AP and rank "
                "distance.",
                style="dim",
            )
        )
    if session and session["runs"]:
        heading = Text(session_counts(session), style="bold")
        if n > 1:
            heading.append(", paired", style="bold")  # every system on the same runs
        parts.append(heading)
        systems = session["systems"][:n]
        if session["question_runs"]:
            rows = [
                (
                    Text(" all", style="bold"),
                    str(session["question_runs"]),
                    [
                        (s["all"]["own_share"], s["all"]["map"], s["all"]["rank_distance"])
                        for s in systems
                    ],
                )
            ]
            for lang in session["languages"]:
                figures = [s["languages"][lang] for s in systems]
                values = [(f["own_share"], f["map"], f["rank_distance"]) for f in figures]
                rows.append((lang_tag(lang), str(figures[0]["runs"]), values))
            parts.append(_figures_table("", "n", rows, system_names))
    return Group(*parts)


def bias_line(
    results: Sequence[Any], expected: dict[str, float], system_names: list[str], k: int, width: int
) -> Text:
    """The bias of the last query on one line of ``width`` columns, for when the panel is
    hidden: the languages of the top k, most frequent first (each system's, marked by its
    colour when compared). Where the line is too short, the least frequent languages give
    way to a count (``+3``), and ``F9 plots`` stays at its end."""
    if not any(r.hits for r in results):
        return Text("bias: after the first query (F9: the plots)", style="dim")
    lists = []
    for place in range(len(system_names)):
        shares = query_shares(results, place)
        if shares:
            ranked = sorted(shares.items(), key=lambda x: (-x[1], x[0]))
            lists.append((place, [(lang, v) for lang, v in ranked if v > 0]))
    values = {round(v, 2) for v in expected.values()}
    pool = f"· pool {next(iter(values)):.0%} each " if len(values) == 1 else ""
    end = "· F9 plots"

    def line(kept: list[int], with_pool: bool) -> Text:
        out = Text(f"top {k}:", style="bold")
        for (place, items), n in zip(lists, kept, strict=True):
            out.append(" ")
            if len(system_names) > 1:
                out.append("█", style=rgb(SYSTEM_COLORS[place % 2]))
            for lang, share in items[:n]:
                out.append_text(lang_tag(lang))
                out.append(f"{share:.0%} ")
            if n < len(items):
                out.append(f"+{len(items) - n} ", style="dim")
        if with_pool and pool:
            out.append(pool, style="dim")
        out.append(end, style="dim")
        return out

    kept = [len(items) for _, items in lists]
    with_pool = True
    out = line(kept, with_pool)
    while text_width(out.plain) > width:
        if with_pool and pool:
            with_pool = False
        elif any(n > 1 for n in kept):
            i = max(range(len(kept)), key=lambda j: kept[j])
            kept[i] -= 1
        else:
            out.truncate(max(width, 10), overflow="ellipsis")
            return out
        out = line(kept, with_pool)
    return out
