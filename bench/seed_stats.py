"""Figures of one report entry and of runs repeated over seeds, shared by the study pages
(``bench/study_report.py``: docs/training.md; ``bench/remedies_report.py``: docs/remedies.md)."""

from __future__ import annotations

import statistics
from typing import Any

import polars as pl


def figures(entry: dict[str, Any]) -> dict[str, float]:
    """The headline figures of one system of a bias report (or a study's record of one)."""
    s = entry["summary"]
    return {
        "mono": s["mono"]["map"],
        "cross": s["cross"]["map"],
        "multi": s["multi"]["map"],
        "r10": s["multi"]["r@10"],
        "rd": s["multi"]["rank_distance"],
        "own": entry["bias"]["same_language_share"],
    }


def mean_sd(values: list[float], digits: int) -> str:
    """``mean ± sd`` over seeds (the sample standard deviation), or the one value said so."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f} (one seed)"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def seed_average(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Per-query AP and rank distance averaged over the seeds of one configuration.

    ``frames`` are per-query tables (:func:`xlir_tui.evaluation.compare.per_query`), one per seed;
    the result is one such table, ready for :func:`xlir_tui.evaluation.compare.compare`: a test on
    it holds the seeds fixed and asks whether the configurations differ on these queries."""
    return (
        pl.concat(
            [f.select("query_id", "query_lang", "setting", "ap", "rank_distance") for f in frames]
        )
        .group_by("query_id", "query_lang", "setting")
        .agg(pl.col("ap").mean(), pl.col("rank_distance").mean())
        .sort("setting", "query_id")
    )
