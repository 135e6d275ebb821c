"""Benchmark: encoding candidates with their paragraph (``--passage-context``) against the
sentence alone, in one run.

    .venv/bin/python bench/bench_context.py [--data ../shared/data/xquad-r] [--model default]
        [--backend openvino] [--texts 300] [--rounds 3] [--seed 0]

The same ``--texts`` candidates of the collection (drawn at random with ``--seed``) are encoded
by the same model both ways, without the embedding cache, in alternating rounds, so both share
the machine's noise; the ratio of the two times is taken round by round (the median is printed)
beside the ratio of tokens read (the model cuts each text at its window). This is the cost of
LAReQA's input, which ``bias-report --passage-context`` pays once per model and collection
(the vectors are cached). The machine is shared: ``uptime`` is printed at the start and the end.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

from bench_common import collection_parser, uptime, use_this_checkout

use_this_checkout()


def main() -> int:
    parser = collection_parser(__doc__.splitlines()[0])
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.encoders import load_encoder

    print(f"start: {uptime()}")
    c = load_collection([Path(args.data)])
    rows = sorted(random.Random(args.seed).sample(range(c.candidates.height), args.texts))
    candidates = c.candidates[rows]
    encoders = {
        flag: load_encoder(args.model, backend=args.backend, use_cache=False, passage_context=flag)
        for flag in (False, True)
    }
    texts = {flag: enc.candidate_texts(candidates) for flag, enc in encoders.items()}
    tokenizer = encoders[False].model.tokenizer
    window = int(encoders[False].model.max_seq_length)
    tokens = {
        flag: sum(
            min(len(ids), window)
            for ids in tokenizer([encoders[flag].passage_prompt + t for t in ts])["input_ids"]
        )
        for flag, ts in texts.items()
    }
    for flag, enc in encoders.items():  # first calls pay set-up costs; neither side should
        enc.encode(texts[flag][:16], enc.passage_prompt)
    ratios = []
    for r in range(args.rounds):
        took = {}
        for flag in (False, True) if r % 2 == 0 else (True, False):
            started = time.perf_counter()
            encoders[flag].encode_candidates(candidates)
            took[flag] = time.perf_counter() - started
        ratios.append(took[True] / took[False])
        print(
            f"round {r + 1}: sentence {took[False]:.1f} s, with paragraph {took[True]:.1f} s, "
            f"ratio {ratios[-1]:.2f}"
        )
    print(
        f"{args.texts} candidates of {c.name}, model {args.model}, backend {args.backend}: "
        f"encoding with the paragraph takes {statistics.median(ratios):.2f} times as long as the "
        f"sentence alone (median of {args.rounds} rounds); tokens read "
        f"{tokens[True] / tokens[False]:.2f} times as many ({tokens[False]} and {tokens[True]}, "
        f"window {window})"
    )
    print(f"end: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
