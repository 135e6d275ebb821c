"""docs/training.md from the records of ``bench/study.py`` (figures only; no training here)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import polars as pl
from seed_stats import figures as _figures
from seed_stats import mean_sd as _mean_sd
from seed_stats import seed_average
from study import PAPER, READING, ROOT, STRATEGIES, make_parser, run_id, settings_of

from xlir_tui.compare import compare, holm


def _record(records: Path, name: str) -> dict[str, Any]:
    return json.loads((records / f"{name}.json").read_text())


def _queries(records: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(records / f"{name}.parquet")


def _averaged(records: Path, names: list[str]) -> pl.DataFrame:
    """Per-query AP and rank distance averaged over a strategy's seeds."""
    return seed_average([_queries(records, n) for n in names])


def write_page(
    args: Any,
    records: Path,
    runs: list,
    seeds: list[int],
    alphas: list[float],
    missing: list[str] | None = None,
) -> None:
    """The page from the runs of ``seeds`` (each with its three strategies done); ``missing``
    names the runs of the plan still to do, said at the top of an interim page."""
    by_strategy = {s: [run_id(s, 0.5, seed) for seed in seeds] for s in STRATEGIES}
    recs = {name: _record(records, name) for names in by_strategy.values() for name in names}
    settings = json.loads((records / "study.json").read_text())["settings"]
    first = recs[by_strategy["mono"][0]]
    langs = list(first["languages"])
    lines = [
        "# Hybrid batch training on the multilingual default",
        "",
        "The default encoder (multilingual-e5-small) trained on MLQA-R with mono, cross and "
        f"hybrid (alpha 0.5) batches, {len(seeds)} seeds each ({', '.join(map(str, seeds))}), "
        f"{settings['steps']} steps of {settings['batch_size']} pairs, lr {settings['lr']}, inputs "
        f"truncated to {settings['max_seq_length']} tokens, InfoNCE scale {settings['scale']:g}"
        + (", word embeddings frozen" if settings["freeze_embeddings"] else "")
        + (", hard negatives" if settings["hard_negatives"] else "")
        + (", passages read with their paragraph" if settings["passage_context"] else "")
        + f"; then scored zero-shot on the whole of XQuAD-R (13,090 questions, 13,014 candidates "
        f"in 11 languages), which no run saw, encoding with the `{settings['backend']}` backend. "
        "Written by (resumable; the records of every run are in "
        f"`{_shown_path(records)}`):",
        "",
        "```bash",
        _study_command(settings),
        "```",
        "",
        "which trains each run with `xlir-tui train`, for example:",
        "",
        "```bash",
        *[recs[by_strategy[s][0]]["command"] for s in STRATEGIES],
        "```",
        "",
        "and scores it as `xlir-tui bias-report ../shared/data/xquad-r --model <run>` does.",
        "",
    ]
    if missing:
        lines += [
            f"**Interim:** {len(runs) - len(missing)} of the {len(runs)} runs of the plan are "
            f"done; still to run: {', '.join(missing)}. The same command resumes the study and "
            "rewrites this page; figures below are from the seeds whose three runs are done.",
            "",
        ]
    lines += [
        "## XQuAD-R, zero-shot: mean ± standard deviation over seeds",
        "",
        "mAP over the full pool (LAReQA's, not XTREME-R's mAP@20); candidates read "
        + (
            "with their paragraph (`--passage-context`)"
            if settings["passage_context"]
            else "as their sentence alone (no `--passage-context`)"
        )
        + ", in training and in scoring; multi R@10; rank distance in the multi pool (lower is "
        "less biased); own: share of the multi top 10 in the query's own language (9% expected "
        "without bias).",
        "",
        "| batches | mono mAP | cross mAP | multi mAP | multi R@10 | rank distance | own@10 | "
        "training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in STRATEGIES:
        figs = [_figures(recs[n]) for n in by_strategy[s]]
        train = statistics.mean(recs[n]["train_s"] for n in by_strategy[s]) / 60
        label = "hybrid (alpha 0.5)" if s == "hybrid" else s
        lines.append(
            f"| {label} | "
            + " | ".join(
                _mean_sd([f[k] for f in figs], 1 if k == "rd" else (2 if k == "own" else 3))
                for k in ("mono", "cross", "multi", "r10", "rd", "own")
            )
            + f" | {train:.1f} min |"
        )
    refs = _references(records)
    for label, entry in refs:
        f = _figures(entry)
        lines.append(
            f"| {label} | {f['mono']:.3f} | {f['cross']:.3f} | {f['multi']:.3f} | "
            f"{f['r10']:.3f} | {f['rd']:.1f} | {f['own']:.2f} | — |"
        )
    lines += [
        "",
        "The paper's figures on XQuAD-R (Elmahdy et al., arXiv 2408.10536; mAP over the full "
        "pool, as here, and mean rank distance; whether its candidates were read with their "
        "paragraphs is not established here), for encoders fine-tuned with each batch strategy:",
        "",
        "| model, batches | mono mAP | cross mAP | multi mAP | rank distance |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in PAPER),
        "",
    ]
    lines += _comparisons(records, by_strategy, args.resamples)
    lines += _per_language(recs, by_strategy, langs)
    lines += _sweep(records, seeds[0], alphas)
    lines += _other_settings(records, settings, recs, by_strategy)
    out = Path(args.doc)
    text = out.read_text() if out.exists() else ""
    kept = text[text.index(READING) :] if READING in text else ""
    out.write_text("\n".join(lines) + ("\n" + kept if kept else ""))


def _shown_path(path: Path) -> str:
    """A path as the page's commands give it: from the project's root when it is inside."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _flags(settings: dict[str, Any]) -> list[str]:
    """The study.py flags that give ``settings`` (those that differ from its defaults)."""
    defaults = settings_of(make_parser().parse_args([]))
    out = []
    for key, value in settings.items():
        if defaults.get(key) == value:
            continue
        flag = "--" + key.replace("_", "-")
        if key in ("train", "eval"):
            out.append(f"{flag} ../shared/data/{value}")
        elif isinstance(value, bool):
            out.append(flag if value else "")
        else:
            out.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
    return [x for x in out if x]


def _study_command(settings: dict[str, Any], *extra: str) -> str:
    return " ".join([".venv/bin/python bench/study.py", *_flags(settings), *extra])


def _other_settings(
    records: Path,
    settings: dict[str, Any],
    recs: dict[str, dict[str, Any]],
    by: dict[str, list[str]],
) -> list[str]:
    """Runs of this study's plan under other settings, each kept in a folder of its own beside
    this study's (``--records <this>-<name>``), shown beside the same run here.

    One seed each: a first look at what moves the figures, read against the spread between
    this study's seeds, not a test (a paired test over queries would ignore that spread)."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for folder in sorted(records.parent.glob(f"{records.name}-*")):
        if not (folder / "study.json").exists():
            continue
        other = json.loads((folder / "study.json").read_text())["settings"]
        changed = {k: v for k, v in other.items() if settings.get(k) != v}
        said = ", ".join(_setting(k, v) for k, v in changed.items())
        for path in sorted(folder.glob("*.json")):
            if path.stem in ("study", "references", "reference-default"):
                continue
            entry = json.loads(path.read_text())
            rows.append(
                (
                    said or "(same settings)",
                    _study_command(other, "--records", _shown_path(folder), "--only", entry["run"]),
                    entry,
                )
            )
    if not rows:
        return []
    rows.sort(key=lambda row: row[2]["run"])  # each run's variants under it
    spread = (
        {
            k: statistics.stdev(_figures(recs[n])[k] for n in by["hybrid"])
            for k in ("mono", "multi", "rd")
        }
        if len(by["hybrid"]) > 1
        else None
    )
    lines = [
        "## Other settings, one seed each",
        "",
        "Each run below changes this study's settings as its first column says and is shown "
        "under the same run of this study. One seed each: a first look, not a test"
        + (
            f"; the standard deviation between this study's hybrid seeds (mono "
            f"{spread['mono']:.3f}, multi {spread['multi']:.3f} mAP, rank distance "
            f"{spread['rd']:.0f}) is the yardstick for a difference."
            if spread
            else "."
        ),
        "",
        "| settings | run | mono mAP | cross mAP | multi mAP | multi R@10 | rank distance | "
        "own@10 | training |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    shown_here: set[str] = set()
    for said, _, entry in rows:
        here = records / f"{entry['run']}.json"
        if entry["run"] not in shown_here and here.exists():
            shown_here.add(entry["run"])
            lines.append(_row("this study", json.loads(here.read_text())))
        lines.append(_row(said, entry))
    lines += ["", "Each written by (then the page by this study's command above):", "", "```bash"]
    lines += [command for _, command, _ in rows]
    return [*lines, "```", ""]


def _setting(key: str, value: Any) -> str:
    name = key.replace("_", " ")
    if isinstance(value, bool):
        return name if value else f"no {name}"
    return f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"


def _row(label: str, entry: dict[str, Any]) -> str:
    f = _figures(entry)
    return (
        f"| {label} | {entry['run']} | {f['mono']:.3f} | {f['cross']:.3f} | {f['multi']:.3f} | "
        f"{f['r10']:.3f} | {f['rd']:.1f} | {f['own']:.2f} | {entry['train_s'] / 60:.1f} min |"
    )


def _references(records: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    path = records / "reference-default.json"
    if path.exists():
        out.append(("untrained default", json.loads(path.read_text())))
    path = records / "references.json"
    if path.exists():
        refs = json.loads(path.read_text())
        for kind in ("lexical", "fusion"):
            group = [r for r in refs if r["label"].startswith("fusion") == (kind == "fusion")]
            if group:
                best = max(group, key=lambda r: r["summary"]["multi"]["map"])
                out.append((f"{best['label']} (best {kind} by multi mAP)", best))
    baseline = ROOT / "docs" / "records" / "baselines-xquad-r.json"
    if baseline.exists():
        systems = json.loads(baseline.read_text())["report"]["systems"]
        english = next((s for s in systems if s["label"] == "all-minilm-l6-v2"), None)
        if english is not None:
            out.append(("all-minilm-l6-v2 (English-only, untrained)", english))
    return out


def _comparisons(records: Path, by: dict[str, list[str]], resamples: int) -> list[str]:
    averaged = {s: _averaged(records, names) for s, names in by.items()}
    results = []
    for other in ("mono", "cross"):
        results += compare(
            [(other, averaged[other]), ("hybrid", averaged["hybrid"])], resamples=resamples
        )
    adjusted = holm([c.p for c in results])
    between = (
        holm([_between_seeds(records, by, c.baseline, c.setting, c.metric) for c in results])
        if len(by["hybrid"]) > 1
        else [float("nan")] * len(results)
    )
    lines = [
        "## Hybrid against mono and against cross, query by query",
        "",
        "Each query's AP (and rank distance) averaged over the seeds of a strategy, then paired "
        "by query: the mean difference (hybrid minus the other), its 95% percentile-bootstrap "
        f"interval over queries, and a paired randomisation test ({resamples} resamples, seed "
        f"0), Holm-corrected over these {len(results)} comparisons (`xlir_tui/compare.py`). "
        "That test holds the seeds fixed: it asks whether these models differ, not whether "
        "another draw of seeds would order them the same. The last column asks the second "
        "question, as far as a few seeds can: Welch's t-test between the strategies' per-seed "
        f"figures ({len(by['hybrid'])} seeds each, `scipy.stats.ttest_ind`), Holm-corrected "
        "the same way.",
        "",
        "| hybrid against | setting | difference | 95% interval | p (Holm) | | p between seeds "
        "(Holm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, p, q in zip(results, adjusted, between, strict=True):
        digits = 1 if c.metric == "rank_distance" else 4
        what = "rank distance" if c.metric == "rank_distance" else "AP"
        verdict = ""
        if p < 0.05:
            better = (c.mean_difference > 0) == c.higher_is_better
            verdict = "hybrid better" if better else "hybrid worse"
        lines.append(
            f"| {c.baseline} | {c.setting} {what} | {c.mean_difference:+.{digits}f} | "
            f"[{c.ci95[0]:+.{digits}f}, {c.ci95[1]:+.{digits}f}] | {p:.2g} | {verdict} | "
            f"{q:.2g} |"
        )
    return [*lines, ""]


def _between_seeds(
    records: Path, by: dict[str, list[str]], other: str, setting: str, metric: str
) -> float:
    """Welch's t-test p between hybrid's and ``other``'s per-seed figure (mAP or mean rank
    distance, as the summary table has it) in ``setting``: each seed one observation."""
    from scipy.stats import ttest_ind

    key = "map" if metric == "ap" else metric

    def per_seed(strategy: str) -> list[float]:
        return [_record(records, name)["summary"][setting][key] for name in by[strategy]]

    return float(ttest_ind(per_seed("hybrid"), per_seed(other), equal_var=False).pvalue)


def _per_language(
    recs: dict[str, dict[str, Any]], by: dict[str, list[str]], langs: list[str]
) -> list[str]:
    lines: list[str] = []
    for title, get in (
        ("Multi-setting mAP per query language", lambda v: v["multi"]["map"]),
        ("Mono mAP per language", lambda v: v["mono"]["map"]),
        (
            "Own-language share of the multi top 10 per query language",
            lambda v: v["multi"]["same_language_share"],
        ),
    ):
        lines += [
            f"## {title} (mean over seeds)",
            "",
            "| batches | " + " | ".join(langs) + " |",
            "|---|" + "---|" * len(langs),
        ]
        for s, names in by.items():
            cells = [statistics.mean(get(recs[n]["languages"][x]) for n in names) for x in langs]
            lines.append(f"| {s} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
        lines.append("")
    return lines


def _sweep(records: Path, seed: int, alphas: list[float]) -> list[str]:
    lines = [
        f"## Alpha (share of mono batches in hybrid), seed {seed}",
        "",
        "Alpha 0 is cross batches only and alpha 1 mono batches only: those rows are the cross "
        "and mono runs of this seed.",
        "",
        "| alpha | mono mAP | cross mAP | multi mAP | multi R@10 | rank distance | own@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in sorted(alphas):
        name = (
            run_id("cross", 0.5, seed)
            if a == 0
            else run_id("mono", 0.5, seed)
            if a == 1
            else run_id("hybrid", a, seed)
        )
        path = records / f"{name}.json"
        if not path.exists():
            lines.append(f"| {a:g} | (not run) | | | | | |")
            continue
        f = _figures(json.loads(path.read_text()))
        lines.append(
            f"| {a:g} | {f['mono']:.3f} | {f['cross']:.3f} | {f['multi']:.3f} | {f['r10']:.3f} | "
            f"{f['rd']:.1f} | {f['own']:.2f} |"
        )
    return [*lines, ""]
