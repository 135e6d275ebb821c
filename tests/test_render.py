"""The report as a terminal draws it: a plain system beside its remedies stays readable at 80
columns (every figure whole, each column named by its remedy)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from xlir_tui.evaluation.render import render_report, shared_base, short_label

RECORD = (
    Path(__file__).resolve().parents[1]
    / "docs"
    / "records"
    / "remedies"
    / "default-sentence-remedies.json"
)


def _draw(report: dict, width: int) -> list[str]:
    out = io.StringIO()
    render_report(Console(file=out, width=width, force_terminal=False, color_system=None), report)
    return [line.rstrip() for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("width", [80, 120, 200])
def test_remedies_side_by_side_fit_the_terminal_whole(width: int) -> None:
    report = json.loads(RECORD.read_text(encoding="utf-8"))["report"]
    lines = _draw(report, width)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= width
    # the model named once; the columns and comparison rows by their remedy, never cut
    assert "Summary (LAReQA): multilingual-e5-small, plain and with each remedy" in text
    assert "subspace(r=10)" in text and "lir(r=2/1)" in text
    comparison = text.split("Compared with multilingual-e5-small")[1].split("mAP by query")[0]
    assert "+ subspace(r=10)" in comparison and "multilingua" not in comparison
    # the bias tables' last columns keep their figures (0.09 of the pool, 0.0% unknown)
    assert "…" not in text
    bias = text.split("Language bias (multi setting, top 10): multilingual-e5-small\n")[1]
    ar = bias.splitlines()[3]
    assert ar.split()[1] == "ar" and "0.09" in ar and "0.0%" in ar


def test_systems_of_different_models_keep_their_labels() -> None:
    plain = {"label": "e5"}
    centred = {"label": "e5 + center", "debias": {"method": "center"}}
    other = {"label": "labse"}
    assert shared_base([plain, centred]) == "e5"
    assert [short_label(m["label"], "e5") for m in (plain, centred)] == ["plain", "+ center"]
    assert shared_base([plain, other]) is None
    assert shared_base([plain, centred, other]) is None
    assert shared_base([centred]) is None
    assert short_label("labse", None) == "labse"


def test_a_table_that_fits_is_not_wrapped() -> None:
    report = json.loads(RECORD.read_text(encoding="utf-8"))["report"]
    report["systems"] = report["systems"][:2]  # plain and + center
    report["comparisons"]["results"] = [
        c for c in report["comparisons"]["results"] if c["system"].endswith("+ center")
    ]
    text = "\n".join(_draw(report, 80))
    assert "rank distance (lower is better)" in text  # the metric's label on one row
    assert "[-0.0102," in text and "[-0.0102, -0.0054]" not in text  # 90 columns wrapped
    text = "\n".join(_draw(report, 90))
    assert "[-0.0102, -0.0054]" in text  # an interval on one row where it fits
