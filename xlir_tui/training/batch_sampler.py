"""The batch sampler the trainer draws hybrid, mono or cross batches from.

Apart from :mod:`xlir_tui.training.sampler` (the training pairs and the rules a batch must follow)
because it subclasses sentence-transformers' ``DefaultBatchSampler``: importing that costs
seconds (torch), and ``train`` checks its settings and data before anything slow loads.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

from .sampler import PairIndex, check_sampling


class _Pool:
    """Rows of one kind (one mono language, or all cross rows), visited in a shuffled cycle."""

    def __init__(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        self.rows = rows
        self.rng = rng
        self.order = rng.permutation(rows)
        self.pos = 0

    def take(self, n: int, qid: np.ndarray) -> list[int]:
        """``n`` rows with distinct question ids, continuing the cycle."""
        batch: list[int] = []
        seen: set[int] = set()
        skipped: list[int] = []
        looked = 0
        while len(batch) < n:
            if self.pos >= len(self.order):
                self.order = self.rng.permutation(self.rows)
                self.pos = 0
            row = int(self.order[self.pos])
            self.pos += 1
            looked += 1
            g = int(qid[row])
            if g in seen:
                skipped.append(row)
                if looked > 4 * len(self.rows) + n:  # cannot happen after the size check
                    raise RuntimeError("not enough distinct question ids for a batch")
                continue
            seen.add(g)
            batch.append(row)
        # rows skipped for a repeated id go back to the front of what is left
        if skipped:
            rest = self.order[self.pos :]
            self.order = np.concatenate([np.asarray(skipped, dtype=rest.dtype), rest])
            self.pos = 0
        return batch


try:  # sentence-transformers >= 5 keeps the samplers in base.sampler
    from sentence_transformers.base.sampler import DefaultBatchSampler
except ImportError:  # pragma: no cover - older releases
    from sentence_transformers.sampler import DefaultBatchSampler  # type: ignore[no-redef]


class LanguageBatchSampler(DefaultBatchSampler):
    """Batches that follow a strategy (mono, cross, hybrid) over a :class:`PairIndex`.

    Built by the trainer as ``X(dataset, batch_size=, drop_last=, valid_label_columns=,
    generator=, seed=)``: pass ``functools.partial(LanguageBatchSampler, pairs=..., strategy=...)``
    (see :func:`sampler_factory`). ``skip`` drops the first batches of the first epoch, which is
    how a resumed run continues where it stopped.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool = True,
        valid_label_columns: list[str] | None = None,
        generator: Any = None,
        seed: int = 0,
        *,
        pairs: PairIndex,
        strategy: str = "hybrid",
        alpha: float = 0.5,
        lang_weighting: str = "uniform",
        skip: int = 0,
        epoch_offset: int = 0,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        check_sampling(pairs, strategy, alpha, lang_weighting, batch_size)
        if len(dataset) != len(pairs):
            raise ValueError("the dataset and the pair index have different lengths")
        self.pairs = pairs
        self.strategy = strategy
        self.alpha = alpha
        self.lang_weighting = lang_weighting
        self.skip = skip
        self.epoch_offset = epoch_offset
        mono = pairs.q_lang == pairs.p_lang
        self.mono_rows = {
            y: np.flatnonzero(mono & (pairs.q_lang == y)) for y in range(len(pairs.langs))
        }
        self.mono_rows = {
            y: r for y, r in self.mono_rows.items() if len(np.unique(pairs.qid[r])) >= batch_size
        }
        self.cross_rows = np.flatnonzero(~mono)

    def __len__(self) -> int:
        return max(len(self.pairs) // self.batch_size, 1)

    def batches(self, epoch: int) -> Iterator[tuple[str, list[int]]]:
        """Yield ``(kind, rows)`` for one epoch; ``kind`` is ``mono:<lang>`` or ``cross``."""
        rng = np.random.default_rng([self.seed, epoch])
        langs = sorted(self.mono_rows)
        sizes = np.array([len(self.mono_rows[y]) for y in langs], dtype=float)
        weights = sizes / sizes.sum() if self.lang_weighting == "size" and len(langs) else None
        pools = {y: _Pool(self.mono_rows[y], rng) for y in langs}
        cross = _Pool(self.cross_rows, rng) if len(self.cross_rows) else None
        for _ in range(len(self)):
            if self.strategy == "mono":
                is_mono = True
            elif self.strategy == "cross":
                is_mono = False
            else:
                is_mono = bool(rng.random() < self.alpha)
            if is_mono:
                y = langs[int(rng.choice(len(langs), p=weights))]
                yield f"mono:{self.pairs.langs[y]}", pools[y].take(self.batch_size, self.pairs.qid)
            else:
                assert cross is not None
                yield "cross", cross.take(self.batch_size, self.pairs.qid)

    def __iter__(self) -> Iterator[list[int]]:
        for i, (_, rows) in enumerate(self.batches(self.epoch + self.epoch_offset)):
            if self.epoch == 0 and i < self.skip:
                continue
            yield rows


def sampler_factory(
    pairs: PairIndex,
    strategy: str,
    alpha: float = 0.5,
    lang_weighting: str = "uniform",
    skip: int = 0,
    epoch_offset: int = 0,
) -> functools.partial:
    """What ``SentenceTransformerTrainingArguments(batch_sampler=...)`` takes."""
    return functools.partial(
        LanguageBatchSampler,
        pairs=pairs,
        strategy=strategy,
        alpha=alpha,
        lang_weighting=lang_weighting,
        skip=skip,
        epoch_offset=epoch_offset,
    )
