"""Paired comparisons of systems: scipy's resampling against an independent computation, Holm,
the report's comparison block, and the bad inputs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import run_cli
from test_bad_input import assert_one_line_error

from xlir_tui.errors import XlirError
from xlir_tui.evaluation.compare import compare, holm, paired, per_query


def test_randomisation_p_value_equals_exact_enumeration() -> None:
    """With more resamples than sign patterns, scipy enumerates them all: its p-value must be
    the share of the 2^8 sign flips whose mean difference is at least as extreme."""
    a = np.array([0.9, 0.5, 0.7, 0.2, 0.8, 0.6, 0.4, 0.95])
    b = np.array([0.6, 0.55, 0.3, 0.1, 0.5, 0.65, 0.2, 0.7])
    d = a - b
    observed = abs(d.mean())
    flips = [np.mean(d * np.array(s)) for s in itertools.product((1, -1), repeat=len(d))]
    exact = np.mean([abs(f) >= observed - 1e-12 for f in flips])
    mean, (lo, hi), p = paired(a, b, resamples=1000, seed=0)
    assert mean == pytest.approx(d.mean())
    assert p == pytest.approx(exact)
    assert lo <= mean <= hi


def test_holm_step_down() -> None:
    # sorted p: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.5 (x1 = 0.5)
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])


def _frame(values: dict[str, list[float]], ids: list[str]) -> pl.DataFrame:
    rows = []
    for setting, vals in values.items():
        for qid, v in zip(ids, vals, strict=True):
            rows.append(
                {
                    "query_id": qid,
                    "query_lang": "en",
                    "setting": setting,
                    "ap": v,
                    "rank_distance": 3 if setting == "multi" else None,
                }
            )
    return pl.DataFrame(rows)


def test_systems_on_other_queries_are_refused() -> None:
    one = _frame({"mono": [0.1, 0.2], "multi": [0.1, 0.3]}, ["q1", "q2"])
    other = _frame({"mono": [0.1, 0.2], "multi": [0.1, 0.3]}, ["q1", "q3"])
    with pytest.raises(XlirError, match="scored on other queries"):
        compare([("a", one), ("b", other)])
    with pytest.raises(XlirError, match="two or more systems"):
        compare([("a", one)])


def test_report_compares_each_system_with_the_first(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    args = ["bias-report", str(sample_dir), "-m", str(tiny_model), "--system", "chargram"]
    code, text, err = run_cli(
        [
            *args,
            "--system",
            "dense",
            "--langs",
            "en,de,zh",
            "--resamples",
            "200",
            "--json",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(text)
    block = report["comparisons"]
    assert block["baseline"] == "chargram" and block["resamples"] == 200
    got = {(c["setting"], c["metric"]) for c in block["results"]}
    assert got == {("mono", "ap"), ("cross", "ap"), ("multi", "ap"), ("multi", "rank_distance")}
    # the mean difference of multi AP is the difference of the two systems' multi mAP
    chargram, dense = report["systems"]
    multi = next(c for c in block["results"] if c["setting"] == "multi" and c["metric"] == "ap")
    assert multi["mean_difference"] == pytest.approx(
        dense["summary"]["multi"]["map"] - chargram["summary"]["multi"]["map"]
    )
    assert all(c["p_holm"] >= c["p"] for c in block["results"])
    # per-query AP is written for others' tests
    queries = pl.read_parquet(out / "queries.parquet")
    assert set(queries["system"]) == {"chargram", str(tiny_model)}
    assert set(queries["setting"]) == {"mono", "cross", "multi"}
    assert queries.filter(pl.col("setting") == "multi")["rank_distance"].null_count() == 0
    mine = queries.filter((pl.col("system") == "chargram") & (pl.col("setting") == "multi"))
    assert mine["ap"].mean() == pytest.approx(chargram["summary"]["multi"]["map"])
    # the terminal shows the comparison table
    code, text, err = run_cli(
        [*args, "--system", "dense", "--langs", "en,de", "--resamples", "200"], capsys
    )
    assert code == 0, err
    assert "Compared with chargram" in text


def test_comparison_bad_input(capsys, sample_dir: Path, tiny_model: Path) -> None:
    code, _, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_model), "--resamples", "500"], capsys
    )
    assert_one_line_error(code, err, "--resamples compares systems")
    code, _, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "--system",
            "bm25",
            "--system",
            "chargram",
            "--resamples",
            "5",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "--resamples must be 0")


def test_per_query_averages_cross_pools() -> None:
    table = pl.DataFrame(
        {
            "query_id": ["q1", "q1", "q1"],
            "query_lang": ["en"] * 3,
            "setting": ["cross", "cross", "mono"],
            "pool_lang": ["de", "zh", "en"],
            "ap": [0.2, 0.6, 0.9],
            "rank_distance": [None, None, None],
        }
    )
    got = per_query(table)
    assert got.filter(pl.col("setting") == "cross")["ap"].to_list() == pytest.approx([0.4])


def test_a_p_at_the_tests_resolution_is_printed_as_a_bound() -> None:
    """No resample reached the difference: the raw p is 1/(R+1), which is a bound, not a value."""
    from xlir_tui.evaluation.render import p_text

    assert p_text({"p": 2 / 2001, "p_holm": 32 / 2001}, 2000) == "≤0.016"
    assert p_text({"p": 4 / 2001, "p_holm": 0.024}, 2000) == "0.024"
    assert p_text({"p": 1.0, "p_holm": 1.0}, 2000) == "1"
    diff = np.full(50, 0.1) + np.linspace(0, 0.01, 50)  # every query better: nothing reaches it
    _, _, p = paired(diff, np.zeros(50), 500, 0)
    assert p == pytest.approx(2 / 501)  # two-sided: twice the one-sided floor
    assert p_text({"p": p, "p_holm": p}, 500).startswith("≤")
