"""Seconds per training step of the default encoder: embeddings frozen or not; the hybrid sampler
against sentence-transformers' default sampler.

    .venv/bin/python bench/bench_train_step.py [--train ../shared/data/mlqa-r] [--batch-size 32]
        [--max-seq-length 96] [--steps 4] [--rounds 3]

Each round trains ``--steps`` steps of hybrid batches on MLQA-R through the same code as
``xlir-tui train`` (``xlir_tui.training.train``), once with every parameter trainable and once
with the word-embedding matrix frozen; the order alternates between rounds so both share the
machine's noise. The first step of a run (warm-up) is left out of the timing. Prints seconds per
step for each setting, their ratio, the trainable parameter counts and the optimizer state that
a checkpoint keeps. Then, with ``--sampler-steps`` > 0, the cost of the batch sampler: the same
steps with hybrid batches and with sentence-transformers' default sampler, alternating (target:
the hybrid sampler keeps >= 0.95 of the default's throughput). Writes the figures to
``bench/results/train_step.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def one_run(train: str, freeze: bool, args: argparse.Namespace, seed: int) -> dict:
    from xlir_tui.training import TrainConfig, latest_checkpoint
    from xlir_tui.training import train as run_training

    times: list[float] = []
    last: list[float] = []

    def on_event(e: dict) -> None:
        if e["event"] == "step":
            if last:
                times.append(e["time"] - last[0])
            last[:] = [e["time"]]

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
            freeze_embeddings=freeze,
            seed=seed,
            checkpoint_every=args.steps,
        )
        run_training(config, on_event=on_event)
        ckpt = latest_checkpoint(out)
        optimizer_bytes = (ckpt / "optimizer.safetensors").stat().st_size if ckpt else 0
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    return {"step_s": times, "optimizer_bytes": optimizer_bytes}


def sampler_throughput(train: str, batch_size: int, seq: int, steps: int, rounds: int) -> dict:
    """Examples per second, hybrid sampler vs the default sampler, alternating in rounds."""
    import time

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
    from xlir_tui.training import freeze_input_embeddings

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(DATA / "mlqa-r"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=96)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sampler-steps", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_step.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not Path(args.train).is_dir():
        print(f"bench: no data at {args.train}", file=sys.stderr)
        return 1
    from xlir_tui.encoders import load_encoder

    model = load_encoder("default", use_cache=False).model
    total = sum(p.numel() for p in model.parameters())
    embeddings = model[0].auto_model.get_input_embeddings().weight.numel()
    del model
    runs: dict[str, list[float]] = {"trainable": [], "frozen": []}
    optimizer: dict[str, int] = {}
    for r in range(args.rounds):
        order = ("trainable", "frozen") if r % 2 == 0 else ("frozen", "trainable")
        for name in order:
            res = one_run(args.train, name == "frozen", args, seed=r)
            runs[name] += res["step_s"]
            optimizer[name] = res["optimizer_bytes"]
            print(f"round {r} {name}: {[round(t, 2) for t in res['step_s']]} s/step", flush=True)
    median = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
        "steps_timed": {k: len(v) for k, v in runs.items()},
        "median_step_s": median,
        "speedup_frozen": median["trainable"] / median["frozen"],
        "parameters": {"total": total, "word_embeddings": embeddings},
        "optimizer_bytes": optimizer,
    }
    print(
        f"batch {args.batch_size}, {args.max_seq_length} tokens: every parameter trainable "
        f"{median['trainable']:.2f} s/step, embeddings frozen {median['frozen']:.2f} s/step "
        f"(x{result['speedup_frozen']:.2f}); trainable parameters {total / 1e6:.0f}M vs "
        f"{(total - embeddings) / 1e6:.0f}M; optimizer state per checkpoint "
        f"{optimizer['trainable'] / 1e6:.0f} MB vs {optimizer['frozen'] / 1e6:.0f} MB"
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
