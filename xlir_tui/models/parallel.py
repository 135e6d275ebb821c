"""The translate-test ceiling: each question replaced by its own human translation.

``--mt parallel`` in ``bias-report``: a parallel collection (XQuAD) holds every question in
every language, so a perfect translator needs no model, only the collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from ..errors import XlirError

if TYPE_CHECKING:
    from ..data.collections import Collection

PARALLEL = "parallel"
"""``--mt parallel``: translate-test with the collection's own human translations."""


class ParallelQuestions:
    """A perfect translator for a parallel collection: each question becomes the question with
    the same ``qid`` in language ``to``, as the collection's translators wrote it.

    XQuAD's questions are professional translations of one another, so scoring each question
    by its own English version measures translate-test with no translation error at all: the
    ceiling any machine translation model can reach on that collection (``bias-report
    --translate-query en --mt parallel``). It replaces the collection's questions, and only
    those: free text (``search``, the explorer) has no parallel question.

    The mapping goes by row, not by text: XQuAD-R has identical questions in one language with
    different ``qid`` and different English versions (37 of them), which a text lookup would
    confuse. A list of queries that is not the scored collection's questions in order is looked
    up by text, and refused where the text is unknown or ambiguous.
    """

    name = PARALLEL
    family = PARALLEL

    def __init__(
        self, rows: Sequence[tuple[str, str, str]], target: dict[str, str], to: str
    ) -> None:
        self.rows = list(rows)
        """(lang, text, qid) of every question scored, in collection order."""
        self.target = target
        """qid -> its question in ``to``."""
        self.to = to
        self._texts = [text for _, text, _ in self.rows]
        self._langs = [lang for lang, _, _ in self.rows]
        self._by_text: dict[tuple[str, str], set[str]] = {}
        for lang, text, qid in self.rows:
            self._by_text.setdefault((lang, text), set()).add(target[qid])

    @classmethod
    def of(
        cls, collection: Collection, to: str, scored: Collection | None = None
    ) -> ParallelQuestions:
        """The translations of ``scored``'s questions (default: ``collection``'s) into ``to``,
        taken from ``collection`` (which may hold languages ``scored`` leaves out, as with
        ``--langs``). Refused in one line when ``collection`` has no question in ``to``, or when
        a scored question id has no ``to`` version: replacing only some questions would not
        measure the ceiling, and scoring fewer questions than the plain system would leave
        the two without a paired comparison."""
        scored = scored if scored is not None else collection
        questions = collection.questions
        target = dict(questions.filter(pl.col("lang") == to).select("qid", "text").iter_rows())
        if not target:
            raise XlirError(
                f"--mt parallel: collection {collection.name} has no {to} questions (it has "
                f"{', '.join(collection.languages) or 'none'}): there is no parallel question to "
                "search with"
            )
        qids = scored.questions["qid"].unique().sort().to_list()
        missing = [q for q in qids if q not in target]
        if missing:
            raise XlirError(
                f"--mt parallel: {len(missing)} of {len(qids)} question ids of "
                f"{collection.name} have no {to} question (e.g. {missing[0]}); the "
                f"translate-test ceiling needs each question's own {to} version (choose a "
                "--translate-query language every question has)"
            )
        rows = scored.questions.select("lang", "text", "qid").rows()
        return cls(rows, target, to)

    def translate_questions(self, texts: Sequence[str], langs: Sequence[str | None]) -> list[str]:
        """Each question's ``to`` version (questions in ``to`` stay as they are)."""
        texts, langs = list(texts), list(langs)
        if texts == self._texts and langs == self._langs:
            return [text if lang == self.to else self.target[qid] for lang, text, qid in self.rows]
        out = []
        for text, lang in zip(texts, langs, strict=True):
            found = self._by_text.get((lang or "", text), set())
            if lang == self.to:
                out.append(text)
            elif len(found) == 1:
                out.append(next(iter(found)))
            else:
                why = "is not a question of the collection" if not found else "is ambiguous"
                raise XlirError(
                    f"--mt parallel: the query {text[:60]!r} ({lang}) {why}: parallel "
                    "translations exist only for the collection's own questions"
                )
        return out
