"""The bias report: encode a collection with one or more models, score it, export it.

``evaluate`` runs one model over a collection (embeddings come from the encoder's cache when they
were computed before) and returns plain data shaped as ``xlir-tui bias-report --json`` prints it.
``write_outputs`` writes ``report.json``, the per-pair table (parquet and CSV), the TREC qrels and
multi-setting run, and a heatmap picture (SVG) of mAP by query language and pool language.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .. import __version__
from ..data.collections import Collection
from ..errors import XlirError
from ..langs import lang_color
from ..models.encoders import Encoder
from ..progress import Progress, StageProgress, stage_callback
from ..retrieval.dense import DenseIndex
from ..retrieval.ranking import trec_tie_key
from ..storage.files import atomic_dir
from .metrics import Ranked, average_precision, query_table, rank_scored, summarize

if TYPE_CHECKING:
    from ..retrieval.systems import FusionSpec, Retriever, SystemSpec, TranslateQuery

REPORT_FORMAT = "xlir-tui/bias-report"
REPORT_FORMAT_VERSION = 2
"""2: ``systems`` (each with its ``label``) where version 1 said ``models`` and ``model``."""


@dataclass
class Evaluation:
    """One system's report entry plus what the exports and comparisons need."""

    entry: dict[str, Any]
    ranked: Ranked
    question_ids: list[str]
    candidate_ids: list[str]
    baseline: str | None = None
    """The label of the system this one is compared with (None: it is compared with none)."""
    map_depth: int | None = None

    def queries(self) -> pl.DataFrame:
        """Per query and setting: AP, rank distance and, with ``map_depth``, AP cut there
        (:func:`~xlir_tui.evaluation.metrics.query_table`), with the question's id, the system's
        label and the label of its baseline (the system it is compared with, so the rows of the two
        pair up by query)."""
        table = query_table(self.ranked, self.map_depth)
        ids = pl.Series("query_id", self.question_ids, dtype=pl.String)
        return table.select(
            pl.lit(self.entry["label"]).alias("system"),
            pl.lit(self.baseline, dtype=pl.String).alias("baseline"),
            pl.col("query")
            .map_elements(lambda q: ids[q], return_dtype=pl.String)
            .alias("query_id"),
            "query_lang",
            "setting",
            "pool_lang",
            "ap",
            "rank_distance",
            *([f"ap@{self.map_depth}"] if self.map_depth is not None else []),
        )


def relevance_rows(collection: Collection) -> tuple[np.ndarray, np.ndarray]:
    """(query row, candidate row) of every relevant pair, sorted by query row."""
    q_index = pl.DataFrame(
        {"question_id": collection.questions["id"], "q": np.arange(collection.questions.height)}
    )
    c_index = pl.DataFrame(
        {"candidate_id": collection.candidates["id"], "c": np.arange(collection.candidates.height)}
    )
    pairs = (
        collection.relevance.join(q_index, on="question_id")
        .join(c_index, on="candidate_id")
        .sort("q", "c")
    )
    return pairs["q"].to_numpy().astype(np.int64), pairs["c"].to_numpy().astype(np.int64)


def unknown_token_rate(
    encoder: Encoder, collection: Collection, sample: int = 2000
) -> dict[str, float | None]:
    """Share of tokens the model's tokenizer maps to its unknown token, per language.

    An English vocabulary meets Thai or Hindi text mostly as ``[UNK]``: the encoder then sees
    almost nothing of the passage, which explains much of an English model's language bias.
    """
    tokenizer = getattr(encoder.model, "tokenizer", None)
    unk = getattr(tokenizer, "unk_token_id", None)
    rates: dict[str, float | None] = {}
    for lang in collection.languages:
        if tokenizer is None or unk is None:
            rates[lang] = None
            continue
        texts = collection.candidates.filter(pl.col("lang") == lang)["text"].to_list()[:sample]
        texts += collection.questions.filter(pl.col("lang") == lang)["text"].to_list()[:sample]
        ids = (
            tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"] if texts else []
        )
        total = sum(len(x) for x in ids)
        rates[lang] = (sum(t == unk for x in ids for t in x) / total) if total else None
    return rates


def rank_collection(
    collection: Collection,
    scorer: Callable[[int, int], np.ndarray],
    k: int,
    chunk: int,
    run_depth: int | None,
    progress: Progress | None,
) -> tuple[Ranked, np.ndarray, np.ndarray]:
    """Ranks of every relevant pair of ``collection`` under ``scorer`` (any system's scores)."""
    code = {lang: i for i, lang in enumerate(collection.languages)}
    rel_q, rel_c = relevance_rows(collection)
    ranked = rank_scored(
        scorer,
        collection.questions.height,
        np.array([code[x] for x in collection.questions["lang"]], dtype=np.int64),
        np.array([code[x] for x in collection.candidates["lang"]], dtype=np.int64),
        rel_q,
        rel_c,
        collection.languages,
        trec_tie_key(collection.candidates["id"].to_list()),
        k=k,
        chunk=chunk,
        run_depth=run_depth,
        progress=progress,
    )
    return ranked, rel_q, rel_c


def evaluate(
    collection: Collection,
    retriever: Retriever,
    *,
    k: int = 10,
    peer: bool = False,
    run_depth: int | None = None,
    chunk: int = 256,
    progress: StageProgress | None = None,
    ann: DenseIndex | None = None,
    ann_depth: int = 1000,
    build_s: float = 0.0,
    map_depth: int | None = None,
) -> Evaluation:
    """Score ``collection`` with any system in the mono, cross and multi settings.

    The retriever scores the questions in chunks against every candidate; the metrics come from
    those scores alone, whatever the system. With ``ann`` (an index of the same collection and
    model), the multi setting is also scored through hnswlib, top ``ann_depth`` per query, and
    the entry says how far that is from exact. ``build_s`` is the time the system took to build
    over the collection (encoding or indexing its candidates), recorded with the others.
    ``map_depth`` adds XTREME-R's mAP cut at that depth beside every mAP (``map@20``).
    """
    if collection.questions.is_empty() or collection.candidates.is_empty():
        raise XlirError(f"collection {collection.name} has no questions or no candidates")
    retriever.check_collection(collection)
    started = time.perf_counter()

    questions = collection.questions["text"].to_list()
    scorer = retriever.scorer(questions, collection.questions["lang"].to_list(), progress)
    prepared = time.perf_counter()
    ranked, rel_q, rel_c = rank_collection(
        collection, scorer, k, chunk, run_depth, stage_callback(progress, "scoring")
    )
    result = summarize(ranked, peer=peer, map_depth=map_depth)
    scored = time.perf_counter()
    if ann is not None and result["summary"]["multi"] is not None:
        result["ann"] = ann_multi(
            ann, retriever, questions, rel_q, rel_c, result["summary"]["multi"], ann_depth
        )
    if retriever.encoder is not None and retriever.system == "dense":
        for lang, rate in unknown_token_rate(retriever.encoder, collection).items():
            result["languages"][lang]["unk_rate"] = rate
    timings = {
        "build_s": round(build_s, 3),
        "queries_s": round(prepared - started, 3),
        "score_s": round(scored - prepared, 3),
    }
    translate_s = getattr(retriever, "translate_s", None)
    if translate_s is not None:
        timings["translate_s"] = round(translate_s, 3)
    timings.update(getattr(retriever, "debias_timings", {}))
    entry = {**retriever.describe(), **result, "timings": timings}
    return Evaluation(
        entry,
        ranked,
        collection.questions["id"].to_list(),
        collection.candidates["id"].to_list(),
        map_depth=map_depth,
    )


def evaluate_encoder(collection: Collection, encoder: Encoder, **options: Any) -> Evaluation:
    """:func:`evaluate` for the dense system of an encoder already loaded (training's
    evaluations, benchmarks)."""
    from ..retrieval.systems import DenseRetriever

    index = DenseIndex.build(collection, encoder, None, graph=False)
    return evaluate(collection, DenseRetriever(index, encoder), **options)


def ann_multi(
    index: DenseIndex,
    retriever: Retriever,
    questions: list[str],
    rel_q: np.ndarray,
    rel_c: np.ndarray,
    exact: dict[str, Any],
    depth: int,
) -> dict[str, Any]:
    """Multi-setting mAP and R@10 through the hnsw graph (relevant items past ``depth`` count 0)."""
    depth = min(depth, index.size)
    ef = max(int(index.manifest["hnsw"]["ef"]), depth)
    qvec = retriever.encoder.encode_queries(questions)  # the embedding cache has them
    rows, _ = index.search_vectors(qvec, k=depth, ef=ef, method="hnsw")
    relevant: dict[int, np.ndarray] = {}
    for q, c in zip(rel_q.tolist(), rel_c.tolist(), strict=True):
        relevant.setdefault(q, []).append(c)  # type: ignore[arg-type]
    aps, recalls = [], []
    for q, rel in relevant.items():
        found = np.flatnonzero(np.isin(rows[q], rel)) + 1  # 1-based ranks of those retrieved
        aps.append(average_precision(found, len(rel)))
        recalls.append(int((found <= 10).sum()) / len(rel))
    m, r10 = float(np.mean(aps)), float(np.mean(recalls))
    return {
        "ef": ef,
        "depth": depth,
        "multi": {"map": m, "r@10": r10},
        "difference": {"map": m - exact["map"], "r@10": r10 - exact["r@10"]},
    }


def build_report(
    collection: Collection,
    evaluations: Sequence[Evaluation],
    comparisons: Sequence[Any] | None = None,
    resampling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole report as JSON-ready data (with the paired comparisons, when made)."""
    langs = collection.languages
    notes = []
    if len(langs) == 1:
        notes.append(f"only one language ({langs[0]}): the cross and multi settings are absent")
    extra: dict[str, Any] = {}
    if comparisons is not None:
        # each result names its baseline: the first system, or a debiased system's plain one
        extra["comparisons"] = {
            "baseline": evaluations[0].entry["label"],
            **(resampling or {}),
            "results": [c.to_dict() for c in comparisons],
        }
    return {
        "format": REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "collection": collection.name,
        "collection_fingerprint": collection.fingerprint,
        "created_by": f"xlir-tui {__version__}",
        "languages": langs,
        "questions": collection.questions.height,
        "candidates": collection.candidates.height,
        "settings": {
            "mono": len(langs),
            "cross": len(langs) * (len(langs) - 1),
            "multi": 1 if len(langs) > 1 else 0,
        },
        "notes": notes,
        "systems": [e.entry for e in evaluations],
        **extra,
    }


def slug(text: str) -> str:
    """A file-name-safe short form of a model name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip("/")).strip("-.")
    return s[-60:] or "model"


def pairs_frame(report: dict[str, Any]) -> pl.DataFrame:
    rows = [{"system": m["label"], **p} for m in report["systems"] for p in m["pairs"]]
    return pl.DataFrame(
        rows,
        schema={
            "system": pl.String,
            "query_lang": pl.String,
            "pool_lang": pl.String,
            "setting": pl.String,
            "map": pl.Float64,
            "r@1": pl.Float64,
            "questions": pl.Int64,
        },
    )


def heatmap_svg(entry: dict[str, Any], langs: Sequence[str], title: str) -> str:
    """mAP by query language (rows) and pool language (columns) as a standalone SVG."""
    cell, left, top = 44, 56, 64
    n = len(langs)
    values = {(p["query_lang"], p["pool_lang"]): p["map"] for p in entry["pairs"]}
    width, height = left + n * cell + 80, top + n * cell + 40
    out = io.StringIO()
    out.write(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="12">\n'
    )
    out.write(f'<rect width="{width}" height="{height}" fill="white"/>\n')
    out.write(f'<text x="{left}" y="20" font-size="14" font-weight="bold">{_esc(title)}</text>\n')
    out.write(
        f'<text x="{left}" y="38" fill="#555">mAP, query language (rows) x pool '
        "language (columns)</text>\n"
    )
    for j, lang in enumerate(langs):
        x = left + j * cell + cell / 2
        out.write(
            f'<text x="{x}" y="{top - 8}" text-anchor="middle" '
            f'fill="{lang_color(lang)}" font-weight="bold">{_esc(lang)}</text>\n'
        )
    for i, ql in enumerate(langs):
        y = top + i * cell
        out.write(
            f'<text x="{left - 8}" y="{y + cell / 2 + 4}" text-anchor="end" '
            f'fill="{lang_color(ql)}" font-weight="bold">{_esc(ql)}</text>\n'
        )
        for j, pl_ in enumerate(langs):
            v = values.get((ql, pl_))
            x = left + j * cell
            fill = _ramp(v) if v is not None else "#eeeeee"
            out.write(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}"/>\n'
            )
            if v is not None:
                ink = "white" if v < 0.45 else "black"
                out.write(
                    f'<text x="{x + cell / 2 - 1}" y="{y + cell / 2 + 4}" '
                    f'text-anchor="middle" fill="{ink}">{v:.2f}</text>\n'
                )
    # colour scale
    sx = left + n * cell + 16
    for s in range(11):
        out.write(
            f'<rect x="{sx}" y="{top + (10 - s) * (n * cell / 11)}" width="14" '
            f'height="{n * cell / 11 + 0.5}" fill="{_ramp(s / 10)}"/>\n'
        )
    out.write(f'<text x="{sx + 18}" y="{top + 10}">1.0</text>\n')
    out.write(f'<text x="{sx + 18}" y="{top + n * cell}">0.0</text>\n')
    out.write("</svg>\n")
    return out.getvalue()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ramp(v: float) -> str:
    """A perceptually ordered dark-blue -> yellow ramp (viridis end points), v in [0, 1]."""
    stops = [
        (0.0, (68, 1, 84)),
        (0.25, (59, 82, 139)),
        (0.5, (33, 145, 140)),
        (0.75, (94, 201, 98)),
        (1.0, (253, 231, 37)),
    ]
    v = min(max(float(v), 0.0), 1.0)
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if v <= b:
            t = (v - a) / (b - a)
            return "#" + "".join(
                f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True)
            )
    return "#fde725"


def write_outputs(
    out: Path,
    collection: Collection,
    report: dict[str, Any],
    evaluations: Sequence[Evaluation],
    *,
    overwrite: bool = False,
) -> list[str]:
    """Write every export into ``out`` atomically; return the file names written."""
    names: list[str] = []
    with atomic_dir(out, overwrite=overwrite, command="bias-report") as tmp:
        pairs = pairs_frame(report)
        pairs.write_parquet(tmp / "pairs.parquet")
        pairs.write_csv(tmp / "pairs.csv")
        names += ["pairs.parquet", "pairs.csv"]
        pl.concat([ev.queries() for ev in evaluations]).write_parquet(tmp / "queries.parquet")
        names.append("queries.parquet")
        qrels = collection.relevance.select(
            "question_id", pl.lit("0").alias("iter"), "candidate_id", pl.lit(1).alias("rel")
        )
        qrels.write_csv(tmp / "qrels.txt", separator=" ", include_header=False)
        names.append("qrels.txt")
        single = len(evaluations) == 1
        for ev in evaluations:
            tag = "" if single else f".{slug(ev.entry['label'])}"
            files = ev.entry.setdefault("files", {})
            if ev.ranked.run:
                run_name = f"run.multi{tag}.txt"
                _write_run(tmp / run_name, ev, tag=slug(ev.entry["label"]))
                files["run_multi"] = run_name
                names.append(run_name)
            svg_name = f"heatmap{tag}.svg"
            (tmp / svg_name).write_text(
                heatmap_svg(
                    ev.entry, collection.languages, f"{collection.name}: {ev.entry['label']}"
                ),
                encoding="utf-8",
            )
            files["heatmap"] = svg_name
            names.append(svg_name)
        (tmp / "report.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        names.insert(0, "report.json")
    return names


def _write_run(path: Path, ev: Evaluation, tag: str) -> None:
    """A TREC run: ``qid Q0 docno rank score tag``, scores printed so float32 values round-trip."""
    qids = np.asarray(ev.question_ids, dtype=object)
    cids = np.asarray(ev.candidate_ids, dtype=object)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for rows, cands, scores in ev.ranked.run:
            n = len(rows)
            ranks = np.ones(n, dtype=np.int64)
            if n:
                new_query = np.r_[True, rows[1:] != rows[:-1]]
                group_start = np.maximum.accumulate(np.where(new_query, np.arange(n), 0))
                ranks = np.arange(n) - group_start + 1
            frame = pl.DataFrame(
                {
                    "qid": qids[rows].tolist(),
                    "q0": ["Q0"] * n,
                    "docno": cids[cands].tolist(),
                    "rank": ranks,
                    "score": [f"{s:.9g}" for s in scores.tolist()],
                    "tag": [tag] * n,
                }
            )
            buf = io.StringIO()
            frame.write_csv(buf, separator=" ", include_header=False, quote_style="never")
            f.write(buf.getvalue())


# ------------------------------------------------------------------------- the whole report


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
    """``--debias``: each :class:`~xlir_tui.retrieval.debias.DebiasSpec` makes every system with a
    dense part a system of its own (``none``: the plain one); none given: the plain systems."""

    def validate(self) -> None:
        """Every check that needs no model and no encoding."""
        from ..retrieval.systems import SYSTEMS

        self.systems = list(dict.fromkeys(self.systems or ["dense"]))
        self.models = list(dict.fromkeys(self.models or ["default"]))
        unknown = [x for x in self.systems if x not in SYSTEMS]
        if unknown:
            raise XlirError(f"unknown --system {', '.join(unknown)} (known: {', '.join(SYSTEMS)})")
        if "fusion" in self.systems and self.fusion is None:
            from ..retrieval.systems import FusionSpec

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
            from ..storage.files import check_output

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
        from ..retrieval.systems import SystemSpec

        remedies = self.debias or [None]
        with_plain = not self.debias or any(d.plain for d in self.debias)
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
                if not with_plain and self.translate_query is not None:
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


def run_report(
    plan: ReportPlan,
    progress: Callable[[], Any] | None = None,
    notify: Callable[[str], None] | None = None,
) -> ReportResult:
    """Run a validated plan: load the collection, build and score each system, write exports.

    ``progress()`` is a context manager yielding a ``progress(stage, done, total)`` callback (one
    per system, so each gets its own bars); ``notify`` receives the lines a person reads
    (warnings, what loads, what each system took).
    """
    import contextlib

    from ..data.collections import load_collection
    from ..models.parallel import PARALLEL, ParallelQuestions
    from ..retrieval.debias import obtain_fit
    from ..retrieval.dense import DenseIndex
    from ..retrieval.systems import (
        DebiasedRetriever,
        Models,
        ParallelRetriever,
        SystemSpec,
        TranslatedRetriever,
        open_system,
        plan_fits,
    )
    from .compare import DEFAULT_RESAMPLES

    say = notify or (lambda _text: None)
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
        from ..storage.files import check_free_space

        check_free_space(plan.out, plan.estimated_bytes(c))
    models = Models(dict(plan.encoder_options), say)
    parallel = None
    if plan.translate_query is not None and plan.translate_query.mt == PARALLEL:
        parallel = ParallelQuestions.of(full, plan.translate_query.to, c)
    elif plan.translate_query is not None:
        translator = models.translator(plan.translate_query.mt)
        from ..models.translator import model_code

        model_code(translator.family, plan.translate_query.to)
        for source in c.languages:
            translator.check(source, plan.translate_query.to)  # every pair before any work
    if len(c.languages) == 1:
        say(f"note: only one language ({c.languages[0]}): the cross and multi settings are absent")
    prebuilt = DenseIndex.load(plan.index) if plan.index is not None else None
    if prebuilt is not None:  # the model and the candidates' input, before any encoding
        encoder = models.encoder(plan.models[0])
        prebuilt.check_encoder(encoder)
        built_with = bool(prebuilt.manifest["model"].get("passage_context", False))
        if built_with != encoder.passage_context:
            now = "with" if encoder.passage_context else "without"
            raise XlirError(
                f"was built with candidates read {'with' if built_with else 'without'} their "
                f"paragraphs; the report reads them {now} (--passage-context)",
                path=plan.index,
            )
    bars = progress or contextlib.nullcontext
    evaluations: list[Evaluation] = []
    built: dict[SystemSpec, Any] = {}
    specs, baselines = plan.specs(), plan.baselines()
    for spec in specs:
        with bars() as update:
            started = time.perf_counter()
            base = spec if spec.translate_query is None else SystemSpec("dense", spec.model)
            if spec.translate_query is not None and base in built and parallel is not None:
                retriever: Retriever = ParallelRetriever(built[base], parallel)
            elif spec.translate_query is not None and base in built:
                retriever = TranslatedRetriever(
                    built[base], models.translator(spec.translate_query.mt), spec.translate_query.to
                )
            elif spec.debias is not None and spec.system == "dense":
                # the plain system's vectors, transformed: encoded once for every remedy
                if spec.plain not in built:
                    built[spec.plain] = open_system(c, spec.plain, models, update, graph=False)
                plain = built[spec.plain]
                fit, source = obtain_fit(
                    fit_plans[spec.debias],
                    plain.encoder,
                    pool_vectors=plain.index.vectors,  # type: ignore[attr-defined]
                    progress=update,
                    say=say,
                )
                retriever = DebiasedRetriever(plain, fit, source)  # type: ignore[arg-type]
                built[spec] = retriever
            else:
                retriever = open_system(c, spec, models, update, graph=False)
                built[spec] = retriever
            build_s = time.perf_counter() - started
            ann = None
            if (
                plan.ann
                and spec.system == "dense"
                and spec.translate_query is None
                and spec.debias is None
            ):
                ann = prebuilt if prebuilt is not None else retriever.index  # type: ignore[attr-defined]
                if prebuilt is not None:
                    prebuilt.check_encoder(retriever.encoder)
                    if prebuilt.candidates["id"].to_list() != c.candidates["id"].to_list():
                        raise XlirError(
                            "holds other candidates than the collection being scored "
                            "(another collection, or other --langs)",
                            path=plan.index,
                        )
            evaluations.append(
                evaluate(
                    c,
                    retriever,
                    k=plan.k,
                    peer=plan.peer,
                    run_depth=plan.run_depth if plan.out else None,
                    progress=update,
                    ann=ann,
                    build_s=build_s,
                    map_depth=plan.map_depth,
                )
            )
        t = evaluations[-1].entry["timings"]
        took = [f"built in {t['build_s']:.1f} s"]
        if "translate_s" in t:
            took.append(f"queries translated in {t['translate_s']:.1f} s")
        if isinstance(retriever, DebiasedRetriever):
            took.append(_debias_took(retriever))
            evaluations[-1].entry["debias"]["fallback_queries"] = retriever.fallback_queries
            questions = c.questions
            notes = retriever.query_languages(
                questions["text"].to_list(), questions["lang"].to_list()
            )[1]
            for line in notes:
                say(f"note: {retriever.label}: {line}")
        took.append(f"queries in {t['queries_s']:.1f} s, scored in {t['score_s']:.1f} s")
        say(f"{retriever.label}: {', '.join(took)}")
    comparisons, resampling = None, None
    resamples = DEFAULT_RESAMPLES if plan.resamples is None else plan.resamples
    if len(evaluations) > 1 and resamples:
        from .compare import compare, per_query

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
        resampling = {"resamples": resamples, "seed": plan.seed, "alpha": 0.05}
    report = build_report(c, evaluations, comparisons, resampling)
    written: list[str] = []
    if plan.out is not None:
        say(f"writing {plan.out} ...")
        written = write_outputs(plan.out, c, report, evaluations, overwrite=plan.overwrite)
        say(f"wrote {', '.join(written)} to {plan.out}")
    return ReportResult(report, evaluations, c, written)


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
