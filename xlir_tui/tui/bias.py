"""The bias panel: per-language shares of the top results (this query and the session) against
the pool's shares, as bar plots, with the figures beside them; and the one-line bias under the
panes for when the panel is hidden.

Text from data (language codes, system names, which name model folders) is drawn only as
:func:`~xlir_tui.safe_text.inert_text` or through :func:`~xlir_tui.evaluation.render.shorten`
(inert too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from ..cells import text_width
from ..evaluation.render import shorten
from ..langs import lang_style
from ..safe_text import inert
from .widgets import SYSTEM_COLORS, lang_tag, pool_tag, rgb

EXPECTED_COLOR = (140, 140, 140)
"""The pool's share (what an unbiased retriever gives) in every plot and legend."""
EIGHTHS = " ▁▂▃▄▅▆▇█"


TAG_WIDTH = 2
"""Columns of a language tag under the share chart (ISO 639-1 codes)."""


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
    # a group narrower than a two-letter tag and a space: tags on two rows, every other
    # language on each, so that el, en and es stay apart (one letter each made them all "e")
    staggered = group - 1 < TAG_WIDTH
    rows = max(height - 3 - staggered, 2)
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
    for labels in _share_tags(langs, axis, group, before, bar * len(systems), staggered):
        labels.truncate(width)
        out.append("\n")
        out.append_text(labels)
    return out


def _share_tags(
    langs: list[str], axis: int, group: int, before: int, bars: int, staggered: bool
) -> list[Text]:
    """The language tags under the share chart, each centred under its group's ``bars``
    columns: one row, or two (every other language on each) when ``staggered``, where a tag
    may use its neighbour's room."""
    rows = []
    for parity in (0, 1) if staggered else (None,):
        labels = Text(" " * axis)
        for i, lang in enumerate(langs):
            if parity is not None and i % 2 != parity:
                continue
            span = group * (2 if parity is not None else 1)
            code = inert(lang)[: max(1, min(TAG_WIDTH, span - 1))]
            left = max(0, min(before + (bars - len(code)) // 2, span - len(code)))
            labels.append(" " * (axis + group * i - len(labels)))
            labels.append(" " * left + code, style=lang_style(lang))
        rows.append(labels)
    return rows


def fit_heading(headings: Sequence[str], width: int) -> str:
    """The first of ``headings`` (longest first) that fits ``width`` columns, else the last cut
    with an ellipsis: one rule wherever a plot is drawn, at the width it is drawn at (the
    session plot's heading was chosen for a width read before the layout had settled, and cut
    without a mark: ``session: 1 question × 5 langs + 3``)."""
    for heading in headings:
        if text_width(inert(heading)) <= width:
            return heading
    return shorten(headings[-1], max(width, 1))


class Fitted:
    """The first of several forms of a text (longest first) whose lines all fit the width it
    is drawn at, else the last: a Rich renderable, so a resize chooses again. The session's
    counts beside the figures wrapped mid-phrase in a narrow column (``+ 2`` / ``free
    texts``)."""

    def __init__(self, forms: Sequence[Text]) -> None:
        self.forms = list(forms)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        for form in self.forms:
            if all(text_width(line) <= options.max_width for line in form.plain.split("\n")):
                yield form
                return
        yield self.forms[-1]


class SharePlot(Static):
    """A :func:`share_chart`, drawn again only when its data or its size change; its heading
    the longest of its forms that fits (:func:`fit_heading`)."""

    def __init__(self, heading: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heading = heading
        """The heading drawn (the one of :attr:`headings` that fits)."""
        self.headings: list[str] = [heading]
        self.langs: list[str] = []
        self.series: list[tuple[list[float], tuple[int, int, int]]] = []
        self._drawn: tuple[Any, ...] | None = None

    def set_data(
        self,
        heading: str | Sequence[str],
        langs: list[str],
        series: list[tuple[list[float], tuple[int, int, int]]],
    ) -> None:
        """``heading``: one, or its forms longest first; ``series``: the pool's shares first,
        then each system's."""
        self.headings = [heading] if isinstance(heading, str) else list(heading)
        self.heading = self.headings[0]
        self.langs, self.series = langs, series
        self.draw()

    def draw(self) -> None:
        width, height = self.content_size
        key = (tuple(self.headings), tuple(self.langs), repr(self.series), width, height)
        if key != self._drawn and width > 0:
            self._drawn = key
            self.heading = fit_heading(self.headings, width)
            chart = share_chart(self.heading, self.langs, self.series, width, height)
            self.update(chart, layout=False)

    def on_resize(self) -> None:
        self.draw()


class BiasFigures(VerticalScroll):
    """The figures beside the plots. It says when its size or its content's size changes, so
    that the explorer can grow the panel to show every row: a single check after each refresh
    can run before the content's new height is laid out, and then a row stays below the fold.
    Both are needed: Textual sends ``Resize`` when the region's size changes, while a change of
    the content's height alone (a language's row added) only sets ``virtual_size``."""

    class Resized(Message):
        """The figures' size or their content's size changed."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())

    def watch_virtual_size(self) -> None:
        self.post_message(self.Resized())


class BiasPanel(Vertical):
    """Language shares of the top k (this query and the session) against the pool's shares,
    as two plots, with the figures beside them (own-language share, AP, rank distance)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="bias-legend")
        with Horizontal(id="bias-body"):
            yield SharePlot("this query", id="plot-query", classes="share-plot")
            yield SharePlot("session", id="plot-session", classes="share-plot")
            with BiasFigures(id="bias-figures"):
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
        headings = (
            [session_counts(session, short=True), session_counts(session, short=True, tiny=True)]
            if runs
            else ["session: none yet (Enter)", "session"]
        )
        self.query_one("#plot-session", SharePlot).set_data(headings, langs, past if runs else [])
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
        if r.pane.system < n and (r.same_language_share is not None or r.ap is not None):
            by_lang.setdefault(r.pane.lang, [None] * n)[r.pane.system] = r
    if by_lang:
        rows = []
        for lang, mine in by_lang.items():
            pool = expected.get(lang or "")
            values = [
                (r.same_language_share, r.ap, r.rank_distance)
                if r is not None
                else (None, None, None)
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
        paired = ", paired" if n > 1 else ""  # every system on the same runs
        full, short = session_counts(session), session_counts(session, short=True)
        # too narrow for one line: two, broken where the counts join, never inside a phrase
        broken = short.replace(" + ", "\n+ ", 1)
        parts.append(Fitted([Text(x + paired, style="bold") for x in (full, short, broken)]))
        systems = session["systems"][:n]
        if session["question_runs"]:
            rows = [
                (
                    Text(" all", style="bold"),
                    str(session["question_runs"]),
                    [
                        (
                            s["all"]["same_language_share"],
                            s["all"]["map"],
                            s["all"]["rank_distance"],
                        )
                        for s in systems
                    ],
                )
            ]
            for lang in session["languages"]:
                figures = [s["languages"][lang] for s in systems]
                values = [(f["same_language_share"], f["map"], f["rank_distance"]) for f in figures]
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
