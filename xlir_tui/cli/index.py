"""``xlir-tui index``: a collection's candidates indexed by a system (the work is
:mod:`xlir_tui.app.index`'s, under torchrun too)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..models.backends import REPORT_BACKEND
from .options import (
    BackendOpt,
    CollectionArg,
    DebiasFitOpt,
    DebiasOpt,
    EncodeBatchOpt,
    FileLangOpt,
    FuseOpt,
    FusionMethodOpt,
    FusionWeightOpt,
    LirRankOpt,
    OldFileLangOpt,
    PassageContextOpt,
    PoolingOpt,
    QueryPromptOpt,
    StrictOpt,
    SubspaceRankOpt,
    SystemOpt,
)
from .output import notify, say, stage_progress
from .values import debias_specs, encoder_options, file_lang_of, system_spec

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="'default' (multilingual-e5-small, embedded), all-minilm-l6-v2, a model "
        "folder or a hub name.",
    ),
]
OutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Index folder to write.", show_default=False)
]
MOpt = Annotated[
    int | None,
    typer.Option("--m", help="hnsw graph degree. (default: chosen by the pool's size)"),
]
EfConstructionOpt = Annotated[
    int | None,
    typer.Option(
        "--ef-construction", help="hnsw build-time beam. (default: chosen by the pool's size)"
    ),
]
EfOpt = Annotated[
    int | None,
    typer.Option("--ef", help="hnsw default search beam. (default: chosen by the pool's size)"),
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace an existing index folder.")
]


def index_cmd(
    collection: CollectionArg,
    model: ModelOpt = "default",
    out_dir: OutOpt = ...,  # type: ignore[assignment]
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    m: MOpt = None,
    ef_construction: EfConstructionOpt = None,
    ef: EfOpt = None,
    batch_size: EncodeBatchOpt = 64,
    overwrite: OverwriteOpt = False,
    system: SystemOpt = "dense",
    fuse: FuseOpt = "dense,chargram",
    fusion_method: FusionMethodOpt = "rrf",
    fusion_weight: FusionWeightOpt = None,
    pooling: PoolingOpt = None,
    query_prompt: QueryPromptOpt = None,
    backend: BackendOpt = REPORT_BACKEND,
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
        system_spec(system, model, fuse, fusion_method, fusion_weight),
        file_lang=file_lang_of(file_lang, old_lang),
        strict=strict,
        m=m,
        ef_construction=ef_construction,
        ef=ef,
        overwrite=overwrite,
        encoder_options=encoder_options(
            batch_size, pooling, query_prompt, backend, passage_context
        ),
        debias=debias_specs(debias, lir_rank, subspace_rank, debias_fit),
    )
    plan.validate()
    with stage_progress() as update:
        _, summary = build_index(plan, update, notify)
    if summary:  # under torchrun, only rank 0 has one
        say(summary)
