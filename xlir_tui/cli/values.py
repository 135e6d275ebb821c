"""Option values turned into what the core takes: language lists, systems, encoder settings,
remedies, a translation of the queries, a loaded collection.

A value that cannot mean anything is refused here in one line that names its flag, before any
model loads; what only the core can judge is left to the core's own checks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import XlirError
from .output import notify


def split_langs(value: str | None, flag: str | None = None) -> list[str] | None:
    """``"de, zh"`` -> ``["de", "zh"]``; None (not given) -> None. A value that names no
    language (``""``, ``","``) is None too, or with ``flag`` an error naming the flag: given
    and empty, it would silently mean every language."""
    langs = [x.strip() for x in (value or "").split(",") if x.strip()]
    if not langs and value is not None and flag is not None:
        raise XlirError(f"{flag} {value!r} names no language (leave {flag} out for all of them)")
    return langs or None


LANGUAGE_CODE = re.compile(r"[a-z]{2,3}([-_][a-z0-9]{2,8})*", re.IGNORECASE)


def query_language(value: str | None) -> str | None:
    """``--query-lang``: a language code as collections write them (``de``, ``zh``), the
    language in lower case (``DE`` is ``de``; a region or script kept as written: ``pt-BR``,
    ``deu_Latn`` for a translation model); a language's name or anything else not shaped like
    a code is a mistake said in one line, not a language no fit has seen."""
    if value is None:
        return None
    code = value.strip()
    head = re.split(r"[-_]", code, maxsplit=1)[0]
    code = head.lower() + code[len(head) :]
    if not LANGUAGE_CODE.fullmatch(code):
        raise XlirError(
            f"--query-lang {value!r} is not a language code (write it as the collection does: "
            "de, pt, zh)"
        )
    return code


def file_lang_of(file_lang: str | None, old: str | None) -> str | None:
    """``--file-lang``, or its old spelling ``--lang`` (kept for one release)."""
    if file_lang is not None and old is not None and file_lang != old:
        raise XlirError("give --file-lang once (--lang is its old spelling)")
    return file_lang if file_lang is not None else old


def load(collection: list[Path], lang: str | None, strict: bool) -> Any:
    """A collection as the core loads it; the questions it skipped said once on stderr."""
    from ..data.collections import load_collection

    c = load_collection(collection, lang=lang, strict=strict)
    summary = c.skipped_summary()
    if summary:
        notify(f"warning: {summary}")
    return c


def debias_specs(
    debias: str | None,
    lir_rank: str | None,
    subspace_rank: int | None,
    fit: list[Path] | None,
) -> list[Any]:
    """``--debias`` and its settings as one spec per remedy; a setting without its remedy is
    a mistake said in one line."""
    from ..retrieval.specs import DebiasSpec

    specs = DebiasSpec.parse(debias, lir_rank, subspace_rank, fit)
    methods = {s.method for s in specs}
    for flag, value, method in (
        ("--lir-rank", lir_rank, "lir"),
        ("--subspace-rank", subspace_rank, "subspace"),
    ):
        if value is not None and method not in methods:
            raise XlirError(f"{flag} goes with --debias {method}")
    if fit and not methods - {"none"}:
        raise XlirError("--debias-fit goes with --debias center, lir, leace or subspace")
    return specs


def system_spec(
    system: str,
    model: str,
    fuse: str,
    fusion_method: str,
    fusion_weight: str | None,
    translate: Any = None,
) -> Any:
    """The system a command's ``--system``, ``--model`` and fusion flags name."""
    from ..retrieval.specs import SYSTEMS, FusionSpec, SystemSpec

    if system not in SYSTEMS:
        raise XlirError(f"unknown --system {system!r} (known: {', '.join(SYSTEMS)})")
    fusion = FusionSpec.parse(fuse, fusion_method, fusion_weight) if system == "fusion" else None
    return SystemSpec(system, model, fusion, translate)


def encoder_options(
    batch_size: int | None = None,
    pooling: str | None = None,
    query_prompt: str | None = None,
    backend: str | None = None,
    passage_context: bool | None = None,
) -> dict[str, Any]:
    """The encoder settings a command passes to every model it loads (None: not given, the
    model's own)."""
    from ..models.backends import check_backend
    from ..models.encoders import POOLINGS

    if pooling is not None and pooling not in POOLINGS:
        raise XlirError(f"--pooling {pooling!r}: choose {' or '.join(POOLINGS)}")
    if batch_size is not None and batch_size < 1:
        raise XlirError(f"--batch-size must be at least 1, got {batch_size}")
    if backend is not None:
        check_backend(backend)
    return {
        k: v
        for k, v in {
            "batch_size": batch_size,
            "pooling": pooling,
            "query_prompt": query_prompt,
            "backend": backend,
            "passage_context": passage_context,
        }.items()
        if v is not None
    }


def query_translation(
    translate_query: str | None, mt: str | None, command: str | None = None
) -> Any:
    """``--translate-query LANG --mt MODEL`` (None without them). ``--mt parallel`` (each
    question's own translation in the collection) is refused for a ``command`` that searches
    free text, which has none."""
    if translate_query is None and mt is None:
        return None
    if translate_query is None or mt is None:
        raise XlirError("--translate-query and --mt go together")
    from ..models.parallel import PARALLEL

    if mt == PARALLEL and command is not None:
        raise XlirError(
            f"--mt parallel replaces each question of a collection by its own translation; "
            f"{command} searches free text, which has none (use it with bias-report, or name a "
            "translation model)"
        )
    from ..retrieval.specs import TranslateQuery

    return TranslateQuery(translate_query, mt)
