"""``xlir-tui data``: get a collection, and see what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..safe_text import inert_text
from . import output
from .options import CollectionArg, FileLangOpt, JsonOpt, OldFileLangOpt, StrictOpt
from .output import print_json, progress_bar, say
from .values import file_lang_of, load


def data_get(
    name: Annotated[
        str, typer.Argument(help="Which collection: xquad-r or mlqa-r.", show_default=False)
    ],
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Copy from this local folder instead of downloading."),
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="Where to put it (default: data/<name>).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing folder.")
    ] = False,
) -> None:
    """Download XQuAD-R or MLQA-R (or copy it from a folder), verify it, write it atomically."""
    from ..data.sources import get_collection

    target = to or Path("data") / name
    with progress_bar(f"getting {name}") as update:
        report = get_collection(name, target, source=source, overwrite=overwrite, progress=update)
    say(
        f"{name}: {report['questions']} questions and {report['candidates']} candidates "
        f"in {len(report['languages'])} languages verified; written to {target}"
    )


def data_stats(
    collection: CollectionArg,
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Questions, candidates, relevant pairs and skipped questions per language."""
    c = load(collection, file_lang_of(file_lang, old_lang), strict)
    stats = c.stats()
    if as_json:
        print_json(stats)
        return
    table = Table(
        title=inert_text(
            f"{stats['collection']}: {stats['questions']} questions "
            f"({stats['qids']} question ids), {stats['candidates']} candidates"
        )
    )
    for col in ("lang", "questions", "candidates", "paragraphs", "relevant pairs", "skipped"):
        table.add_column(col, justify="left" if col == "lang" else "right")
    for lg, row in stats["languages"].items():
        table.add_row(
            inert_text(lg),
            *(
                str(row[k])
                for k in ("questions", "candidates", "paragraphs", "relevant_pairs", "skipped")
            ),
        )
    table.add_section()
    table.add_row(
        "all",
        str(stats["questions"]),
        str(stats["candidates"]),
        str(sum(r["paragraphs"] for r in stats["languages"].values())),
        str(stats["relevant_pairs"]),
        str(stats["skipped"]),
        style="bold",
    )
    output.out.print(table)
