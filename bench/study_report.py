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
from study_settings import LEGACY, ROOT, STRATEGIES, make_parser, run_id, settings_of

from xlir_tui.evaluation.compare import compare, holm

READING = "## Reading these figures"
PAPER = [
    ("XLM-R, X-X-mono", ".792", ".674", ".547", "410.2"),
    ("XLM-R, X-Y", ".755", ".700", ".593", "295.4"),
    ("XLM-R, hybrid", ".798", ".705", ".593", "286.6"),
    ("LaBSE, X-X-mono", ".808", ".752", ".652", "261.5"),
    ("LaBSE, X-Y", ".801", ".762", ".679", "225.2"),
    ("LaBSE, hybrid", ".817", ".767", ".682", "221.1"),
]


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
    lines += _other_settings(records, settings, recs, by_strategy, seeds[0])
    lines += _precision(records, args.resamples)
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


def _settings(folder: Path) -> dict[str, Any]:
    """A records folder's study settings, those it predates filled in as they were."""
    return {**LEGACY, **json.loads((folder / "study.json").read_text())["settings"]}


def _other_settings(
    records: Path,
    settings: dict[str, Any],
    recs: dict[str, dict[str, Any]],
    by: dict[str, list[str]],
    seed: int,
) -> list[str]:
    """Runs of this study's plan under other settings, each kept in a folder of its own beside
    this study's (``--records <this>-<name>``), shown beside the same run here.

    One seed each (``seed``, this study's first): a first look at what moves the figures, read
    against the spread between this study's seeds, not a test (a paired test over queries would
    ignore that spread). Folders with more seeds are compared by :func:`_precision`."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    settings = {**LEGACY, **settings}
    for folder in sorted(records.parent.glob(f"{records.name}-*")):
        if not (folder / "study.json").exists():
            continue
        other = _settings(folder)
        changed = {k: v for k, v in other.items() if settings.get(k) != v}
        said = ", ".join(_setting(k, v) for k, v in changed.items())
        for path in sorted(folder.glob("*.json")):
            if path.stem in ("study", "references", "reference-default"):
                continue
            entry = json.loads(path.read_text())
            if entry.get("seed", seed) != seed:
                continue
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


PRECISION_KEYS = ("precision", "length_group_size", "save_dtype")
"""What changes how a run computes and stores, not what it learns from."""


def _precision(records: Path, resamples: int) -> list[str]:
    """Each records folder trained in bfloat16 against the float32 folder with otherwise the
    same settings, run by run, when both have two or more seeds of it: the figures of every
    seed, whether the bfloat16 mean lies within the float32 seeds' range, the paired test per
    query (AP averaged over each side's seeds) and Welch's t-test between the seeds' figures."""
    from scipy.stats import ttest_ind

    folders = [
        f for f in sorted(records.parent.glob(f"{records.name}*")) if (f / "study.json").exists()
    ]
    pairs = []
    for low in folders:
        s_low = _settings(low)
        if s_low["precision"] != "bfloat16":
            continue
        same = {k: v for k, v in s_low.items() if k not in PRECISION_KEYS}
        for ref in folders:
            s_ref = _settings(ref)
            if s_ref["precision"] == "float32" and same == {
                k: v for k, v in s_ref.items() if k not in PRECISION_KEYS
            }:
                pairs.append((ref, low))
    lines: list[str] = []
    for ref, low in pairs:
        for family in sorted({_family(p.stem) for p in low.glob("*-s*.json")}):
            names = {
                side: sorted(p.stem for p in folder.glob(f"{family}-s*.json"))
                for side, folder in (("float32", ref), ("bfloat16", low))
            }
            if min(len(v) for v in names.values()) < 2:
                continue
            lines += _precision_family(ref, low, family, names, resamples, ttest_ind)
    return lines


def _family(run: str) -> str:
    """``hybrid-a0.5-s1`` -> ``hybrid-a0.5``."""
    return run.rsplit("-s", 1)[0]


def _precision_family(
    ref: Path,
    low: Path,
    family: str,
    names: dict[str, list[str]],
    resamples: int,
    ttest_ind: Any,
) -> list[str]:
    folder = {"float32": ref, "bfloat16": low}
    recs = {side: [_record(folder[side], n) for n in ns] for side, ns in names.items()}
    s_low = _settings(low)
    keys = ("mono", "cross", "multi", "r10", "rd", "own")
    digits = {"rd": 1, "own": 2}
    lines = [
        f"## Training precision: {family}, float32 against bfloat16",
        "",
        f"The same run ({family}, settings of `{_shown_path(low)}`) trained in float32 "
        f"(`{_shown_path(ref)}`) and with `--precision bfloat16` (mixed precision), "
        f"`--length-group-size {s_low['length_group_size']}` and the weights stored in "
        f"{s_low['save_dtype']} (`{_shown_path(low)}`), {len(names['float32'])} and "
        f"{len(names['bfloat16'])} seeds; scored as above. Training time is wall time on a "
        "machine shared with other work: compare it with care (`docs/benchmarks.md` measures "
        "the step in one run).",
        "",
        "| precision | seed | mono mAP | cross mAP | multi mAP | multi R@10 | rank distance | "
        "own@10 | training | examples/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    figs = {side: [_figures(r) for r in rs] for side, rs in recs.items()}
    for side, rs in recs.items():
        for r, f in zip(rs, figs[side], strict=True):
            lines.append(
                f"| {side} | {r['seed']} | "
                + " | ".join(f"{f[k]:.{digits.get(k, 3)}f}" for k in keys)
                + f" | {r['train_s'] / 60:.1f} min | {r.get('examples_per_s') or 0:.1f} |"
            )
        lines.append(
            f"| **{side}** | mean ± sd | "
            + " | ".join(_mean_sd([f[k] for f in figs[side]], digits.get(k, 3)) for k in keys)
            + f" | {statistics.mean(r['train_s'] for r in rs) / 60:.1f} min | "
            f"{statistics.mean(r.get('examples_per_s') or 0 for r in rs):.1f} |"
        )
    inside = [
        k
        for k in keys
        if min(f[k] for f in figs["float32"])
        <= statistics.mean(f[k] for f in figs["bfloat16"])
        <= max(f[k] for f in figs["float32"])
    ]
    outside = [k for k in keys if k not in inside]
    label = {"rd": "rank distance", "r10": "multi R@10", "own": "own@10"}
    lines += [
        "",
        "The bfloat16 mean lies within the range of the float32 seeds for "
        + (", ".join(label.get(k, f"{k} mAP") for k in inside) or "no figure")
        + (
            "; outside it for " + ", ".join(label.get(k, f"{k} mAP") for k in outside)
            if outside
            else ""
        )
        + ".",
        "",
    ]
    averaged = {side: _averaged(folder[side], ns) for side, ns in names.items()}
    results = compare(
        [("float32", averaged["float32"]), ("bfloat16", averaged["bfloat16"])],
        resamples=resamples,
    )
    adjusted = holm([c.p for c in results])

    def per_seed(side: str, setting: str, metric: str) -> list[float]:
        key = "map" if metric == "ap" else metric
        return [r["summary"][setting][key] for r in recs[side]]

    between = holm(
        [
            float(
                ttest_ind(
                    per_seed("bfloat16", c.setting, c.metric),
                    per_seed("float32", c.setting, c.metric),
                    equal_var=False,
                ).pvalue
            )
            for c in results
        ]
    )
    lines += [
        "Query by query (each query's AP and rank distance averaged over each side's seeds; "
        f"bfloat16 minus float32, 95% bootstrap interval, paired randomisation test with "
        f"{resamples} resamples, Holm-corrected over these {len(results)} comparisons), and "
        "between seeds (Welch's t-test on the per-seed figures, Holm-corrected):",
        "",
        "| setting | difference | 95% interval | p (Holm) | | p between seeds (Holm) |",
        "|---|---|---|---|---|---|",
    ]
    for c, p, q in zip(results, adjusted, between, strict=True):
        d = 1 if c.metric == "rank_distance" else 4
        what = "rank distance" if c.metric == "rank_distance" else "AP"
        verdict = ""
        if p < 0.05:
            better = (c.mean_difference > 0) == c.higher_is_better
            verdict = "bfloat16 better" if better else "bfloat16 worse"
        lines.append(
            f"| {c.setting} {what} | {c.mean_difference:+.{d}f} | "
            f"[{c.ci95[0]:+.{d}f}, {c.ci95[1]:+.{d}f}] | {p:.2g} | {verdict} | {q:.2g} |"
        )
    lines += ["", "Each written by (then the page by this study's command above):", "", "```bash"]
    for side in ("float32", "bfloat16"):
        lines.append(
            _study_command(
                json.loads((folder[side] / "study.json").read_text())["settings"],
                "--records",
                _shown_path(folder[side]),
                "--only",
                ",".join(names[side]),
            )
        )
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
        f"0), Holm-corrected over these {len(results)} comparisons "
        "(`xlir_tui/evaluation/compare.py`). "
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
