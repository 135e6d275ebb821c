"""The settings bench/study.py and bench/study_report.py share: what makes one study differ from
another, the plan's run names, and the command line (both read its defaults)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DESCRIPTION = (
    "The paper's comparison on the default encoder: mono, cross and hybrid batches over seeds."
)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETTINGS = (
    "base",
    "steps",
    "batch_size",
    "lr",
    "max_seq_length",
    "freeze_embeddings",
    "scale",
    "warmup_steps",
    "hard_negatives",
    "passage_context",
    "backend",
    "precision",
    "length_group_size",
    "save_dtype",
    "mini_batch_size",
)
LEGACY = {
    "precision": "float32",
    "length_group_size": 0,
    "save_dtype": "float32",
    "mini_batch_size": None,
}
"""Settings a study recorded before they existed: its runs were trained and saved so."""


STRATEGIES = ("mono", "cross", "hybrid")


def run_id(strategy: str, alpha: float, seed: int) -> str:
    return f"{strategy}-a{alpha:g}-s{seed}" if strategy == "hybrid" else f"{strategy}-s{seed}"


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--train", default=str(DATA / "mlqa-r"))
    parser.add_argument("--eval", default=str(DATA / "xquad-r"))
    parser.add_argument("--base", default="default")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--max-seq-length", type=int, default=96)
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="InfoNCE scale (default: the base model's, as train chooses it: 100 for the "
        "default encoder).",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "bfloat16"),
        help="train's --precision (float32, as every study before the option).",
    )
    parser.add_argument(
        "--length-group-size",
        type=int,
        default=0,
        help="train's --length-group-size (0, as every study before the option).",
    )
    parser.add_argument(
        "--save-dtype",
        default="float32",
        choices=("float32", "float16", "bfloat16"),
        help="train's --save-dtype (float32, as every study before the option).",
    )
    parser.add_argument(
        "--mini-batch-size",
        type=int,
        default=None,
        help="train's --mini-batch-size (none: each batch in one pass, as every study before "
        "the option).",
    )
    parser.add_argument("--warmup-steps", type=int, default=0)
    parser.add_argument("--freeze-embeddings", action="store_true")
    parser.add_argument("--hard-negatives", action="store_true")
    parser.add_argument("--passage-context", action="store_true")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--alphas", default="0,0.25,0.5,0.75,1")
    parser.add_argument(
        "--backend", default="openvino", help="Encoding backend of the evaluations."
    )
    parser.add_argument("--records", default=str(ROOT / "docs" / "records" / "study"))
    parser.add_argument(
        "--runs",
        default=None,
        help="Where the trained models go (default: bench/results/<the --records folder's name>, "
        "so a study under other settings never overwrites this one's models).",
    )
    parser.add_argument("--doc", default=str(ROOT / "docs" / "training.md"))
    parser.add_argument("--status", action="store_true", help="Say what is done; run nothing.")
    parser.add_argument("--max-runs", type=int, default=None, help="Stop after this many runs.")
    parser.add_argument(
        "--only",
        default=None,
        help="Comma-separated run names (as --status prints them): train only these now; the "
        "rest of the plan stays to do.",
    )
    parser.add_argument("--report", action="store_true", help="Only write the page.")
    parser.add_argument("--resamples", type=int, default=10000)
    return parser


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """What makes one study differ from another (kept in ``study.json``); the scale as the run
    gets it (the base model's when not given)."""
    from xlir_tui.training.plan import base_scale

    settings = {k: getattr(args, k) for k in SETTINGS}
    if settings["scale"] is None:
        settings["scale"] = base_scale(args.base)[0]
    settings["train"] = Path(args.train).name
    settings["eval"] = Path(args.eval).name
    return settings
