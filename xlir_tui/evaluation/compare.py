"""Paired comparisons of retrieval systems on the same queries: the differences a reviewer accepts.

The unit is the query. For each query, a system has one AP per setting: **mono** (its own
language's pool), **cross** (the mean of its APs in the other languages' pools), **multi** (the
whole pool), and one **rank distance** (multi). Two systems scored on the same collection and
languages give paired values; for each setting:

- the mean difference (system minus baseline) over queries;
- its 95% interval: a percentile bootstrap over queries (``scipy.stats.bootstrap``);
- a two-sided paired randomisation test (``scipy.stats.permutation_test`` with
  ``permutation_type="samples"``, which swaps each query's two values at random: the sign-flip
  test of the differences);
- Holm's step-down correction across the comparisons of one report.

Both resampling procedures use a fixed seed and a stated number of resamples, recorded with the
results. Holm's correction is written here because scipy offers only Benjamini-Hochberg and
-Yekutieli (``false_discovery_control``), which control another error rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..errors import XlirError

METRICS = (
    ("mono", "ap", True),
    ("cross", "ap", True),
    ("multi", "ap", True),
    ("multi", "rank_distance", False),
)
"""(setting, value, higher is better) of each comparison."""
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
ALPHA = 0.05


def per_query(table: pl.DataFrame) -> pl.DataFrame:
    """One row per (query id, setting) from a :func:`~xlir_tui.evaluation.metrics.query_table` with
    ``query_id``: cross pools averaged per query, rank distance kept for multi."""
    return (
        table.group_by("query_id", "query_lang", "setting")
        .agg(pl.col("ap").mean(), pl.col("rank_distance").first())
        .sort("setting", "query_id")
    )


def check_comparable(tables: Sequence[tuple[str, pl.DataFrame]]) -> None:
    """Refuse systems not scored on the same queries in the same settings (another collection,
    other languages), with one line naming the system that differs."""
    if len(tables) < 2:
        raise XlirError("a comparison needs two or more systems")
    base_name, base = tables[0]
    keys = base.select("query_id", "setting").sort("query_id", "setting")
    for name, table in tables[1:]:
        other = table.select("query_id", "setting").sort("query_id", "setting")
        if other.height != keys.height or not other.equals(keys):
            raise XlirError(
                f"{name} was scored on other queries than {base_name} (another collection or "
                "other languages): they cannot be compared query by query"
            )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        adjusted[j] = running
    return adjusted.tolist()


@dataclass(frozen=True)
class Comparison:
    system: str
    baseline: str
    setting: str
    metric: str
    higher_is_better: bool
    queries: int
    mean_difference: float
    ci95: tuple[float, float]
    p: float
    p_holm: float = 1.0

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    @property
    def better(self) -> bool | None:
        """Whether the system is significantly better than the baseline (None: no evidence)."""
        if not self.significant:
            return None
        return (self.mean_difference > 0) == self.higher_is_better

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "baseline": self.baseline,
            "setting": self.setting,
            "metric": self.metric,
            "queries": self.queries,
            "mean_difference": self.mean_difference,
            "ci95": list(self.ci95),
            "p": self.p,
            "p_holm": self.p_holm,
            "significant": self.significant,
            "better": self.better,
        }


def paired(
    a: np.ndarray, b: np.ndarray, resamples: int, seed: int
) -> tuple[float, tuple[float, float], float]:
    """Mean of ``a - b``, its percentile-bootstrap 95% interval, and the two-sided paired
    randomisation p-value."""
    from scipy.stats import bootstrap, permutation_test

    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    mean = float(diff.mean())
    if np.all(diff == diff[0]):  # no variation: nothing to resample
        return mean, (mean, mean), 1.0 if mean == 0 else 0.0
    boot = bootstrap(
        (diff,),
        np.mean,
        n_resamples=resamples,
        confidence_level=0.95,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    test = permutation_test(
        (np.asarray(a, np.float64), np.asarray(b, np.float64)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=resamples,
        alternative="two-sided",
        vectorized=True,
        random_state=np.random.default_rng(seed),
    )
    ci = boot.confidence_interval
    return mean, (float(ci.low), float(ci.high)), float(test.pvalue)


def compare(
    tables: Sequence[tuple[str, pl.DataFrame]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    baselines: Sequence[int | None] | None = None,
) -> list[Comparison]:
    """Each system against its baseline, on every metric of :data:`METRICS`, Holm-corrected
    together. ``tables`` are (label, :func:`per_query` frame) pairs; ``baselines[i]`` is the
    place in ``tables`` of the system the i-th is compared with (None: not compared), by
    default the first for every other (a debiased system is compared with its plain one)."""
    if resamples < 100:
        raise XlirError(f"--resamples must be at least 100, got {resamples}")
    check_comparable(tables)
    if baselines is None:
        baselines = [None, *[0] * (len(tables) - 1)]
    if len(baselines) != len(tables):
        raise XlirError(f"{len(baselines)} baselines for {len(tables)} systems")
    out: list[Comparison] = []
    for (name, table), b in zip(tables, baselines, strict=True):
        if b is None or tables[b][0] == name:
            continue
        base_name, base = tables[b]
        for setting, metric, higher in METRICS:
            a = table.filter(pl.col("setting") == setting).sort("query_id")[metric]
            b = base.filter(pl.col("setting") == setting).sort("query_id")[metric]
            if a.null_count() or not len(a):
                continue  # rank distance exists only in multi; a single language has no cross
            mean, ci, p = paired(a.to_numpy(), b.to_numpy(), resamples, seed)
            out.append(Comparison(name, base_name, setting, metric, higher, len(a), mean, ci, p))
    adjusted = holm([c.p for c in out])
    return [
        Comparison(**{**c.__dict__, "p_holm": q})  # type: ignore[arg-type]
        for c, q in zip(out, adjusted, strict=True)
    ]
