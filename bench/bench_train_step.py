"""Seconds per training step of the default encoder with each training precision and with
length groups, and the padding that hybrid batches carry.

    .venv/bin/python bench/bench_train_step.py [--train ../shared/data/mlqa-r]
        [--variants float32,bfloat16,float32-g8,bfloat16-g8] [--batch-size 32]
        [--max-seq-length 96] [--steps 3] [--rounds 2] [--padding-batches 300]
        [--sampler-steps 0]

Each round trains ``--steps`` steps of hybrid batches with hard negatives on MLQA-R (the
study's setting) through the same code as ``xlir-tui train`` (``xlir_tui.training.trainer.train``),
once per variant, the order alternating between rounds so that every variant shares the
machine's noise; the first step of a run (warm-up) is left out. A variant is named
``<precision>[-trainable][-g<rows>]``: ``--precision``; word embeddings frozen unless
``-trainable``; ``--length-group-size`` rows, 0 (off) unless ``-g``. The first variant is the
baseline every ratio is against: ``float32`` is the step as trained before these options.

Two clocks per step: wall seconds (what a person waits) and the process's CPU seconds (all its
threads). On a machine shared with other work the wall time of a step grows with the load while
its CPU time stays near the work done, so the ratio of CPU times is the steadier estimate of what
an option saves; both are printed, with the load average before and after.

Then the padding of hybrid batches (``--padding-batches`` of them, drawn by the training
sampler, tokenised by the model's tokenizer with its prompts): each column of a batch (the
queries; the passages with their negatives) is padded to its longest text. Printed: the share of
padded positions as one batch per column (sorting the texts of a batch changes nothing: the
same longest text), with fixed padding to ``--max-seq-length``, with the column's forward pass
in length groups of 4 to 32 texts (what ``--length-group-size`` does: the batch unchanged), and
with batches of texts of similar length (another grouping of the pairs: not the method).

With ``--sampler-steps`` > 0, the hybrid sampler against sentence-transformers' default sampler,
alternating (target: the hybrid sampler keeps >= 0.95 of the default's throughput).

Writes the figures to ``bench/results/train_step.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

GROUPS = (4, 8, 16, 32)
"""Rows per length group in the padding figures."""


def variant(name: str) -> dict[str, Any]:
    """The settings a variant's name gives: ``<precision>[-trainable][-g<rows>]`` (``float32``,
    ``bfloat16-g8``, ``float32-trainable-g0``); without ``-g``, length groups are off, so the
    name ``float32`` is the step as trained before any of these options."""
    parts = name.split("-")
    precision, rest = parts[0], parts[1:]
    settings: dict[str, Any] = {
        "precision": precision,
        "freeze_embeddings": "trainable" not in rest,
        "length_group_size": 0,
    }
    for part in rest:
        if part.startswith("g") and part[1:].isdigit():
            settings["length_group_size"] = int(part[1:])
        elif part != "trainable":
            raise ValueError(part)
    if precision not in ("float32", "bfloat16"):
        raise ValueError(precision)
    return settings


def one_run(train: str, name: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Train ``args.steps`` steps of variant ``name``; the wall and CPU seconds of every step
    but the first, and the size of what the run wrote."""
    from xlir_tui.training.checkpoints import latest_checkpoint
    from xlir_tui.training.config import TrainConfig
    from xlir_tui.training.trainer import train as run_training

    wall: list[float] = []
    cpu: list[float] = []
    last: list[float] = []

    def on_event(e: dict) -> None:
        if e["event"] == "step":
            now = (time.perf_counter(), time.process_time())
            if last:
                wall.append(now[0] - last[0])
                cpu.append(now[1] - last[1])
            last[:] = now

    out = Path(tempfile.mkdtemp(prefix="xlir-step-")) / "run"
    try:
        config = TrainConfig(
            collections=[train],
            out=str(out),
            base="default",
            strategy="hybrid",
            batch_size=args.batch_size,
            steps=args.steps,
            max_seq_length=args.max_seq_length,
            hard_negatives=not args.no_hard_negatives,
            seed=seed,
            checkpoint_every=args.steps,
            **variant(name),
        )
        run_training(config, on_event=on_event)
        ckpt = latest_checkpoint(out)
        checkpoint_bytes = sum(p.stat().st_size for p in ckpt.iterdir()) if ckpt else 0
        model_bytes = sum(p.stat().st_size for p in out.glob("*.safetensors"))
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "checkpoint_bytes": checkpoint_bytes,
        "model_bytes": model_bytes,
    }


def padding(train: str, batch_size: int, seq: int, batches: int, hard_negatives: bool) -> dict:
    """Token positions of hybrid batches: real, as padded per batch, and two references."""
    import numpy as np

    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.encoders import load_encoder
    from xlir_tui.training.batch_sampler import LanguageBatchSampler
    from xlir_tui.training.sampler import build_pairs

    data, pairs = build_pairs(load_collection(train), hard_negatives=hard_negatives)
    model = load_encoder("default", use_cache=False).model
    tokenizer = model.tokenizer
    prompts = {"query": "query: ", "passage": "passage: ", "negative": "passage: "}
    sampler = LanguageBatchSampler(
        data, batch_size=batch_size, seed=0, pairs=pairs, strategy="hybrid", alpha=0.5
    )
    drawn = [rows for _, rows in itertools.islice(sampler.batches(0), batches)]
    used = sorted({r for rows in drawn for r in rows})
    lengths = {}
    for column, prompt in prompts.items():
        if column not in data.columns:
            continue
        texts = [prompt + t for t in data[column].gather(used).to_list()]
        ids = tokenizer(texts, truncation=True, max_length=seq)["input_ids"]
        lengths[column] = dict(zip(used, map(len, ids), strict=True))
    # the forward passes as sentence-transformers makes them: the queries alone, the passages
    # and negatives merged into one batch padded to the longest of both
    groups = [["query"], [c for c in ("passage", "negative") if c in lengths]]
    real = 0
    padded = {"as one batch": 0, f"fixed {seq}": 0, **{f"groups of {g}": 0 for g in GROUPS}}
    for rows in drawn:
        for group in groups:
            lens = sorted((lengths[c][r] for c in group for r in rows), reverse=True)
            real += sum(lens)
            padded["as one batch"] += len(lens) * lens[0]
            padded[f"fixed {seq}"] += len(lens) * seq
            for g in GROUPS:  # sorted by length, each piece padded to its own longest
                padded[f"groups of {g}"] += sum(
                    len(lens[i : i + g]) * lens[i] for i in range(0, len(lens), g)
                )
    # length-sorted batches over the whole data (not the method: another grouping of pairs)
    sorted_real = sorted_padded = 0
    for group in groups:
        lens = np.sort([lengths[c][r] for c in group for r in used])[::-1]
        size = batch_size * len(group)
        for i in range(0, len(lens) - size + 1, size):
            sorted_real += int(lens[i : i + size].sum())
            sorted_padded += size * int(lens[i])
    return {
        "batches": len(drawn),
        "real_tokens": real,
        "positions": padded,
        "padding_share": {k: 1 - real / v for k, v in padded.items()},
        "length_sorted_batches_share": 1 - sorted_real / sorted_padded,
        "mean_tokens": {c: float(np.mean(list(v.values()))) for c, v in lengths.items()},
    }


def sampler_throughput(train: str, batch_size: int, seq: int, steps: int, rounds: int) -> dict:
    """Examples per second, hybrid sampler vs the default sampler, alternating in rounds."""
    import datasets
    import torch
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.encoders import load_encoder
    from xlir_tui.training.batch_sampler import sampler_factory
    from xlir_tui.training.forward import freeze_input_embeddings
    from xlir_tui.training.sampler import build_pairs

    data, pairs = build_pairs(load_collection(train))
    dataset = datasets.Dataset.from_dict(data.to_dict(as_series=False))
    times = {"hybrid": 0.0, "default": 0.0}
    for r in range(rounds):
        for name in ("hybrid", "default") if r % 2 == 0 else ("default", "hybrid"):
            model = load_encoder("default", use_cache=False).model
            model.max_seq_length = seq
            freeze_input_embeddings(model)
            sampler = (
                sampler_factory(pairs, "hybrid", 0.5)
                if name == "hybrid"
                else BatchSamplers.BATCH_SAMPLER
            )
            args = SentenceTransformerTrainingArguments(
                output_dir=tempfile.mkdtemp(prefix="xlir-sampler-"),
                max_steps=steps,
                per_device_train_batch_size=batch_size,
                learning_rate=3e-5,
                report_to="none",
                save_strategy="no",
                logging_steps=1000,
                seed=r,
                batch_sampler=sampler,
                dataloader_drop_last=True,
                disable_tqdm=True,
                use_cpu=True,
                prompts={"query": "query: ", "passage": "passage: "},
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
            shutil.rmtree(args.output_dir, ignore_errors=True)
    n = rounds * steps * batch_size
    rate = {k: n / v for k, v in times.items()}
    return {
        "steps": steps,
        "rounds": rounds,
        "examples_per_s": rate,
        "ratio": rate["hybrid"] / rate["default"],
    }


def timing(args: argparse.Namespace, variants: list[str]) -> dict[str, Any]:
    """Every variant ``args.rounds`` times, alternating; medians and ratios to the first."""
    runs: dict[str, dict[str, list[float]]] = {v: {"wall_s": [], "cpu_s": []} for v in variants}
    sizes: dict[str, dict[str, int]] = {}
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for name in order:
            res = one_run(args.train, name, args, seed=r)
            runs[name]["wall_s"] += res["wall_s"]
            runs[name]["cpu_s"] += res["cpu_s"]
            sizes[name] = {k: res[k] for k in ("checkpoint_bytes", "model_bytes")}
            print(
                f"round {r} {name}: wall {[round(t, 2) for t in res['wall_s']]} s/step, "
                f"CPU {[round(t, 2) for t in res['cpu_s']]} s/step",
                flush=True,
            )
    base = variants[0]
    median = {v: {k: statistics.median(runs[v][k]) for k in ("wall_s", "cpu_s")} for v in variants}
    return {
        "steps_timed": {v: len(runs[v]["wall_s"]) for v in variants},
        "step_s": runs,
        "median_step_s": median,
        "examples_per_s": {v: args.batch_size / median[v]["wall_s"] for v in variants},
        "speedup": {
            v: {k: median[base][k] / median[v][k] for k in ("wall_s", "cpu_s")} for v in variants
        },
        "sizes": sizes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(DATA / "mlqa-r"))
    parser.add_argument("--variants", default="float32,bfloat16,float32-g8,bfloat16-g8")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=96)
    parser.add_argument("--no-hard-negatives", action="store_true")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="0: no timing")
    parser.add_argument("--padding-batches", type=int, default=300)
    parser.add_argument("--sampler-steps", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_step.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not Path(args.train).is_dir():
        print(f"bench: no data at {args.train}", file=sys.stderr)
        return 1
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    try:
        [variant(v) for v in variants]
    except ValueError as e:
        print(f"bench: --variants: cannot read {e} (see --help)", file=sys.stderr)
        return 2
    if not variants:
        print("bench: --variants: none given", file=sys.stderr)
        return 2
    if args.steps < 2:
        print("bench: --steps must be at least 2 (the first step is not timed)", file=sys.stderr)
        return 2
    import torch

    load_before = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bfloat16 "
        f"{torch.ops.mkldnn._is_mkldnn_bf16_supported()}; load average {load_before:.1f}",
        flush=True,
    )
    result: dict[str, Any] = {
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
        "hard_negatives": not args.no_hard_negatives,
    }
    if args.rounds > 0:
        result.update(timing(args, variants))
        load_after = os.getloadavg()[0]
        result["load_average"] = {"before": load_before, "after": load_after}
        print(
            f"batch {args.batch_size}, {args.max_seq_length} tokens"
            + (", hard negatives" if not args.no_hard_negatives else "")
            + f"; load average {load_before:.1f} before, {load_after:.1f} after; medians of "
            f"{args.rounds} rounds x {args.steps - 1} steps, ratios against {variants[0]}:"
        )
        for v in variants:
            m, s = result["median_step_s"][v], result["speedup"][v]
            size = result["sizes"][v]
            print(
                f"  {v:<19} wall {m['wall_s']:7.2f} s/step {result['examples_per_s'][v]:6.2f} "
                f"examples/s x{s['wall_s']:.2f} | CPU {m['cpu_s']:7.2f} s/step x{s['cpu_s']:.2f}"
                f" | checkpoint {size['checkpoint_bytes'] / 1e6:.0f} MB, model "
                f"{size['model_bytes'] / 1e6:.0f} MB"
            )
    if args.padding_batches > 0:
        pad = padding(
            args.train,
            args.batch_size,
            args.max_seq_length,
            args.padding_batches,
            not args.no_hard_negatives,
        )
        result["padding"] = pad
        shares = ", ".join(f"{k} {v:.1%}" for k, v in pad["padding_share"].items())
        print(
            f"padding of {pad['batches']} hybrid batches ({pad['real_tokens']} real tokens; "
            "mean tokens "
            + ", ".join(f"{c} {n:.1f}" for c, n in pad["mean_tokens"].items())
            + f"): share of padded positions {shares}; length-sorted batches (another "
            f"grouping of the pairs, not the method) {pad['length_sorted_batches_share']:.1%}"
        )
    if args.sampler_steps > 0:
        tp = sampler_throughput(
            args.train, args.batch_size, args.max_seq_length, args.sampler_steps, 2
        )
        result["sampler"] = tp
        e = tp["examples_per_s"]
        print(
            f"sampler: hybrid {e['hybrid']:.1f} examples/s, default {e['default']:.1f} "
            f"examples/s, ratio {tp['ratio']:.3f} (target >= 0.95)"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
