"""docs/remedies.md from the records of ``bench/remedies.py`` (figures only; nothing is encoded
or trained here). Every figure on the page, the reading at its end included, is computed from
the records: none is typed by hand."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from remedies_settings import CEILING, ROOT, Cell
from seed_stats import figures, mean_sd, seed_average

from xlir_tui.evaluation.compare import compare, holm
from xlir_tui.evaluation.render import p_text

PLAIN = "plain"
CEILING_NAME = "translate-test ceiling"
METRIC_KEYS = ("mono", "cross", "multi", "map20", "r10", "rd", "own")
HEADER = (
    "| system | mono mAP | cross mAP | multi mAP | multi mAP@{d} | multi R@10 | rank distance | "
    "own@10 |"
)


# ----------------------------------------------------------------------------- records


def _load(records: Path, name: str) -> dict[str, Any] | None:
    path = records / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _queries(records: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(records / f"{name}.parquet")


def system_name(entry: dict[str, Any]) -> str:
    """What a system of a cell is: ``plain``, a remedy (its fit's name, as the report's label
    ends: ``center``, ``lir(r=2/1)`` ...) or the translate-test ceiling."""
    if "debias" in entry:
        return entry["label"].rsplit(" + ", 1)[1]
    if "translate_query" in entry:
        return CEILING_NAME
    return PLAIN


def systems(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A cell's systems by :func:`system_name`, in the report's order."""
    return {system_name(e): e for e in record["report"]["systems"]}


def _figs(entry: dict[str, Any], depth: int) -> dict[str, float]:
    return {**figures(entry), "map20": entry["summary"]["multi"][f"map@{depth}"]}


def _digits(key: str) -> int:
    return 1 if key == "rd" else 2 if key == "own" else 3


def _row(label: str, f: dict[str, float]) -> str:
    return f"| {label} | " + " | ".join(f"{f[k]:.{_digits(k)}f}" for k in METRIC_KEYS) + " |"


def _what(metric: str) -> str:
    return "rank distance" if metric == "rank_distance" else "AP"


def _verdict(difference: float, p: float, higher_is_better: bool) -> str:
    if p >= 0.05:
        return "no evidence of a difference"
    return "better" if (difference > 0) == higher_is_better else "worse"


def _p(p: float) -> str:
    """A p-value; NaN (no spread to test) as a dash, one that underflows to 0 as a bound."""
    if p != p:
        return "—"
    return "<1e-300" if p == 0 else f"{p:.2g}"


# ----------------------------------------------------------------------------- page


def write_page(args: Any, records: Path, cells: list[Cell], missing: list[str]) -> None:
    """The page from the cells done; ``missing`` names those still to run (said at the top)."""
    settings = json.loads((records / "remedies.json").read_text(encoding="utf-8"))["settings"]
    depth = settings["map_depth"]
    recs = {c.name: r for c in cells if (r := _load(records, c.name)) is not None}
    seeds = settings["seeds"]
    training = settings["training"]
    first = next(iter(recs.values()))["report"] if recs else None
    scope = (
        f"{first['questions']:,} questions, {first['candidates']:,} candidates in "
        f"{len(first['languages'])} languages; "
        if first is not None and "questions" in first
        else ""
    )
    expected = (
        f" ({first['systems'][0]['bias']['expected_same_language_share']:.0%} expected without "
        "bias)"
        if first is not None
        else ""
    )
    default = recs.get("default-sentence-remedies") or recs.get("default-sentence-ceiling")
    default_name = default["report"]["systems"][0]["label"] if default else settings["base"]
    lines = [
        "# Language-bias remedies without training, beside training",
        "",
        "The four training-free remedies of the tool (`--debias`, [README](../README.md#"
        "bias-remedies-without-training)) against the plain system, on the untrained "
        f"default encoder ({default_name}) and on the best training setting of "
        f"[training.md](training.md) ({_training_said(training)}; {len(seeds)} seeds), "
        "with each candidate read as its sentence (the tool's default) and with its paragraph "
        "(`--passage-context`, LAReQA's input), beside the translate-test ceiling; scored on "
        f"the whole of `{settings['eval']}` ({scope}no run saw it in training), encoding with the "
        f"`{settings['backend']}` backend. Each remedy is fitted on the collection being "
        "scored, from its texts and their language tags only (never relevance): centring "
        "(Libovický et al. 2020), LIR (Yang et al. 2021; `lir(r=Q/C)` removes Q directions per "
        "language from queries and C from candidates), LEACE (Belrose et al. 2023, "
        "`concept-erasure`), and the language subspace (the span of the centred language "
        "means; `subspace(r=K)` removes K directions). mAP is over the whole pool (LAReQA's), "
        f"beside XTREME-R's mAP@{depth} (`--map-depth {depth}`); own@10 is the share of the "
        f"multi top 10 in the query's own language{expected}.",
        "",
        "Written by (resumable; each cell's record, the report as the tool printed it and the "
        f"per-query AP, is in `{_shown(records)}`):",
        "",
        "```bash",
        "nice -n 19 .venv/bin/python bench/remedies.py --trained "
        + ",".join(f"bench/results/{training['study']}/hybrid-a0.5-s{s}" for s in seeds),
        "```",
        "",
    ]
    if missing:
        lines += [
            f"**Interim:** {len(cells) - len(missing)} of the {len(cells)} cells are done; "
            f"still to run: {', '.join(missing)}. The same command resumes the study and "
            "rewrites this page; the sections below show what is done.",
            "",
        ]
    lines += _untrained(recs, "sentence", depth)
    lines += _trained(records, recs, seeds, "sentence", depth, args.resamples)
    lines += _side_by_side(recs, seeds)
    lines += _context(records, recs, seeds, depth, args.resamples)
    lines += _ceiling(records, recs, seeds, depth, args.resamples)
    lines += _costs(recs, seeds, records, training)
    lines += _reading(recs, seeds)
    lines += _commands(recs, cells, training["study"])
    out = Path(args.doc)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _training_said(t: dict[str, Any]) -> str:
    return (
        f"hybrid batches, alpha 0.5, {t['steps']} steps of {t['batch_size']} pairs on MLQA-R, "
        f"lr {t['lr']:g}, InfoNCE scale {t['scale']:g}"
        + (", hard negatives" if t.get("hard_negatives") else "")
        + (", word embeddings frozen" if t.get("freeze_embeddings") else "")
    )


def _tests(
    record: dict[str, Any], names: Callable[[str], str], what: str = "Against the plain system"
) -> list[str]:
    """The report's own paired tests of each system against its baseline."""
    block = record["report"].get("comparisons")
    if not block:
        return []
    lines = [
        f"{what}, query by query, as the report gives them ("
        f"{block['resamples']} resamples, seed {block['seed']}; 95% percentile-bootstrap "
        "interval of the mean difference; paired randomisation test, Holm-corrected over the "
        f"report's {len(block['results'])} comparisons; two-sided, so the smallest p is about "
        f"{2 * len(block['results']) / (block['resamples'] + 1):.1g}, a bound shown as "
        "≤):",
        "",
        "| system | setting | difference | 95% interval | p (Holm) | |",
        "|---|---|---|---|---|---|",
    ]
    for c in block["results"]:
        digits = 1 if c["metric"] == "rank_distance" else 3
        lo, hi = c["ci95"]
        higher = c["metric"] != "rank_distance"
        lines.append(
            f"| {names(c['system'])} | {c['setting']} {_what(c['metric'])} | "
            f"{c['mean_difference']:+.{digits}f} | [{lo:+.{digits}f}, {hi:+.{digits}f}] | "
            f"{p_text(c, block['resamples'])} | "
            f"{_verdict(c['mean_difference'], c['p_holm'], higher)} |"
        )
    return [*lines, ""]


def _label_names(record: dict[str, Any]) -> Callable[[str], str]:
    by_label = {e["label"]: system_name(e) for e in record["report"]["systems"]}
    return lambda label: by_label.get(label, label)


def _untrained(recs: dict[str, dict[str, Any]], input_: str, depth: int) -> list[str]:
    rec = recs.get(f"default-{input_}-remedies")
    said = "their sentence" if input_ == "sentence" else "their sentence with its paragraph"
    title = (
        "## The untrained default, candidates as their sentence"
        if input_ == "sentence"
        else "## The untrained default, candidates with their paragraph (LAReQA's input)"
    )
    if rec is None:
        return [title, "", "(not run yet)", ""]
    lines = [
        title,
        "",
        f"Candidates read as {said}; each remedy fitted on the collection's questions and "
        "candidates.",
        "",
        HEADER.format(d=depth),
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in systems(rec).items():
        lines.append(_row(name, _figs(entry, depth)))
    return [*lines, "", *_tests(rec, _label_names(rec))]


def _seed_records(
    recs: dict[str, dict[str, Any]], seeds: list[int], input_: str, kind: str = "remedies"
) -> list[tuple[int, dict[str, Any]]]:
    """The trained seeds' records of one kind of cell, in seed order, those done."""
    return [(s, recs[f"s{s}-{input_}-{kind}"]) for s in seeds if f"s{s}-{input_}-{kind}" in recs]


def _trained(
    records: Path,
    recs: dict[str, dict[str, Any]],
    seeds: list[int],
    input_: str,
    depth: int,
    resamples: int,
) -> list[str]:
    done = _seed_records(recs, seeds, input_)
    title = (
        "## The best training setting, candidates as their sentence"
        if input_ == "sentence"
        else "## The best training setting, candidates with their paragraph"
    )
    if not done:
        return [title, "", f"(no seed done yet of {len(seeds)})", ""]
    names = list(systems(done[0][1]))
    lines = [
        title,
        "",
        f"Mean ± standard deviation over {len(done)} seed(s) "
        f"({', '.join(str(s) for s, _ in done)}"
        + (f"; {len(seeds) - len(done)} still to run" if len(done) < len(seeds) else "")
        + "); each seed's model scored and debiased on its own"
        + (
            " (trained on sentences, scored with paragraphs: the input changes at scoring only)"
            if input_ == "context"
            else ""
        )
        + ".",
        "",
        HEADER.format(d=depth),
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        figs = [_figs(systems(r)[name], depth) for _, r in done]
        lines.append(
            f"| {name} | "
            + " | ".join(mean_sd([f[k] for f in figs], _digits(k)) for k in METRIC_KEYS)
            + " |"
        )
    lines.append("")
    if len(done) > 1:
        lines += _seed_tests(records, [f"s{s}-{input_}-remedies" for s, _ in done], resamples)
    return lines


def _seed_tests(records: Path, cells: list[str], resamples: int) -> list[str]:
    """Each remedy against the plain system on the per-query AP (and rank distance) averaged
    over seeds, as training.md compares strategies; and between seeds, each seed one pair."""
    from scipy.stats import ttest_rel

    frames = [_queries(records, c) for c in cells]
    recs = [json.loads((records / f"{c}.json").read_text(encoding="utf-8")) for c in cells]
    names = list(systems(recs[0]))
    labels = [{system_name(e): e["label"] for e in r["report"]["systems"]} for r in recs]
    tables = []
    for name in names:
        per_seed = [
            f.filter(pl.col("system") == lab[name]) for f, lab in zip(frames, labels, strict=True)
        ]
        tables.append((name, seed_average(per_seed)))
    plain = names.index(PLAIN)
    results = compare(
        tables, resamples=resamples, baselines=[None if n == PLAIN else plain for n in names]
    )
    between = []
    for c in results:
        key = "map" if c.metric == "ap" else c.metric

        def per_seed(name: str, c: Any = c, key: str = key) -> list[float]:
            return [systems(r)[name]["summary"][c.setting][key] for r in recs]

        between.append(float(ttest_rel(per_seed(c.system), per_seed(PLAIN)).pvalue))
    finite = [i for i, p in enumerate(between) if p == p]  # NaN: no spread between seeds
    for i, q in zip(finite, holm([between[i] for i in finite]), strict=True):
        between[i] = q
    lines = [
        "Against the plain system, query by query: each query's AP (and rank distance) "
        f"averaged over the {len(cells)} seeds, then the mean difference, its 95% "
        f"percentile-bootstrap interval and a paired randomisation test ({resamples} resamples, "
        f"seed 0), Holm-corrected over these {len(results)} comparisons "
        "(`xlir_tui/evaluation/compare.py`, "
        "as training.md compares strategies). That test holds the models fixed; the last "
        "column asks whether another draw of seeds would agree, as far as a few seeds can: a "
        f"paired t-test over the seeds' figures ({len(cells)} pairs, `scipy.stats.ttest_rel`), "
        "Holm-corrected the same way. A p written ≤ is the randomisation test's resolution "
        "(no resample reached the observed difference), a bound, not a value.",
        "",
        "| system | setting | difference | 95% interval | p (Holm) | | p between seeds (Holm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, q in zip(results, between, strict=True):
        digits = 1 if c.metric == "rank_distance" else 4
        lines.append(
            f"| {c.system} | {c.setting} {_what(c.metric)} | {c.mean_difference:+.{digits}f} | "
            f"[{c.ci95[0]:+.{digits}f}, {c.ci95[1]:+.{digits}f}] | "
            f"{p_text(c.to_dict(), resamples)} | "
            f"{_verdict(c.mean_difference, c.p_holm, c.higher_is_better)} | {_p(q)} |"
        )
    return [*lines, ""]


def _side_by_side(recs: dict[str, dict[str, Any]], seeds: list[int]) -> list[str]:
    """Each remedy on the untrained and on the trained model: what training adds on top of a
    remedy, and a remedy on top of training."""
    untrained = recs.get("default-sentence-remedies")
    done = _seed_records(recs, seeds, "sentence")
    if untrained is None or not done:
        return []
    lines = [
        "## Remedies and training side by side (candidates as their sentence)",
        "",
        f"Untrained and trained (mean over {len(done)} seed(s)); each difference is the trained "
        "figure minus the untrained one.",
        "",
        "| system | multi mAP untrained | trained | difference | rank distance untrained | "
        "trained | difference | mono mAP untrained | trained | difference |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in systems(untrained).items():
        u = figures(entry)
        t = {
            k: statistics.mean(figures(systems(r)[name])[k] for _, r in done)
            for k in ("multi", "rd", "mono")
        }
        lines.append(
            f"| {name} | {u['multi']:.3f} | {t['multi']:.3f} | {t['multi'] - u['multi']:+.3f} | "
            f"{u['rd']:.1f} | {t['rd']:.1f} | {t['rd'] - u['rd']:+.1f} | {u['mono']:.3f} | "
            f"{t['mono']:.3f} | {t['mono'] - u['mono']:+.3f} |"
        )
    return [*lines, ""]


def _context(
    records: Path, recs: dict[str, dict[str, Any]], seeds: list[int], depth: int, resamples: int
) -> list[str]:
    lines = _untrained(recs, "context", depth)
    sentence, context = recs.get("default-sentence-remedies"), recs.get("default-context-remedies")
    if sentence is not None and context is not None:
        lines += [
            "What reading the paragraph changes for each system of the untrained default "
            "(with paragraph minus sentence alone):",
            "",
            "| system | mono mAP | cross mAP | multi mAP | rank distance | own@10 |",
            "|---|---|---|---|---|---|",
        ]
        with_ = systems(context)
        for name, entry in systems(sentence).items():
            if name not in with_:
                continue
            a, b = figures(entry), figures(with_[name])
            lines.append(
                f"| {name} | "
                + " | ".join(
                    f"{b[k] - a[k]:+.{_digits(k)}f}"
                    for k in ("mono", "cross", "multi", "rd", "own")
                )
                + " |"
            )
        lines.append("")
    lines += _trained(records, recs, seeds, "context", depth, resamples)
    return lines


def _ceiling(
    records: Path, recs: dict[str, dict[str, Any]], seeds: list[int], depth: int, resamples: int
) -> list[str]:
    rows = []
    for input_ in ("sentence", "context"):
        ceiling = recs.get(f"default-{input_}-ceiling")
        remedies = recs.get(f"default-{input_}-remedies")
        said = "sentence" if input_ == "sentence" else "sentence + paragraph"
        if ceiling is not None:
            got = systems(ceiling)
            rows.append(_row(f"untrained, {said}: plain", _figs(got[PLAIN], depth)))
            rows.append(_row(f"untrained, {said}: {CEILING_NAME}", _figs(got[CEILING_NAME], depth)))
        if ceiling is not None and remedies is not None:
            best, entry = max(
                ((n, e) for n, e in systems(remedies).items() if n != PLAIN),
                key=lambda x: x[1]["summary"]["multi"]["map"],
            )
            rows.append(
                _row(
                    f"untrained, {said}: {best} (the best remedy by multi mAP)", _figs(entry, depth)
                )
            )
        trained = [r for _, r in _seed_records(recs, seeds, input_, "ceiling")]
        for name in (PLAIN, CEILING_NAME) if trained else ():
            figs = [_figs(systems(r)[name], depth) for r in trained]
            rows.append(
                f"| trained ({len(trained)} seeds), {said}: {name} | "
                + " | ".join(mean_sd([f[k] for f in figs], _digits(k)) for k in METRIC_KEYS)
                + " |"
            )
    if not rows:
        return ["## The translate-test ceiling", "", "(not run yet)", ""]
    lines = [
        "## The translate-test ceiling",
        "",
        "Each question replaced by its own English version from the collection "
        f"(`{' '.join(CEILING)}`): XQuAD's questions are human translations of one another, so "
        "this is translate-test with a perfect translator, the ceiling of any MT system; on the "
        "untrained default and on the trained seeds of the best training setting (mean ± "
        "standard deviation over the seeds). The "
        "tool scores translated queries with the plain system only: a remedy is not combined "
        "with translated queries (`bias-report` adds the translated system beside the plain "
        "one, not beside the debiased ones). The ceiling's own@10 is the share of the "
        "question's original language, which its English version no longer favours.",
        "",
        HEADER.format(d=depth),
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    for input_ in ("sentence", "context"):
        rec = recs.get(f"default-{input_}-ceiling")
        if rec is None:
            continue
        said = "their sentence" if input_ == "sentence" else "their sentence with its paragraph"
        lines += _tests(
            rec, _label_names(rec), f"The ceiling against the plain system, candidates as {said}"
        )
    for input_ in ("sentence", "context"):
        cells = [f"s{s}-{input_}-ceiling" for s, _ in _seed_records(recs, seeds, input_, "ceiling")]
        if len(cells) > 1:
            said = "their sentence" if input_ == "sentence" else "their sentence with its paragraph"
            lines += [f"The trained seeds' ceiling, candidates as {said}:", ""]
            lines += _seed_tests(records, cells, resamples)
    return lines


def _costs(
    recs: dict[str, dict[str, Any]], seeds: list[int], records: Path, training: dict[str, Any]
) -> list[str]:
    lines = ["## What each remedy costs", ""]
    report = recs.get("default-sentence-remedies")
    bench = recs.get("default-sentence-costs")
    if report is None and bench is None:
        lines += ["(not run yet)", ""]
    names = [n for n in systems(report) if n != PLAIN] if report is not None else []
    measured = (bench or {}).get("bench", {}).get("results", {})
    if report is not None:
        lines += [
            "In the report of the untrained default (candidates as their sentence), for each "
            "remedy: the fit (seconds, on the "
            f"{report['report']['questions'] + report['report']['candidates']:,} question and "
            "candidate vectors, measured when the fit was made: a fit is kept in the cache and "
            "reused), the transform of every candidate (once, when the system opens) and of all "
            f"{report['report']['questions']:,} queries (after encoding). "
            + (
                "From `bench/bench_debias.py` in one run, against the plain system in that run: "
                "the fit (best of 3), one query's transform, and one query's search (encode + "
                "top 10 of the whole pool; median over "
                f"{bench['latency_queries'] if bench else 0} questions, "
                "interleaved), as a ratio to the plain system's exact scan."
                if bench is not None
                else "The benchmark of one query's cost has not run yet."
            ),
            "",
            "| remedy | fit (report) | candidates transformed | queries transformed | "
            "fit (best of 3) | one query's transform | one query's search | against plain |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name in names:
            entry = systems(report)[name]
            t, d = entry["timings"], entry["debias"]
            m = measured.get(name, {})
            fit = f"{d['fit_s']:.2f} s" if "fit_s" in d else "—"
            if d.get("source", "fitted") != "fitted":
                fit += f" (fit from the {d['source']})"
            lines.append(
                f"| {name} | {fit} | {t['debias_candidates_s']:.2f} s | "
                f"{t['debias_queries_s']:.2f} s | "
                + (
                    f"{m['fit_s']:.3f} s | {m['one_query_transform_ms']:.3f} ms | "
                    f"{m['p50_ms']:.1f} ms | {m['p50_vs_plain_exact']:.2f}x |"
                    if m
                    else "— | — | — | — |"
                )
            )
        for plain in ("plain, exact", "plain, hnsw"):
            if plain in measured:
                m = measured[plain]
                lines.append(
                    f"| none ({plain.split(', ')[1]} search) | — | — | — | — | — | "
                    f"{m['p50_ms']:.1f} ms | {m['p50_vs_plain_exact']:.2f}x |"
                )
        lines.append("")
    if bench is not None:
        load = bench["bench"].get("load_average")
        lines += [
            f"The benchmark ran on a shared machine (load average {load[0]:.1f} at its end"
            if load
            else "The benchmark ran on a shared machine",
        ]
        lines[-1] += (
            "); its command is listed below. The query-time overhead of a remedy is its "
            "transform, against the encoding of the query; the differences between the "
            "searches' medians are within a loaded machine's noise ([benchmarks.md]"
            "(benchmarks.md#bias-remedies-without-training-benchbench_debiaspy))."
        )
        lines.append("")
    done = _seed_records(recs, seeds, "sentence")
    if done:
        lines += [
            "Training, for comparison: each seed's wall time from its own events (`events.jsonl`"
            ": from `start` to `done`), on this shared two-core machine while other work ran, so "
            "these times say more about the machine's load than about training; the training "
            "study's own record of a seed (its `train_s`, when it has one) is shown beside it. "
            "Training ran on the CPUs; the remedies need no training.",
            "",
            "| seed | training (events) | steps | examples/s | the training study's record |",
            "|---|---|---|---|---|",
        ]
        for seed, rec in done:
            t = rec["training"]
            kept = records.parent / training["study"] / f"hybrid-a0.5-s{seed}.json"
            study = json.loads(kept.read_text(encoding="utf-8")) if kept.exists() else None
            lines.append(
                f"| {seed} | {t['seconds'] / 60:.1f} min"
                + (f" ({t['starts']} starts)" if t["starts"] > 1 else "")
                + f" | {t['steps']} × {t['batch_size']} | {t['examples_per_s']} | "
                + (
                    f"{study['train_s'] / 60:.1f} min, {study['examples_per_s']} examples/s"
                    if study and "train_s" in study
                    else "—"
                )
                + " |"
            )
        lines.append("")
    return lines


def _reading(recs: dict[str, dict[str, Any]], seeds: list[int]) -> list[str]:
    """What holds, in sentences built from the figures (each number from the records)."""
    untrained = recs.get("default-sentence-remedies")
    if untrained is None:
        return []
    lines = ["## Reading these figures", ""]
    u = {n: figures(e) for n, e in systems(untrained).items()}
    plain = u.pop(PLAIN)
    best = max(u, key=lambda n: u[n]["multi"])
    tests = {
        (c["system"], c["setting"], c["metric"]): c
        for c in untrained["report"].get("comparisons", {}).get("results", [])
    }
    label = {system_name(e): e["label"] for e in untrained["report"]["systems"]}
    raised = [n for n in u if u[n]["multi"] > plain["multi"]]
    lines.append(
        f"- **Untrained.** {len(raised)} of the {len(u)} remedies raise the default's multi "
        f"mAP ({plain['multi']:.3f} plain); the best, {best}, reaches {u[best]['multi']:.3f} and "
        f"takes the rank distance from {plain['rd']:.0f} to {u[best]['rd']:.0f} and the "
        f"own-language share of the top 10 from {plain['own']:.2f} to {u[best]['own']:.2f}."
    )
    hurt = []
    for n in u:
        c = tests.get((label[n], "mono", "ap"))
        if c and c["significant"] and c["mean_difference"] < 0:
            hurt.append(f"{n} {c['mean_difference']:+.3f}")
    lines.append(
        "- **Mono.** "
        + (
            f"Remedies that cost monolingual retrieval significantly: {', '.join(hurt)} "
            "(mean mono AP against plain)"
            + ("; the others do not, by the report's test." if len(hurt) < len(u) else ".")
            if hurt
            else "No remedy costs monolingual retrieval significantly, by the report's test."
        )
    )
    done = _seed_records(recs, seeds, "sentence")
    if done:
        t = {
            n: {
                k: statistics.mean(figures(systems(r)[n])[k] for _, r in done)
                for k in ("multi", "rd", "mono")
            }
            for n in systems(done[0][1])
        }
        gain_untrained = u[best]["multi"] - plain["multi"]
        gain_training = t[PLAIN]["multi"] - plain["multi"]
        on_top = {n: t[n]["multi"] - t[PLAIN]["multi"] for n in t if n != PLAIN}
        lines.append(
            f"- **Substitutes, partly.** Training alone ({len(done)} seed(s), mean) takes multi "
            f"mAP from {plain['multi']:.3f} to {t[PLAIN]['multi']:.3f} ({gain_training:+.3f}); "
            f"{best} alone on the untrained model gives {gain_untrained:+.3f}. On the trained "
            f"model the remedies move multi mAP by {min(on_top.values()):+.3f} to "
            f"{max(on_top.values()):+.3f} and rank distance from {t[PLAIN]['rd']:.0f} to "
            f"{min(t[n]['rd'] for n in on_top):.0f}-{max(t[n]['rd'] for n in on_top):.0f}: "
            + (
                "much less than on the untrained model, where the same remedies moved it by "
                f"{min(u[n]['multi'] - plain['multi'] for n in u):+.3f} to {gain_untrained:+.3f}."
                if max(on_top.values()) < gain_untrained / 2
                else "comparable to what they add to the untrained model."
            )
        )
        best_t = max(on_top, key=lambda n: t[n]["multi"])
        lines.append(
            f"- **Best of both.** The trained model with {best_t} reaches "
            f"{t[best_t]['multi']:.3f} multi mAP (mono {t[best_t]['mono']:.3f}, rank distance "
            f"{t[best_t]['rd']:.0f}) against {u[best]['multi']:.3f} (mono "
            f"{u[best]['mono']:.3f}, rank distance {u[best]['rd']:.0f}) for {best} on the "
            "untrained model."
        )
    ceiling = recs.get("default-sentence-ceiling")
    if ceiling is not None:
        c = figures(systems(ceiling)[CEILING_NAME])
        lines.append(
            f"- **The ceiling.** Perfect translate-test reaches {c['multi']:.3f} multi mAP and a "
            f"rank distance of {c['rd']:.0f} on the untrained default, "
            + (
                f"above every remedy (best {u[best]['multi']:.3f})"
                if c["multi"] > u[best]["multi"]
                else f"below {best} ({u[best]['multi']:.3f})"
            )
            + f", at a mono mAP of {c['mono']:.3f} against {plain['mono']:.3f} plain: queries "
            "all in English are no longer monolingual, so the ceiling trades mono retrieval for "
            "multi."
        )
        trained = [r for _, r in _seed_records(recs, seeds, "sentence", "ceiling")]
        if trained and done:
            tc = statistics.mean(figures(systems(r)[CEILING_NAME])["multi"] for r in trained)
            lines.append(
                f"- **The ceiling after training.** On the trained models ({len(trained)} "
                f"seed(s)) perfect translate-test reaches {tc:.3f} multi mAP against "
                f"{t[PLAIN]['multi']:.3f} for the plain trained model: "
                + (
                    "translating the queries still adds to a model trained for cross-lingual "
                    "retrieval."
                    if tc > t[PLAIN]["multi"]
                    else "a model trained for cross-lingual retrieval gains nothing from "
                    "perfectly translated queries."
                )
            )
    context = recs.get("default-context-remedies")
    if context is not None:
        cx = {n: figures(e) for n, e in systems(context).items()}
        best_c = max((n for n in cx if n != PLAIN), key=lambda n: cx[n]["multi"])
        lines.append(
            f"- **LAReQA's input.** Reading each candidate with its paragraph takes the "
            f"untrained default's multi mAP from {plain['multi']:.3f} to {cx[PLAIN]['multi']:.3f}"
            f" (own@10 {plain['own']:.2f} to {cx[PLAIN]['own']:.2f}); with paragraphs the best "
            f"remedy, {best_c}, reaches {cx[best_c]['multi']:.3f}. Figures from the two inputs "
            "are different measurements and are compared here only as such."
        )
        done_c = _seed_records(recs, seeds, "context")
        if done and done_c:
            multi_c = statistics.mean(figures(systems(r)[PLAIN])["multi"] for _, r in done_c)
            lines.append(
                f"- **Input at scoring only.** The trained models ({len(done_c)} seed(s)), "
                "trained on sentences and scored with paragraphs, reach "
                f"{multi_c:.3f} multi mAP against {t[PLAIN]['multi']:.3f} with sentences: the "
                "input a model is scored on should be the one it was trained on (whether "
                "`train --passage-context` closes the gap is measured in docs/reach.md)."
            )
    costs = recs.get("default-sentence-costs")
    if costs is not None and done:
        fits = [m["fit_s"] for n, m in costs["bench"]["results"].items() if "fit_s" in m]
        minutes = [r["training"]["seconds"] / 60 for _, r in done]
        lines.append(
            f"- **Cost.** A remedy's fit took {min(fits):.2f} to {max(fits):.2f} s and its "
            "transform of a query a small fraction of a millisecond; a training run took "
            f"{min(minutes):.0f} to {max(minutes):.0f} minutes here (a loaded machine)."
        )
    return [*lines, ""]


def _commands(recs: dict[str, dict[str, Any]], cells: list[Cell], study: str) -> list[str]:
    lines = [
        "## Commands",
        "",
        "Each cell of the study is one command of the tool (the figures above come from its "
        "output; `--out` is where it writes the runs and per-query table, removed once the "
        "record is kept), in the order the script runs them:",
        "",
        "```bash",
    ]
    for cell in cells:
        rec = recs.get(cell.name)
        if rec is None:
            continue
        lines.append(rec["command"])
    lines += ["```", ""]
    trained = [
        recs[c.name]["train_command"]
        for c in cells
        if c.name in recs and "train_command" in recs[c.name] and c.input == "sentence"
    ]
    if trained:
        lines += [
            "The trained models are the runs of `bench/study.py` "
            f"(`docs/records/{study}`), trained by:",
            "",
            "```bash",
            *trained,
            "```",
            "",
        ]
    return lines
