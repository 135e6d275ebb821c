"""Translating a collection: the ``translate`` use case, resumable, written as a collection.

A collection's questions and answer sentences are translated with a
:class:`~xlir_tui.models.translator.Translator` into an output folder that loads as a parallel
collection. Hours of decoding on a CPU must survive a Ctrl-C or a crash, so:

- finished questions are appended to ``.part`` files with an fsync per chunk, so an interruption
  loses at most one chunk, and a restart with the same settings skips what is done;
- the settings of a run are written first and compared on restart, so a resume never mixes runs;
- the summary (``translate.manifest``) is written last: a folder without it is unfinished.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import XlirError
from ..models.translator import model_code
from ..progress import StageProgress
from ..storage.files import (
    atomic_write_text,
    check_apart,
    check_replaceable,
    ownership,
    remove_own_output,
    text_digest,
    write_json,
    write_marker,
)

if TYPE_CHECKING:
    from ..data.collections import Collection
    from ..models.translator import Translator

SUMMARY_NAME = "translate.manifest"
"""Written last into a finished output folder. Not ``translate.json``: the collection loader reads
every ``*.json`` in a folder as a SQuAD file, and the output folder must load as a collection."""
SETTINGS_NAME = "translate.settings"
"""The settings of a run in progress, compared on restart so a resume never mixes two runs."""
SUMMARY_FORMAT = "xlir-tui/translation"
FORMAT_VERSION = 1

_NO_SPACE_LANGS = frozenset({"zh", "ja", "yue", "zho_Hans", "zho_Hant", "jpn_Jpan", "yue_Hant"})


@dataclass(frozen=True)
class _Item:
    """One source question with its answer sentence (and that sentence's paragraph)."""

    qid: str
    question: str
    passage: str
    context: str
    sentences: tuple[str, ...]  # the paragraph's sentences, in order


def _source_items(
    collection: Collection, source: str, paragraphs: bool
) -> tuple[list[_Item], list[str]]:
    """The source-language questions with their answer sentences, in collection order; plus the
    qids of questions with no answer sentence in the source language (they cannot be kept)."""
    questions = collection.questions.filter(pl.col("lang") == source)
    if questions.is_empty():
        raise XlirError(
            f"collection {collection.name} has no questions in {source} "
            f"(it has {', '.join(collection.languages) or 'none'})"
        )
    candidates = collection.candidates.filter(pl.col("lang") == source)
    answer_of: dict[str, str] = {}  # question id -> its answer sentence in the source language
    for question_id, cid in (
        collection.relevance.filter(pl.col("candidate_id").is_in(candidates["id"].implode()))
        .sort("candidate_id")
        .iter_rows()
    ):
        answer_of.setdefault(question_id, cid)
    by_id = {row["id"]: row for row in candidates.iter_rows(named=True)}
    sentences: dict[str, tuple[str, ...]] = {}
    if paragraphs:
        ordered = candidates.sort("paragraph_id", "sentence_index")
        grouped: dict[str, list[str]] = {}
        for pid, text in ordered.select("paragraph_id", "text").iter_rows():
            grouped.setdefault(pid, []).append(text)
        sentences = {pid: tuple(texts) for pid, texts in grouped.items()}
    items: list[_Item] = []
    skipped: list[str] = []
    for qid, text, question_id in questions.select("qid", "text", "id").iter_rows():
        cid = answer_of.get(question_id)
        if cid is None:
            skipped.append(qid)
            continue
        cand = by_id[cid]
        context = (cand["context"] or cand["text"]) if paragraphs else ""
        items.append(
            _Item(
                qid=qid,
                question=text,
                passage=cand["text"],
                context=context,
                sentences=sentences.get(cand["paragraph_id"], (cand["text"],)),
            )
        )
    if not items:
        raise XlirError(
            f"collection {collection.name}: no {source} question has an answer sentence in {source}"
        )
    return items, skipped


def _items_digest(items: list[_Item], paragraphs: bool) -> str:
    parts: list[str] = []
    for it in items:
        parts += [it.qid, it.question, it.passage]
        if paragraphs:
            parts += [it.context, *it.sentences]
    return text_digest(*parts)


def _join_sentences(sentences: Sequence[str], lang: str) -> str:
    sep = "" if lang in _NO_SPACE_LANGS or lang.split("-")[0] in _NO_SPACE_LANGS else " "
    return sep.join(s.strip() for s in sentences if s.strip())


def _read_part(path: Path, wanted: set[str], lang: str) -> tuple[dict[str, dict[str, Any]], bool]:
    """Complete, valid rows of a ``.part`` (or finished) file by qid; and whether any were dropped.

    A crash can cut the last line (even inside a UTF-8 character), so only lines that end with a
    newline and parse are kept.
    """
    rows: dict[str, dict[str, Any]] = {}
    dropped = False
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return rows, False
    lines = data.split(b"\n")
    if lines[-1]:
        dropped = True  # a truncated last line
    for raw in lines[:-1]:
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            dropped = True
            continue
        ok = (
            isinstance(row, dict)
            and row.get("lang") == lang
            and row.get("qid") in wanted
            and row.get("qid") not in rows
            and all(isinstance(row.get(k), str) and row[k].strip() for k in ("question", "passage"))
        )
        if not ok:
            dropped = True
            continue
        rows[row["qid"]] = row
    return rows, dropped


def _row_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def _append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows and make them durable: after this returns, a crash keeps them."""
    if not rows:
        return
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(_row_line(r) for r in rows))
        f.flush()
        os.fsync(f.fileno())


def check_out(out: Path, overwrite: bool, inputs: Sequence[str | Path] = ()) -> str:
    """What ``translate`` will do with ``out``: ``new`` (absent or empty), ``resume`` (an
    unfinished translation) or ``replace`` (a finished output of this tool, with ``overwrite``).

    Needs no model, so the command runs it before one loads. The output is never one of the
    ``inputs`` (the collection), never a link, a file or a folder of someone else's; an
    unfinished translation written before outputs carried a marker is still resumed (resuming
    deletes nothing), but never replaced.
    """
    out = Path(out)
    check_apart(out, inputs)
    found = ownership(out)
    if found.state in ("absent", "empty"):
        return "new"
    unfinished = (out / SETTINGS_NAME).is_file() and not (out / SUMMARY_NAME).exists()
    if found.state == "foreign" and unfinished and not overwrite:
        try:
            settings = json.loads((out / SETTINGS_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            settings = None
        if isinstance(settings, dict) and settings.get("format") == f"{SUMMARY_FORMAT}-run":
            return "resume"
    if found.state == "ours" and unfinished and not overwrite:
        return "resume"
    check_replaceable(out, overwrite)
    return "replace"


def _prepare_out(
    out: Path, settings: dict[str, Any], overwrite: bool, inputs: Sequence[str | Path] = ()
) -> bool:
    """Make ``out`` ready for this run; return whether an unfinished run is resumed."""
    settings_file = out / SETTINGS_NAME
    plan = check_out(out, overwrite, inputs)
    if plan == "resume":
        try:
            old = json.loads(settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict):
            raise XlirError(
                f"unreadable {SETTINGS_NAME} (pass --overwrite to start over)", path=out
            )
        differ = [k for k in settings if old.get(k) != settings[k]]
        if differ:
            what = ", ".join(f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in differ)
            raise XlirError(
                "output folder holds an unfinished translation with other settings "
                f"({what}); pass --overwrite to start over or use the same settings",
                path=out,
            )
        return True
    if plan == "replace":
        remove_own_output(out)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "translate")
    write_json(settings_file, {**settings, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return False


def translate_collection(
    collection: Collection,
    translator: Translator,
    targets: Sequence[str],
    out: Path,
    *,
    source: str = "en",
    paragraphs: bool = False,
    overwrite: bool = False,
    chunk: int = 64,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """Translate a collection's ``source`` questions and answer sentences into ``targets``.

    Writes ``out/<lang>.jsonl`` rows (``qid, lang, question, passage`` and, with ``paragraphs``,
    ``context``) for the source language and every target, so ``out`` loads as a parallel
    collection whose questions share qids (LAReQA relevance across languages). Without
    ``paragraphs`` rows carry no context: each answer sentence is its own paragraph. With it,
    the answer's paragraph is translated sentence by sentence (what MT models are trained on, and
    nothing is cut at ``max_length``), so the translated answer is part of its translated context.

    Resumable: rows go to ``<lang>.jsonl.part`` with an fsync per ``chunk`` questions; a rerun with
    the same settings skips finished questions. The summary, also returned, is written last as
    ``out/translate.manifest``.
    """
    started = time.perf_counter()
    out = Path(out)
    targets = _check_request(translator, targets, source, chunk)
    items, skipped = _source_items(collection, source, paragraphs)
    settings = {
        "format": f"{SUMMARY_FORMAT}-run",
        "format_version": FORMAT_VERSION,
        "family": translator.family,
        "fingerprints": {t: translator.pair_fingerprint(source, t) for t in targets},
        "source": source,
        "targets": targets,
        "paragraphs": paragraphs,
        "num_beams": translator.num_beams,
        "max_length": translator.max_length,
        "questions": _items_digest(items, paragraphs),
    }
    resumed = _prepare_out(out, settings, overwrite, collection.sources)
    run = _Run(out, items, paragraphs, [source, *targets])
    run.append(source, [(it, it.question, it.passage, it.context) for it in run.pending(source)])
    hits0, misses0 = translator.cache_hits, translator.cache_misses
    translated: dict[str, int] = {}
    empty: dict[str, list[str]] = {}
    for tgt in targets:
        translated[tgt] = run.translate(translator, source, tgt, chunk, progress, empty)
    counts, files = run.finish()
    summary = {
        "format": SUMMARY_FORMAT,
        "format_version": FORMAT_VERSION,
        "mt": translator.name,
        "family": translator.family,
        "fingerprint": translator.fingerprint,
        "fingerprints": settings["fingerprints"],
        "source": source,
        "targets": targets,
        "paragraphs": paragraphs,
        "num_beams": translator.num_beams,
        "max_length": translator.max_length,
        "collection": collection.name,
        "collection_fingerprint": collection.fingerprint,
        "questions": counts,
        "skipped_no_answer": skipped,
        "empty_translations": empty,
        "translated_texts": translated,
        "cache_hits": translator.cache_hits - hits0,
        "cache_misses": translator.cache_misses - misses0,
        "resumed": resumed,
        "seconds": round(time.perf_counter() - started, 3),
        "files": files,
    }
    write_json(out / SUMMARY_NAME, summary)
    with contextlib.suppress(OSError):
        (out / SETTINGS_NAME).unlink()
    return summary


def _check_request(
    translator: Translator, targets: Sequence[str], source: str, chunk: int
) -> list[str]:
    """The target languages, each checked with the model before any work: a typo in the last
    target must not cost the first ones' hours."""
    if isinstance(targets, str):
        targets = [t for t in targets.split(",") if t.strip()]
    targets = list(dict.fromkeys(t.strip() for t in targets))
    if not targets:
        raise XlirError("no target language given")
    if not isinstance(chunk, int) or chunk < 1:
        raise XlirError(f"chunk must be a positive integer, not {chunk!r}")
    if source in targets:
        raise XlirError(f"target language {source} is the source language")
    model_code(translator.family, source)
    for t in targets:
        model_code(translator.family, t)
    for t in targets:
        translator.check(source, t)
    return targets


class _Run:
    """The ``.part`` files of one run in ``out``: what is done, appending, finishing."""

    def __init__(self, out: Path, items: list[_Item], paragraphs: bool, languages: list[str]):
        self.out = out
        self.items = items
        self.paragraphs = paragraphs
        self.languages = languages
        self.wanted = {it.qid for it in items}
        self.order = {it.qid: i for i, it in enumerate(items)}
        self.done: dict[str, dict[str, dict[str, Any]]] = {}
        for lang in languages:
            part, final = self.part(lang), out / f"{lang}.jsonl"
            if not part.exists() and final.exists():
                final.rename(part)  # a crash while finishing: take it back as unfinished
            rows, dropped = _read_part(part, self.wanted, lang)
            if dropped:
                atomic_write_text(part, "".join(_row_line(r) for r in rows.values()))
            self.done[lang] = rows

    def part(self, lang: str) -> Path:
        return self.out / f"{lang}.jsonl.part"

    def pending(self, lang: str) -> list[_Item]:
        return [it for it in self.items if it.qid not in self.done[lang]]

    def append(self, lang: str, rows: list[tuple[_Item, str, str, str]]) -> None:
        """Append rows of ``(item, question, passage, context)`` in ``lang``, durably."""
        lines: list[dict[str, Any]] = []
        for it, question, passage, context in rows:
            row: dict[str, Any] = {
                "qid": it.qid,
                "lang": lang,
                "question": question,
                "passage": passage,
            }
            if self.paragraphs:
                row["context"] = context
            lines.append(row)
        _append_rows(self.part(lang), lines)

    def translate(
        self,
        translator: Translator,
        source: str,
        tgt: str,
        chunk: int,
        progress: StageProgress | None,
        empty: dict[str, list[str]],
    ) -> int:
        """Translate the questions not done in ``tgt``, ``chunk`` at a time; return how many
        texts were translated. Questions with an empty translation go to ``empty``."""
        pending = self.pending(tgt)
        total = len(self.items)
        finished = total - len(pending)
        translated = 0
        if progress:
            progress(tgt, finished, total)
        for start in range(0, len(pending), chunk):
            part_items = pending[start : start + chunk]
            texts: list[str] = []
            for it in part_items:
                texts += [it.question, it.passage]
                if self.paragraphs:
                    texts += list(it.sentences)
            texts = list(dict.fromkeys(texts))
            result = dict(zip(texts, translator.translate(texts, source, tgt), strict=True))
            translated += sum(1 for t in texts if t.strip())
            rows = []
            for it in part_items:
                question, passage = result[it.question], result[it.passage]
                context = _join_sentences([result[s] for s in it.sentences], tgt)
                if not question.strip() or not passage.strip() or (self.paragraphs and not context):
                    # The loader refuses empty fields; such a question is left out and reported.
                    empty.setdefault(tgt, []).append(it.qid)
                    continue
                rows.append((it, question, passage, context))
            self.append(tgt, rows)
            finished += len(part_items)
            if progress:
                progress(tgt, finished, total)
        return translated

    def finish(self) -> tuple[dict[str, int], list[str]]:
        """Each language's rows in collection order (so a resumed run writes the same bytes as
        an uninterrupted one), the ``.part`` files replaced; the counts and the files."""
        counts: dict[str, int] = {}
        files: list[str] = []
        for lang in self.languages:
            rows, _ = _read_part(self.part(lang), self.wanted, lang)
            ordered = sorted(rows.values(), key=lambda r: self.order[r["qid"]])
            counts[lang] = len(ordered)
            if ordered:  # an empty file would make the folder unloadable
                text = "".join(_row_line(r) for r in ordered)
                atomic_write_text(self.out / f"{lang}.jsonl", text)
                files.append(f"{lang}.jsonl")
            self.part(lang).unlink(missing_ok=True)
        return counts, files
