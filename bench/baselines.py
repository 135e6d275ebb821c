"""Record the embedded encoders' bias-report figures on XQuAD-R and MLQA-R in docs/baselines.md.

    .venv/bin/python bench/baselines.py [--data ../shared/data] [--force]

Runs ``xlir-tui bias-report COLLECTION --model default --model all-minilm-l6-v2 --peer --json``
on each collection and writes the markdown tables, the exact commands, and the reference figures
of the hybrid-batch paper beside them, each with the input it used (sentence alone or with its
paragraph) and its mAP (over the whole pool, or XTREME-R's mAP@20). It also runs the default on
XQuAD-R in LAReQA's input (``--passage-context``) and against the translate-test ceiling
(``--translate-query en --mt parallel``), with ``--map-depth 20`` (:data:`PROTOCOL`). Each
report is kept in ``docs/records/`` with its command; a report whose record holds the same
command is not run again (``--force`` runs it), so the page can be rebuilt from the records in
seconds. The in-context run encodes every candidate with its paragraph: about a quarter of an
hour on this machine, once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Reference figures (mAP): Elmahdy et al., arXiv 2408.10536, Table 2; LAReQA mBERT (Roy et al.).
REFERENCE = [
    ("XLM-R, X-X-mono batches", ".792", ".674", ".547", ".648", ".584", ".473"),
    ("XLM-R, X-Y batches", ".755", ".700", ".593", ".626", ".620", ".508"),
    ("XLM-R, hybrid batches", ".798", ".705", ".593", ".648", ".623", ".512"),
    ("LaBSE, X-X-mono batches", ".808", ".752", ".652", ".681", ".656", ".550"),
    ("LaBSE, X-Y batches", ".801", ".762", ".679", ".671", ".677", ".576"),
    ("LaBSE, hybrid batches", ".817", ".767", ".682", ".686", ".681", ".579"),
]


def _p(p: float | None) -> str:
    """A p-value; one that underflows to 0 is below the smallest double."""
    if p is None:
        return ""
    return "<1e-300" if p == 0 else f"{p:.1e}"


RECORDS = ROOT / "docs" / "records"
READING = "## Reading these figures"
MODELS = ["default", "all-minilm-l6-v2"]
CEILING = ["--translate-query", "en", "--mt", "parallel"]
PROTOCOL = {
    "protocol-sentence": ["--model", "default", "--map-depth", "20", *CEILING],
    "protocol-context": ["--model", "default", "--passage-context", "--map-depth", "20"],
    "protocol-context-ceiling": [
        "--model",
        "default",
        "--passage-context",
        "--map-depth",
        "20",
        *CEILING,
    ],
}
"""The default on XQuAD-R with each candidate input, and the translate-test ceiling of each
(the in-context run alone is the command of the measurement the docs quote; the one with the
ceiling reads the same vectors from the cache)."""


def run(data: Path, force: bool, options: list[str] | None = None, name: str = "") -> dict:
    """The report of one collection, from its record when the command is the same."""
    options = options or [*[x for m in MODELS for x in ("--model", m)], "--peer"]
    args = ["bias-report", str(data), *options]
    shown = "xlir-tui " + " ".join(args).replace(str(data), f"{data.parent.name}/{data.name}")
    record = RECORDS / f"{name or 'baselines'}-{data.name}.json"
    if record.exists() and not force:
        kept = json.loads(record.read_text())
        if kept.get("command") == shown:
            print(f"{data.name}: from {record.relative_to(ROOT)}", file=sys.stderr)
            return kept["report"]
    print(f"{data.name}: {shown} ...", file=sys.stderr)
    res = subprocess.run(
        [sys.executable, "-m", "xlir_tui.cli", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    report = json.loads(res.stdout)
    RECORDS.mkdir(parents=True, exist_ok=True)
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps({"command": shown, "report": report}, ensure_ascii=False) + "\n")
    tmp.replace(record)
    return report


def _summary_row(name: str, label: str, s: dict) -> str:
    return (
        f"| {name} | {label} | {s['mono']['map']:.3f} | {s['mono']['r@1']:.3f} | "
        f"{s['cross']['map']:.3f} | {s['cross']['r@1']:.3f} | {s['multi']['map']:.3f} | "
        f"{s['multi']['r@10']:.3f} | {s['multi']['rank_distance']:.1f} |"
    )


def protocol_section(reports: dict[str, dict], above: dict) -> list[str]:
    """The default on XQuAD-R with each candidate input and its translate-test ceiling, full
    mAP beside mAP@20, and what the ceiling adds, query by query."""
    rows: dict[tuple[bool, bool], dict] = {}
    for rep in reports.values():
        for m in rep["systems"]:
            rows.setdefault((m["model"]["passage_context"], "translate_query" in m), m)
    backend = rows[False, False]["model"].get("backend", "torch")
    old = above["systems"][0]
    old_backend = old["model"].get("backend", "torch")
    d_map = rows[False, False]["summary"]["multi"]["map"] - old["summary"]["multi"]["map"]
    d_rd = (
        rows[False, False]["summary"]["multi"]["rank_distance"]
        - old["summary"]["multi"]["rank_distance"]
    )
    same = (
        ""
        if backend == old_backend
        else f" (the tables above are from `{old_backend}`: hence the {d_map:+.4f} of multi mAP "
        f"and the {d_rd:+.1f} of rank distance of this page's sentence row against theirs)"
    )
    lines = [
        "## Candidate input, mAP@20 and the translate-test ceiling (XQuAD-R)",
        "",
        "The untrained default with each candidate input: the sentence alone (the tables above) "
        "or the sentence with its paragraph (`--passage-context`, LAReQA's input); and each "
        "question as it is or replaced by its own English version from the collection "
        "(`--translate-query en --mt parallel`: translate-test with a perfect translator, the "
        "ceiling of any MT system). Full-pool mAP (LAReQA, the hybrid-batch paper) beside "
        "XTREME-R's mAP@20 (`--map-depth 20`); on XQuAD-R every question has 11 relevant "
        "sentences, fewer than 20, so mAP@20 is also trec_eval's `map_cut_20`. Encoded with "
        f"the `{backend}` backend, the report's default{same}. Commands:",
        "",
        "```bash",
        *(
            f"xlir-tui bias-report data/xquad-r {' '.join(options)} --json"
            for options in PROTOCOL.values()
        ),
        "```",
        "",
        "| candidates | questions | mono mAP | mono mAP@20 | cross mAP | cross mAP@20 | "
        "multi mAP | multi mAP@20 | multi R@10 | rank distance | own@10 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (context, ceiling), m in sorted(rows.items()):
        s = m["summary"]
        lines.append(
            f"| {'sentence + paragraph' if context else 'sentence'} | "
            f"{'their en version' if ceiling else 'as asked'} | "
            f"{s['mono']['map']:.3f} | {s['mono']['map@20']:.3f} | {s['cross']['map']:.3f} | "
            f"{s['cross']['map@20']:.3f} | {s['multi']['map']:.3f} | {s['multi']['map@20']:.3f} | "
            f"{s['multi']['r@10']:.3f} | {s['multi']['rank_distance']:.1f} | "
            f"{m['bias']['same_language_share']:.2f} |"
        )
    lines += [
        "",
        "What the ceiling changes, per query (ceiling minus the questions as asked; "
        "95% bootstrap interval, Holm-corrected randomisation test, as the report gives them; "
        "0.004 is the smallest p that 2000 resamples give, times Holm's factor). The "
        "ceiling's own@10 is the share of the question's original language, which its English "
        "version no longer favours:",
        "",
    ]
    lines += [
        "| candidates | setting | difference | 95% interval | p (Holm) |",
        "|---|---|---|---|---|",
    ]
    for rep in reports.values():
        block = rep.get("comparisons")
        if not block:
            continue
        context = rep["systems"][0]["model"]["passage_context"]
        for c in block["results"]:
            metric = "mAP" if c["metric"] == "ap" else "rank distance"
            digits = 1 if c["metric"] == "rank_distance" else 3
            lo, hi = c["ci95"]
            lines.append(
                f"| {'sentence + paragraph' if context else 'sentence'} | {c['setting']} "
                f"{metric} | {c['mean_difference']:+.{digits}f} | "
                f"[{lo:+.{digits}f}, {hi:+.{digits}f}] | {c['p_holm']:.2g} |"
            )
    lines += [
        "",
        "Reading every candidate with its paragraph costs several times the encoding of the "
        "sentence alone, once per model and collection (the vectors are cached): "
        "[benchmarks.md](benchmarks.md#candidates-with-their-paragraph-benchbench_contextpy).",
        "",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--force", action="store_true", help="Run every report again.")
    parser.add_argument("--out", default=str(ROOT / "docs" / "baselines.md"))
    args = parser.parse_args()
    reports = {name: run(Path(args.data) / name, args.force) for name in ("xquad-r", "mlqa-r")}
    first = next(iter(reports.values()))["systems"]
    lines = [
        "# Baselines: the embedded encoders",
        "",
        f"`default` is {first[0]['label']} ({first[0]['model'].get('source', '')}); "
        f"`all-minilm-l6-v2` is {first[1]['model'].get('source', first[1]['label'])}, "
        "English-only, kept for contrast. Written by `.venv/bin/python bench/baselines.py` "
        "(the reports are kept in `docs/records/`), which runs, for each collection:",
        "",
        "```bash",
        *(
            f"xlir-tui bias-report {Path(args.data).name}/{n} "
            + " ".join(f"--model {m}" for m in MODELS)
            + " --peer --json"
            for n in reports
        ),
        "```",
        "",
        "mAP over the full pool (LAReQA); R@1 for mono and cross, R@10 for multi; rank distance "
        "in the multi pool (lower is less biased). Candidates read as their sentence alone, not "
        "with their paragraph as LAReQA reads them: the last section compares the two. "
        "Definitions: the module docstring of `xlir_tui/evaluation/metrics.py`.",
        "",
        "| collection | model | mono mAP | mono R@1 | cross mAP | cross R@1 | multi mAP | "
        "multi R@10 | rank distance |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rep in reports.items():
        for m in rep["systems"]:
            lines.append(_summary_row(name, m["label"], m["summary"]))
    for name, rep in reports.items():
        m, en = rep["systems"][0], rep["systems"][1]
        lines += [
            "",
            f"## {name}: per query language",
            "",
            f"{rep['questions']} questions, {rep['candidates']} candidates. own@{m['bias']['k']}: "
            "share of the multi-setting top 10 in the query's own language; expected: that "
            "language's share of the pool; unk: the tokenizer's unknown-token rate; PEER p: "
            "Kruskal-Wallis p-value over the relevant ranks of the language's questions, pooled, "
            "grouped by the relevant sentence's language. The last two "
            f"columns are {en['label']}'s, for contrast.",
            "",
            "| lang | mono mAP | cross mAP (as query) | multi mAP | rank distance | own@10 | "
            f"expected | unk | PEER p | {en['label']} multi mAP | its unk |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for lang, v in m["languages"].items():
            mu = v["multi"]
            peer = (mu.get("peer") or {}).get("p")
            ev = en["languages"][lang]
            lines.append(
                f"| {lang} | {v['mono']['map']:.3f} | {v['cross']['map_as_query']:.3f} | "
                f"{mu['map']:.3f} | {mu['rank_distance']:.1f} | "
                f"{mu['same_language_share']:.2f} | {mu['expected_same_language_share']:.2f} | "
                f"{v['unk_rate']:.1%} | {_p(peer)} | {ev['multi']['map']:.3f} | "
                f"{ev['unk_rate']:.1%} |"
            )
    lines += [
        "",
        "## Reference figures (mAP)",
        "",
        "From the hybrid batch training paper (Elmahdy, Lin, Ahmad, arXiv 2408.10536), "
        "multilingual encoders fine-tuned with each batch strategy; mAP over the full pool, as "
        "above (whether the paper read its candidates with their paragraphs is not established "
        "here):",
        "",
        "| model / batches | XQuAD-R mono | cross | multi | MLQA-R mono | cross | multi |",
        "|---|---|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in REFERENCE),
        "",
        "Mean rank distance on XQuAD-R, X-X-mono / X-Y / hybrid: XLM-R 410.2 / 295.4 / 286.6; "
        "LaBSE 261.5 / 225.2 / 221.1. LAReQA mBERT baselines (XQuAD-R multi mAP over the full "
        "pool, each candidate read with its paragraph: the pair (sentence, paragraph) its "
        "reference implementation gives the answer encoder): En-En 0.29, X-X 0.23, X-X-mono "
        "0.52, X-Y 0.66. XTREME-R reports LAReQA as the multi mAP@20 instead (its evaluation: "
        "sentence and paragraph concatenated): a figure of another metric, not comparable with "
        "these.",
        "",
    ]
    xquad = Path(args.data) / "xquad-r"
    protocol = {name: run(xquad, args.force, o, name) for name, o in PROTOCOL.items()}
    lines += protocol_section(protocol, reports["xquad-r"])
    reading = Path(args.out).read_text() if Path(args.out).exists() else ""
    kept = reading[reading.index(READING) :] if READING in reading else ""
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + ("\n" + kept if kept else ""))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
