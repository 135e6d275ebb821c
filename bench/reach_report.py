"""docs/reach.md from the records of ``bench/reach.py`` (figures only; no training here)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from reach_settings import (
    CONFIGS,
    RUN,
    SCREEN,
    SEEDS,
    TARGET,
    load,
    records_of,
    screened_out,
    study_args,
)
from seed_stats import figures, mean_sd
from study_settings import DATA, ROOT

HEADER = (
    "| configuration | what changes | seeds | training | mono mAP | cross mAP | multi mAP | "
    "rank distance | own-language share of top 10 | reaches |"
)


def _shown(args: list[str]) -> str:
    text = " ".join(args).replace(str(DATA), "../shared/data")
    return text.replace(str(ROOT) + "/", "")


def _verdict(figs: list[dict[str, float]], minutes: list[float], first: Any) -> str:
    """Whether a row reaches the target, or why it does not (yet)."""
    if len(figs) < len(SEEDS) and screened_out(first):
        return f"no: the first seed's multi mAP is more than {SCREEN} below {TARGET['multi']}"
    if len(figs) < len(SEEDS):
        return f"not yet: {len(figs)} of {len(SEEDS)} seeds"
    mean = {k: statistics.mean(f[k] for f in figs) for k in ("mono", "multi", "rd")}
    misses = []
    if mean["multi"] < TARGET["multi"]:
        misses.append(f"multi {mean['multi']:.3f} < {TARGET['multi']}")
    if mean["rd"] > TARGET["rank_distance"]:
        misses.append(f"rank distance {mean['rd']:.0f} > {TARGET['rank_distance']:.0f}")
    if mean["mono"] < TARGET["mono"]:
        misses.append(f"mono {mean['mono']:.3f} < {TARGET['mono']}")
    if minutes and max(minutes) > TARGET["train_min"]:
        misses.append(f"training {max(minutes):.0f} min > {TARGET['train_min']:.0f}")
    return "**yes**" if not misses else "no: " + ", ".join(misses)


def _uninterrupted(runs: list[dict[str, Any]]) -> str:
    """`` (~N min at its median step)``: the median wall seconds between consecutive steps of the
    longest of ``runs``, times its steps, from the run's ``events.jsonl`` where it is still on
    this machine (an empty string where it is not)."""
    longest = max(runs, key=lambda r: r["train_s"])
    events_file = ROOT / longest["label"] / "events.jsonl"  # the model folder, from ROOT
    if not events_file.is_file():
        return ""
    events = [json.loads(line) for line in events_file.read_text(encoding="utf-8").splitlines()]
    gaps, prev, total = [], None, None
    for e in events:
        if e.get("event") == "start":  # a gap across starts is no step's time
            prev = None
        elif e.get("event") == "step":
            if prev is not None and e["step"] == prev["step"] + 1:
                gaps.append(e["time"] - prev["time"])
            prev, total = e, e["total_steps"]
    if not gaps or total is None:
        return ""
    return f" (~{statistics.median(gaps) * total / 60:.0f} min at its median step)"


def _rows(name: str, root: Path) -> list[str]:
    folder = records_of(name, root)
    runs = [r for r in (load(folder, f"{RUN}{s}") for s in SEEDS) if r is not None]
    centred = [r for r in (load(folder, f"center-s{s}") for s in SEEDS) if r is not None]
    first = load(folder, f"{RUN}0")
    what = CONFIGS[name][0]
    if not runs:
        return [f"| {name} | {what} | 0 | | | | | | | not run yet |"]
    minutes = [r["train_s"] / 60 for r in runs]
    out = []
    for label, recs, mins in ((name, runs, minutes), (f"{name} + center", centred, minutes)):
        if not recs:
            continue
        figs = [figures(r) for r in recs]
        cells = [
            mean_sd([f[k] for f in figs], 1 if k == "rd" else (2 if k == "own" else 3))
            for k in ("mono", "cross", "multi", "rd", "own")
        ]
        train = f"{statistics.mean(mins):.0f} min (max {max(mins):.0f})"
        starts = max(int(r.get("starts") or 1) for r in runs)
        if starts > 1:
            train += f", {starts} starts" + _uninterrupted(runs)
        out.append(
            f"| {label} | {what if recs is runs else 'centred per language on top'} | "
            f"{len(recs)} | {train} | " + " | ".join(cells) + f" | {_verdict(figs, mins, first)} |"
        )
    return out


def _outcome(names: list[str], root: Path) -> list[str]:
    """What came out so far, in a few lines computed from the records."""
    measured: list[tuple[float, str, int]] = []
    distances: list[tuple[float, str, int]] = []
    for name in names:
        folder = records_of(name, root)
        for label, prefix in ((name, RUN), (f"{name} + center", "center-s")):
            recs = [r for r in (load(folder, f"{prefix}{s}") for s in SEEDS) if r is not None]
            if recs:
                multi = statistics.mean(figures(r)["multi"] for r in recs)
                measured.append((multi, label, len(recs)))
                rd = statistics.mean(figures(r)["rd"] for r in recs)
                distances.append((rd, label, len(recs)))
    if not measured:
        return ["Nothing measured yet."]
    multi, label, seeds = max(measured)
    low = min(distances)
    tried = sum(1 for n in names if load(records_of(n, root), f"{RUN}0") is not None)
    reached = [n for n in names if "**yes**" in "".join(_rows(n, root))]
    return [
        "## What came out",
        "",
        f"- {tried} of {len(names)} configurations measured; "
        + (
            f"{', '.join(reached)} reach{'es' if len(reached) == 1 else ''} the target."
            if reached
            else "none reaches the target."
        ),
        f"- The highest multi mAP: {label}, {multi:.3f} (mean of {seeds} seed(s)), "
        f"{TARGET['multi'] - multi:.3f} below the target's {TARGET['multi']}."
        if multi < TARGET["multi"]
        else f"- The highest multi mAP: {label}, {multi:.3f} (mean of {seeds} seed(s)).",
        f"- The lowest rank distance: {low[1]}, {low[0]:.1f} (mean of {low[2]} seed(s)), "
        f"{'within' if low[0] <= TARGET['rank_distance'] else 'above'} the target's "
        f"{TARGET['rank_distance']:.0f}.",
        "- `batch128` trains whole batches of 128 pairs: they fit in this machine's memory. "
        "`train --mini-batch-size` gives the same gradient in mini-batches where memory is "
        "short (a GPU), for a second forward pass.",
        *_ceiling_line(root),
    ]


def _ceiling_line(root: Path) -> list[str]:
    """For scale, from docs/remedies.md's records: the best setting's float32 seeds with each
    question replaced by its human English version (translate-test with a perfect translator:
    not a configuration of this study, it uses the collection's translations at query time)."""
    recs = [load(root / "remedies", f"s{s}-sentence-ceiling") for s in SEEDS]
    if any(r is None for r in recs):
        return []
    figs = []
    for rec in recs:
        entry = next(e for e in rec["report"]["systems"] if e.get("translate_query"))
        figs.append(figures(entry))
    mean = {k: statistics.mean(f[k] for f in figs) for k in ("mono", "multi", "rd")}
    return [
        f"- For scale, not a configuration: the best setting's float32 models with each question "
        f"replaced by its human English version (the translate-test ceiling of "
        f"[docs/remedies.md](remedies.md), {len(figs)} seeds) reach multi {mean['multi']:.3f}, "
        f"rank distance {mean['rd']:.0f}, at mono {mean['mono']:.3f}."
    ]


DELTAS = ("mono", "cross", "multi", "rd")


def _delta(value: float, digits: int) -> str:
    """A signed difference; one that rounds to nothing is written without a sign."""
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def _levers(names: list[str], root: Path) -> list[str]:
    """Each lever's first seed against the best setting's first seed, with the seed spread.

    The same seed on both sides (same batches drawn, same initialisation) is the closest this
    study comes to a paired comparison of training settings; the best setting's spread between
    its seeds says how large a difference one seed can show by chance.
    """
    best = load(records_of("best", root), f"{RUN}0")
    if best is None:
        return []
    base = figures(best)
    spread = [figures(r) for r in (load(records_of("best", root), f"{RUN}{s}") for s in SEEDS) if r]
    rows = []
    for name in names:
        first = load(records_of(name, root), f"{RUN}0") if name != "best" else None
        if first is None:
            continue
        f = figures(first)
        cells = [_delta(f[k] - base[k], 1 if k == "rd" else 3) for k in DELTAS]
        rows.append(f"| {name} | {' | '.join(cells)} | {first['train_s'] / 60:.0f} min |")
    if not rows:
        return []
    sd = ""
    if len(spread) > 1:
        sd = (
            f" The best setting's standard deviation between its {len(spread)} seeds: mono "
            f"{statistics.stdev(x['mono'] for x in spread):.3f}, cross "
            f"{statistics.stdev(x['cross'] for x in spread):.3f}, multi "
            f"{statistics.stdev(x['multi'] for x in spread):.3f}, rank distance "
            f"{statistics.stdev(x['rd'] for x in spread):.1f}: a difference within about twice "
            "these is not told apart from the seed."
        )
    return [
        "## Each lever on seed 0",
        "",
        "Each configuration's first seed minus the best setting's first seed (the same seed: "
        f"the same batches and initialisation; best seed 0: multi {base['multi']:.3f}, rank "
        f"distance {base['rd']:.1f}).{sd}",
        "",
        "| configuration | mono mAP | cross mAP | multi mAP | rank distance | training |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def write_page(doc: Path, names: list[str], root: Path) -> None:
    """The whole page, written to a temporary name and then renamed."""
    lines = [
        "# Reach: LAReQA's record, zero-shot, on this machine",
        "",
        "Written by `.venv/bin/python bench/reach.py` (resumable; `--status` says what is left).",
        "",
        f"The target: trained on MLQA-R only and scored zero-shot on the whole of XQuAD-R, the "
        f"mean over {len(SEEDS)} seeds reaches multi mAP >= {TARGET['multi']} (LAReQA's mBERT "
        f"X-Y, trained and scored with sentence + paragraph input), rank distance <= "
        f"{TARGET['rank_distance']:.0f} and mono mAP >= {TARGET['mono']}, each seed trained within "
        f"{TARGET['train_min']:.0f} minutes on this machine (2 cores, no GPU). The paper's "
        "LaBSE hybrid: multi 0.682, rank distance 221.",
        "",
        "Every configuration is the best setting of [docs/training.md](training.md) (hybrid "
        "batches at alpha 0.5, scale 100, hard negatives, frozen word embeddings, 50 steps, "
        "bfloat16 with length groups of 8) with the lever named changed. A configuration trains "
        f"its first seed; seeds {', '.join(map(str, SEEDS[1:]))} only when that seed's multi mAP "
        f"is within {SCREEN} of the target. `+ center`: the same trained models with each "
        "language's mean embedding subtracted (`--debias center`, [docs/remedies.md]"
        "(remedies.md)). Mean ± standard deviation over the seeds; training minutes as measured "
        "here, on a machine that other jobs may have shared; a run stopped or killed and "
        "resumed from its last checkpoint (`train --resume`) counts every start's wall time, the "
        "steps a killed start did after its checkpoint twice; beside it, the median seconds "
        "a step took times the steps (the time of one start at its usual pace, loading the "
        "model and saving it aside).",
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
    ]
    for name in names:
        lines += _rows(name, root)
    lines += ["", *_outcome(names, root)]
    levers = _levers(names, root)
    lines += ["", *levers] if levers else []
    lines += ["", "## Commands", "", "```bash"]
    for name in names:
        lines.append(
            f"# {name}: {CONFIGS[name][0]}; seed N: --only {RUN}N\n"
            f".venv/bin/python bench/study.py {_shown(study_args(name, root))} --only {RUN}0"
        )
    lines += [
        "# the remedy on top, per trained seed",
        "xlir-tui bias-report ../shared/data/xquad-r --model bench/results/<records folder>/"
        f"{RUN}N --debias none,center --json",
        "```",
        "",
    ]
    tmp = doc.with_name(f".{doc.name}.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(doc)
