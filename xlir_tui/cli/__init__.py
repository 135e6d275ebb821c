"""The ``xlir-tui`` command line: a thin Typer layer over the core.

Data goes to stdout (tables, or JSON with ``--json``); progress and diagnostics go to stderr.
Every :class:`~xlir_tui.errors.XlirError` becomes one line ``xlir-tui: error: ...`` and exit
status 1; a command line that does not parse (an unknown command or option, a missing argument
or option, a value that is not a number where one is expected) is one line and exit status 2.
Nothing here does work the core could do.

Text from data (passages, questions, language codes, collection and file names, paths) reaches
the terminal only as :func:`~xlir_tui.safe_text.inert_text` (a ``Text``, never parsed as
markup, its control characters made visible) or, with ``--json``, through
:func:`~xlir_tui.safe_text.json_dumps`, which keeps it exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup

from .. import __version__
from .. import progress as core_progress
from ..cells import measure_as_terminals
from ..errors import XlirError
from ..safe_text import inert, inert_text, json_dumps
from ..training.trainer import TrainConfig

_VALUE_LABELS = {int: "int", float: "float", str: "text", Path: "path"}


def _value_label(param: Any) -> str:
    """A parameter's value as help shows it: ``<path>``, ``<int>``, ``<float>``, ``<text>``
    (``...`` after an argument that takes several); nothing for a flag, which takes none."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    annotation = param.type_descriptor.annotation
    several = typing.get_origin(annotation) is list
    if several:
        (annotation,) = typing.get_args(annotation)
    label = f"<{_VALUE_LABELS.get(annotation, 'text')}>"
    return label + "..." if several and isinstance(param, TyperArgument) else label


class _OwnWords:
    """Help pages in the tool's words: typer shows Python's types (``<str>``, ``<list[Path]>``,
    ``<bool>`` beside a flag); these show what a person types. ``shown_required`` names
    parameters that a run needs but the command checks itself (train's collections and
    ``--out`` may come from ``--config``): marked required in help all the same."""

    shown_required: tuple[str, ...] = ()

    def format_help(self, ctx: Any, formatter: Any) -> None:
        params = list(self.get_params(ctx))  # type: ignore[attr-defined]
        marked = [p for p in params if p.name in self.shown_required and not p.required]
        # A flag's ``--no-x`` is named in its help text, not given a column: that column took
        # a third of an 80-column page and squeezed every help text to a sliver.
        negated = {
            p: (p.secondary_opts, p.help) for p in params if getattr(p, "secondary_opts", None)
        }
        saved_help = self.help  # type: ignore[attr-defined]
        for p in params:
            p.display_type_rich = lambda ctx=None, p=p: _value_label(p)
        for p in marked:
            p.required = True
        for p, (opposite, text) in negated.items():
            said = f"{' / '.join(opposite)} turns it off"
            text = text or ""
            p.help = f"{text[:-1]}; {said})" if text.endswith(")") else f"{text} ({said})".strip()
            p.secondary_opts = []
        if saved_help:  # rich keeps a docstring's line breaks: each paragraph becomes one line
            self.help = "\n\n".join(" ".join(par.split()) for par in saved_help.split("\n\n"))
        try:
            super().format_help(ctx, formatter)  # type: ignore[misc]
        finally:
            for p in marked:
                p.required = False
            for p, (opposite, text) in negated.items():
                p.secondary_opts, p.help = opposite, text
            self.help = saved_help


class _Command(_OwnWords, TyperCommand):
    pass


class _Group(_OwnWords, TyperGroup):
    pass


class _Typer(typer.Typer):
    """A Typer whose commands are :class:`_Command` unless told otherwise."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or _Command, **kwargs)


app = _Typer(
    cls=_Group,
    name="xlir-tui",
    help="Explore, measure and reduce language bias in multilingual dense retrieval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
data_app = _Typer(cls=_Group, help="Get collections and inspect them.", no_args_is_help=True)
app.add_typer(data_app, name="data")
cache_app = _Typer(
    cls=_Group,
    help="See and reclaim what xlir-tui keeps in its cache folder.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")

# Piped output is not cut to 80 columns: reports are wide tables.
measure_as_terminals()  # tables of Hindi or Thai text measured as terminals draw them
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"xlir-tui {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Explore, measure and reduce language bias in multilingual dense retrieval.

    Typical session: [bold]xlir-tui data get xquad-r[/bold], then
    [bold]xlir-tui index data/xquad-r --model default --out idx[/bold], then
    [bold]xlir-tui search idx "Where is the Eiffel tower?" --lang de,zh[/bold].
    """


def say(line: str, style: str = "") -> None:
    """A line for the person running the command (stderr), made inert: it may name a path, a
    language or a collection."""
    err.print(inert_text(line, style), highlight=False)


def print_json(value: Any) -> None:
    """``--json`` output: exact, and inert on a terminal."""
    print(json_dumps(value, indent=2))


class EtaColumn(ProgressColumn):
    """Time left from the first batch on, at a smoothed rate (:class:`~xlir_tui.progress.Rate`).

    rich's own ``TimeRemainingColumn`` estimates from the updates of the last 30 seconds and
    shows ``-:--:--`` while it has fewer than two, which is the whole of a run whose steps take
    longer than that. Each task's rate is fed with its count whenever the bar is drawn, and the
    estimate counts down between updates.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rates: dict[TaskID, Any] = {}

    def render(self, task: Task) -> Text:
        from ..progress import Rate, format_duration

        if task.finished:
            return Text(format_duration(0), style="progress.remaining")
        if not task.total:  # no count yet (a run that has not started): nothing to time
            return Text("--:--", style="progress.remaining")
        rate = self._rates.setdefault(task.id, Rate())
        now = task.get_time()
        rate.update(int(task.completed), now)
        left = rate.eta(int(task.total), now)
        return Text("--:--" if left is None else format_duration(left), style="progress.remaining")


def _progress(*extra: TextColumn, transient: bool = True) -> Progress:
    """Progress bars on stderr; hidden when stderr is not a terminal (logs, pipes, CI). A
    stage's name is shown as text, never as markup (it may hold a language code)."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        EtaColumn(),
        console=err,
        transient=transient,
        disable=not err.is_terminal,
    )


@contextmanager
def stage_progress() -> Iterator[core_progress.StageProgress]:
    """Bars handed to the core as ``progress(stage, done, total)``: one bar per stage; plain
    lines every few seconds when stderr is not a terminal (a log file, CI, nohup)."""
    if not err.is_terminal:
        from ..progress import PlainProgress

        yield PlainProgress(sys.stderr)
        return
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:  # the first count is the baseline (cached work is no speed)
                tasks[stage] = bar.add_task(inert(stage), total=total, completed=done)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@contextmanager
def progress_bar(description: str) -> Iterator[core_progress.Progress]:
    """One bar, handed to the core as a ``progress(done, total)`` callback."""
    with stage_progress() as update:
        yield lambda done, total: update(description, done, total)


def split_langs(value: str | None, flag: str | None = None) -> list[str] | None:
    """``"de, zh"`` -> ``["de", "zh"]``; None (not given) -> None. A value that names no
    language (``""``, ``","``) is None too, or with ``flag`` an error naming the flag: given
    and empty, it would silently mean every language."""
    langs = [x.strip() for x in (value or "").split(",") if x.strip()]
    if not langs and value is not None and flag is not None:
        raise XlirError(f"{flag} {value!r} names no language (leave {flag} out for all of them)")
    return langs or None


CollectionArg = Annotated[
    list[Path],
    typer.Argument(
        help="A collection: a folder of <lang>.json / .jsonl / .parquet files, or the files.",
        show_default=False,
    ),
]
FileLangOpt = Annotated[
    str | None,
    typer.Option(
        "--file-lang",
        help="Language of collection files whose name carries none (de.json and xquad.de.json do).",
    ),
]
OldFileLangOpt = Annotated[
    str | None, typer.Option("--lang", hidden=True, help="Old spelling of --file-lang.")
]


def file_lang_of(file_lang: str | None, old: str | None) -> str | None:
    """``--file-lang``, or its old spelling ``--lang`` (kept for one release)."""
    if file_lang is not None and old is not None and file_lang != old:
        raise XlirError("give --file-lang once (--lang is its old spelling)")
    return file_lang if file_lang is not None else old


StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail on a question whose answer lies in no sentence (default: skip, report).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
PoolingOpt = Annotated[
    str | None,
    typer.Option(
        "--pooling",
        help="A plain transformers model (e.g. a BloomZ-style causal LM) as an encoder: "
        "mean or lasttoken. (default: lasttoken for causal models, else mean)",
    ),
]
QueryPromptOpt = Annotated[
    str | None,
    typer.Option(
        "--query-prompt",
        help="Prefix of queries (an instruction), instead of the model's own query prompt.",
    ),
]
TranslateQueryOpt = Annotated[
    str | None,
    typer.Option(
        "--translate-query",
        help="Translate each query into this language before encoding (translate-test; "
        "needs --mt).",
    ),
]
MtOpt = Annotated[
    str | None,
    typer.Option(
        "--mt",
        help="Translation model: M2M100, NLLB or MarianMT, a hub name or a folder (Marian: "
        "a pattern such as Helsinki-NLP/opus-mt-{src}-{tgt}). bias-report also takes "
        "'parallel': each question's own human translation from a parallel collection (the "
        "translate-test ceiling).",
    ),
]
QueryLangOpt = Annotated[
    str | None,
    typer.Option(
        "--query-lang",
        help="The language the query is written in: what --translate-query translates from, "
        "and what --debias center and lir use (without it they identify it with py3langid).",
    ),
]
DebiasOpt = Annotated[
    str | None,
    typer.Option(
        "--debias",
        help="Language-bias remedies without training, comma-separated, each a system of its "
        "own: none (plain), center, lir, leace, subspace (none,center: plain and centred side "
        "by side).",
    ),
]
DebiasFitOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--debias-fit",
        help="Fit the remedies on this collection (a folder, or files: repeat) or use this "
        "saved fit (.json). (default: the collection being indexed or scored)",
    ),
]
LirRankOpt = Annotated[
    str | None,
    typer.Option(
        "--lir-rank",
        help="lir: directions removed per language from queries and from candidates, "
        "comma-separated, or one number for both. (default: 2,1)",
    ),
]
SubspaceRankOpt = Annotated[
    int | None,
    typer.Option(
        "--subspace-rank",
        help="subspace: directions of the language subspace removed. (default: the number of "
        "languages - 1)",
    ),
]


def _debias_specs(
    debias: str | None,
    lir_rank: str | None,
    subspace_rank: int | None,
    fit: list[Path] | None,
) -> list[Any]:
    """``--debias`` and its settings as one spec per remedy; a setting without its remedy is
    a mistake said in one line."""
    from ..retrieval.debias import DebiasSpec

    specs = DebiasSpec.parse(debias, lir_rank, subspace_rank, fit)
    methods = {s.method for s in specs}
    for flag, value, method in (
        ("--lir-rank", lir_rank, "lir"),
        ("--subspace-rank", subspace_rank, "subspace"),
    ):
        if value is not None and method not in methods:
            raise XlirError(f"{flag} goes with --debias {method}")
    if fit and not methods - {"none"}:
        raise XlirError("--debias-fit goes with --debias center, lir, leace or subspace")
    return specs


BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        help="What runs the encoder: openvino (float, several times faster than torch on a "
        "CPU, same figures within 0.001 mAP), torch, onnx-int8 or openvino-int8 (faster still, "
        "0.5-2 points of mAP lower). The first use of a model with a fast backend exports it "
        "into the cache.",
    ),
]
PassageContextOpt = Annotated[
    bool | None,
    typer.Option(
        "--passage-context/--no-passage-context",
        help="Encode each candidate as its sentence followed by its paragraph (LAReQA's input), "
        "or as the sentence alone. (default: as the model was trained: the sentence alone, "
        "unless it was trained with train --passage-context)",
        show_default=False,
    ),
]
SystemOpt = Annotated[
    str,
    typer.Option(
        "--system",
        help="dense (the --model), bm25, chargram (lexical, no model) or fusion (see --fuse).",
    ),
]
FuseOpt = Annotated[
    str,
    typer.Option(
        "--fuse",
        help="fusion: the systems fused, comma-separated, from dense (the --model), bm25, "
        "chargram.",
    ),
]
FusionMethodOpt = Annotated[
    str, typer.Option("--fusion-method", help="fusion: rrf (reciprocal ranks) or interpolate.")
]
FusionWeightOpt = Annotated[
    str | None,
    typer.Option(
        "--fusion-weight",
        help="fusion: the first fused system's weight (the others share the rest), or one "
        "weight per system, comma-separated. (default: equal weights)",
    ),
]


def _load(collection: list[Path], lang: str | None, strict: bool):
    from ..data.collections import load_collection

    c = load_collection(collection, lang=lang, strict=strict)
    summary = c.skipped_summary()
    if summary:
        _notify(f"warning: {summary}")
    return c


@data_app.command("get")
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


@data_app.command("stats")
def data_stats(
    collection: CollectionArg,
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Questions, candidates, relevant pairs and skipped questions per language."""
    c = _load(collection, file_lang_of(file_lang, old_lang), strict)
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
    out.print(table)


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
    out.print(table)
    if inv.temporaries:
        size = human_bytes(sum(n for _, n in inv.temporaries))
        out.print(f"unfinished temporaries: {len(inv.temporaries)} ({size})", highlight=False)
    for path, n in inv.unknown:
        out.print(
            inert_text(f"not written by xlir-tui (never removed): {path} ({human_bytes(n)})"),
            highlight=False,
        )


@cache_app.command("list")
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
        raise typer.BadParameter(str(e)) from None


def _kinds_option(values: list[str] | None) -> list[str] | None:
    from ..app.cache import KINDS

    if not values:
        return None
    kinds = [k.strip() for v in values for k in v.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise typer.BadParameter(f"unknown kind {', '.join(unknown)} (kinds: {', '.join(KINDS)})")
    return kinds


@cache_app.command("prune")
def cache_prune(
    ctx: typer.Context,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="Only entries of these kinds, repeatable or comma-separated: models, exports, "
            "embeddings, indexes, collections, translations, train-logs.",
            callback=_kinds_option,
            metavar="<kind>",
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Only entries unused for longer than this (30d, 12h, 2w).",
            metavar="<age>",
            callback=_age_option,
        ),
    ] = None,
    outdated: Annotated[
        bool,
        typer.Option(
            "--outdated", help="Only entries an older xlir-tui made, which this one never reads."
        ),
    ] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Every entry (what a live process holds stays).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove cache entries: those matching every selector given (--kind, --older-than,
    --outdated), or --all. Only what xlir-tui wrote; never what a live process holds."""
    from ..app.cache import inventory, remove_entry, remove_stale, select
    from ..storage.files import human_bytes

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
    freed = sum(e.bytes for e, _ in removed)
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "removed": [e.to_dict(inv.root) for e, _ in removed],
                "kept": [{**e.to_dict(inv.root), "reason": why} for e, why in kept],
                "temporaries_removed": [str(p) for p in stale],
                "bytes": freed,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    for e, _ in removed:
        say(f"{verb} {e.kind}/{e.name} ({human_bytes(e.bytes)}): {e.what}")
    for e, why in kept:
        say(f"kept {e.kind}/{e.name}: {why}")
    for p in stale:
        say(f"removed the unfinished temporary {p}")
    say(
        f"{verb} {len(removed)} of {len(inv.entries)} entries, {human_bytes(freed)}"
        + (f"; {len(kept)} in use kept" if kept else "")
    )


@app.command("index")
def index_cmd(
    collection: CollectionArg,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="'default' (multilingual-e5-small, embedded), all-minilm-l6-v2, a model "
            "folder or a hub name.",
        ),
    ] = "default",
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Index folder to write.", show_default=False)
    ] = ...,  # type: ignore[assignment]
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    m: Annotated[
        int | None,
        typer.Option("--m", help="hnsw graph degree. (default: chosen by the pool's size)"),
    ] = None,
    ef_construction: Annotated[
        int | None,
        typer.Option(
            "--ef-construction", help="hnsw build-time beam. (default: chosen by the pool's size)"
        ),
    ] = None,
    ef: Annotated[
        int | None,
        typer.Option("--ef", help="hnsw default search beam. (default: chosen by the pool's size)"),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Encoding batch size.")] = 64,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing index folder.")
    ] = False,
    system: SystemOpt = "dense",
    fuse: FuseOpt = "dense,chargram",
    fusion_method: FusionMethodOpt = "rrf",
    fusion_weight: FusionWeightOpt = None,
    pooling: PoolingOpt = None,
    query_prompt: QueryPromptOpt = None,
    backend: BackendOpt = "openvino",
    debias: DebiasOpt = None,
    debias_fit: DebiasFitOpt = None,
    lir_rank: LirRankOpt = None,
    subspace_rank: SubspaceRankOpt = None,
    passage_context: PassageContextOpt = None,
) -> None:
    """Index every candidate of a collection: an encoder and hnswlib, a lexical system, or a
    fusion of them (one index per fused system, searched together). With --debias, each
    remedy's fit is kept in the index; the first named is the index's own system."""
    from ..app.index import IndexPlan, build_index

    plan = IndexPlan(
        collection,
        out_dir,
        _system_spec(system, model, fuse, fusion_method, fusion_weight),
        file_lang=file_lang_of(file_lang, old_lang),
        strict=strict,
        m=m,
        ef_construction=ef_construction,
        ef=ef,
        overwrite=overwrite,
        encoder_options=_encoder_options(
            batch_size, pooling, query_prompt, backend, passage_context
        ),
        debias=_debias_specs(debias, lir_rank, subspace_rank, debias_fit),
    )
    plan.validate()
    with stage_progress() as update:
        _, summary = build_index(plan, update, _notify)
    if summary:  # under torchrun, only rank 0 has one
        say(summary)


def _system_spec(
    system: str,
    model: str,
    fuse: str,
    fusion_method: str,
    fusion_weight: str | None,
    translate: Any = None,
) -> Any:
    """The system a command's ``--system``, ``--model`` and fusion flags name."""
    from ..retrieval.systems import SYSTEMS, FusionSpec, SystemSpec

    if system not in SYSTEMS:
        raise XlirError(f"unknown --system {system!r} (known: {', '.join(SYSTEMS)})")
    fusion = FusionSpec.parse(fuse, fusion_method, fusion_weight) if system == "fusion" else None
    return SystemSpec(system, model, fusion, translate)


def _encoder_options(
    batch_size: int | None = None,
    pooling: str | None = None,
    query_prompt: str | None = None,
    backend: str | None = None,
    passage_context: bool | None = None,
) -> dict[str, Any]:
    """The encoder settings a command passes to every model it loads (None: not given, the
    model's own)."""
    from ..models.backends import check_backend
    from ..models.encoders import POOLINGS

    if pooling is not None and pooling not in POOLINGS:
        raise XlirError(f"--pooling {pooling!r}: choose {' or '.join(POOLINGS)}")
    if batch_size is not None and batch_size < 1:
        raise XlirError(f"--batch-size must be at least 1, got {batch_size}")
    if backend is not None:
        check_backend(backend)
    return {
        k: v
        for k, v in {
            "batch_size": batch_size,
            "pooling": pooling,
            "query_prompt": query_prompt,
            "backend": backend,
            "passage_context": passage_context,
        }.items()
        if v is not None
    }


def _notify(text: str) -> None:
    """A line for the person running the command (stderr); warnings stand out."""
    if text.startswith("warning:"):
        line = Text("warning:", style="yellow")
        line.append_text(inert_text(text[len("warning:") :]))
        err.print(line, highlight=False)
    else:
        say(text)


@app.command("search")
def search_cmd(
    index: Annotated[
        Path, typer.Argument(help="Index folder (from xlir-tui index).", show_default=False)
    ],
    query: Annotated[str, typer.Argument(help="The query text.", show_default=False)],
    langs: Annotated[
        str | None,
        typer.Option(
            "--langs", help="Restrict the pool to these languages, comma-separated (de,zh)."
        ),
    ] = None,
    old_langs: Annotated[
        str | None, typer.Option("--lang", hidden=True, help="Old spelling of --langs.")
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many results.")] = 10,
    ef: Annotated[
        int | None, typer.Option("--ef", help="hnsw search beam (default: the index's).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Query encoder (default: the index's own model)."),
    ] = None,
    as_json: JsonOpt = False,
    translate_query: TranslateQueryOpt = None,
    mt: MtOpt = None,
    query_lang: QueryLangOpt = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="What runs the query encoder (torch, openvino, onnx-int8, openvino-int8). "
            "(default: the one the index was built with)",
        ),
    ] = None,
    debias: DebiasOpt = None,
    debias_fit: DebiasFitOpt = None,
    lir_rank: LirRankOpt = None,
    subspace_rank: SubspaceRankOpt = None,
) -> None:
    """Search an index; print ranked passages with language tags.

    With --translate-query, the query (written in --query-lang) is machine-translated first and
    the translation is searched (translate-test). With --debias, one ranking per remedy
    (without it: the index's own system, the first remedy it was built with)."""
    from ..retrieval.dense import FORMAT as DENSE_FORMAT
    from ..retrieval.dense import DenseIndex
    from ..retrieval.systems import (
        Models,
        TranslatedRetriever,
        check_index_folder,
        index_format,
        index_systems,
        load_system,
        plan_fits,
    )

    if langs is not None and old_langs is not None:
        raise XlirError("give --langs once (--lang is its old spelling)")
    wanted = split_langs(langs if langs is not None else old_langs, "--langs")
    if not query.strip():
        raise XlirError("empty query")
    if k < 1:
        raise XlirError(f"-k must be at least 1, got {k}")
    if ef is not None and ef < 1:
        raise XlirError(f"--ef must be at least 1, got {ef}")
    translate = _translate_query(translate_query, mt, "search")
    if translate is not None and query_lang is None:
        raise XlirError("--translate-query needs --query-lang, the language the query is in")
    specs = _debias_specs(debias, lir_rank, subspace_rank, debias_fit)
    remedies = [d for d in specs if not d.plain]
    if translate is not None and remedies:
        raise XlirError("--translate-query and --debias are separate systems: search with one")
    # a damaged folder, an unknown language or a fit that cannot serve fails before any model
    pool = check_index_folder(index)
    pool.rows_for(wanted)
    if remedies:
        if index_format(index) != DENSE_FORMAT or not isinstance(pool, DenseIndex):
            raise XlirError("--debias transforms a dense index's vectors", path=index)
        plan_fits(remedies, pool.collection())
    models = Models(_encoder_options(backend=backend), _notify)
    retriever = load_system(index, models, model)
    if translate is None:
        with stage_progress() as update:
            systems = index_systems(retriever, specs, progress=update, say=_notify)
        if len(systems) > 1 or systems[0] is not retriever:
            _search_systems(systems, query, query_lang, index, wanted, k, ef, as_json)
            return
    searched = query
    if translate is not None:
        translated = TranslatedRetriever(retriever, models.translator(translate.mt), translate.to)
        searched = translated.translate([query], [query_lang])[0]
        say(f"query translated to {translate.to}: {searched}")
    if retriever.encoder is not None:
        from ..models.encoders import exceeds_window

        cut = exceeds_window(retriever.encoder, searched)
        if cut is not None:
            say(f"note: the query has {cut[0]} tokens; the model reads the first {cut[1]}")
    hits = retriever.search(searched, k=k, langs=wanted, ef=ef)
    _print_hits(query, index, wanted, hits, as_json, translated=searched if translate else None)


def _search_systems(
    systems: list[Any],
    query: str,
    query_lang: str | None,
    index: Path,
    langs: list[str] | None,
    k: int,
    ef: int | None,
    as_json: bool,
) -> None:
    """``search`` with remedies: each system's ranking, the query language a remedy used said
    once on stderr."""
    from ..models.encoders import exceeds_window

    cut = exceeds_window(systems[0].encoder, query)
    if cut is not None:
        say(f"note: the query has {cut[0]} tokens; the model reads the first {cut[1]}")
    said: set[str] = set()
    results = []
    for system in systems:
        lang = query_lang
        if hasattr(system, "query_languages"):
            found, notes = system.query_languages([query], [query_lang])
            lang = found[0]
            for line in notes:
                if line not in said:
                    said.add(line)
                    say(line)
        hits = system.search(query, k=k, langs=langs, query_lang=lang, ef=ef)
        results.append((system, lang, hits))
    if as_json:
        entries = [
            {
                "system": system.label,
                **({"debias": system.describe()["debias"]} if hasattr(system, "fit") else {}),
                **({"query_lang": lang} if hasattr(system, "fit") else {}),
                "results": [h.to_dict() for h in hits],
            }
            for system, lang, hits in results
        ]
        head = {"query": query, "index": str(index), "langs": langs}
        print_json({**head, **entries[0]} if len(entries) == 1 else {**head, "systems": entries})
        return
    for system, _, hits in results:
        _print_hits(query, index, langs, hits, False, title=system.label)


def _translate_query(
    translate_query: str | None, mt: str | None, command: str | None = None
) -> Any:
    """``--translate-query LANG --mt MODEL`` (None without them). ``--mt parallel`` (each
    question's own translation in the collection) is refused for a ``command`` that searches
    free text, which has none."""
    if translate_query is None and mt is None:
        return None
    if translate_query is None or mt is None:
        raise XlirError("--translate-query and --mt go together")
    from ..models.parallel import PARALLEL

    if mt == PARALLEL and command is not None:
        raise XlirError(
            f"--mt parallel replaces each question of a collection by its own translation; "
            f"{command} searches free text, which has none (use it with bias-report, or name a "
            "translation model)"
        )
    from ..retrieval.systems import TranslateQuery

    return TranslateQuery(translate_query, mt)


def _print_hits(
    query: str,
    index: Path,
    langs: list[str] | None,
    hits: list,
    as_json: bool,
    translated: str | None = None,
    title: str | None = None,
) -> None:
    """Search results as JSON or a table (``title``: the system's label above the query);
    an empty result says why on stderr."""
    note = "" if hits else "no candidate matches the query (no word or n-gram in common)"
    if note:
        say(f"note: {note}")
    if as_json:
        result = {
            "query": query,
            **({"translated_query": translated} if translated is not None else {}),
            "index": str(index),
            "langs": langs,
            "results": [h.to_dict() for h in hits],
        }
        if note:
            result["note"] = note
        print_json(result)
        return
    from ..evaluation.render import shorten
    from ..langs import lang_style

    heading = shorten(query, 100) if title is None else f"{title}: {shorten(query, 100)}"
    table = Table(title=inert_text(heading), title_justify="left", show_lines=False)
    table.add_column("rank", justify="right")
    table.add_column("score", justify="right")
    table.add_column("lang")
    table.add_column("passage", overflow="fold")
    for h in hits:
        table.add_row(
            str(h.rank),
            f"{h.score:.3f}",
            inert_text(h.lang, lang_style(h.lang)),
            inert_text(h.text),
        )
    out.print(table)


LangsOpt = Annotated[
    str | None,
    typer.Option("--langs", help="Use only these languages, comma-separated (de,en,zh)."),
]


@app.command("bias-report")
def bias_report_cmd(
    collection: CollectionArg,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="A model to compare; repeat for several ('default', a folder, a hub name).",
        ),
    ] = None,
    langs: LangsOpt = None,
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write report.json, pairs.parquet/.csv, queries.parquet (AP per query), "
            "qrels.txt, run.multi.txt and heatmap.svg here.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out folder.")
    ] = False,
    run_depth: Annotated[
        int,
        typer.Option(
            "--run-depth",
            help="Results per query in run.multi.txt (0: the whole pool, for trec_eval's "
            "map; 100 keeps the file about 80 MB on XQuAD-R).",
        ),
    ] = 100,
    k: Annotated[int, typer.Option("-k", "--k", help="Top-k for language shares.")] = 10,
    peer: Annotated[
        bool,
        typer.Option(
            "--peer",
            help="Add PEER per language: Kruskal-Wallis over the relevant items' ranks by "
            "language, pooled over the language's queries.",
        ),
    ] = False,
    map_depth: Annotated[
        int | None,
        typer.Option(
            "--map-depth",
            help="Also show mAP cut at this depth beside full mAP, as XTREME-R defines it "
            "(--map-depth 20: XTREME-R's LAReQA figure is the multi map@20).",
            show_default=False,
        ),
    ] = None,
    ann: Annotated[
        bool,
        typer.Option(
            "--ann",
            help="Also score the multi setting through the hnswlib index; report the "
            "difference from exact.",
        ),
    ] = False,
    index: Annotated[
        Path | None,
        typer.Option(
            "--index", help="With --ann: an index of this collection built with the (single) model."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Encoding batch size.")] = 64,
    system: Annotated[
        list[str] | None,
        typer.Option(
            "--system",
            help="Systems to compare, repeatable: dense (each --model), bm25, chargram, fusion "
            "(see --fuse; its dense part is the first --model). (default: dense)",
        ),
    ] = None,
    fuse: FuseOpt = "dense,chargram",
    fusion_method: FusionMethodOpt = "rrf",
    fusion_weight: FusionWeightOpt = None,
    pooling: PoolingOpt = None,
    query_prompt: QueryPromptOpt = None,
    translate_query: TranslateQueryOpt = None,
    mt: MtOpt = None,
    resamples: Annotated[
        int | None,
        typer.Option(
            "--resamples",
            help="Resamples of the paired comparisons of each system with the first (a "
            "debiased system: with its plain system) (bootstrap interval, randomisation "
            "test); 0: no comparison. (default: 2000 when "
            "two or more systems are compared)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the comparisons' resampling.")] = 0,
    backend: BackendOpt = "openvino",
    debias: DebiasOpt = None,
    debias_fit: DebiasFitOpt = None,
    lir_rank: LirRankOpt = None,
    subspace_rank: SubspaceRankOpt = None,
    passage_context: PassageContextOpt = None,
) -> None:
    """LAReQA mono / cross / multi mAP, recall, rank distance and language bias, per system.

    With --translate-query, each --model is also scored on queries machine-translated into that
    language (translate-test), as a system of its own beside the plain model. With --debias,
    each model (and a fusion's dense part) is scored once per remedy, each compared with its
    plain system."""
    from ..evaluation.report import ReportPlan, run_report
    from ..retrieval.systems import FusionSpec

    plan = ReportPlan(
        collection,
        models=model or ["default"],
        systems=system or ["dense"],
        fusion=FusionSpec.parse(fuse, fusion_method, fusion_weight)
        if system and "fusion" in system
        else None,
        translate_query=_translate_query(translate_query, mt),
        langs=split_langs(langs, "--langs"),
        file_lang=file_lang_of(file_lang, old_lang),
        strict=strict,
        k=k,
        peer=peer,
        map_depth=map_depth,
        run_depth=run_depth,
        out=out_dir,
        overwrite=overwrite,
        ann=ann,
        index=index,
        encoder_options=_encoder_options(
            batch_size, pooling, query_prompt, backend, passage_context
        ),
        resamples=resamples,
        seed=seed,
        debias=_debias_specs(debias, lir_rank, subspace_rank, debias_fit),
    )
    plan.validate()
    result = run_report(plan, stage_progress, _notify)
    if as_json:
        print_json(result.report)
        return
    from ..evaluation.render import render_report

    render_report(out, result.report)


@app.command("explore")
def explore_cmd(
    index: Annotated[
        Path | None, typer.Option("--index", help="An index folder (from xlir-tui index).")
    ] = None,
    collection: Annotated[
        list[Path] | None,
        typer.Option(
            "--collection",
            help="A collection to explore (its index is built and cached on first "
            "use). Default: sample_data/.",
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="With --collection: 'default', a model folder or a hub name."
        ),
    ] = "default",
    langs: LangsOpt = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Results per pane.")] = 10,
    system: SystemOpt = "dense",
    fuse: FuseOpt = "dense,chargram",
    fusion_method: FusionMethodOpt = "rrf",
    fusion_weight: FusionWeightOpt = None,
    pooling: PoolingOpt = None,
    query_prompt: QueryPromptOpt = None,
    translate_query: TranslateQueryOpt = None,
    mt: MtOpt = None,
    query_lang: QueryLangOpt = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="What runs the encoder (openvino, torch, onnx-int8, openvino-int8). (default: "
            "openvino; with --index, the one the index was built with)",
        ),
    ] = None,
    debias: DebiasOpt = None,
    debias_fit: DebiasFitOpt = None,
    lir_rank: LirRankOpt = None,
    subspace_rank: SubspaceRankOpt = None,
    passage_context: PassageContextOpt = None,
) -> None:
    """Side-by-side queries across languages with live language-bias statistics (TUI).

    --debias names the main system's remedy, and a second to compare it with (none,center:
    plain and centred side by side); F6 offers the others."""
    specs = _debias_specs(debias, lir_rank, subspace_rank, debias_fit)
    remedies = [d for d in specs if not d.plain]
    if len(specs) > 2:
        raise XlirError(
            f"--debias {debias}: the explorer shows two systems at most (the main one and the "
            "one it is compared with)"
        )
    if remedies and (translate_query is not None or mt is not None):
        raise XlirError("--translate-query and --debias are separate systems: explore one")
    if remedies and system != "dense":
        raise XlirError(f"--debias transforms a dense system's vectors; {system} has none")
    if index is not None and collection:
        raise XlirError("give --index or --collection, not both")
    if index is not None and passage_context is not None:
        raise XlirError(
            "--passage-context goes with --collection (an index records how its candidates "
            "were encoded)"
        )
    if index is not None and (model != "default" or pooling or query_prompt is not None):
        raise XlirError(
            "--model, --pooling and --query-prompt go with --collection (an index knows its model)"
        )
    if index is not None and system != "dense":
        raise XlirError("--system goes with --collection (an index knows its system)")
    spec = _system_spec(
        system,
        model,
        fuse,
        fusion_method,
        fusion_weight,
        _translate_query(translate_query, mt, "explore"),
    )
    if backend is None and index is None:
        from ..models.backends import REPORT_BACKEND

        backend = REPORT_BACKEND
    options = _encoder_options(
        pooling=pooling, query_prompt=query_prompt, backend=backend, passage_context=passage_context
    )
    if k < 1:
        raise XlirError(f"-k must be at least 1, got {k}")
    panes = split_langs(langs, "--langs")
    if panes is not None and not 2 <= len(panes) <= 4:
        raise XlirError(f"--langs takes 2 to 4 languages, got {len(panes)}")
    # everything that can be checked before the app starts fails here, in one line
    from ..retrieval.systems import plan_fits
    from ..tui.app import ExplorerApp, default_sample_data

    if index is not None:
        from ..retrieval.dense import FORMAT as DENSE_FORMAT
        from ..retrieval.dense import DenseIndex
        from ..retrieval.systems import check_index_folder, index_format

        pool = check_index_folder(index)
        manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
        name, known = str(index), manifest.get("collection", {}).get("languages", [])
        if remedies:
            if index_format(index) != DENSE_FORMAT or not isinstance(pool, DenseIndex):
                raise XlirError("--debias transforms a dense index's vectors", path=index)
            plan_fits(remedies, pool.collection())
    else:
        c = _load(list(collection or [default_sample_data()]), None, False)
        name, known = c.name, c.languages
        plan_fits(remedies, c)
    unknown = [x for x in panes or [] if x != "all" and x not in known]
    if unknown:
        raise XlirError(
            f"--langs: unknown language {', '.join(unknown)} for {name} (it has "
            f"{', '.join(known)}, and 'all' for the whole pool)"
        )
    if index is None and spec.uses_model:
        from ..models.embedded import embedded_name
        from ..models.encoders import resolve_model

        if embedded_name(model) is None:
            resolve_model(model)  # a folder is checked, a hub name found (or fetched) now
    app_ = ExplorerApp(
        index=str(index) if index else None,
        collection=[str(p) for p in collection] if collection else None,
        spec=spec,
        encoder_options=options,
        query_lang=query_lang,
        langs=[None if x == "all" else x for x in panes] if panes else None,
        k=k,
        debias=specs,
    )
    app_.run()
    if app_.failure is not None:
        raise XlirError(app_.failure)  # the dialog showed it; the terminal keeps it too
    if app_.return_code:
        raise typer.Exit(app_.return_code)


@app.command("translate")
def translate_cmd(
    collection: CollectionArg,
    mt: Annotated[
        str,
        typer.Option(
            "--mt",
            help="Translation model: M2M100, NLLB or MarianMT, a hub name or a folder (Marian: "
            "a pattern such as Helsinki-NLP/opus-mt-{src}-{tgt}).",
            show_default=False,
        ),
    ] = ...,  # type: ignore[assignment]
    to: Annotated[
        str,
        typer.Option("--to", help="Target languages, comma-separated (de,zh).", show_default=False),
    ] = ...,  # type: ignore[assignment]
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Folder of the translated collection.", show_default=False
        ),
    ] = ...,  # type: ignore[assignment]
    source: Annotated[
        str, typer.Option("--from", help="Language of the questions and passages to translate.")
    ] = "en",
    paragraphs: Annotated[
        bool,
        typer.Option("--paragraphs", help="Also translate each answer's paragraph (its context)."),
    ] = False,
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Texts per batch.")] = 16,
    num_beams: Annotated[int, typer.Option("--num-beams", help="Beam search width.")] = 1,
    max_length: Annotated[
        int, typer.Option("--max-length", help="Longest input and output, in tokens.")
    ] = 256,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a finished output folder.")
    ] = False,
) -> None:
    """Translate-train data: questions and answer sentences (and paragraphs) machine-translated
    into other languages, written as a collection that train reads, relevance kept by question
    id. An interrupted run continues where it stopped when run again."""
    from ..app.translate import check_out, translate_collection
    from ..models.translator import Translator, model_code

    targets = split_langs(to)
    if not targets:
        raise XlirError("--to names no language")
    if batch_size < 1 or num_beams < 1 or max_length < 1:
        raise XlirError("--batch-size, --num-beams and --max-length must be at least 1")
    check_out(out_dir, overwrite, collection)  # before the collection and the model load
    c = _load(collection, file_lang_of(file_lang, old_lang), strict)
    say(f"loading translation model {mt} ...")
    translator = Translator.load(
        mt, batch_size=batch_size, max_length=max_length, num_beams=num_beams
    )
    for code in [source, *targets]:
        model_code(translator.family, code)  # an unknown language fails before any work
    with stage_progress() as update:
        summary = translate_collection(
            c,
            translator,
            targets,
            out_dir,
            source=source,
            paragraphs=paragraphs,
            overwrite=overwrite,
            progress=lambda stage, d, t: update(f"translating to {stage}", d, t),
        )
    say(
        f"translated {summary.get('questions', {}).get(source, '?')} {source} questions into "
        f"{', '.join(targets)} in {summary.get('seconds', 0):.1f} s -> {out_dir}"
    )


def _train_parameters() -> list[inspect.Parameter]:
    """The ``train`` command's arguments, made from :class:`TrainConfig`'s fields: one place
    holds each setting's name, type, default and help. Every option defaults to None (not
    given), so that a config file, and on ``--resume`` the run's own settings, show through."""
    from dataclasses import fields

    from ..training.trainer import RENAMED, setting_type, shown_default

    params = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
    for f in fields(TrainConfig):
        meta = f.metadata
        kind, _ = setting_type(f.name)
        if meta.get("path"):  # a file or folder: typed as one, given to TrainConfig as text
            kind = list[Path] if kind == list[str] else Path
        shown = shown_default(f.name) if not meta.get("required") else None
        help_text = meta["help"] + (f" (default: {shown})" if shown else "")
        if meta.get("argument"):
            info: Any = typer.Argument(
                help=meta["help"], show_default=False, metavar=meta.get("metavar")
            )
        else:
            dashed = "--" + f.name.replace("_", "-")
            if "flags" in meta:
                flags = meta["flags"]
            elif kind is bool and not meta.get("switch"):
                flags = (f"{dashed}/--no-{dashed[2:]}",)
            else:
                flags = (dashed,)
            info = typer.Option(*flags, help=help_text, show_default=False)
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[kind | None, info],
            )
        )
    for old, new in RENAMED.items():  # accepted, not shown: the setting's old name
        kind, _ = setting_type(new)
        hidden = typer.Option(f"--{old.replace('_', '-')}", hidden=True)
        params.append(
            inspect.Parameter(
                old,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[kind | None, hidden],
            )
        )
    config = typer.Option(
        "--config",
        help="TOML file with any of these settings (keys named like the options, "
        "with underscores); the command line wins.",
    )
    params.append(
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[Path | None, config],
        )
    )
    return params


def _train_progress() -> Progress:
    """The training bar: the line of the latest step beside it (it says the step count and
    the ETA from the smoothed step rate, as the event log and the explorer do)."""
    return Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("{task.fields[info]}", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


def _as_text(value: Any) -> Any:
    """A path option's value as TrainConfig holds it (text, as TOML does)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_as_text(x) for x in value]
    return value


def _missing(ctx: typer.Context, name: str) -> Exception:
    """click's own error for a missing argument or option (exit status 2, like every command's),
    raised by ``train`` itself: its collections and ``--out`` may come from ``--config``."""
    try:
        from typer._click.exceptions import MissingParameter
    except ImportError:  # pragma: no cover - a typer that uses click itself
        from click import MissingParameter
    param = next(p for p in ctx.command.params if p.name == name)
    return MissingParameter(ctx=ctx, param=param)


def train_cmd(**values: Any) -> None:
    """Fine-tune an encoder with mono, cross or hybrid batches (hybrid batch training)."""
    from ..storage.files import Terminated
    from ..training.trainer import describe_event, exit_status, train

    ctx = values.pop("ctx")
    config = values.pop("config")
    values = {k: _as_text(v) for k, v in values.items()}
    cfg = TrainConfig.merged(TrainConfig.from_toml(config) if config else {}, values, file=config)
    if not cfg.collections:
        raise _missing(ctx, "collections")
    if not cfg.out:
        raise _missing(ctx, "out")
    ended: dict[str, Any] = {}
    with _train_progress() as bar:
        task = bar.add_task("training", total=None, info="")

        def on_event(e: dict) -> None:
            kind = e["event"]
            if kind in ("done", "stopped"):
                ended.update(e)
            line = inert(describe_event(e))  # it names paths and collections
            # a closed terminal (SIGHUP) must not turn the saving of a stopped run into an error
            with contextlib.suppress(OSError, ValueError):
                if kind == "start":
                    bar.update(task, total=e["total_steps"], completed=e["resumed_from_step"])
                elif kind == "step":
                    bar.update(task, completed=e["step"], info=line)
                    if bar.disable and (e["step"] % 10 == 0 or e["step"] == 1):
                        say(line)
                    return
                if kind != "failed":  # a failure is the one error line main() prints
                    say(line)

        try:
            train(cfg, on_event=on_event)
        except (KeyboardInterrupt, Terminated) as e:
            if not ended:
                raise
            # the stopped line said what was kept: the shell's status for the signal, no more
            raise typer.Exit(130 if isinstance(e, KeyboardInterrupt) else e.code) from None
    # saved and resumable, but not the run asked for: the status of the signal that stopped it
    code = exit_status(ended)
    if code:
        raise typer.Exit(code)


class _TrainCommand(_Command):
    shown_required = tuple(
        f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("required")
    )


train_cmd.__signature__ = inspect.Signature(_train_parameters())  # type: ignore[attr-defined]
app.command("train", cls=_TrainCommand)(train_cmd)


def main() -> None:
    """Console-script entry point: one-line errors, exit status 1 (2 for a mistake in the
    command line itself, as every Unix tool; 130 on Ctrl-C)."""
    try:  # typer carries its own copy of click; its UsageError is not click's
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - a typer that uses click itself
        from click import UsageError

    try:
        code = app(standalone_mode=False)
    except XlirError as e:
        if getattr(e, "quiet", False):  # another rank's failure, which rank 0 prints
            sys.exit(0)
        say(f"xlir-tui: error: {e}")
        sys.exit(1)
    except UsageError as e:
        # click's own form is a boxed paragraph; one line, with where to look, like the rest
        path = e.ctx.command_path if e.ctx is not None else "xlir-tui"
        message = " ".join(e.format_message().split())
        say(f"{path}: error: {message} (see {path} --help)")  # it quotes the command line
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        with contextlib.suppress(OSError, ValueError):
            err.print("xlir-tui: interrupted", highlight=False)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
