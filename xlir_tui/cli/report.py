"""``xlir-tui bias-report``: LAReQA's mAP and language bias for each system compared (the
work is :mod:`xlir_tui.app.report`'s; here the options become its plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..models.backends import REPORT_BACKEND
from . import output
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
    JsonOpt,
    LangsOpt,
    LirRankOpt,
    MtOpt,
    OldFileLangOpt,
    PassageContextOpt,
    PoolingOpt,
    QueryPromptOpt,
    StrictOpt,
    SubspaceRankOpt,
    TranslateQueryOpt,
)
from .output import notify, print_json, stage_progress
from .values import debias_specs, encoder_options, file_lang_of, query_translation, split_langs

ModelsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="A model to compare; repeat for several ('default', a folder, a hub name).",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Write report.json, pairs.parquet/.csv, queries.parquet (AP per query), "
        "qrels.txt, run.multi.txt and heatmap.svg here.",
    ),
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace an existing --out folder.")
]
RunDepthOpt = Annotated[
    int,
    typer.Option(
        "--run-depth",
        help="Results per query in run.multi.txt (0: the whole pool, for trec_eval's "
        "map; 100 keeps the file about 80 MB on XQuAD-R).",
    ),
]
KOpt = Annotated[int, typer.Option("-k", "--k", help="Top-k for language shares.")]
PeerOpt = Annotated[
    bool,
    typer.Option(
        "--peer",
        help="Add PEER per language: Kruskal-Wallis over the relevant items' ranks by "
        "language, pooled over the language's queries.",
    ),
]
MapDepthOpt = Annotated[
    int | None,
    typer.Option(
        "--map-depth",
        help="Also show mAP cut at this depth beside full mAP, as XTREME-R defines it "
        "(--map-depth 20: XTREME-R's LAReQA figure is the multi map@20).",
        show_default=False,
    ),
]
AnnOpt = Annotated[
    bool,
    typer.Option(
        "--ann",
        help="Also score the multi setting through the hnswlib index; report the "
        "difference from exact.",
    ),
]
IndexOpt = Annotated[
    Path | None,
    typer.Option(
        "--index", help="With --ann: an index of this collection built with the (single) model."
    ),
]
SystemsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--system",
        help="Systems to compare, repeatable: dense (each --model), bm25, chargram, fusion "
        "(see --fuse; its dense part is the first --model). (default: dense)",
    ),
]
ResamplesOpt = Annotated[
    int | None,
    typer.Option(
        "--resamples",
        help="Resamples of the paired comparisons of each system with the first (a "
        "debiased system: with its plain system) (bootstrap interval, randomisation "
        "test); 0: no comparison. (default: 2000 when "
        "two or more systems are compared)",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the comparisons' resampling.")]


def bias_report_cmd(
    collection: CollectionArg,
    model: ModelsOpt = None,
    langs: LangsOpt = None,
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
    out_dir: OutOpt = None,
    overwrite: OverwriteOpt = False,
    run_depth: RunDepthOpt = 100,
    k: KOpt = 10,
    peer: PeerOpt = False,
    map_depth: MapDepthOpt = None,
    ann: AnnOpt = False,
    index: IndexOpt = None,
    batch_size: EncodeBatchOpt = 64,
    system: SystemsOpt = None,
    fuse: FuseOpt = "dense,chargram",
    fusion_method: FusionMethodOpt = "rrf",
    fusion_weight: FusionWeightOpt = None,
    pooling: PoolingOpt = None,
    query_prompt: QueryPromptOpt = None,
    translate_query: TranslateQueryOpt = None,
    mt: MtOpt = None,
    resamples: ResamplesOpt = None,
    seed: SeedOpt = 0,
    backend: BackendOpt = REPORT_BACKEND,
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
    from ..app.report import ReportPlan, run_report
    from ..retrieval.specs import FusionSpec

    fused = system is not None and "fusion" in system
    plan = ReportPlan(
        collection,
        models=model or ["default"],
        systems=system or ["dense"],
        fusion=FusionSpec.parse(fuse, fusion_method, fusion_weight) if fused else None,
        translate_query=query_translation(translate_query, mt),
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
        encoder_options=encoder_options(
            batch_size, pooling, query_prompt, backend, passage_context
        ),
        resamples=resamples,
        seed=seed,
        debias=debias_specs(debias, lir_rank, subspace_rank, debias_fit),
    )
    plan.validate()
    result = run_report(plan, stage_progress, notify)
    if as_json:
        print_json(result.report)
        return
    from ..evaluation.render import render_report

    render_report(output.out, result.report)
