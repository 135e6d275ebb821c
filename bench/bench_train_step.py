"""Seconds per training step of the default encoder, with and without --freeze-embeddings.

    .venv/bin/python bench/bench_train_step.py [--train ../shared/data/mlqa-r] [--batch-size 32]
        [--max-seq-length 96] [--steps 4] [--rounds 3]

Each round trains ``--steps`` steps of hybrid batches on MLQA-R through the same code as
``xlir-tui train`` (``xlir_tui.training.train``), once with every parameter trainable and once
with the word-embedding matrix frozen; the order alternates between rounds so both share the
machine's noise. The first step of a run (warm-up) is left out of the timing. Prints seconds per
step for each setting, their ratio, the trainable parameter counts and the optimizer state that
a checkpoint keeps; writes the figures to ``bench/results/train_step.json``.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(DATA / "mlqa-r"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=96)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
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
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
