"""Record lexical systems, the default encoder and their fusion on XQuAD-R and MLQA-R.

    .venv/bin/python bench/lexical.py [--data ../shared/data] [--model default]

Runs ``xlir-tui bias-report COLLECTION --system bm25 --system chargram --system dense
--system fusion --model M --json`` on each collection and writes ``docs/lexical.md``: the
summary per system, the multi-setting own-language share, and how long each system took.
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
SYSTEMS = ["bm25", "chargram", "dense", "fusion"]


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
        cmd = [
            "bias-report",
            str(data),
            *[x for s in SYSTEMS for x in ("--system", s)],
            "--model",
            args.model,
            "--json",
        ]
        lines.append("xlir-tui " + " ".join(cmd).replace(str(data), os.path.relpath(data, ROOT)))
        t = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "-m", "xlir_tui.cli", *cmd],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - t
        report = json.loads(res.stdout)
        rows = [
            f"## {name}",
            "",
            f"{report['questions']} questions, {report['candidates']} candidates; the whole "
            f"command took {wall:.0f} s.",
            "",
            "| system | mono mAP | cross mAP | multi mAP | multi R@10 | rank distance | "
            "own-language share of the multi top 10 (expected) | time |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m in report["models"]:
            s = m["summary"]
            t_ = m["timings"]
            took = (
                f"index {t_['index_s']:.1f} s, score {t_['score_s']:.1f} s"
                if "index_s" in t_
                else f"encode {t_['encode_s']:.1f} s, score {t_['score_s']:.1f} s"
            )
            rows.append(
                f"| {m['model']} | {s['mono']['map']:.3f} | {s['cross']['map']:.3f} | "
                f"{s['multi']['map']:.3f} | {s['multi']['r@10']:.3f} | "
                f"{s['multi']['rank_distance']:.1f} | {m['bias']['same_language_share']:.2f} "
                f"({m['bias']['expected_same_language_share']:.2f}) | {took} |"
            )
        tables += [*rows, ""]
    lines += [
        "```",
        "",
        "mAP over the full pool; the dense encoder's encoding time is near zero "
        "when its embeddings are cached.",
        "",
        *tables,
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
