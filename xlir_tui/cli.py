"""The ``xlir-tui`` command line: a thin Typer layer over the core.

Data goes to stdout (tables, or JSON with ``--json``); progress and diagnostics go to stderr.
Every :class:`~xlir_tui.errors.XlirError` becomes one line ``xlir-tui: error: ...`` and exit
status 1; nothing here does work the core could do.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import __version__
from .errors import XlirError
from .training import TrainConfig

app = typer.Typer(
    name="xlir-tui",
    help="Explore, measure and reduce language bias in multilingual dense retrieval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
data_app = typer.Typer(help="Get collections and inspect them.", no_args_is_help=True)
app.add_typer(data_app, name="data")

# Piped output is not cut to 80 columns: reports are wide tables.
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


def _progress(*extra: TextColumn, transient: bool = True) -> Progress:
    """Progress bars on stderr; hidden when stderr is not a terminal (logs, pipes, CI)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
        disable=not err.is_terminal,
    )


@contextmanager
def stage_progress() -> Iterator[Callable[[str, int, int], None]]:
    """Bars handed to the core as ``progress(stage, done, total)``: one bar per stage; plain
    lines every few seconds when stderr is not a terminal (a log file, CI, nohup)."""
    if not err.is_terminal:
        from .progress import PlainProgress

        yield PlainProgress(sys.stderr)
        return
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """One bar, handed to the core as a ``progress(done, total)`` callback."""
    with stage_progress() as update:
        yield lambda done, total: update(description, done, total)


def split_langs(value: str | None) -> list[str] | None:
    """``"de, zh"`` -> ``["de", "zh"]``; empty -> None."""
    if not value:
        return None
    langs = [x.strip() for x in value.split(",") if x.strip()]
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
        "a pattern such as Helsinki-NLP/opus-mt-{src}-{tgt}).",
    ),
]
QueryLangOpt = Annotated[
    str | None,
    typer.Option(
        "--query-lang", help="With --translate-query: the language the query is written in."
    ),
]
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
    from .collections import load_collection

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
    from .sources import get_collection

    target = to or Path("data") / name
    with progress_bar(f"getting {name}") as update:
        report = get_collection(name, target, source=source, overwrite=overwrite, progress=update)
    err.print(
        f"{name}: {report['questions']} questions and {report['candidates']} candidates "
        f"in {len(report['languages'])} languages verified; written to {target}",
        highlight=False,
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
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return
    table = Table(
        title=f"{stats['collection']}: {stats['questions']} questions "
        f"({stats['qids']} question ids), {stats['candidates']} candidates"
    )
    for col in ("lang", "questions", "candidates", "paragraphs", "relevant pairs", "skipped"):
        table.add_column(col, justify="left" if col == "lang" else "right")
    for lg, row in stats["languages"].items():
        table.add_row(
            lg,
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
) -> None:
    """Index every candidate of a collection: an encoder and hnswlib, a lexical system, or a
    fusion of them (one index per fused system, searched together)."""
    from .systems import IndexPlan, build_index

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
        encoder_options=_encoder_options(batch_size, pooling, query_prompt, backend),
    )
    plan.validate()
    with stage_progress() as update:
        _, summary = build_index(plan, update, _notify)
    if summary:  # under torchrun, only rank 0 has one
        err.print(summary, highlight=False)


def _system_spec(
    system: str,
    model: str,
    fuse: str,
    fusion_method: str,
    fusion_weight: str | None,
    translate: Any = None,
) -> Any:
    """The system a command's ``--system``, ``--model`` and fusion flags name."""
    from .systems import SYSTEMS, FusionSpec, SystemSpec

    if system not in SYSTEMS:
        raise XlirError(f"unknown --system {system!r} (known: {', '.join(SYSTEMS)})")
    fusion = FusionSpec.parse(fuse, fusion_method, fusion_weight) if system == "fusion" else None
    return SystemSpec(system, model, fusion, translate)


def _encoder_options(
    batch_size: int | None = None,
    pooling: str | None = None,
    query_prompt: str | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """The encoder settings a command passes to every model it loads."""
    from .backends import check_backend
    from .encoders import POOLINGS

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
        }.items()
        if v is not None
    }


def _notify(text: str) -> None:
    """A line for the person running the command (stderr); warnings stand out."""
    if text.startswith("warning:"):
        err.print(f"[yellow]warning:[/]{text[len('warning:') :]}", highlight=False)
    else:
        err.print(text, highlight=False, markup=False)


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
) -> None:
    """Search an index; print ranked passages with language tags.

    With --translate-query, the query (written in --query-lang) is machine-translated first and
    the translation is searched (translate-test)."""
    from .systems import Models, TranslatedRetriever, check_index_folder, load_system

    if langs is not None and old_langs is not None:
        raise XlirError("give --langs once (--lang is its old spelling)")
    wanted = split_langs(langs if langs is not None else old_langs)
    if not query.strip():
        raise XlirError("empty query")
    if k < 1:
        raise XlirError(f"-k must be at least 1, got {k}")
    translate = _translate_query(translate_query, mt)
    if translate is not None and query_lang is None:
        raise XlirError("--translate-query needs --query-lang, the language the query is in")
    # a damaged folder or an unknown language fails before any model loads
    check_index_folder(index).rows_for(wanted)
    models = Models(_encoder_options(backend=backend), _notify)
    retriever = load_system(index, models, model)
    searched = query
    if translate is not None:
        translated = TranslatedRetriever(retriever, models.translator(translate.mt), translate.to)
        searched = translated.translate([query], [query_lang])[0]
        err.print(f"query translated to {translate.to}: {searched}", highlight=False)
    if retriever.encoder is not None:
        from .encoders import exceeds_window

        cut = exceeds_window(retriever.encoder, searched)
        if cut is not None:
            err.print(
                f"note: the query has {cut[0]} tokens; the model reads the first {cut[1]}",
                highlight=False,
            )
    hits = retriever.search(searched, k=k, langs=wanted, ef=ef)
    _print_hits(query, index, wanted, hits, as_json, translated=searched if translate else None)


def _translate_query(translate_query: str | None, mt: str | None) -> Any:
    """``--translate-query LANG --mt MODEL`` (None without them)."""
    if translate_query is None and mt is None:
        return None
    if translate_query is None or mt is None:
        raise XlirError("--translate-query and --mt go together")
    from .systems import TranslateQuery

    return TranslateQuery(translate_query, mt)


def _print_hits(
    query: str,
    index: Path,
    langs: list[str] | None,
    hits: list,
    as_json: bool,
    translated: str | None = None,
) -> None:
    """Search results as JSON or a table; an empty result says why on stderr."""
    note = "" if hits else "no candidate matches the query (no word or n-gram in common)"
    if note:
        err.print(f"note: {note}", highlight=False)
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
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    from .langs import lang_style
    from .render import shorten

    table = Table(title=shorten(query, 100), title_justify="left", show_lines=False)
    table.add_column("rank", justify="right")
    table.add_column("score", justify="right")
    table.add_column("lang")
    table.add_column("passage", overflow="fold")
    for h in hits:
        table.add_row(str(h.rank), f"{h.score:.3f}", f"[{lang_style(h.lang)}]{h.lang}[/]", h.text)
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
        bool, typer.Option("--peer", help="Add PEER (Kruskal-Wallis) per language.")
    ] = False,
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
            help="Resamples of the paired comparisons of each system with the first "
            "(bootstrap interval, randomisation test); 0: no comparison. (default: 2000 when "
            "two or more systems are compared)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the comparisons' resampling.")] = 0,
    backend: BackendOpt = "openvino",
) -> None:
    """LAReQA mono / cross / multi mAP, recall, rank distance and language bias, per system.

    With --translate-query, each --model is also scored on queries machine-translated into that
    language (translate-test), as a system of its own beside the plain model."""
    from .report import ReportPlan, run_report
    from .systems import FusionSpec

    plan = ReportPlan(
        collection,
        models=model or ["default"],
        systems=system or ["dense"],
        fusion=FusionSpec.parse(fuse, fusion_method, fusion_weight)
        if system and "fusion" in system
        else None,
        translate_query=_translate_query(translate_query, mt),
        langs=split_langs(langs),
        file_lang=file_lang_of(file_lang, old_lang),
        strict=strict,
        k=k,
        peer=peer,
        run_depth=run_depth,
        out=out_dir,
        overwrite=overwrite,
        ann=ann,
        index=index,
        encoder_options=_encoder_options(batch_size, pooling, query_prompt, backend),
        resamples=resamples,
        seed=seed,
    )
    plan.validate()
    result = run_report(plan, stage_progress, _notify)
    if as_json:
        print(json.dumps(result.report, ensure_ascii=False, indent=2))
        return
    from .render import render_report

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
) -> None:
    """Side-by-side queries across languages with live language-bias statistics (TUI)."""
    if index is not None and collection:
        raise XlirError("give --index or --collection, not both")
    if index is not None and (model != "default" or pooling or query_prompt is not None):
        raise XlirError(
            "--model, --pooling and --query-prompt go with --collection (an index knows its model)"
        )
    if index is not None and system != "dense":
        raise XlirError("--system goes with --collection (an index knows its system)")
    spec = _system_spec(
        system, model, fuse, fusion_method, fusion_weight, _translate_query(translate_query, mt)
    )
    if backend is None and index is None:
        from .backends import REPORT_BACKEND

        backend = REPORT_BACKEND
    options = _encoder_options(pooling=pooling, query_prompt=query_prompt, backend=backend)
    if k < 1:
        raise XlirError(f"-k must be at least 1, got {k}")
    panes = split_langs(langs)
    if panes is not None and not 2 <= len(panes) <= 4:
        raise XlirError(f"--langs takes 2 to 4 languages, got {len(panes)}")
    from .tui.app import ExplorerApp, default_sample_data

    # everything that can be checked before the app starts fails here, in one line
    if index is not None:
        from .systems import check_index_folder

        check_index_folder(index)
        manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
        name, known = str(index), manifest.get("collection", {}).get("languages", [])
    else:
        c = _load(list(collection or [default_sample_data()]), None, False)
        name, known = c.name, c.languages
    unknown = [x for x in panes or [] if x != "all" and x not in known]
    if unknown:
        raise XlirError(
            f"--langs: unknown language {', '.join(unknown)} for {name} (it has "
            f"{', '.join(known)}, and 'all' for the whole pool)"
        )
    if index is None and spec.uses_model:
        from .embedded import embedded_name
        from .encoders import resolve_model

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
    from .translation import Translator, model_code, translate_collection

    targets = split_langs(to)
    if not targets:
        raise XlirError("--to names no language")
    if batch_size < 1 or num_beams < 1 or max_length < 1:
        raise XlirError("--batch-size, --num-beams and --max-length must be at least 1")
    c = _load(collection, file_lang_of(file_lang, old_lang), strict)
    err.print(f"loading translation model {mt} ...", highlight=False)
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
    err.print(
        f"translated {summary.get('questions', {}).get(source, '?')} {source} questions into "
        f"{', '.join(targets)} in {summary.get('seconds', 0):.1f} s -> {out_dir}",
        highlight=False,
    )


def _train_parameters() -> list[inspect.Parameter]:
    """The ``train`` command's arguments, made from :class:`TrainConfig`'s fields: one place
    holds each setting's name, type, default and help. Every option defaults to None (not
    given), so that a config file, and on ``--resume`` the run's own settings, show through."""
    from dataclasses import fields

    from .training import RENAMED, setting_type, shown_default

    params = []
    for f in fields(TrainConfig):
        meta = f.metadata
        kind, _ = setting_type(f.name)
        shown = shown_default(f.name) if f.name != "out" else None  # out: no default
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
    """The training bar: the line of the latest step beside it (it says the step count)."""
    return Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


def train_cmd(**values: Any) -> None:
    """Fine-tune an encoder with mono, cross or hybrid batches (hybrid batch training)."""
    from .training import describe_event, train

    config = values.pop("config")
    cfg = TrainConfig.merged(TrainConfig.from_toml(config) if config else {}, values)
    cfg.validate()
    with _train_progress() as bar:
        task = bar.add_task("training", total=None, info="")

        stopped = False

        def on_event(e: dict) -> None:
            nonlocal stopped
            kind = e["event"]
            stopped = stopped or kind == "stopped"
            line = describe_event(e)
            if kind == "start":
                bar.update(task, total=e["total_steps"], completed=e["resumed_from_step"])
            elif kind == "step":
                bar.update(task, completed=e["step"], info=line)
                if bar.disable and (e["step"] % 10 == 0 or e["step"] == 1):
                    err.print(line, highlight=False)
                return
            if kind != "failed":  # a failure is the one error line main() prints
                err.print(line, highlight=False, markup=False)

        train(cfg, on_event=on_event)
    if stopped:  # saved and resumable, but not what was asked: the exit status of a Ctrl-C
        raise typer.Exit(130)


train_cmd.__signature__ = inspect.Signature(_train_parameters())  # type: ignore[attr-defined]
app.command("train")(train_cmd)


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
        err.print(f"xlir-tui: error: {e}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
    except UsageError as e:
        # click's own form is a boxed paragraph; one line, with where to look, like the rest
        path = e.ctx.command_path if e.ctx is not None else "xlir-tui"
        message = " ".join(e.format_message().split())
        err.print(
            f"{path}: error: {message} (see {path} --help)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        err.print("xlir-tui: interrupted", highlight=False)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
