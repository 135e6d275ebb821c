"""The paper's comparison at this machine's size: mono vs cross vs hybrid batches.

    .venv/bin/python bench/bench_train.py [--train ../shared/data/mlqa-r]
        [--eval ../shared/data/xquad-r] [--steps 140] [--batch-size 32] [--lr 5e-5]

Trains the embedded default encoder on MLQA-R with each strategy (same seed, same steps), with
``xlir-tui train`` as a person runs it, then scores each model zero-shot on XQuAD-R (never seen in
training) with the bias-report metrics. The untrained default is the first row. Also measured in
the same run: training throughput with the hybrid sampler against sentence-transformers' default
sampler on the same data (steps alternate between the two, to share the machine's noise).

Writes ``docs/training.md`` (tables and the exact commands) and ``bench/results/train.json``.
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
DATA = ROOT.parent / "shared" / "data"


def evaluate(model: str, data: str) -> dict:
    from xlir_tui.collections import load_collection
    from xlir_tui.encoders import load_encoder
    from xlir_tui.report import evaluate_encoder

    entry = evaluate_encoder(load_collection(data), load_encoder(model)).entry
    return {"summary": entry["summary"], "languages": entry["languages"]}


def throughput(train: str, batch_size: int, steps: int, seq: int) -> dict:
    """Examples per second, hybrid sampler vs the default sampler, alternating in rounds."""
    import datasets
    import torch
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from xlir_tui.collections import load_collection
    from xlir_tui.encoders import load_encoder
    from xlir_tui.sampling import build_pairs, sampler_factory

    data, pairs = build_pairs(load_collection(train))
    dataset = datasets.Dataset.from_dict(data.to_dict(as_series=False))
    times: dict[str, float] = {"hybrid": 0.0, "default": 0.0}
    rounds = 4
    for r in range(rounds):
        for name in ("hybrid", "default") if r % 2 == 0 else ("default", "hybrid"):
            model = load_encoder("default", use_cache=False).model
            model.max_seq_length = seq
            sampler = (
                sampler_factory(pairs, "hybrid", 0.5)
                if name == "hybrid"
                else BatchSamplers.BATCH_SAMPLER
            )
            args = SentenceTransformerTrainingArguments(
                output_dir="/tmp/xlir-bench-throughput",
                max_steps=steps,
                per_device_train_batch_size=batch_size,
                learning_rate=5e-5,
                report_to="none",
                save_strategy="no",
                logging_steps=1000,
                seed=r,
                batch_sampler=sampler,
                dataloader_drop_last=True,
                disable_tqdm=True,
                use_cpu=True,
                prompts={"query": "Query: ", "passage": "Passage: "},
            )
            trainer = SentenceTransformerTrainer(
                model=model,
                args=args,
                train_dataset=dataset,
                loss=MultipleNegativesRankingLoss(model),
            )
            torch.manual_seed(r)
            t = time.perf_counter()
            trainer.train()
            times[name] += time.perf_counter() - t
    n = rounds * steps * batch_size
    rate = {k: n / v for k, v in times.items()}
    return {
        "steps_per_round": steps,
        "rounds": rounds,
        "examples_per_s": rate,
        "ratio": rate["hybrid"] / rate["default"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(DATA / "mlqa-r"))
    parser.add_argument("--eval", default=str(DATA / "xquad-r"))
    parser.add_argument("--steps", type=int, default=140)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--strategies", default="mono,cross,hybrid")
    parser.add_argument("--throughput-steps", type=int, default=10)
    parser.add_argument("--runs", default=str(ROOT / "bench" / "results" / "train"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "training.md"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for p in (args.train, args.eval):
        if not Path(p).is_dir():
            print(f"bench: no data at {p}", file=sys.stderr)
            return 1

    tp = throughput(args.train, args.batch_size, args.throughput_steps, args.max_seq_length)
    print(
        f"training throughput: hybrid sampler {tp['examples_per_s']['hybrid']:.1f} ex/s, "
        f"default sampler {tp['examples_per_s']['default']:.1f} ex/s, ratio "
        f"{tp['ratio']:.3f} (target >= 0.95)",
        flush=True,
    )

    rows = [{"model": "default (untrained)", "train_s": 0.0, **evaluate("default", args.eval)}]
    print("untrained:", json.dumps({k: v for k, v in rows[0]["summary"].items()}), flush=True)
    commands = []
    for strategy in args.strategies.split(","):
        out = Path(args.runs) / strategy
        cmd = [
            sys.executable,
            "-m",
            "xlir_tui.cli",
            "train",
            args.train,
            "--base",
            "default",
            "--strategy",
            strategy,
            "--alpha",
            str(args.alpha),
            "--steps",
            str(args.steps),
            "--batch-size",
            str(args.batch_size),
            "--lr",
            str(args.lr),
            "--seed",
            str(args.seed),
            "--max-seq-length",
            str(args.max_seq_length),
            "--checkpoint-every",
            str(args.steps),
            "--out",
            str(out),
            "--overwrite",
        ]
        shown = " ".join(["xlir-tui", *cmd[3:]]).replace(str(ROOT) + "/", "")
        commands.append(shown.replace(str(DATA), "../shared/data"))
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True)
        train_s = time.perf_counter() - t
        events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
        rates = [e["examples_per_s"] for e in events if e["event"] == "step"][1:]
        row = {
            "model": f"{strategy}" + (f" (alpha {args.alpha})" if strategy == "hybrid" else ""),
            "train_s": train_s,
            "examples_per_s": sum(rates) / max(len(rates), 1),
            **evaluate(str(out), args.eval),
        }
        rows.append(row)
        print(f"{strategy}: trained in {train_s:.0f} s;", json.dumps(row["summary"]), flush=True)

    Path(args.runs).mkdir(parents=True, exist_ok=True)
    (Path(args.runs).parent / "train.json").write_text(
        json.dumps(
            {"throughput": tp, "rows": rows, "commands": commands, "args": vars(args)}, indent=1
        )
    )
    write_doc(Path(args.doc), rows, tp, commands, args)
    print(f"written {args.doc}")
    return 0


def write_doc(path: Path, rows: list[dict], tp: dict, commands: list[str], args) -> None:
    langs = list(rows[0]["languages"])
    lines = [
        "# Hybrid batch training at this machine's size",
        "",
        f"The embedded default encoder (all-MiniLM-L6-v2, English-only) trained on MLQA-R for "
        f"{args.steps} steps of {args.batch_size} pairs (lr {args.lr}, seed {args.seed}, inputs "
        f"truncated to {args.max_seq_length} tokens) with each batch strategy, then scored "
        "zero-shot on XQuAD-R, which no run saw. Written by:",
        "",
        "```bash",
        ".venv/bin/python bench/bench_train.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("lr", args.lr))
        ),
        "```",
        "",
        "which runs, for each strategy:",
        "",
        "```bash",
        *commands,
        "```",
        "",
        "and scores each model with the bias-report metrics (as `xlir-tui bias-report "
        "../shared/data/xquad-r --model bench/results/train/<strategy>`).",
        "",
        "## XQuAD-R, zero-shot (mAP over the full pool; rank distance lower is less biased)",
        "",
        "| model | mono mAP | cross mAP | multi mAP | multi R@10 | rank distance | training |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["summary"]
        train = (
            "—"
            if not r["train_s"]
            else (f"{r['train_s'] / 60:.1f} min, {r['examples_per_s']:.1f} ex/s")
        )
        lines.append(
            f"| {r['model']} | {s['mono']['map']:.3f} | {s['cross']['map']:.3f} | "
            f"{s['multi']['map']:.3f} | {s['multi']['r@10']:.3f} | "
            f"{s['multi']['rank_distance']:.1f} | {train} |"
        )
    for setting, title in (
        ("multi", "Multi-setting mAP per query language"),
        ("mono", "Mono mAP per language"),
    ):
        lines += [
            "",
            f"## {title}",
            "",
            "| model | " + " | ".join(langs) + " |",
            "|---|" + "---|" * len(langs),
        ]
        lines += [
            f"| {r['model']} | "
            + " | ".join(f"{r['languages'][x][setting]['map']:.3f}" for x in langs)
            + " |"
            for r in rows
        ]
    e = tp["examples_per_s"]
    lines += [
        "",
        "## Sampler overhead",
        "",
        f"Training throughput on the same MLQA-R pairs, {tp['rounds']} alternating rounds of "
        f"{tp['steps_per_round']} steps each: hybrid sampler {e['hybrid']:.1f} examples/s, "
        f"sentence-transformers' default sampler {e['default']:.1f} examples/s, ratio "
        f"**{tp['ratio']:.3f}** (target >= 0.95).",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
