"""``xlir-tui search``: one query against an index, ranked passages printed (one ranking per
remedy with ``--debias``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import XlirError
from ..safe_text import inert_text
from . import output
from .options import (
    DebiasFitOpt,
    DebiasOpt,
    JsonOpt,
    LirRankOpt,
    MtOpt,
    QueryLangOpt,
    SubspaceRankOpt,
    TranslateQueryOpt,
)
from .output import notify, print_json, say, stage_progress
from .values import debias_specs, encoder_options, query_language, query_translation, split_langs

IndexArg = Annotated[
    Path, typer.Argument(help="Index folder (from xlir-tui index).", show_default=False)
]
QueryArg = Annotated[str, typer.Argument(help="The query text.", show_default=False)]
SearchLangsOpt = Annotated[
    str | None,
    typer.Option("--langs", help="Restrict the pool to these languages, comma-separated (de,zh)."),
]
OldLangsOpt = Annotated[
    str | None, typer.Option("--lang", hidden=True, help="Old spelling of --langs.")
]
KOpt = Annotated[int, typer.Option("-k", "--k", help="How many results.")]
EfOpt = Annotated[int | None, typer.Option("--ef", help="hnsw search beam (default: the index's).")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Query encoder (default: the index's own model)."),
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="What runs the query encoder (torch, openvino, onnx-int8, openvino-int8). "
        "(default: the one the index was built with)",
    ),
]


def search_cmd(
    index: IndexArg,
    query: QueryArg,
    langs: SearchLangsOpt = None,
    old_langs: OldLangsOpt = None,
    k: KOpt = 10,
    ef: EfOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    translate_query: TranslateQueryOpt = None,
    mt: MtOpt = None,
    query_lang: QueryLangOpt = None,
    backend: BackendOpt = None,
    debias: DebiasOpt = None,
    debias_fit: DebiasFitOpt = None,
    lir_rank: LirRankOpt = None,
    subspace_rank: SubspaceRankOpt = None,
) -> None:
    """Search an index; print ranked passages with language tags.

    With --translate-query, the query (written in --query-lang) is machine-translated first and
    the translation is searched (translate-test). With --debias, one ranking per remedy
    (without it: the index's own system, the first remedy it was built with)."""
    from ..models.store import Models
    from ..retrieval.dense_system import index_systems
    from ..retrieval.systems import load_system

    if langs is not None and old_langs is not None:
        raise XlirError("give --langs once (--lang is its old spelling)")
    wanted = split_langs(langs if langs is not None else old_langs, "--langs")
    if not query.strip():
        raise XlirError("empty query")
    if k < 1:
        raise XlirError(f"-k must be at least 1, got {k}")
    if ef is not None and ef < 1:
        raise XlirError(f"--ef must be at least 1, got {ef}")
    query_lang = query_language(query_lang)
    translate = query_translation(translate_query, mt, "search")
    if translate is not None and query_lang is None:
        raise XlirError("--translate-query needs --query-lang, the language the query is in")
    specs = debias_specs(debias, lir_rank, subspace_rank, debias_fit)
    remedies = [d for d in specs if not d.plain]
    if translate is not None and remedies:
        raise XlirError("--translate-query and --debias are separate systems: search with one")
    _check_index(index, wanted, remedies)
    models = Models(encoder_options(backend=backend), notify)
    retriever = load_system(index, models, model)
    if translate is None:
        with stage_progress() as update:
            systems = index_systems(retriever, specs, progress=update, say=notify)
        if len(systems) > 1 or systems[0] is not retriever:
            _search_systems(systems, query, query_lang, index, wanted, k, ef, as_json)
            return
    searched = query
    if translate is not None:
        searched = _translated(retriever, models, translate, query, query_lang)
    _note_cut(retriever.encoder, searched)
    hits = retriever.search(searched, k=k, langs=wanted, ef=ef)
    _print_hits(query, index, wanted, hits, as_json, translated=searched if translate else None)


def _check_index(index: Path, wanted: list[str] | None, remedies: list[Any]) -> None:
    """A damaged folder, an unknown language or a fit that cannot serve fails here, before any
    model loads."""
    from ..retrieval.debias_fits import plan_fits
    from ..retrieval.dense import FORMAT as DENSE_FORMAT
    from ..retrieval.dense import DenseIndex
    from ..retrieval.systems import check_index_folder, index_format

    pool = check_index_folder(index)
    pool.rows_for(wanted)
    if remedies:
        if index_format(index) != DENSE_FORMAT or not isinstance(pool, DenseIndex):
            raise XlirError("--debias transforms a dense index's vectors", path=index)
        plan_fits(remedies, pool.collection())


def _translated(
    retriever: Any, models: Any, translate: Any, query: str, query_lang: str | None
) -> str:
    """The query machine-translated as ``--translate-query`` asks (translate-test), said on
    stderr."""
    from ..retrieval.translated_system import TranslatedRetriever

    translated = TranslatedRetriever(retriever, models.translator(translate.mt), translate.to)
    searched = translated.translate([query], [query_lang])[0]
    say(f"query translated to {translate.to}: {searched}")
    return searched


def _note_cut(encoder: Any, query: str) -> None:
    """A note on stderr when the query is longer than the encoder reads (a lexical system has
    no encoder, and no such limit)."""
    if encoder is None:
        return
    from ..models.encoders import exceeds_window

    cut = exceeds_window(encoder, query)
    if cut is not None:
        say(f"note: the query has {cut[0]} tokens; the model reads the first {cut[1]}")


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
    _note_cut(systems[0].encoder, query)
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
                **(
                    {
                        "query_lang": lang,
                        "query_lang_from": (
                            "given" if query_lang is not None else "identified" if lang else None
                        ),
                        "fallback_used": bool(system.fit.unseen([lang])),
                    }
                    if hasattr(system, "fit")
                    else {}
                ),
                "results": [h.to_dict() for h in hits],
            }
            for system, lang, hits in results
        ]
        head = {"query": query, "index": str(index), "langs": langs}
        print_json({**head, **entries[0]} if len(entries) == 1 else {**head, "systems": entries})
        return
    for system, _, hits in results:
        _print_hits(query, index, langs, hits, False, title=system.label)


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
    output.out.print(table)
