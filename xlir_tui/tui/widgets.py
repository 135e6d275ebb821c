"""Widgets of the explorer: result panes and the bias panel."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..langs import lang_style


def lang_tag(lang: str) -> Text:
    return Text(f" {lang} ", style=f"{lang_style(lang)} reverse")


class ResultPane(Vertical):
    """One column: a title (language, model, AP) and the ranked results."""

    def __init__(self, number: int, pane: Any = None, system_name: str = "", **kwargs: Any) -> None:
        super().__init__(classes="pane", **kwargs)
        self.number = number
        self.pane = pane
        self.system_name = system_name
        self.result: Any = None

    def compose(self) -> ComposeResult:
        # before the first query the title already says what the pane will show
        title = Text()
        if self.pane is not None:
            title.append_text(
                lang_tag(self.pane.lang) if self.pane.lang else Text(" all ", style="reverse")
            )
            title.append(f" {self.system_name}", style="bold")
            if self.pane.restrict:
                title.append(" (own pool)", style="dim")
        yield Static(title, classes="pane-title", id=f"title-{self.number}")
        table: DataTable = DataTable(
            cursor_type="row", zebra_stripes=True, id=f"table-{self.number}"
        )
        table.add_columns("#", "score", "lang", "✓", "sentence")
        yield table

    def set_title(self, text: Text | str) -> None:
        self.query_one(".pane-title", Static).update(text)

    def show(self, result: Any) -> None:
        """Fill the table from a :class:`~xlir_tui.session.PaneResult`."""
        self.result = result
        table = self.query_one(DataTable)
        table.clear()
        pane = result.pane
        title = Text()
        title.append_text(lang_tag(pane.lang) if pane.lang else Text(" all ", style="reverse"))
        title.append(f" {result.system_name}", style="bold")
        if pane.restrict:
            title.append(" (own pool)", style="dim")
        if result.ap is not None:
            title.append(f"  AP {result.ap:.3f}", style="bold green")
        if result.note:
            title.append(f"  {result.note}", style="yellow")
        if result.query and result.query_lang:  # question mode: each pane's own translation
            title.append(f"\n{result.query}", style="italic")
        self.set_title(title)
        for hit in result.hits:
            mark = Text("✓", style="bold green") if hit.id in result.relevant_ids else ""
            table.add_row(
                str(hit.rank), f"{hit.score:.3f}", lang_tag(hit.lang), mark, hit.text, key=hit.id
            )

    def selected_hit(self) -> Any:
        table = self.query_one(DataTable)
        if self.result is None or not self.result.hits or table.cursor_row is None:
            return None
        row = table.cursor_row
        return self.result.hits[row] if 0 <= row < len(self.result.hits) else None


def _bar(share: float, expected: float | None, width: int = 14) -> Text:
    filled = round(max(0.0, min(share, 1.0)) * width)
    text = Text("█" * filled, style="bold") + Text("·" * (width - filled), style="dim")
    if expected is not None:
        mark = min(int(expected * width), width - 1)
        text = text[:mark] + Text("│", style="bold red") + text[mark + 1 :]
    return text


class BiasPanel(Static):
    """Language shares of the top k (this query and the session) against the pool's shares."""

    def render_stats(
        self,
        results: list[Any],
        sessions: list[dict[str, Any]],
        expected: dict[str, float],
        system_names: list[str],
        k: int,
    ) -> None:
        grid = Table.grid(padding=(0, 1))
        grid.add_column()
        grid.add_row(Text(f"Language bias, top {k} of the whole pool", style="bold"))
        grid.add_row(Text("bar: share of the top k; │ expected without bias", style="dim"))
        for place, name in enumerate(system_names):
            mine = [r for r in results if r.pane.system == place and r.hits]
            grid.add_row(Text(f"\n{name}", style="bold underline"))
            if mine:
                shares: dict[str, float] = {}
                for r in mine:
                    for lang, s in r.shares.items():
                        shares[lang] = shares.get(lang, 0.0) + s / len(mine)
                grid.add_row(Text("this query", style="bold"))
                grid.add_row(self._shares(shares, expected))
                for r in mine:
                    bits = []
                    label = r.pane.lang or "all"
                    if r.own_share is not None:
                        bits.append(
                            f"own {r.own_share:.0%} (exp. "
                            f"{expected.get(r.query_lang or '', 0):.0%})"
                        )
                    if r.ap is not None:
                        bits.append(f"AP {r.ap:.3f}")
                    if r.rank_distance is not None:
                        bits.append(f"rank dist {r.rank_distance}")
                    if bits:
                        grid.add_row(Text.assemble(lang_tag(label), " " + ", ".join(bits)))
            s = sessions[place] if place < len(sessions) else None
            if s and s["queries"]:
                grid.add_row(Text(f"session: {s['queries']} pane queries", style="bold"))
                grid.add_row(self._shares(s["shares"], expected))
                extra = []
                if s["own_share"] is not None:
                    extra.append(f"own-language {s['own_share']:.0%}")
                if s["map"] is not None:
                    extra.append(f"mAP {s['map']:.3f}")
                if s["rank_distance"] is not None:
                    extra.append(f"rank dist {s['rank_distance']:.1f}")
                if extra:
                    grid.add_row(Text(", ".join(extra)))
        self.update(grid)

    @staticmethod
    def _shares(shares: dict[str, float], expected: dict[str, float]) -> Table:
        t = Table.grid(padding=(0, 1))
        for _ in range(3):
            t.add_column()
        for lang in sorted(set(shares) | set(expected)):
            share = shares.get(lang, 0.0)
            t.add_row(lang_tag(lang), _bar(share, expected.get(lang)), f"{share:4.0%}")
        return t
