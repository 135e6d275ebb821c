"""What the explorer does, without a UI: panes of results across languages, and bias statistics.

A :class:`Workspace` holds one or two retrieval systems over a collection (the main one and the
one it is compared with; :mod:`xlir_tui.retrieval.systems`). :meth:`Workspace.run` answers one
request, a free-text query or a question id of the collection, for 2 to 4 panes, each a (language,
system) pair:

- free text: each pane searches its language's pool (or the whole pool) with the typed query;
- a question id: each pane runs the question's own translation in its language against the whole
  multilingual pool (or its language's pool when restricted) and marks the relevant candidates.

Every pane also gets statistics from the exact scores of its query over the whole pool: the share
of each language in the top k against the pool's composition, the share of the query's own
language, the AP of the pane's pool, and the rank distance of the relevant items (when known).
:class:`Session` keeps them over a session, per system, and sums them up on the runs that
every compared system has (the same queries for each).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..errors import XlirError
from ..evaluation.metrics import average_precision, ranks_in_pool
from ..models.store import Models
from ..progress import StageProgress
from ..retrieval.debias_fits import index_debias
from ..retrieval.dense import CandidatePool, Hit
from ..retrieval.dense_system import DebiasedRetriever, DenseRetriever, debiased, index_systems
from ..retrieval.fusion_system import FusionRetriever
from ..retrieval.ranking import top_k
from ..retrieval.retriever import Retriever
from ..retrieval.specs import LEXICAL, DebiasSpec, SystemSpec
from ..retrieval.systems import load_system, open_system
from ..retrieval.translated_system import TranslatedRetriever


def search_fold(text: str) -> str:
    """``text`` as the question picker compares it: case-folded (``ß`` is ``ss``) and without
    the combining accents of Latin, Greek and Cyrillic (U+0300-U+036F after canonical
    decomposition), so that ``konigin`` finds ``Königin``. Other scripts' marks stay: a
    Devanagari or Thai vowel sign is part of the word, not an accent. Written here because a
    transliterating library (unidecode) would also turn every other script into Latin."""
    import unicodedata

    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(ch for ch in decomposed if not "\u0300" <= ch <= "\u036f")


REMEDY_CHOICE = "debias:"
"""The compare dialog's prefix of a remedy of the main system (``debias:center``)."""
SHORT = {
    "none": "the main model without a remedy",
    "center": "the main model, each language's mean subtracted",
    "lir": "the main model, its top directions per language out",
    "leace": "the main model, the language erased by LEACE",
    "subspace": "the main model, the language subspace projected out",
}
"""What the compare dialog says of each remedy (one line at 80 columns)."""


@dataclass
class Pane:
    """One column of results: a language (None: the whole pool) and which of the workspace's
    systems answers (0: the main one, 1: the one it is compared with)."""

    lang: str | None
    system: int = 0
    restrict: bool = False  # question mode: search only this language's pool


@dataclass
class PaneResult:
    pane: Pane
    query: str
    query_lang: str | None
    hits: list[Hit]
    relevant_ids: set[str]
    shares: dict[str, float]  # language -> share of the top k over the whole pool
    same_language_share: float | None  # share of the query's language in that top k
    ap: float | None  # AP over the pane's pool, when relevant items are known
    rank_distance: int | None  # multi pool, when relevant items are known
    system_name: str
    note: str = ""


RunKey = tuple[str | None, str | None, str | None]
"""A run of the session: (question id, its language, None) for a question in one language,
(None, None, text) for free text."""


@dataclass(frozen=True)
class RunFigures:
    """What one run of one system gives the session: the language shares of the whole pool's
    top k, and for a question its own-language share, AP and rank distance."""

    shares: dict[str, float]
    same_language_share: float | None
    ap: float | None
    rank_distance: int | None

    @classmethod
    def of(cls, result: PaneResult) -> RunFigures:
        return cls(dict(result.shares), result.same_language_share, result.ap, result.rank_distance)


def run_key(result: PaneResult, qid: str | None, text: str | None) -> RunKey | None:
    """The run a pane's result counts as, or None when it does not count: a pane with no
    figures (no candidates, an empty query) or one searching its own pool only (F4: a
    different measure from the whole pool's, which the session holds)."""
    if not result.shares or result.pane.restrict:
        return None
    if qid is not None:
        return (qid, result.query_lang, None) if result.query_lang else None
    return (None, None, text)


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def figures_of(runs: Sequence[RunFigures], languages: Sequence[str]) -> dict[str, Any]:
    """Means over ``runs``: language shares of the top k (each language of ``languages``),
    own-language share, MAP and rank distance (the last three over questions only)."""
    shares = {x: float(np.mean([r.shares.get(x, 0.0) for r in runs])) for x in languages if runs}
    return {
        "runs": len(runs),
        "shares": shares if runs else {},
        "same_language_share": _mean(
            [r.same_language_share for r in runs if r.same_language_share is not None]
        ),
        "map": _mean([r.ap for r in runs if r.ap is not None]),
        "rank_distance": _mean([r.rank_distance for r in runs if r.rank_distance is not None]),
    }


class Session:
    """The runs recorded in an explorer session and what each system gave on each.

    A run is a question in one language (each pane language asks the question's own
    translation) or a free text (counted once: every pane's language shares come from the
    same whole-pool top k). Figures are kept per system place; a system compared later gets
    the earlier runs scored too (:meth:`Workspace.score_runs`), and :meth:`summary` counts
    only the runs every system it is asked about has, so systems are compared on the same
    queries. Written from worker threads, read on the app's: a lock guards it.
    """

    def __init__(self) -> None:
        self.runs: dict[RunKey, str] = {}
        """Every run recorded, in order, with the text searched."""
        self.figures: list[dict[RunKey, RunFigures]] = [{}]
        self._lock = threading.Lock()

    def record(self, results: Sequence[PaneResult], qid: str | None, text: str | None) -> int:
        """Add a request's results (each run once per system: Enter again, F4 and back, or new
        panes repeat a query, and it must not weigh more than the others); the number of
        figures added."""
        added = 0
        with self._lock:
            for r in results:
                key = run_key(r, qid, text)
                if key is None:
                    continue
                while len(self.figures) <= r.pane.system:
                    self.figures.append({})
                mine = self.figures[r.pane.system]
                if key not in mine:
                    self.runs.setdefault(key, r.query)
                    mine[key] = RunFigures.of(r)
                    added += 1
        return added

    def set_figures(self, place: int, figures: dict[RunKey, RunFigures]) -> None:
        """Replace what system ``place`` gave (a system compared anew: its earlier runs)."""
        with self._lock:
            while len(self.figures) <= place:
                self.figures.append({})
            self.figures[place] = dict(figures)

    def add_figures(self, place: int, figures: dict[RunKey, RunFigures]) -> None:
        """Add what system ``place`` gave on more runs (those recorded while it opened)."""
        with self._lock:
            while len(self.figures) <= place:
                self.figures.append({})
            self.figures[place].update(figures)

    def paired_runs(self, places: Sequence[int]) -> list[RunKey]:
        """The runs that every system of ``places`` has figures for, in recorded order."""
        with self._lock:
            tables = [self.figures[p] if p < len(self.figures) else {} for p in places]
            return [k for k in self.runs if all(k in t for t in tables)]

    def summary(
        self, places: Sequence[int], names: Sequence[str], languages: Sequence[str]
    ) -> dict[str, Any]:
        """The session's figures for the systems at ``places`` (named ``names``) on the same
        runs: counts that say what they count, and per system the figures over all runs and
        per question language (``languages`` order first, then any other in recorded order).
        """
        keys = self.paired_runs(places)
        questions = [k for k in keys if k[0] is not None]
        free = [k for k in keys if k[0] is None]
        seen = dict.fromkeys(k[1] for k in questions if k[1])
        order = [x for x in languages if x in seen] + [x for x in seen if x not in languages]
        with self._lock:
            systems = []
            for place, name in zip(places, names, strict=True):
                table = self.figures[place] if place < len(self.figures) else {}
                systems.append(
                    {
                        "system": name,
                        "all": figures_of([table[k] for k in keys], languages),
                        "languages": {
                            lang: figures_of(
                                [table[k] for k in questions if k[1] == lang], languages
                            )
                            for lang in order
                        },
                    }
                )
        return {
            "systems": systems,
            "paired": len(places) > 1,
            "questions": len({k[0] for k in questions}),
            "question_runs": len(questions),
            "free_texts": len(free),
            "runs": len(keys),
            "languages": order,
        }

    def rows(
        self, places: Sequence[int], names: Sequence[str], languages: Sequence[str]
    ) -> list[dict[str, Any]]:
        """One row per run and system (the paired runs), for a table: the question's id (None
        for free text), the text searched, its language, and the run's figures, the language
        shares as ``share_<lang>`` columns."""
        keys = self.paired_runs(places)
        out = []
        with self._lock:
            for place, name in zip(places, names, strict=True):
                table = self.figures[place]
                for key in keys:
                    f = table[key]
                    out.append(
                        {
                            "system": name,
                            "query_id": key[0],
                            "query": self.runs[key],
                            "query_lang": key[1],
                            "ap": f.ap,
                            "rank_distance": f.rank_distance,
                            "same_language_share": f.same_language_share,
                            **{f"share_{x}": f.shares.get(x, 0.0) for x in languages},
                        }
                    )
        return out


SESSION_FORMAT = "xlir-tui/explorer-session"
SESSION_FORMAT_VERSION = 1


def default_session_folder(when: float | None = None) -> Path:
    """Where an exported session goes unless the person names a folder: under the current
    folder, named by the time (``explorer-session-20260101-120000``)."""
    import time

    return Path(f"explorer-session-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}")


def write_session(
    out: Path,
    summary: dict[str, Any],
    rows: list[dict[str, Any]],
    about: dict[str, Any],
    *,
    overwrite: bool = False,
) -> list[str]:
    """Write an explorer session into the folder ``out`` atomically: ``session.json`` (what
    was explored, the counts and the figures of :meth:`Session.summary`) and ``runs.parquet``
    (:meth:`Session.rows`: one row per run and system). Only a folder this tool wrote is
    replaced, and only with ``overwrite`` (:func:`~xlir_tui.storage.files.atomic_dir`); the file
    names written are returned."""
    from .. import __version__
    from ..safe_text import json_dumps
    from ..storage.files import atomic_dir

    document = {
        "format": SESSION_FORMAT,
        "format_version": SESSION_FORMAT_VERSION,
        "created_by": f"xlir-tui {__version__}",
        **about,
        **summary,
    }
    schema: dict[str, Any] = {
        "system": pl.String,
        "query_id": pl.String,
        "query": pl.String,
        "query_lang": pl.String,
        "ap": pl.Float64,
        "rank_distance": pl.Int64,
        "same_language_share": pl.Float64,
    }
    for row in rows[:1]:  # the per-language share_<lang> columns, after the fixed ones
        schema.update({c: pl.Float64 for c in row if c not in schema})
    table = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    with atomic_dir(Path(out), overwrite=overwrite, command="explore") as tmp:
        table.write_parquet(tmp / "runs.parquet")
        (tmp / "session.json").write_text(json_dumps(document, indent=2) + "\n", encoding="utf-8")
    return ["session.json", "runs.parquet"]


def shown_name(system: Retriever) -> str:
    """A system as the explorer names it: a model by its name (a folder by its last part), a
    translated system with ``(via LANG)``, a fusion with its parts."""
    if isinstance(system, TranslatedRetriever):
        return f"{shown_name(system.inner)} (via {system.to})"
    if isinstance(system, FusionRetriever):
        dense = system.dense
        return system.spec.label(shown_name(dense) if dense is not None else None)
    if isinstance(system, DebiasedRetriever):
        return f"{shown_name(system.plain)} + {system.fit.name}"
    label = system.label
    return Path(label).name if label.startswith("/") else label


def stage_label(stage: str, name: str) -> str:
    """A progress stage of loading the system ``name`` (its display name), as the explorer shows
    it: ``encoding candidates for runs/hybrid``, but ``loading model runs/hybrid`` as it is (the
    stage names the model already)."""
    return stage if name in stage else f"{stage} for {name}"


def choice_spec(choice: str, main: Retriever) -> SystemSpec:
    """The system a person names in the compare dialog: ``bm25``, ``chargram``, ``fusion`` (with
    the main system's model, or the default) or a model (``default``, a folder, a hub name)."""
    choice = choice.strip()
    if choice in LEXICAL or choice == "fusion":
        encoder = main.encoder
        return SystemSpec(choice, encoder.spec if encoder is not None else "default")
    return SystemSpec("dense", choice)


class Workspace:
    """Systems, models and the session's statistics behind the explorer."""

    def __init__(self, system: Retriever, collection: Any, k: int = 10) -> None:
        self.systems: list[Retriever] = [system]
        self.collection = collection
        self.tags: list[list[str]] = [self.run_tags(system)]
        """What each system's name must be read with (a stopped run, a model trained on these
        questions; :func:`~xlir_tui.training.runs.run_tags`), found once, in the worker that
        loads it."""
        self.k = k
        self.session = Session()
        self.models = Models()
        if system.encoder is not None:
            self.models.keep(system.encoder)  # compare with fusion reuses the loaded model
        # typing writes a query per keystroke: none goes to the embedding cache (each would be
        # a parquet file, a tenth of a second or more); the candidates are kept in the index
        system.keep_queries(False)
        # rows, languages and hits, shared by every system
        self.pool = CandidatePool(collection.candidates)
        self.languages = self.pool.languages
        sizes = collection.candidates.group_by("lang").len()
        total = self.pool.size
        self.expected = {lang: n / total for lang, n in sizes.iter_rows()}
        q = self.collection.questions
        self._question_text = {
            (qid, lang): text for qid, lang, text in q.select("qid", "lang", "text").iter_rows()
        }
        rel = self.collection.relevance.join(
            q.select(pl.col("id").alias("question_id"), "qid"), on="question_id"
        )
        self._relevant: dict[str, set[str]] = {}
        for qid, cid in rel.select("qid", "candidate_id").iter_rows():
            self._relevant.setdefault(qid, set()).add(cid)
        self._row_of = {cid: i for i, cid in enumerate(collection.candidates["id"].to_list())}
        self._contexts = dict(collection.candidates.select("id", "context").iter_rows())
        self.question_ids: list[str] = sorted(set(q["qid"].to_list()))
        self._folded: dict[str, list[tuple[str, str, str]]] | None = None  # for the picker
        self.query_lang: str | None = None
        """The language free text is written in (what a translating system translates from,
        what center and lir use; None: they identify it)."""
        self.debias = DebiasSpec()
        """The settings of a remedy chosen in the compare dialog (ranks, --debias-fit)."""

    @property
    def plain(self) -> DenseRetriever | None:
        """The main system's plain dense system, which the compare dialog's remedies
        transform (None for a lexical, fused or translated main system)."""
        main = self.systems[0]
        if isinstance(main, DebiasedRetriever):
            return main.plain
        return main if isinstance(main, DenseRetriever) else None

    def remedies(self) -> list[tuple[str, str]]:
        """The remedies the compare dialog offers: (choice, what it does), those the panes show
        already (the main system's, the compared one's) left out."""
        plain = self.plain
        if plain is None:
            return []
        shown = {
            s.fit.method if isinstance(s, DebiasedRetriever) else "none"
            for s in self.systems
            if isinstance(s, DebiasedRetriever) or s is plain
        }
        return [(f"{REMEDY_CHOICE}{m}", note) for m, note in SHORT.items() if m not in shown]

    @property
    def names(self) -> list[str]:
        """Each system as the panes name it, with what its figures must be read with:
        ``hybrid (stopped at step 2 of 221; trained on these questions)``."""
        return [
            shown_name(s) + (f" ({'; '.join(tags)})" if tags else "")
            for s, tags in zip(self.systems, self.tags, strict=True)
        ]

    def run_tags(self, system: Retriever) -> list[str]:
        """A trained model's run as it bears on this collection's figures (none for others)."""
        from ..training.runs import run_tags

        encoder = system.encoder
        spec = getattr(encoder, "spec", None) if encoder is not None else None
        return run_tags(spec, self.collection.sources) if isinstance(spec, str) else []

    # -- systems -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        *,
        index: str | Path | None = None,
        collection: Sequence[str] | None = None,
        spec: SystemSpec | None = None,
        encoder_options: dict[str, Any] | None = None,
        query_lang: str | None = None,
        progress: StageProgress | None = None,
        debias: Sequence[DebiasSpec] = (),
    ) -> Workspace:
        """From an index folder of any system, or from a collection and a system (dense
        indexes built once and kept in the cache). With ``spec.translate_query``, the main
        system translates queries first; free text is taken as ``query_lang``. ``debias``:
        the main system's remedy, and a second one to compare it with (``none``: plain);
        without it, an index's own system."""
        spec = spec or SystemSpec()
        say = (lambda text: progress(text.rstrip(" ."), 0, 1)) if progress else None
        models = Models({k: v for k, v in (encoder_options or {}).items() if v is not None}, say)
        if index is not None:
            system = load_system(index, models)
            c = system.collection()
            if spec.translate_query is not None:
                t = spec.translate_query
                systems: list[Retriever] = [
                    TranslatedRetriever(system, models.translator(t.mt), t.to)
                ]
            else:
                systems = index_systems(system, list(debias), progress=progress, say=say)
        else:
            from ..data.collections import load_collection

            c = load_collection(list(collection or []))
            plain_spec = SystemSpec(spec.system, spec.model, spec.fusion, spec.translate_query)
            system = open_system(c, plain_spec, models, progress, cached=True)
            systems = [
                system if d.plain else debiased(system, d, c, progress=progress, say=say)  # type: ignore[arg-type]
                for d in debias
            ] or [system]
        ws = cls(systems[0], c)
        ws.models = models
        ws.query_lang = query_lang
        if debias:
            ws.debias = debias[0]
        if len(systems) > 1:
            ws.set_compared(ws._for_typing(systems[1]))
        return ws

    def open_compared(self, spec: SystemSpec, progress: StageProgress | None = None) -> Retriever:
        """Open a second system over the same collection, for comparison, without putting it
        in place (:meth:`set_compared` does, once it is still wanted)."""
        if progress is not None:
            self.models.notify = lambda text: progress(text.rstrip(" ."), 0, 1)
        system = open_system(self.collection, spec, self.models, progress, cached=True)
        return self._for_typing(system)

    def open_remedy(self, method: str, progress: StageProgress | None = None) -> Retriever:
        """The main system's plain dense system under remedy ``method`` (``none``: the plain
        system): its vectors transformed, nothing encoded again; a fit kept in the main
        system's index is reused. Not put in place (:meth:`set_compared` does)."""
        plain = self.plain
        if plain is None:
            raise XlirError(f"{self.names[0]} has no dense vectors to debias")
        say = (lambda text: progress(text.rstrip(" ."), 0, 1)) if progress else None
        if method == "none":
            return self._for_typing(plain)
        spec = DebiasSpec(method, self.debias.lir_rank, self.debias.subspace_rank, self.debias.fit)
        _, saved = index_debias(plain.index)
        system = debiased(plain, spec, self.collection, saved=saved, progress=progress, say=say)
        return self._for_typing(system)

    def open_choice(self, choice: str, progress: StageProgress | None = None) -> Retriever:
        """The system a compare-dialog choice names: a remedy of the main system
        (``debias:center``), or a model, a lexical system or a fusion (:func:`choice_spec`)."""
        if choice.startswith(REMEDY_CHOICE):
            return self.open_remedy(choice.removeprefix(REMEDY_CHOICE), progress)
        return self.open_compared(choice_spec(choice, self.systems[0]), progress)

    @staticmethod
    def _for_typing(system: Retriever) -> Retriever:
        """Typing writes a query per keystroke: none goes to the embedding cache (each would be
        a parquet file, a tenth of a second or more); the candidates are kept in the index."""
        system.keep_queries(False)
        return system

    def set_compared(
        self, system: Retriever, figures: dict[RunKey, RunFigures] | None = None
    ) -> int:
        """Put ``system`` in the second place (replacing the one compared before), with its
        figures on the session's earlier runs (:meth:`score_runs`); return its place."""
        tags = self.run_tags(system)
        if len(self.systems) > 1:
            self.systems[1] = system
            self.tags[1] = tags
        else:
            self.systems.append(system)
            self.tags.append(tags)
        self.session.set_figures(1, figures or {})
        return 1

    def add_system(self, spec: SystemSpec, progress: StageProgress | None = None) -> int:
        """Load a second system and put it in place (:meth:`open_compared`,
        :meth:`score_runs`, :meth:`set_compared` in one)."""
        system = self.open_compared(spec, progress)
        return self.set_compared(system, self.score_runs(system))

    def add_remedy(self, method: str, progress: StageProgress | None = None) -> int:
        """Compare with the main system under remedy ``method`` (:meth:`open_remedy`,
        :meth:`score_runs`, :meth:`set_compared` in one)."""
        system = self.open_remedy(method, progress)
        return self.set_compared(system, self.score_runs(system))

    def score_runs(
        self, system: Retriever, runs: Sequence[RunKey] | None = None
    ) -> dict[RunKey, RunFigures]:
        """What ``system`` gives on the session's runs (all of them by default): a system
        compared later is measured on the queries asked before it came, so the session's
        figures compare the systems on the same queries."""
        keys = list(self.session.runs if runs is None else runs)
        items: list[tuple[RunKey, Pane, str, str | None, set[str]]] = []
        for key in keys:
            qid, lang, text = key
            if qid is not None and lang is not None:
                question = self.question(qid, lang)
                if question is not None:
                    items.append((key, Pane(lang), question, lang, self._relevant.get(qid, set())))
            elif text:
                items.append((key, Pane(None), text, self.query_lang, set()))
        if not items:
            return {}
        scores = system.scores([q for _, _, q, _, _ in items], [x for _, _, _, x, _ in items])
        out = {}
        for (key, pane, query, _, relevant), row in zip(items, scores, strict=True):
            result = self._pane_result(
                system, pane, query, row, relevant, self.k, question_mode=key[0] is not None
            )
            out[key] = RunFigures.of(result)
        return out

    # -- questions ---------------------------------------------------------------------------
    def question(self, qid: str, lang: str) -> str | None:
        return self._question_text.get((qid, lang))

    def questions_matching(
        self, text: str, lang: str | None = None, limit: int = 200
    ) -> list[tuple[str, str, tuple[str, str] | None]]:
        """Questions whose id or text in any language contains ``text`` (:func:`search_fold`:
        case and Latin, Greek and Cyrillic accents aside),
        for a picker: (qid, the question in ``lang`` or its first language, and where the
        words were found when it was not there: (language, that language's question)).

        Every language is searched: a person reading the German panes searches ``Vulkan``."""
        needle = search_fold(text).strip()
        if self._folded is None:
            by_qid: dict[str, list[tuple[str, str, str]]] = {}
            for version in self.languages:  # not ``lang``: the language asked for
                for qid in self.question_ids:
                    q = self.question(qid, version)
                    if q:
                        by_qid.setdefault(qid, []).append((version, q, search_fold(q)))
            self._folded = by_qid
        out: list[tuple[str, str, tuple[str, str] | None]] = []
        for qid in self.question_ids:
            versions = self._folded.get(qid, [])
            shown = (self.question(qid, lang) if lang else None) or (
                versions[0][1] if versions else ""
            )
            found: tuple[str, str] | None = None
            if needle and needle not in search_fold(qid) and needle not in search_fold(shown):
                hit = next((v for v in versions if needle in v[2]), None)
                if hit is None:
                    continue
                found = (hit[0], hit[1])
            out.append((qid, shown, found))
            if len(out) >= limit:
                break
        return out

    def context_of(self, candidate_id: str) -> str:
        return self._contexts.get(candidate_id, "")

    # -- running -----------------------------------------------------------------------------
    def run(
        self,
        panes: Sequence[Pane],
        *,
        text: str | None = None,
        qid: str | None = None,
        k: int | None = None,
    ) -> list[PaneResult]:
        """Answer a free-text query (``text``) or a question of the collection (``qid``); what
        counts in the session figures is :meth:`record`'s to say."""
        k = k or self.k
        if (text is None) == (qid is None):
            raise XlirError("give a query text or a question id")
        if text is not None and not text.strip():
            return [self._empty(p, "", "empty query") for p in panes]
        relevant = self._relevant.get(qid, set()) if qid is not None else set()
        requests: dict[int, list[tuple[int, str, str | None]]] = {}
        results: list[PaneResult | None] = [None] * len(panes)
        for i, pane in enumerate(panes):
            if pane.system >= len(self.systems):
                raise XlirError(f"no system loaded in place {pane.system + 1}")
            if pane.lang is not None and pane.lang not in self.languages:
                results[i] = self._empty(pane, text or "", f"no candidates in {pane.lang}")
                continue
            query = text if text is not None else self.question(qid, pane.lang or "")
            if qid is not None and pane.lang is None:
                why = "a question is asked in each pane's language; this pane has none (free text)"
                results[i] = self._empty(pane, "", why)
                continue
            if qid is not None and query is None:
                results[i] = self._empty(pane, "", f"question {qid} has no {pane.lang} version")
                continue
            query_lang = pane.lang if qid is not None else self.query_lang
            requests.setdefault(pane.system, []).append((i, query, query_lang))
        for place, items in requests.items():
            system = self.systems[place]
            # the same query in the same language is scored once (free text: one encoding
            # however many panes show it)
            unique = list(dict.fromkeys((q, lang) for _, q, lang in items))
            asked = [q for q, _ in unique]
            langs = [lang for _, lang in unique]
            searched_once = system.searched_as(asked, langs)
            scores_once = system.scores(asked, langs)
            where = {pair: j for j, pair in enumerate(unique)}
            scores = [scores_once[where[(q, lang)]] for _, q, lang in items]
            searched = [searched_once[where[(q, lang)]] for _, q, lang in items]
            for (i, query, lang), row_scores, sent in zip(items, scores, searched, strict=True):
                results[i] = self._pane_result(
                    system, panes[i], query, row_scores, relevant, k, text is None
                )
                if isinstance(system, DebiasedRetriever):
                    results[i].note = system.pane_note(query, lang)
                if isinstance(system, TranslatedRetriever):
                    if sent != query:
                        results[i].note = f"searched as: {sent}"
                    elif lang is None:
                        results[
                            i
                        ].note = "not translated: the query's language is unknown (--query-lang)"
        return [r for r in results if r is not None]

    def record(
        self,
        results: Sequence[PaneResult],
        qid: str | None,
        text: str | None,
        systems: Sequence[Retriever] | None = None,
    ) -> int:
        """Add a request's results to the session figures: each run once per system, and only
        whole-pool runs (:meth:`Session.record`). A result of a compared system replaced while
        the query ran (``systems``: those it ran with; None: the current ones) is left out: it
        would count as the new one's. The number of figures added."""
        ran_with = list(self.systems) if systems is None else list(systems)
        current = [
            r
            for r in results
            if r.pane.system < len(ran_with)
            and r.pane.system < len(self.systems)
            and self.systems[r.pane.system] is ran_with[r.pane.system]
        ]
        return self.session.record(current, qid, text)

    def _empty(self, pane: Pane, query: str, note: str) -> PaneResult:
        name = self.names[pane.system] if pane.system < len(self.systems) else ""
        return PaneResult(pane, query, None, [], set(), {}, None, None, None, name, note)

    def _pane_result(
        self,
        system: Retriever,
        pane: Pane,
        query: str,
        scores: np.ndarray,
        relevant: set[str],
        k: int,
        question_mode: bool,
    ) -> PaneResult:
        """Hits, shares and AP from one query's exact scores, ranked by the report's own rule
        (:mod:`xlir_tui.evaluation.metrics`), so a pane's AP is the report's AP for that query."""
        pool = self.pool
        tie_key = pool.tie_key
        query_lang = pane.lang if question_mode else None
        if question_mode:
            langs = [pane.lang] if pane.restrict and pane.lang else None
        else:
            langs = [pane.lang] if pane.lang else None
        pool_rows = pool.rows_for(langs)
        best = top_k(scores, k, pool_rows, tie_key, positive_only=system.sparse)
        hits = pool.hits(best, scores[best])
        note = "no candidate shares a word or n-gram with the query" if not hits else ""
        # language shares of the whole pool's top k (what the bias panel shows)
        k_all = min(k, pool.size)
        top = top_k(scores, k_all, None, tie_key)
        top_langs = pool.candidates["lang"].gather(top).to_list()
        shares = {lang: top_langs.count(lang) / k_all for lang in self.languages}
        own = shares.get(query_lang) if query_lang else None
        ap = distance = None
        rel_rows = np.array([self._row_of[c] for c in relevant if c in self._row_of], dtype=int)
        if len(rel_rows):
            ranks_all = ranks_in_pool(scores, rel_rows, tie_key)
            distance = int(ranks_all.max() - ranks_all.min())
            ranks = ranks_in_pool(scores, rel_rows, tie_key, pool_rows)
            ap = average_precision(ranks)
        return PaneResult(
            pane,
            query,
            query_lang,
            hits,
            relevant,
            shares,
            own,
            ap,
            distance,
            self.names[pane.system],
            note,
        )
