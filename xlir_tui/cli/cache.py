"""``xlir-tui cache``: what the cache folder holds, and reclaiming it.

Only what xlir-tui wrote is ever removed, never what a live process holds (the rules are
:mod:`xlir_tui.app.cache`'s); here the selectors are parsed and the outcome is printed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ..app.cache import KINDS
from ..errors import XlirError
from ..safe_text import inert_text
from . import output
from .options import JsonOpt
from .output import print_json, say


def _cache_table(inv: Any, entries: bool) -> None:
    """The cache by kind (or entry by entry), then what is not xlir-tui's."""
    from ..evaluation.render import shorten
    from ..storage.files import human_bytes

    def when(t: float | None) -> str:
        import time

        return "—" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))

    table = Table(
        title=inert_text(f"{inv.root}: {human_bytes(inv.total_bytes)}"), title_justify="left"
    )
    if entries:
        for col in ("kind", "name", "size", "last used", "what"):
            table.add_column(col, justify="right" if col == "size" else "left")
        for e in inv.entries:
            what = e.what + (" (outdated)" if e.outdated else "")
            table.add_row(
                e.kind,
                inert_text(shorten(e.name, 40)),
                human_bytes(e.bytes),
                when(e.last_used),
                inert_text(what),
            )
    else:
        for col in ("kind", "entries", "size", "outdated", "last used"):
            table.add_column(col, justify="left" if col == "kind" else "right")
        for k in inv.by_kind():
            table.add_row(
                k["kind"],
                str(k["entries"]),
                human_bytes(k["bytes"]),
                str(k["outdated"]),
                when(k["last_used"]),
            )
    output.out.print(table)
    if inv.temporaries:
        size = human_bytes(sum(n for _, n in inv.temporaries))
        output.out.print(
            f"unfinished temporaries: {len(inv.temporaries)} ({size})", highlight=False
        )
    for path, n in inv.unknown:
        output.out.print(
            inert_text(f"not written by xlir-tui (never removed): {path} ({human_bytes(n)})"),
            highlight=False,
        )


def cache_list(
    entries: Annotated[
        bool, typer.Option("--entries", help="One row per entry instead of per kind.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """What the cache holds, by kind: entries, size, outdated entries, last use."""
    from ..app.cache import inventory

    inv = inventory()
    if as_json:
        print_json(inv.to_dict())
        return
    _cache_table(inv, entries)


def _age_option(value: str | None) -> float | None:
    from ..app.cache import parse_age

    if value is None:
        return None
    try:
        return parse_age(value)
    except ValueError as e:
        raise XlirError(f"--older-than {e}") from None


def _kinds_option(values: list[str] | None) -> list[str] | None:

    if not values:
        return None
    kinds = [k.strip() for v in values for k in v.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise XlirError(f"unknown --kind {', '.join(unknown)} (kinds: {', '.join(KINDS)})")
    return kinds


KindOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        help=f"Only entries of these kinds, repeatable or comma-separated: {', '.join(KINDS)}.",
        callback=_kinds_option,
        metavar="<kind>",
    ),
]
OlderThanOpt = Annotated[
    str | None,
    typer.Option(
        "--older-than",
        help="Only entries unused for longer than this (30d, 12h, 2w).",
        metavar="<age>",
        callback=_age_option,
    ),
]
OutdatedOpt = Annotated[
    bool,
    typer.Option(
        "--outdated", help="Only entries an older xlir-tui made, which this one never reads."
    ),
]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Every entry (what a live process holds stays).")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
]


def cache_prune(
    ctx: typer.Context,
    kind: KindOpt = None,
    older_than: OlderThanOpt = None,
    outdated: OutdatedOpt = False,
    everything: AllOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove cache entries: those matching every selector given (--kind, --older-than,
    --outdated), or --all. Only what xlir-tui wrote; never what a live process holds."""
    from ..app.cache import inventory, remove_entry, remove_stale, select

    age: float | None = older_than  # type: ignore[assignment]  # seconds, from the callback
    if not (kind or age is not None or outdated or everything):
        ctx.fail("say what to prune: --kind, --older-than, --outdated, or --all")
    inv = inventory()
    chosen = select(inv.entries, kinds=kind, older_than=age, outdated=outdated)
    removed, kept = [], []
    for e in chosen:
        why = None if dry_run else remove_entry(e)
        (kept if why else removed).append((e, why))
    stale = [] if dry_run else remove_stale(inv)
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "removed": [e.to_dict(inv.root) for e, _ in removed],
                "kept": [{**e.to_dict(inv.root), "reason": why} for e, why in kept],
                "temporaries_removed": [str(p) for p in stale],
                "bytes": sum(e.bytes for e, _ in removed),
            }
        )
        return
    _say_pruned(inv, removed, kept, stale, dry_run)


def _say_pruned(inv: Any, removed: list, kept: list, stale: list, dry_run: bool) -> None:
    """What ``cache prune`` removed (or would), what it kept and why, one line each."""
    from ..storage.files import human_bytes

    verb = "would remove" if dry_run else "removed"
    for e, _ in removed:
        say(f"{verb} {e.kind}/{e.name} ({human_bytes(e.bytes)}): {e.what}")
    for e, why in kept:
        say(f"kept {e.kind}/{e.name}: {why}")
    for p in stale:
        say(f"removed the unfinished temporary {p}")
    freed = sum(e.bytes for e, _ in removed)
    say(
        f"{verb} {len(removed)} of {len(inv.entries)} entries, {human_bytes(freed)}"
        + (f"; {len(kept)} in use kept" if kept else "")
    )
