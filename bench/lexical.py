"""Record lexical systems, the default encoder and their fusion on XQuAD-R and MLQA-R.

    .venv/bin/python bench/lexical.py [--data ../shared/data] [--model default]

Runs ``xlir-tui bias-report COLLECTION --system dense --system bm25 --system chargram
--system fusion --model M --json`` on each collection, then one report per further fusion
(other parts, method and weights) beside the encoder, and writes ``docs/lexical.md``: the
summary per system, the multi-setting own-language share, how long each system took, and each
system against the encoder alone, query by query (the reports' paired comparisons). The
reading of the figures at the end of the page is written by hand from these tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ["dense", "bm25", "chargram", "fusion"]
READING = "## Reading these figures"
# further fusions, each its own report: (--fuse, --fusion-method, --fusion-weight)
FUSIONS = [
    ("dense,chargram", "interpolate", "0.3"),
    ("chargram,bm25", "rrf", "0.5"),
    ("dense,chargram,bm25", "rrf", "0.2,0.4,0.4"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", default=str(ROOT / "docs" / "lexical.md"))
    args = parser.parse_args()
    lines = [
        "# Lexical systems beside the encoder",
        "",
        "Written by `.venv/bin/python bench/lexical.py`, which runs for each collection:",
        "",
        "```bash",
    ]
    tables = []
    for name in ("xquad-r", "mlqa-r"):
        data = Path(args.data) / name
        commands = [
            [
                "bias-report",
                str(data),
                *[x for s in SYSTEMS for x in ("--system", s)],
                "--model",
                args.model,
                "--json",
            ]
        ]
        for fuse, method, weight in FUSIONS:
            commands.append(
                [
                    "bias-report",
                    str(data),
                    "--system",
                    "dense",
                    "--system",
                    "fusion",
                    "--fuse",
                    fuse,
                    "--fusion-method",
                    method,
                    "--fusion-weight",
                    weight,
                    "--model",
                    args.model,
                    "--json",
                ]
            )
        models: list[dict] = []
        compared: list[dict] = []
        wall = 0.0
        for cmd in commands:
            lines.append(
                "xlir-tui " + " ".join(cmd).replace(str(data), os.path.relpath(data, ROOT))
            )
            t = time.perf_counter()
            res = subprocess.run(
                [sys.executable, "-m", "xlir_tui.cli", *cmd],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            wall += time.perf_counter() - t
            report = json.loads(res.stdout)
            seen = {m["label"] for m in models}
            models += [m for m in report["systems"] if m["label"] not in seen]
            compared += report.get("comparisons", {}).get("results", [])
        rows = [
            f"## {name}",
            "",
            f"{report['questions']} questions, {report['candidates']} candidates; the "
            f"commands took {wall:.0f} s in all.",
            "",
            "| system | mono mAP | cross mAP | multi mAP | multi R@10 | rank distance | "
            "own-language share of the multi top 10 (expected) | time |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m in models:
            s = m["summary"]
            t_ = m["timings"]
            took = (
                f"build {t_['build_s']:.1f} s, queries {t_['queries_s']:.1f} s, "
                f"score {t_['score_s']:.1f} s"
            )
            rows.append(
                f"| {m['label']} | {s['mono']['map']:.3f} | {s['cross']['map']:.3f} | "
                f"{s['multi']['map']:.3f} | {s['multi']['r@10']:.3f} | "
                f"{s['multi']['rank_distance']:.1f} | {m['bias']['same_language_share']:.2f} "
                f"({m['bias']['expected_same_language_share']:.2f}) | {took} |"
            )
        rows += [
            "",
            f"Against the encoder alone, per query (mean difference, 95% bootstrap interval, "
            f"paired randomisation test, Holm-corrected within each report; "
            f"{report['comparisons']['resamples']} resamples):",
            "",
            "| system | mono AP | cross AP | multi AP | rank distance |",
            "|---|---|---|---|---|",
        ]
        for label in dict.fromkeys(c["system"] for c in compared):
            cells = []
            for setting, metric in (
                ("mono", "ap"),
                ("cross", "ap"),
                ("multi", "ap"),
                ("multi", "rank_distance"),
            ):
                c = next(
                    x
                    for x in compared
                    if x["system"] == label and x["setting"] == setting and x["metric"] == metric
                )
                d = 1 if metric == "rank_distance" else 3
                mark = " ✱" if c["significant"] else ""
                cells.append(
                    f"{c['mean_difference']:+.{d}f} [{c['ci95'][0]:+.{d}f}, "
                    f"{c['ci95'][1]:+.{d}f}]{mark}"
                )
            rows.append(f"| {label} | " + " | ".join(cells) + " |")
        rows.append("")
        rows.append("✱: significant at 0.05 after Holm's correction.")
        tables += [*rows, ""]
    lines += [
        "```",
        "",
        "mAP over the full pool; the dense encoder's encoding time is near zero "
        "when its embeddings are cached.",
        "",
        *tables,
    ]
    out = Path(args.out)
    reading = ""  # the hand-written reading of the figures is kept across runs
    if out.exists() and READING in out.read_text():
        reading = out.read_text()[out.read_text().index(READING) :]
    out.write_text("\n".join(lines) + ("\n" + reading if reading else ""))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
