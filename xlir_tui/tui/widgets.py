"""Widgets of the explorer: result panes, the bias panel and its plots, the loading panel.

Text from data (sentences, questions, language codes, system names, which name model folders)
is drawn only as :func:`~xlir_tui.safe_text.inert_text` or through :func:`~xlir_tui.render.shorten`
(inert too): a ``Text`` is never parsed as markup, and its control characters are made visible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Console
from rich.highlighter import Highlighter
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from ..langs import lang_style
from ..render import shorten
from ..safe_text import inert, inert_text

EXPECTED_COLOR = (140, 140, 140)
"""The pool's share (what an unbiased retriever gives) in every plot and legend."""
SYSTEM_COLORS = ((66, 165, 245), (255, 167, 38))
"""The main system, then the one it is compared with."""
_CONSOLE = Console(width=200, color_system=None, file=None, legacy_windows=False)


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
    """One result in ``width`` cells: rank, score, language tag and ✓ (``relevant`` is None
    when relevance is unknown), then the sentence, wrapped under them with a hanging indent of
    the rank's width and cut with an ellipsis after ``max_lines`` lines (None: all of it).

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
    width = max(width, prefix.cell_len + 6)
    first_width, rest_width = width - prefix.cell_len, width - indent
    sentence = " ".join(inert(hit.text).split())
    # the first line is shorter than the others: wrap it alone, then the rest under the indent
    first = Text(sentence).wrap(_CONSOLE, first_width)[0].plain.rstrip() if sentence else ""
    lines = [first]
    rest = sentence[len(first) :].strip()
    if rest:
        lines += [x.plain.strip() for x in Text(rest).wrap(_CONSOLE, rest_width) if x.plain.strip()]
    if max_lines is not None and len(lines) > max_lines:
        # the last kept line runs on into the cut text, ended by an ellipsis
        kept = max(max_lines, 1)
        start = 0
        for line in lines[: kept - 1]:
            start = sentence.index(line, start) + len(line)
        room = first_width if kept == 1 else rest_width
        lines = [*lines[: kept - 1], shorten(sentence[start:], room)]
    out = Text()
    out.append_text(prefix)
    out.append(lines[0])
    for line in lines[1:]:
        out.append("\n" + " " * indent + line)
    return out


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
        title.append(f" {inert(self.system_name)} ", style="bold")
        if self.pane is not None and self.pane.restrict:
            title.append("own pool ", style="dim")
        return title

    def show(self, result: Any) -> None:
        """Fill the pane from a :class:`~xlir_tui.session.PaneResult` (the results are drawn
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
    out = Text(inert(heading).center(width)[:width], style="bold")
    if not langs or len(series) < 2:
        return out
    (pool, _), systems = series[0], series[1:]
    rows = max(height - 3, 2)
    top = max(max(values) for values, _ in series)
    ceiling = min(1.0, max(0.2, math.ceil(top * 5 - 1e-9) / 5))
    axis = 5  # "100%" and the axis line; left out when the groups would not fit
    if (width - axis) // len(langs) < 1 + len(systems):
        axis = 0
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
        sessions: list[dict[str, Any]],
        expected: dict[str, float],
        system_names: list[str],
        k: int,
    ) -> None:
        langs = sorted(expected)
        legend = Text(f"Share of the top {k} by language: ", style="bold")
        legend.append("█ ", style=rgb(EXPECTED_COLOR))
        legend.append("pool (no bias)")
        for place, name in enumerate(system_names):
            legend.append("  █ ", style=rgb(SYSTEM_COLORS[place % 2]))
            legend.append(inert(name))
        self.query_one("#bias-legend", Static).update(legend, layout=False)
        now: list[tuple[list[float], tuple[int, int, int]]] = [
            ([expected[x] for x in langs], EXPECTED_COLOR)
        ]
        past = list(now)
        queries = 0
        for place in range(len(system_names)):
            shares = query_shares(results, place)
            if shares:
                now.append(([shares.get(x, 0.0) for x in langs], SYSTEM_COLORS[place % 2]))
            s = sessions[place] if place < len(sessions) else None
            if s and s["queries"]:
                queries = max(queries, s["queries"])
                past.append(([s["shares"].get(x, 0.0) for x in langs], SYSTEM_COLORS[place % 2]))
        self.query_one("#plot-query", SharePlot).set_data("this query", langs, now)
        heading = (
            f"session, {queries} pane queries" if queries else "session: none yet (Enter records)"
        )
        self.query_one("#plot-session", SharePlot).set_data(heading, langs, past if queries else [])
        self.query_one("#bias-text", Static).update(
            bias_figures(results, sessions, expected, system_names)
        )


def query_shares(results: Sequence[Any], place: int) -> dict[str, float]:
    """The mean language shares of one system's panes for the last query."""
    mine = [r for r in results if r.pane.system == place and r.hits]
    shares: dict[str, float] = {}
    for r in mine:
        for lang, s in r.shares.items():
            shares[lang] = shares.get(lang, 0.0) + s / len(mine)
    return shares


def bias_figures(
    results: Sequence[Any],
    sessions: list[dict[str, Any]],
    expected: dict[str, float],
    system_names: list[str],
) -> Any:
    """The figures the plots cannot show, one table per system: each pane's own-language
    share of the top k against the pool's share of that language, AP and rank distance, and
    the session's means."""
    from rich.console import Group
    from rich.table import Table

    if not any(r.hits for r in results):
        return Text(
            "Language bias appears here after the first query.\n\nType a query, or press F2 "
            "to run the collection's questions in every pane."
        )
    parts: list[Any] = []
    for place, name in enumerate(system_names):
        if len(system_names) > 1:
            parts.append(
                Text.assemble(("█ ", rgb(SYSTEM_COLORS[place % 2])), (inert(name), "bold"))
            )
        mine = [r for r in results if r.pane.system == place and r.hits]
        rows = [r for r in mine if r.own_share is not None or r.ap is not None]
        s = sessions[place] if place < len(sessions) else None
        has_session = bool(s and s["queries"] and (s["own_share"] is not None or s["map"]))
        if not rows and not has_session:
            if mine:
                parts.append(
                    Text(
                        "Free text: the plots count the languages of the whole pool's top "
                        "results. Question mode (F2) adds each pane's own-language share, AP "
                        "and rank distance.",
                        style="dim",
                    )
                )
            continue
        table = Table.grid(padding=(0, 1))
        for justify in ("left", "right", "right", "right"):
            table.add_column(justify=justify)  # type: ignore[arg-type]
        table.add_row(*(Text(x, style="dim") for x in ("", "own/pool", "AP", "rank dist")))
        for r in rows:
            own = (
                f"{r.own_share:.0%}/{expected.get(r.query_lang or '', 0):.0%}"
                if r.own_share is not None
                else ""
            )
            table.add_row(
                pool_tag(r.pane.lang),
                own,
                f"{r.ap:.3f}" if r.ap is not None else "",
                str(r.rank_distance) if r.rank_distance is not None else "",
            )
        if has_session and s is not None:
            table.add_row(
                Text(f"session ({s['queries']})", style="bold"),
                f"{s['own_share']:.0%}" if s["own_share"] is not None else "",
                f"{s['map']:.3f}" if s["map"] is not None else "",
                f"{s['rank_distance']:.1f}" if s["rank_distance"] is not None else "",
            )
        parts.append(table)
    return Group(*parts)


def bias_line(
    results: Sequence[Any], expected: dict[str, float], system_names: list[str], k: int, width: int
) -> Text:
    """The bias of the last query on one line, for when the panel is hidden: the languages of
    the top k, most frequent first (each system's, marked by its colour when compared)."""
    out = Text(f"top {k}:", style="bold")
    for place in range(len(system_names)):
        shares = query_shares(results, place)
        if not shares:
            continue
        out.append(" ")
        if len(system_names) > 1:
            out.append("█", style=rgb(SYSTEM_COLORS[place % 2]))
        for lang, share in sorted(shares.items(), key=lambda x: (-x[1], x[0])):
            if share > 0:
                out.append_text(lang_tag(lang))
                out.append(f"{share:.0%} ")
    if not any(r.hits for r in results):
        return Text("bias: after the first query (F9: the plots)", style="dim")
    values = {round(v, 2) for v in expected.values()}
    if len(values) == 1:
        out.append(f"· pool {next(iter(values)):.0%} each ", style="dim")
    out.append("· F9 plots", style="dim")
    out.truncate(max(width, 10), overflow="ellipsis")
    return out
