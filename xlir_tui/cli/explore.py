"""``xlir-tui explore``: the explorer (:mod:`xlir_tui.tui`), started once every setting that
can be checked without it has been: a mistake is one line on the terminal, not a dialog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import XlirError
from ..models.backends import REPORT_BACKEND
from .options import (
    DebiasFitOpt,
    DebiasOpt,
    FuseOpt,
    FusionMethodOpt,
    FusionWeightOpt,
    LirRankOpt,
    MtOpt,
    PaneLangsOpt,
    PassageContextOpt,
    PoolingOpt,
    QueryLangOpt,
    QueryPromptOpt,
    SubspaceRankOpt,
    SystemOpt,
    TranslateQueryOpt,
)
from .values import (
    debias_specs,
    encoder_options,
    load,
    query_language,
    query_translation,
    split_langs,
    system_spec,
)

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="An index folder (from xlir-tui index).")
]
CollectionOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--collection",
        help="A collection to explore (its index is built and cached on first "
        "use). Default: sample_data/.",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m", help="With --collection: 'default', a model folder or a hub name."
    ),
]
KOpt = Annotated[int, typer.Option("-k", "--k", help="Results per pane.")]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="What runs the encoder (openvino, torch, onnx-int8, openvino-int8). (default: "
        "openvino; with --index, the one the index was built with)",
    ),
]


def explore_cmd(
    index: IndexOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = "default",
    langs: PaneLangsOpt = None,
    k: KOpt = 10,
    system: SystemOpt = "dense",
    fuse: FuseOpt = "dense,chargram",
    fusion_method: FusionMethodOpt = "rrf",
    fusion_weight: FusionWeightOpt = None,
    pooling: PoolingOpt = None,
    query_prompt: QueryPromptOpt = None,
    translate_query: TranslateQueryOpt = None,
    mt: MtOpt = None,
    query_lang: QueryLangOpt = None,
    backend: BackendOpt = None,
    debias: DebiasOpt = None,
    debias_fit: DebiasFitOpt = None,
    lir_rank: LirRankOpt = None,
    subspace_rank: SubspaceRankOpt = None,
    passage_context: PassageContextOpt = None,
) -> None:
    """Side-by-side queries across languages with live language-bias statistics (TUI).

    --debias names the main system's remedy, and a second to compare it with (none,center:
    plain and centred side by side); F6 offers the others."""
    specs = debias_specs(debias, lir_rank, subspace_rank, debias_fit)
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
    if index is not None:
        _check_index_flags(collection, model, system, pooling, query_prompt, passage_context)
    query_lang = query_language(query_lang)
    translate = query_translation(translate_query, mt, "explore")
    spec = system_spec(system, model, fuse, fusion_method, fusion_weight, translate)
    if backend is None and index is None:
        backend = REPORT_BACKEND
    options = encoder_options(
        pooling=pooling, query_prompt=query_prompt, backend=backend, passage_context=passage_context
    )
    if k < 1:
        raise XlirError(f"-k must be at least 1, got {k}")
    panes = split_langs(langs, "--langs")
    if panes is not None and not 2 <= len(panes) <= 4:
        raise XlirError(f"--langs takes 2 to 4 languages, got {len(panes)}")
    # everything that can be checked before the app starts fails here, in one line
    _check_panes(index, collection, remedies, panes)
    if index is None and spec.uses_model:
        _check_model(model)
    from ..tui.app import ExplorerApp

    _run(
        ExplorerApp(
            index=str(index) if index else None,
            collection=[str(p) for p in collection] if collection else None,
            spec=spec,
            encoder_options=options,
            query_lang=query_lang,
            langs=[None if x == "all" else x for x in panes] if panes else None,
            k=k,
            debias=specs,
        )
    )


def _check_index_flags(
    collection: list[Path] | None,
    model: str,
    system: str,
    pooling: str | None,
    query_prompt: str | None,
    passage_context: bool | None,
) -> None:
    """With ``--index``, the settings an index records itself are mistakes."""
    if collection:
        raise XlirError("give --index or --collection, not both")
    if passage_context is not None:
        raise XlirError(
            "--passage-context goes with --collection (an index records how its candidates "
            "were encoded)"
        )
    if model != "default" or pooling or query_prompt is not None:
        raise XlirError(
            "--model, --pooling and --query-prompt go with --collection (an index knows its model)"
        )
    if system != "dense":
        raise XlirError("--system goes with --collection (an index knows its system)")


def _check_panes(
    index: Path | None,
    collection: list[Path] | None,
    remedies: list[Any],
    panes: list[str] | None,
) -> None:
    """The index or collection explored is readable, its remedies can be fitted, and every
    pane's language is one it has (or ``all``)."""
    from ..retrieval.debias_fits import plan_fits
    from ..tui.app import default_sample_data

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
        c = load(list(collection or [default_sample_data()]), None, False)
        name, known = c.name, c.languages
        plan_fits(remedies, c)
    unknown = [x for x in panes or [] if x != "all" and x not in known]
    if unknown:
        raise XlirError(
            f"--langs: unknown language {', '.join(unknown)} for {name} (it has "
            f"{', '.join(known)}, and 'all' for the whole pool)"
        )


def _check_model(model: str) -> None:
    """A model folder is checked, a hub name found (or fetched) now, not inside the app."""
    from ..models.embedded import embedded_name
    from ..models.encoders import resolve_model

    if embedded_name(model) is None:
        resolve_model(model)


def _run(app: Any) -> None:
    """Run the explorer; a failure it showed in a dialog is kept on the terminal too."""
    app.run()
    if app.failure is not None:
        raise XlirError(app.failure)  # the dialog showed it; the terminal keeps it too
    if app.return_code:
        raise typer.Exit(app.return_code)
