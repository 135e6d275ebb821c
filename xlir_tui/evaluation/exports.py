"""The bias report's files: ``report.json``, the per-pair table (parquet and CSV), the per-query
table, the TREC qrels and multi-setting run of each system, and a heatmap picture (SVG) of mAP
by query language and pool language."""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .. import __version__
from ..data.collections import Collection
from ..langs import lang_color
from ..storage.files import atomic_dir
from .evaluate import Evaluation

__all__ = ["REPORT_FORMAT", "build_report", "heatmap_svg", "pairs_frame", "write_outputs"]

REPORT_FORMAT = "xlir-tui/bias-report"
REPORT_FORMAT_VERSION = 2
"""2: ``systems`` (each with its ``label``) where version 1 said ``models`` and ``model``."""


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
