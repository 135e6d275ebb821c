"""Rich rendering of a bias report for the terminal (no UI framework: rich renderables only).

What comes from data (the collection's name, language codes, system labels, which name model
folders) goes into tables as :func:`~xlir_tui.safe_text.inert_text`: never parsed as markup,
its control characters made visible.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..cells import truncate
from ..langs import lang_style
from ..safe_text import inert, inert_text

# (label, setting, metric, higher is better)
SUMMARY_ROWS = [
    ("mono mAP", "mono", "map", True),
    ("mono R@1", "mono", "r@1", True),
    ("cross mAP", "cross", "map", True),
    ("cross R@1", "cross", "r@1", True),
    ("multi mAP", "multi", "map", True),
    ("multi R@10", "multi", "r@10", True),
    ("rank distance", "multi", "rank_distance", False),
]


def shorten(text: str, width: int = 80) -> str:
    """``text`` on one line of at most ``width`` terminal columns, cut with an ellipsis.

    For titles and table cells that show a person's text (a query, a passage): newlines and
    runs of spaces become one space, and columns are counted as a terminal draws them
    (:mod:`xlir_tui.cells`: Chinese two, a Devanagari vowel sign one), so a 20,000-character
    query cannot fill the screen; the cut falls between grapheme clusters, never between a
    letter and its marks. The text is made inert (:func:`~xlir_tui.safe_text.inert`): control
    characters become visible.
    """
    line = " ".join(inert(text).split())
    return truncate(line, max(width, 1))


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if metric == "rank_distance" else f"{value:.3f}"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """:data:`SUMMARY_ROWS`, with each setting's cut mAP (``map@20``, from ``--map-depth``)
    after its full mAP when the report has one."""
    cuts = sorted(
        {
            key
            for m in report["systems"]
            for block in m["summary"].values()
            if block
            for key in block
            if key.startswith("map@")
        }
    )
    rows: list[tuple[str, str, str, bool]] = []
    for label, setting, metric, higher in SUMMARY_ROWS:
        rows.append((label, setting, metric, higher))
        if metric == "map":
            rows += [(f"{setting} mAP@{c[4:]}", setting, c, True) for c in cuts]
    return rows


def candidate_input(system: dict[str, Any]) -> str:
    """How a system read its candidates: ``sentence`` or ``sentence + paragraph`` (LAReQA's
    input, ``--passage-context``)."""
    model = system.get("model") or {}
    return "sentence + paragraph" if model.get("passage_context") else "sentence"


def shared_base(systems: list[dict[str, Any]]) -> str | None:
    """The plain system's label when the report is one plain system and its remedies (each
    labelled ``<plain label> + <remedy>``), else None.

    Tables then name the model once, in their title, and head each column by what differs
    (``plain``, ``+ center``): a model's label is often longer than a column is wide at 80
    columns, and folding ``multilingual-e5-small + center`` mid-word in five columns side by
    side hid which column was which remedy.
    """
    plains = [m for m in systems if not m.get("debias")]
    if len(systems) < 2 or len(plains) != 1:
        return None
    base = plains[0]["label"]
    if all(m is plains[0] or m["label"].startswith(base + " + ") for m in systems):
        return base
    return None


def short_label(label: str, base: str | None) -> str:
    """A system's label without the :func:`shared_base` prefix (``plain`` for the base)."""
    if base is None:
        return label
    return "plain" if label == base else label[len(base) + 1 :]


def too_wide(table: Table, width: int | None) -> bool:
    """Whether ``table`` drawn without wrapping is wider than a terminal of ``width`` columns
    (None: no terminal width to fit, never too wide)."""
    if width is None:
        return False
    return Console(width=10_000).measure(table).maximum > width


def summary_table(report: dict[str, Any], width: int | None = None) -> Table:
    """One column per system; the better figure of each row is marked when systems are
    compared. The first row says how each system read its candidates. ``width``: the
    terminal's; a table of remedies wider than it wraps the systems' headers at their spaces."""
    systems = report["systems"]
    base = shared_base(systems)
    table = Table(
        title=inert_text(
            "Summary (LAReQA)" + (f": {base}, plain and with each remedy" if base else "")
        ),
        title_justify="left",
        caption="★ the best figure of the row (not a test of the difference)"
        if len(systems) > 1
        else None,
        caption_justify="left",
    )
    table.add_column("metric")
    for m in systems:
        table.add_column(
            inert_text(short_label(m["label"], base)), justify="right", overflow="fold"
        )
    table.add_row("candidates", *(candidate_input(m) for m in systems))
    for label, setting, metric, higher in summary_rows(report):
        values = [(m["summary"].get(setting) or {}).get(metric) for m in systems]
        present = [v for v in values if v is not None]
        best = (max(present) if higher else min(present)) if len(present) > 1 else None
        cells = []
        for v in values:
            text = _fmt(v, metric)
            cells.append(
                Text(f"{text} ★", style="bold green")
                if best is not None and v == best
                else Text(text)
            )
        table.add_row(label + ("" if higher else " (lower is better)"), *cells)
    if base is not None and too_wide(table, width):
        # each short label's longest word kept whole (``subspace(r=10)``, not cut before
        # ``)``), the rest wrapped at its spaces, so six systems fit in 80 columns
        table.columns[0].max_width = len("cross mAP@20")
        for m, column in zip(systems, table.columns[1:], strict=True):
            word = min(max(map(len, short_label(m["label"], base).split()), default=1), 16)
            column.min_width = word
            column.max_width = max(word, len("sentence"))
    return table


def _cell_style(v: float) -> str:
    """Background from red (0) through yellow to green (1), text readable on it."""
    v = min(max(v, 0.0), 1.0)
    if v < 0.5:
        r, g = 200, int(60 + 280 * v)
    else:
        r, g = int(200 - 300 * (v - 0.5)), 200
    return f"black on rgb({r},{g},60)"


def heatmap_table(report: dict[str, Any], system: dict[str, Any]) -> Table:
    langs = report["languages"]
    values = {(p["query_lang"], p["pool_lang"]): p["map"] for p in system["pairs"]}
    table = Table(
        title=inert_text(
            f"mAP by query language (rows) and pool language (columns): {system['label']}"
        ),
        title_justify="left",
        padding=(0, 0),
    )
    table.add_column("q \\ pool", justify="right")
    for lang in langs:
        table.add_column(inert_text(lang, lang_style(lang)), justify="center", min_width=5)
    for ql in langs:
        cells = []
        for pl_ in langs:
            v = values.get((ql, pl_))
            cells.append(
                Text("  —  ") if v is None else Text(f"{v:.2f}".center(5), style=_cell_style(v))
            )
        table.add_row(inert_text(ql, lang_style(ql)), *cells)
    return table


def _bar(share: float, width: int = 10) -> str:
    filled = round(min(max(share, 0.0), 1.0) * width)
    return "█" * filled + "·" * (width - filled)


def bias_table(report: dict[str, Any], system: dict[str, Any], bar_width: int = 10) -> Table:
    """Per query language: mAP, rank distance, own-language share of the top k vs expected.

    Its columns do not wrap (a figure cut over two rows misreads), so on a narrow terminal
    the share's bar is drawn ``bar_width`` wide (:func:`render_report` halves it below 90
    columns) rather than cutting the last columns' figures to an ellipsis."""
    k = system["bias"]["k"]
    table = Table(
        title=inert_text(f"Language bias (multi setting, top {k}): {system['label']}"),
        title_justify="left",
        caption="own@k: share of the top k in the query's "
        "language; exp.: its share of the pool; unk: tokenizer unknown-token rate",
        caption_justify="left",
    )
    for col in ("lang", "q", "mono", "multi", "rank dist", f"own@{k}", "exp.", "ratio", "unk"):
        table.add_column(
            col, justify="left" if col in ("lang", f"own@{k}") else "right", no_wrap=True
        )
    peer = any((v.get("multi") or {}).get("peer") for v in system["languages"].values())
    if peer:
        table.add_column("PEER p", justify="right", no_wrap=True)
    for lang, v in system["languages"].items():
        multi = v.get("multi")
        mono = v.get("mono")
        row = [
            inert_text(lang, lang_style(lang)),
            str(v["questions"]),
            _fmt(mono["map"] if mono else None, "map"),
            _fmt(multi["map"] if multi else None, "map"),
            _fmt(multi["rank_distance"] if multi else None, "rank_distance"),
            f"{_bar(multi['same_language_share'], bar_width)} {multi['same_language_share']:.2f}"
            if multi
            else "—",
            f"{multi['expected_same_language_share']:.2f}" if multi else "—",
            f"{multi['same_language_ratio']:.1f}×"
            if multi and multi["same_language_ratio"]
            else "—",
            f"{v['unk_rate']:.1%}" if v.get("unk_rate") is not None else "—",
        ]
        if peer:
            p = (multi or {}).get("peer")
            row.append(("<1e-300" if p["p"] == 0 else f"{p['p']:.1e}") if p else "—")
        table.add_row(*row)
    return table


def comparison_table(report: dict[str, Any], width: int | None = None) -> Table | None:
    """Each system against its baseline (the first, or a debiased system's plain one): mean
    difference per query, 95% interval, Holm p.

    A table of remedies wider than the terminal (``width``) wraps the metric, the interval
    and p, so a system's name keeps its row and the last column is not pushed off it."""
    block = report.get("comparisons")
    if not block or not block["results"]:
        return None
    bases = list(dict.fromkeys(c["baseline"] for c in block["results"]))
    base = shared_base(report["systems"]) if len(bases) == 1 else None
    base = base if base == bases[0] else None
    title = (
        f"Compared with {bases[0]} (paired, per query)"
        if len(bases) == 1
        else "Each system compared with its baseline (paired, per query; a debiased system "
        "with its plain system)"
    )
    table = Table(
        title=inert_text(title),
        title_justify="left",
        caption=f"difference = system - baseline; 95% percentile bootstrap (each interval on "
        "its own, not Holm-corrected: it may leave out 0 where the corrected p is above 0.05); "
        "paired "
        f"randomisation test, Holm-corrected over {len(block['results'])} comparisons; "
        f"{block['resamples']} resamples, seed {block['seed']}; ✱ significant at 0.05; ≤: no "
        "resample reached the observed difference (the test's resolution, not an exact p)",
        caption_justify="left",
    )
    columns = ["system", *(["baseline"] if len(bases) > 1 else []), "metric"]
    for col in (*columns, "difference", "95% interval", "p (Holm)", ""):
        table.add_column(col, justify="left" if col in columns else "right")
    for c in block["results"]:
        metric = f"{c['setting']} {'mAP' if c['metric'] == 'ap' else 'rank distance'}"
        digits = 1 if c["metric"] == "rank_distance" else 4
        lo, hi = c["ci95"]
        mark = ""
        if c["significant"]:
            mark = Text(
                "✱ better" if c["better"] else "✱ worse",
                style=("bold green" if c["better"] else "bold red"),
            )
        table.add_row(
            inert_text(short_label(c["system"], base)),
            *([inert_text(c["baseline"])] if len(bases) > 1 else []),
            metric,
            f"{c['mean_difference']:+.{digits}f}",
            f"[{lo:+.{digits}f}, {hi:+.{digits}f}]",
            p_text(c, block["resamples"]),
            mark,
        )
    if base is not None and too_wide(table, width):
        # short labels (``+ subspace(r=10)``) kept on one row; the metric, the interval and
        # p wrap instead (``multi rank`` / ``distance``, ``[-0.0102,`` / ``-0.0054]``)
        table.columns[0].min_width = min(
            max(len(short_label(c["system"], base)) for c in block["results"]), 18
        )
        table.columns[1].max_width = 10
        table.columns[3].max_width = 9
        table.columns[4].max_width = 6
    return table


def p_text(c: dict[str, Any], resamples: int) -> str:
    """A comparison's Holm-corrected p as printed: ``≤`` before it when no resample of the
    randomisation test reached the observed difference, so the raw p is the smallest the
    two-sided test can give, 2 / (resamples + 1), and the true p may be far smaller."""
    floor = 2.0 / (resamples + 1)
    at_floor = c.get("p") is not None and 0 < c["p"] <= floor * (1 + 1e-9)
    return f"{'≤' if at_floor else ''}{c['p_holm']:.2g}"


def render_report(console: Console, report: dict[str, Any]) -> None:
    """Print the whole report: header, summary, then per system a heatmap and a bias table."""
    head = inert_text(report["collection"], "bold")
    head.append_text(
        inert_text(
            f": {report['questions']} questions, "
            f"{report['candidates']} candidates, {len(report['languages'])} languages "
            f"({', '.join(report['languages'])}); settings: {report['settings']['mono']} mono, "
            f"{report['settings']['cross']} cross, {report['settings']['multi']} multi"
        )
    )
    console.print(Panel(head, expand=False))
    for note in report.get("notes", []):
        console.print(Text("note: ", style="yellow") + inert_text(note), highlight=False)
    console.print(summary_table(report, console.width))
    compared = comparison_table(report, console.width)
    if compared is not None:
        console.print(compared)
    for m in report["systems"]:
        parts = []
        if report["settings"]["cross"]:
            parts.append(heatmap_table(report, m))
        parts.append(bias_table(report, m, bar_width=10 if console.width >= 90 else 5))
        if m.get("ann"):
            a = m["ann"]
            parts.append(
                Text(
                    f"hnsw (ef {a['ef']}, top {a['depth']}): multi mAP {a['multi']['map']:.4f} "
                    f"({a['difference']['map']:+.4f} from exact), R@10 {a['multi']['r@10']:.4f} "
                    f"({a['difference']['r@10']:+.4f})"
                )
            )
        console.print(Group(*parts))
