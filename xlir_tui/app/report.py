"""The bias report as a use case: a plan checked before any model loads, then each system built
and scored over the collection, compared with its baseline, and written out.

Scoring is :func:`xlir_tui.evaluation.evaluate.evaluate`, the files
:mod:`xlir_tui.evaluation.exports`; this module puts them in order for ``xlir-tui bias-report``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.collections import Collection, load_collection
from ..errors import XlirError
from ..evaluation.compare import ALPHA, DEFAULT_RESAMPLES, compare, per_query
from ..evaluation.evaluate import Evaluation, evaluate
from ..evaluation.exports import build_report, write_outputs
from ..models.parallel import PARALLEL, ParallelQuestions
from ..models.store import Models
from ..models.translator import model_code
from ..retrieval.debias_fits import FitPlan, obtain_fit, plan_fits
from ..retrieval.dense import DenseIndex
from ..retrieval.dense_system import DebiasedRetriever
from ..retrieval.retriever import Retriever
from ..retrieval.specs import SYSTEMS, FusionSpec, SystemSpec, TranslateQuery
from ..retrieval.systems import open_system
from ..retrieval.translated_system import ParallelRetriever, TranslatedRetriever
from ..storage.files import check_free_space, check_output

__all__ = ["ReportPlan", "ReportResult", "run_report"]

Say = Callable[[str], None]


@dataclass
class ReportPlan:
    """Everything ``xlir-tui bias-report`` is asked to do, checked before any model loads.

    ``systems`` are kinds (``dense``, ``bm25``, ``chargram``, ``fusion``); ``dense`` stands for
    one system per model of ``models``, and a fusion's dense part is the first model. With
    ``translate_query`` every dense system is also scored on translated queries, beside itself.
    """

    collection: list[Path]
    models: list[str] = field(default_factory=lambda: ["default"])
    systems: list[str] = field(default_factory=lambda: ["dense"])
    fusion: FusionSpec | None = None
    translate_query: TranslateQuery | None = None
    langs: list[str] | None = None
    file_lang: str | None = None
    strict: bool = False
    k: int = 10
    peer: bool = False
    map_depth: int | None = None
    """Also XTREME-R's mAP cut at this depth (``--map-depth 20``), beside full mAP."""
    run_depth: int = 100
    out: Path | None = None
    overwrite: bool = False
    ann: bool = False
    index: Path | None = None
    encoder_options: dict[str, Any] = field(default_factory=dict)
    resamples: int | None = None
    """Resamples of the paired tests and intervals (None: the default when two or more systems
    are compared; 0: no comparison)."""
    seed: int = 0
    debias: list[Any] = field(default_factory=list)
    """``--debias``: each :class:`~xlir_tui.retrieval.specs.DebiasSpec` makes every system with a
    dense part a system of its own (``none``: the plain one, scored whether named or not: it is
    each remedy's baseline); none given: the plain systems."""

    def validate(self) -> None:
        """Every check that needs no model and no encoding."""
        self.systems = list(dict.fromkeys(self.systems or ["dense"]))
        self.models = list(dict.fromkeys(self.models or ["default"]))
        unknown = [x for x in self.systems if x not in SYSTEMS]
        if unknown:
            raise XlirError(f"unknown --system {', '.join(unknown)} (known: {', '.join(SYSTEMS)})")
        if "fusion" in self.systems and self.fusion is None:
            self.fusion = FusionSpec()
        if self.k < 1:
            raise XlirError(f"-k must be at least 1, got {self.k}")
        if self.map_depth is not None and self.map_depth < 1:
            raise XlirError(f"--map-depth must be at least 1, got {self.map_depth}")
        if self.run_depth < 0:
            raise XlirError(f"--run-depth must be 0 (whole pool) or more, got {self.run_depth}")
        if self.index is not None and not self.ann:
            raise XlirError("--index is only used with --ann")
        if self.index is not None and len(self.models) > 1:
            raise XlirError("--index goes with a single --model (each model needs its own index)")
        if self.out is not None:
            # what the report reads is never where it writes (a report onto its collection)
            check_output(self.out, overwrite=self.overwrite, inputs=[*self.collection, self.index])
        if self.translate_query is not None and "dense" not in self.systems:
            raise XlirError("--translate-query translates the queries of a dense --system")
        if any(not d.plain for d in self.debias) and not {"dense", "fusion"} & set(self.systems):
            raise XlirError("--debias transforms the vectors of a dense --system (or a fusion's)")
        if self.resamples is not None and self.resamples != 0:
            if self.resamples < 100:
                raise XlirError(
                    f"--resamples must be 0 (no comparison) or at least 100, got {self.resamples}"
                )
            if len(self.specs()) < 2:
                raise XlirError(
                    "--resamples compares systems: name two or more (--model, --system)"
                )

    def estimated_bytes(self, collection: Collection) -> int:
        """About what ``--out`` writes: each system's TREC run (a line is about 60 bytes plus
        the system's name), the per-query and per-pair tables, the qrels."""
        queries, pool = collection.questions.height, collection.candidates.height
        depth = pool if self.run_depth == 0 else min(self.run_depth, pool)
        per_system = queries * depth * 90 + queries * (len(collection.languages) + 1) * 80
        return len(self.specs()) * per_system + collection.relevance.height * 60

    def specs(self) -> list[SystemSpec]:
        """The systems in the order named (``dense`` standing for each model, each followed by
        its translated twin, then by each remedy of ``debias``; a fusion by one system per
        remedy of its dense part)."""
        remedies: list[Any] = list(self.debias) or [None]
        if not any(d is None or d.plain for d in remedies):
            remedies.insert(0, None)  # a remedy is judged against the plain system: scored too
        out: list[SystemSpec] = []
        for name in self.systems:
            if name == "fusion":
                out += [SystemSpec(name, self.models[0], self.fusion, debias=d) for d in remedies]
                continue
            if name != "dense":
                out.append(SystemSpec(name, self.models[0], self.fusion))
                continue
            for model in self.models:
                for d in remedies:
                    out.append(SystemSpec("dense", model, debias=d))
                    if (d is None or d.plain) and self.translate_query is not None:
                        out.append(SystemSpec("dense", model, translate_query=self.translate_query))
        return out

    def baselines(self) -> list[int | None]:
        """What each system of :meth:`specs` is compared with: a debiased system with its plain
        system when the report has it, every other system with the first (None: the first
        itself)."""
        specs = self.specs()
        out: list[int | None] = []
        for i, spec in enumerate(specs):
            if spec.debias is not None and spec.plain in specs:
                out.append(specs.index(spec.plain))
            elif i == 0 or out[0] == i:  # the first itself, or the plain system it is compared with
                out.append(None)
            else:
                out.append(0)
        return out


@dataclass
class ReportResult:
    report: dict[str, Any]
    evaluations: list[Evaluation]
    collection: Collection
    written: list[str] = field(default_factory=list)


@dataclass
class _Run:
    """What the systems of one report share: the pool, the loaded models, the remedies' plans,
    the parallel questions, the index of ``--ann``, and the systems built so far (a debiased or
    translated system reuses its plain system's vectors)."""

    plan: ReportPlan
    collection: Collection
    models: Models
    fit_plans: dict[Any, FitPlan]
    say: Say
    parallel: Any = None
    prebuilt: DenseIndex | None = None
    built: dict[SystemSpec, Any] = field(default_factory=dict)


def run_report(
    plan: ReportPlan,
    progress: Callable[[], Any] | None = None,
    notify: Say | None = None,
) -> ReportResult:
    """Run a validated plan: load the collection, build and score each system, write exports.

    ``progress()`` is a context manager yielding a ``progress(stage, done, total)`` callback (one
    per system, so each gets its own bars); ``notify`` receives the lines a person reads
    (warnings, what loads, what each system took).
    """
    say = notify or (lambda _text: None)
    run = _prepare(plan, say)
    c = run.collection
    bars = progress or contextlib.nullcontext
    evaluations: list[Evaluation] = []
    for spec in plan.specs():
        with bars() as update:
            started = time.perf_counter()
            retriever = _build(run, spec, update)
            build_s = time.perf_counter() - started
            evaluations.append(
                evaluate(
                    c,
                    retriever,
                    k=plan.k,
                    peer=plan.peer,
                    run_depth=plan.run_depth if plan.out else None,
                    progress=update,
                    ann=_ann_index(run, spec, retriever),
                    build_s=build_s,
                    map_depth=plan.map_depth,
                )
            )
        _tell(evaluations[-1], retriever, c, say)
    comparisons, resampling = _compare(plan, evaluations, say)
    report = build_report(c, evaluations, comparisons, resampling)
    written: list[str] = []
    if plan.out is not None:
        say(f"writing {plan.out} ...")
        written = write_outputs(plan.out, c, report, evaluations, overwrite=plan.overwrite)
        say(f"wrote {', '.join(written)} to {plan.out}")
    return ReportResult(report, evaluations, c, written)


def _prepare(plan: ReportPlan, say: Say) -> _Run:
    """Every check before a system is built: the plan, the collection, each remedy against the
    pool, free space for ``--out``, the translation pairs, the index of ``--ann``."""
    plan.validate()
    c = load_collection(plan.collection, lang=plan.file_lang, strict=plan.strict)
    summary = c.skipped_summary()
    if summary:
        say(f"warning: {summary}")
    full = c  # parallel questions may come from languages --langs leaves out of the pool
    if plan.langs:
        c = c.restrict(plan.langs)
    # every remedy against the pool (languages, ranks, --debias-fit) before any model loads
    fit_plans = {p.spec: p for p in plan_fits(plan.debias, c)}
    if plan.out is not None:
        check_free_space(plan.out, plan.estimated_bytes(c))
    run = _Run(plan, c, Models(dict(plan.encoder_options), say), fit_plans, say)
    translate = plan.translate_query
    if translate is not None and translate.mt == PARALLEL:
        run.parallel = ParallelQuestions.of(full, translate.to, c)
    elif translate is not None:
        translator = run.models.translator(translate.mt)
        model_code(translator.family, translate.to)
        for source in c.languages:
            translator.check(source, translate.to)  # every pair before any work
    if len(c.languages) == 1:
        say(f"note: only one language ({c.languages[0]}): the cross and multi settings are absent")
    _tell_run_tags(plan, say)
    if plan.index is not None:
        run.prebuilt = _prebuilt(plan.index, run.models, plan.models[0])
    return run


def _tell_run_tags(plan: ReportPlan, say: Say) -> None:
    """What must be read with a trained model's figures, said before any model loads (as the
    explorer says it after the model's name): a run stopped before its last step, a model
    trained on files of the collection it is now scored on (its figures are not held out)."""
    from ..models.encoders import display_name
    from ..training.runs import run_tags

    for model in dict.fromkeys(plan.models):
        tags = run_tags(model, plan.collection)
        if tags:
            say(f"note: {display_name(model)}: {'; '.join(tags)}")


def _prebuilt(folder: Path, models: Models, model: str) -> DenseIndex:
    """The index of ``--ann``, checked against the model and the candidates' input before any
    encoding (a damaged folder fails before the model loads)."""
    prebuilt = DenseIndex.load(folder)
    encoder = models.encoder(model)
    prebuilt.check_encoder(encoder)
    built_with = bool(prebuilt.manifest["model"].get("passage_context", False))
    if built_with != encoder.passage_context:
        now = "with" if encoder.passage_context else "without"
        raise XlirError(
            f"was built with candidates read {'with' if built_with else 'without'} their "
            f"paragraphs; the report reads them {now} (--passage-context)",
            path=folder,
        )
    return prebuilt


def _build(run: _Run, spec: SystemSpec, update: Any) -> Retriever:
    """The system of ``spec`` over the pool; a translated or debiased system over the vectors
    of its plain system when that was built (encoded once for every remedy)."""
    c, models, built = run.collection, run.models, run.built
    base = spec if spec.translate_query is None else SystemSpec("dense", spec.model)
    if spec.translate_query is not None and base in built and run.parallel is not None:
        return ParallelRetriever(built[base], run.parallel)
    if spec.translate_query is not None and base in built:
        translator = models.translator(spec.translate_query.mt)
        return TranslatedRetriever(built[base], translator, spec.translate_query.to)
    if spec.debias is not None and spec.system == "dense":
        # the plain system's vectors, transformed: encoded once for every remedy
        if spec.plain not in built:
            built[spec.plain] = open_system(c, spec.plain, models, update, graph=False)
        plain = built[spec.plain]
        fit, source = obtain_fit(
            run.fit_plans[spec.debias],
            plain.encoder,
            pool_vectors=plain.index.vectors,
            progress=update,
            say=run.say,
        )
        built[spec] = DebiasedRetriever(plain, fit, source)
    else:
        built[spec] = open_system(c, spec, models, update, graph=False)
    return built[spec]


def _ann_index(run: _Run, spec: SystemSpec, retriever: Retriever) -> DenseIndex | None:
    """The index whose graph ``--ann`` searches for a plain dense system (``--index``, else the
    system's own), or None."""
    plan = run.plan
    plain_dense = spec.system == "dense" and spec.translate_query is None and spec.debias is None
    if not plan.ann or not plain_dense:
        return None
    if run.prebuilt is None:
        return retriever.index  # type: ignore[attr-defined, no-any-return]
    run.prebuilt.check_encoder(retriever.encoder)
    Retriever(run.prebuilt).check_collection(run.collection, where=plan.index)
    return run.prebuilt


def _tell(evaluation: Evaluation, retriever: Retriever, c: Collection, say: Say) -> None:
    """The line a person reads of what a system took (and a remedy's notes on its queries)."""
    t = evaluation.entry["timings"]
    took = [f"built in {t['build_s']:.1f} s"]
    if "translate_s" in t:
        took.append(f"queries translated in {t['translate_s']:.1f} s")
    if isinstance(retriever, DebiasedRetriever):
        took.append(_debias_took(retriever))
        evaluation.entry["debias"]["fallback_queries"] = retriever.fallback_queries
        questions = c.questions
        notes = retriever.query_languages(questions["text"].to_list(), questions["lang"].to_list())[
            1
        ]
        for line in notes:
            say(f"note: {retriever.label}: {line}")
    took.append(f"queries in {t['queries_s']:.1f} s, scored in {t['score_s']:.1f} s")
    say(f"{retriever.label}: {', '.join(took)}")


def _compare(
    plan: ReportPlan, evaluations: list[Evaluation], say: Say
) -> tuple[list[Any] | None, dict[str, Any] | None]:
    """The paired comparisons of every system with its baseline, and how they were resampled
    (None, None: one system, or ``--resamples 0``)."""
    resamples = DEFAULT_RESAMPLES if plan.resamples is None else plan.resamples
    if len(evaluations) < 2 or not resamples:
        return None, None
    baselines = plan.baselines()
    for ev, b in zip(evaluations, baselines, strict=True):
        ev.baseline = evaluations[b].entry["label"] if b is not None else None
    own = any(b not in (None, 0) for b in baselines)
    say(
        f"comparing each system with {evaluations[0].entry['label']}"
        + (" (a debiased system with its plain system)" if own else "")
        + f" ({resamples} resamples)"
    )
    comparisons = compare(
        [(ev.entry["label"], per_query(ev.queries())) for ev in evaluations],
        resamples=resamples,
        seed=plan.seed,
        baselines=baselines,
    )
    return comparisons, {"resamples": resamples, "seed": plan.seed, "alpha": ALPHA}


def _debias_took(retriever: Any) -> str:
    """What a remedy cost, for the line each system gets: where its fit came from and the
    time of the transforms."""
    t = retriever.debias_timings
    fitted = {
        "fitted": f"fitted in {t['debias_fit_s']:.2f} s",
        "cache": "fit from the cache",
        "index": "fit from the index",
        "file": "fit from --debias-fit",
    }[retriever.source]
    return (
        f"{fitted}, transforms {t['debias_candidates_s']:.2f} s (candidates) + "
        f"{t['debias_queries_s']:.2f} s (queries)"
    )
