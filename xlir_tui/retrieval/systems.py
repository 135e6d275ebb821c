"""Retrieval systems: one registry, and the one route by which systems open.

A :class:`~xlir_tui.retrieval.specs.SystemSpec` is what a person asks for;
:func:`open_system` builds it over a collection and :func:`load_system` opens a saved one, by the
``format`` its manifest names. Models load through the one store,
:class:`~xlir_tui.models.store.Models`. Every system keeps the contract of
:class:`~xlir_tui.retrieval.retriever.Retriever`; adding a kind of system means one class with
``build``/``load``/``scorer`` (a module of its own) and one line in :data:`KINDS` (and
:data:`FORMATS` if it saves).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models.parallel import PARALLEL
from ..models.store import Models
from ..progress import StageProgress
from .dense import FORMAT as DENSE_FORMAT
from .dense import FUSION_FORMAT, CandidatePool, DenseIndex
from .dense_system import DenseRetriever
from .fusion_system import FusionRetriever
from .lexical import LEXICAL_FORMAT, LexicalIndex
from .lexical_system import LexicalRetriever
from .retriever import Retriever
from .specs import FusionSpec, SystemSpec
from .translated_system import ParallelRetriever, TranslatedRetriever

__all__ = [
    "FORMATS",
    "KINDS",
    "check_index_folder",
    "index_format",
    "load_system",
    "open_system",
]


KINDS: dict[str, Any] = {
    "dense": DenseRetriever,
    "bm25": LexicalRetriever,
    "chargram": LexicalRetriever,
    "fusion": FusionRetriever,
}
"""Each kind of system by its ``--system`` name."""
FORMATS: dict[str, Any] = {
    DENSE_FORMAT: DenseRetriever,
    LEXICAL_FORMAT: LexicalRetriever,
    FUSION_FORMAT: FusionRetriever,
}
"""Each kind that saves, by the ``format`` its index manifest names."""


# --------------------------------------------------------------------------- registry


def open_system(
    collection: Any,
    spec: SystemSpec,
    models: Models | None = None,
    progress: StageProgress | None = None,
    **index_options: Any,
) -> Retriever:
    """Build ``spec`` over ``collection`` (encoding its candidates for a dense part)."""
    models = models or Models()
    translate = spec.translate_query
    questions = None
    if translate is not None and translate.mt == PARALLEL:
        from ..models.parallel import ParallelQuestions

        # refused here, before any encoding, when the collection lacks the questions
        questions = ParallelQuestions.of(collection, translate.to)
    retriever = KINDS[spec.system].build(collection, spec, models, progress, **index_options)
    if questions is not None:
        retriever = ParallelRetriever(retriever, questions)
    elif translate is not None:
        retriever = TranslatedRetriever(retriever, models.translator(translate.mt), translate.to)
    return retriever


def index_format(folder: Path) -> str | None:
    """The ``format`` of an index folder's manifest (None when there is none to read)."""
    try:
        return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8")).get(
            "format"
        )
    except (OSError, ValueError, AttributeError):
        return None


def load_system(
    folder: str | Path, models: Models | None = None, model: str | None = None
) -> Retriever:
    """Open any index folder that ``xlir-tui index`` writes, by the format its manifest names;
    ``model`` encodes queries with other weights than the index's own (checked against it)."""
    kind = FORMATS.get(index_format(Path(folder)) or "", DenseRetriever)
    return kind.load(Path(folder), models or Models(), model)


def check_index_folder(folder: str | Path) -> CandidatePool:
    """Every check of an index folder that needs no model (files, sizes, formats), so a damaged
    folder fails in one line before a slow model load; returns its candidates, so that asked-for
    languages can be checked before that load too."""
    folder = Path(folder)
    kind = index_format(folder)
    if kind == FUSION_FORMAT:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        pools = [
            check_index_folder(folder / p) for p in FusionSpec.from_dict(manifest["fusion"]).parts
        ]
        return pools[0]
    if kind == LEXICAL_FORMAT:
        return LexicalIndex.load(folder).pool
    return DenseIndex.load(folder)
