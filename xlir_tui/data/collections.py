"""Parallel multilingual QA collections as polars frames, with LAReQA relevance.

A :class:`Collection` holds three frames:

- ``questions``: ``id`` (``<lang>/<qid>``), ``qid`` (shared by a question's translations),
  ``lang``, ``text``;
- ``candidates``: ``id`` (``<lang>/<paragraph>/<sentence>``), ``lang``, ``paragraph_id``,
  ``sentence_index``, ``text`` (the sentence), ``context`` (its paragraph);
- ``relevance``: ``question_id``, ``candidate_id``: for every question, the sentence that holds the
  answer in *every* language that has the question's ``qid`` (LAReQA, Roy et al. 2020).

plus ``skipped``: what could not be used, with a reason (counted and reported, never dropped
silently): a question whose answer lies in no sentence, a blank question, a question whose answer
is a blank sentence, and a blank candidate sentence (``qid`` empty). ``strict`` loading makes each
of them an error instead. Loading is cached as parquet under the cache folder, keyed by the
content of the source files, so a second load of XQuAD-R costs a few tens of milliseconds.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DataError, XlirError
from ..storage.files import atomic_dir, cache_root, file_digest, text_digest, write_json
from .segment import sentence_spans

LOADER_VERSION = "3"  # 3: column types and lone surrogates checked
SUFFIXES = (".json", ".jsonl", ".parquet")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")

QUESTION_SCHEMA = {"id": pl.String, "qid": pl.String, "lang": pl.String, "text": pl.String}
CANDIDATE_SCHEMA = {
    "id": pl.String,
    "lang": pl.String,
    "paragraph_id": pl.String,
    "sentence_index": pl.Int32,
    "text": pl.String,
    "context": pl.String,
}
SKIPPED_SCHEMA = {"file": pl.String, "lang": pl.String, "qid": pl.String, "reason": pl.String}
# How each skip reason begins, and how a summary names it.
NO_SENTENCE = "answer_start"
BLANK_QUESTION = "blank question text"
BLANK_ANSWER = "its answer is a blank sentence"
BLANK_CANDIDATE = "blank candidate sentence"
SKIP_KINDS = {
    NO_SENTENCE: "answer in no sentence",
    BLANK_QUESTION: "blank question",
    BLANK_ANSWER: "answer is a blank sentence",
    BLANK_CANDIDATE: "blank candidate sentence",
}


@dataclass
class Collection:
    """Questions, candidate sentences and relevance of one (multi-file) collection."""

    name: str
    questions: pl.DataFrame
    candidates: pl.DataFrame
    relevance: pl.DataFrame
    skipped: pl.DataFrame
    fingerprint: str
    sources: list[str] = field(default_factory=list)
    order: tuple[str, ...] = ()
    """The languages in the order a person chose them (``--langs``); empty: sorted."""

    @property
    def languages(self) -> list[str]:
        """Every language that has candidates or questions: in the order chosen with
        :meth:`restrict` (``--langs de,en,zh`` keeps de, en, zh in tables and heatmaps), else
        sorted."""
        langs = set(self.candidates["lang"].unique().to_list())
        langs |= set(self.questions["lang"].unique().to_list())
        chosen = [x for x in self.order if x in langs]
        return chosen + sorted(langs - set(chosen))

    def restrict(self, langs: Iterable[str]) -> Collection:
        """The same collection seen through a subset of its languages, in the order given.

        Unknown codes are an error naming them, so a typo never yields an empty report. The
        fingerprint does not depend on the order: the same languages are the same pool.
        """
        wanted = list(dict.fromkeys(langs))
        unknown = [x for x in wanted if x not in self.languages]
        if unknown:
            raise XlirError(
                f"unknown language {', '.join(unknown)} for collection {self.name} "
                f"(it has {', '.join(self.languages)})"
            )
        q = self.questions.filter(pl.col("lang").is_in(wanted))
        c = self.candidates.filter(pl.col("lang").is_in(wanted))
        r = self.relevance.filter(
            pl.col("question_id").is_in(q["id"].implode())
            & pl.col("candidate_id").is_in(c["id"].implode())
        )
        s = self.skipped.filter(pl.col("lang").is_in(wanted))
        return Collection(
            name=self.name,
            questions=q,
            candidates=c,
            relevance=r,
            skipped=s,
            fingerprint=text_digest(self.fingerprint, *sorted(wanted)),
            sources=self.sources,
            order=tuple(wanted),
        )

    def skipped_summary(self) -> str | None:
        """One line saying what was skipped and why, grouped by kind; None when nothing was."""
        if self.skipped.is_empty():
            return None
        kinds = self._skip_kinds()
        blank = kinds.pop(SKIP_KINDS[BLANK_CANDIDATE], 0)
        parts = []
        if kinds:
            detail = ", ".join(f"{n} {k}" for k, n in kinds.items())
            parts.append(f"{sum(kinds.values())} question(s) skipped ({detail})")
        if blank:
            parts.append(f"{blank} blank candidate sentence(s) skipped")
        return "; ".join(parts) + " (see 'skipped' in xlir-tui data stats)"

    def _skip_kinds(self) -> dict[str, int]:
        """Skipped rows counted by kind (``answer in no sentence``, ``blank question``, ...)."""
        kinds: dict[str, int] = {}
        for reason in self.skipped["reason"].to_list():
            kind = next((v for k, v in SKIP_KINDS.items() if reason.startswith(k)), "other")
            kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    def stats(self) -> dict[str, Any]:
        """Counts per language, shaped as ``xlir-tui data stats --json`` prints them."""
        q_by = _counts(self.questions, "lang")
        c_by = _counts(self.candidates, "lang")
        p_by = dict(
            self.candidates.group_by("lang").agg(pl.col("paragraph_id").n_unique()).iter_rows()
        )
        rel = self.relevance.join(
            self.questions.select(pl.col("id").alias("question_id"), "lang"), on="question_id"
        )
        r_by = _counts(rel, "lang")
        s_by = _counts(self.skipped, "lang")
        languages = {
            lang: {
                "questions": q_by.get(lang, 0),
                "candidates": c_by.get(lang, 0),
                "paragraphs": p_by.get(lang, 0),
                "relevant_pairs": r_by.get(lang, 0),
                "skipped": s_by.get(lang, 0),
            }
            for lang in self.languages
        }
        return {
            "collection": self.name,
            "questions": self.questions.height,
            "qids": self.questions["qid"].n_unique(),
            "candidates": self.candidates.height,
            "relevant_pairs": self.relevance.height,
            "skipped": self.skipped.height,
            "skipped_reasons": self._skip_kinds(),
            "languages": languages,
        }


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.is_empty():
        return {}
    return dict(frame.group_by(column).len().iter_rows())


# --------------------------------------------------------------------------------------------
# Finding files and languages


def lang_from_filename(path: Path) -> str | None:
    """``de.json`` -> ``de``; ``xquad.de.json`` -> ``de``; ``notes.json`` -> None."""
    parts = path.name.split(".")
    if len(parts) < 2:
        return None
    candidate = parts[-2]
    if _LANG_RE.match(candidate) and (len(parts) > 2 or len(candidate) <= 3 or "-" in candidate):
        return candidate
    return None


def _not_a_file(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (after symlinks): ``a FIFO``, ``a
    folder``, ``a broken symbolic link``...; None for a regular file. Never opens it: opening
    a FIFO waits for a writer that may never come."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if path.is_symlink() else "missing"
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    if stat.S_ISREG(mode):
        return None
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def expand_sources(sources: Sequence[str | Path]) -> list[Path]:
    """Turn folders and files into the list of data files they name, in a stable order.

    An entry of a folder named like a collection file (``de.jsonl``) that is not a regular
    file (a FIFO, a socket, a device, a folder, a broken link) is refused, naming it: skipped,
    it would leave a language out without a word; opened, a FIFO would block.
    """
    if not sources:
        raise XlirError("no collection given: name a folder or one or more files")
    files: list[Path] = []
    for src in sources:
        path = Path(src)
        if path.is_dir():
            named = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
            for p in named:
                what = _not_a_file(p)
                if what is not None:
                    raise DataError(
                        f"is {what}, not a collection file (move it away, or name the files "
                        "to read)",
                        path=p,
                    )
            found = named
            if not found:
                raise DataError(
                    "no collection files here (expected <lang>.json, .jsonl or .parquet files)",
                    path=path,
                )
            files.extend(found)
        elif (what := _not_a_file(path)) not in (None, "missing"):
            raise DataError(f"is {what}, not a collection file", path=path)
        elif path.is_file():
            if path.suffix not in SUFFIXES:
                raise DataError(
                    f"unsupported file type {path.suffix or '(none)'!r} "
                    f"(expected {', '.join(SUFFIXES)})",
                    path=path,
                )
            files.append(path)
        else:
            raise DataError("no such file or folder", path=path)
    return files


# --------------------------------------------------------------------------------------------
# Loading


class _Builder:
    """Accumulates rows from many files; assigns ids; checks duplicates."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.questions: list[tuple[str, str, str, str]] = []
        self.candidates: list[tuple[str, str, str, int, str, str]] = []
        self.answers: list[tuple[str, str, str]] = []  # qid, lang, candidate id
        self.skipped: list[tuple[str, str, str, str]] = []
        self.paragraphs: dict[str, int] = {}  # lang -> next paragraph number
        self.seen: dict[tuple[str, str], str] = {}  # (lang, qid) -> file

    def add_paragraph(
        self, file: Path, where: str, lang: str, context: str, sentences: list[str]
    ) -> tuple[str, list[str | None]]:
        """Add a paragraph's sentences; a blank one is skipped (its id is None, and the ids of
        the others keep their position in the paragraph)."""
        _check_text(context, file, f"{where}: context")
        number = self.paragraphs.get(lang, 0)
        self.paragraphs[lang] = number + 1
        pid = f"{lang}/{number}"
        ids: list[str | None] = []
        for i, text in enumerate(sentences):
            _check_text(text, file, f"{where}: sentence {i}")
            if not text.strip():
                self.skip(file, f"{where}.sentences[{i}]", lang, "", BLANK_CANDIDATE)
                ids.append(None)
                continue
            cid = f"{pid}/{i}"
            ids.append(cid)
            self.candidates.append((cid, lang, pid, i, text, context))
        return pid, ids

    def add_question(self, file: Path, where: str, lang: str, qid: str, text: str) -> bool:
        """Add a question; a blank one is skipped (or an error with ``strict``): False."""
        _check_text(lang, file, f"{where}: language")
        _check_text(qid, file, f"{where}: question id")
        _check_text(text, file, f"{where}: question")
        key = (lang, qid)
        if key in self.seen:
            other = self.seen[key]
            also = "" if other == str(file) else f" (also in {other})"
            raise DataError(
                f"{where}: duplicate question id {qid!r} in language {lang}{also}", path=file
            )
        self.seen[key] = str(file)
        if not text.strip():
            self.skip(file, where, lang, qid, BLANK_QUESTION)
            return False
        self.questions.append((f"{lang}/{qid}", qid, lang, text))
        return True

    def skip(self, file: Path, where: str, lang: str, qid: str, reason: str) -> None:
        if self.strict:
            what = f"question {qid!r}: " if qid else ""
            raise DataError(f"{where}: {what}{reason}", path=file)
        # a file name that is not UTF-8 keeps its bytes as \udcff escapes (a table holds text)
        shown = str(file).encode("utf-8", "backslashreplace").decode("utf-8")
        self.skipped.append((shown, lang, qid, reason))

    def build(self, name: str, fingerprint: str, sources: list[str]) -> Collection:
        questions = pl.DataFrame(self.questions, schema=QUESTION_SCHEMA, orient="row")
        candidates = pl.DataFrame(self.candidates, schema=CANDIDATE_SCHEMA, orient="row")
        answers = pl.DataFrame(
            self.answers,
            schema={"qid": pl.String, "lang": pl.String, "candidate_id": pl.String},
            orient="row",
        )
        # LAReQA: a question is relevant to the answer sentence of its qid in every language.
        relevance = (
            questions.select(pl.col("id").alias("question_id"), "qid")
            .join(answers.select("qid", "candidate_id"), on="qid")
            .select("question_id", "candidate_id")
            .sort("question_id", "candidate_id")
        )
        # A question with no relevant candidate at all cannot be scored; such questions are
        # only possible when every translation was skipped, and are reported with them.
        skipped = pl.DataFrame(self.skipped, schema=SKIPPED_SCHEMA, orient="row")
        answered = questions["id"].is_in(relevance["question_id"].implode())
        questions = questions.filter(answered)
        return Collection(name, questions, candidates, relevance, skipped, fingerprint, sources)


def _require(obj: Any, key: str, kind: type | tuple[type, ...], file: Path, where: str) -> Any:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected an object, found {type(obj).__name__}", path=file)
    if key not in obj:
        raise DataError(f"{where}: missing field {key!r}", path=file)
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise DataError(f"{where}.{key}: expected {names}, found {type(value).__name__}", path=file)
    return value


def _parse_json(text: str) -> Any:
    """``json.loads``, every way it can fail a :class:`ValueError` saying what is wrong: a
    syntax error (where), nesting too deep for the parser (``RecursionError``), an integer
    with more digits than Python converts."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise ValueError("malformed JSON: nested too deeply to read") from None
    except ValueError as e:  # int digits limit
        raise ValueError(f"malformed JSON: {e}") from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(value: str, file: Path, where: str) -> str:
    """``value``, refused when it holds a lone surrogate (a JSON ``\\ud800`` escape with no
    pair): it is not Unicode text, and no table or file can hold it."""
    m = _SURROGATE.search(value)
    if m is not None:
        raise DataError(
            f"{where}: not Unicode text (a lone surrogate \\u{ord(m.group(0)):04x} at "
            f"character {m.start()})",
            path=file,
        )
    return value


def _read_json(file: Path) -> Any:
    raw = file.read_bytes()
    if not raw.strip():
        raise DataError("empty file", path=file)
    try:
        return _parse_json(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"not UTF-8 text ({e.reason} at byte {e.start}, line {line})", path=file
        ) from None
    except ValueError as e:
        raise DataError(str(e), path=file) from None


def _load_squad(file: Path, lang: str, b: _Builder) -> None:
    """SQuAD v1.1 JSON, with LAReQA ``sentences``/``sentence_breaks`` or segmented here."""
    doc = _read_json(file)
    articles = _require(doc, "data", list, file, "top level")
    n_questions = 0
    for ai, article in enumerate(articles):
        where_a = f"data[{ai}]"
        paragraphs = _require(article, "paragraphs", list, file, where_a)
        for pi, para in enumerate(paragraphs):
            where = f"{where_a}.paragraphs[{pi}]"
            context = _require(para, "context", str, file, where)
            qas = _require(para, "qas", list, file, where)
            spans, sentences = _squad_sentences(para, context, file, where)
            # A byte-order mark opens some paragraphs (XQuAD-R th.json): offsets count it, but
            # it is not part of the sentence a model should read.
            sentences = [x.lstrip("\ufeff") for x in sentences]
            _, cids = b.add_paragraph(file, where, lang, context, sentences)
            for qi, qa in enumerate(qas):
                _add_squad_question(b, file, f"{where}.qas[{qi}]", lang, qa, context, spans, cids)
                n_questions += 1
    if n_questions == 0:
        raise DataError("contains no questions", path=file)


def _squad_sentences(
    para: Any, context: str, file: Path, where: str
) -> tuple[list[tuple[int, int]], list[str]]:
    """A paragraph's sentence spans and sentences: LAReQA's ``sentence_breaks`` (and
    ``sentences``) when given, checked against the paragraph; otherwise segmented here."""
    if "sentence_breaks" not in para:
        spans = sentence_spans(context)
        return spans, [context[s:e] for s, e in spans]
    breaks = _require(para, "sentence_breaks", list, file, where)
    spans = []
    for bi, br in enumerate(breaks):
        ok = (
            isinstance(br, list)
            and len(br) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in br)
            and 0 <= br[0] <= br[1] <= len(context)
        )
        if not ok:
            raise DataError(
                f"{where}.sentence_breaks[{bi}]: expected [start, end] within the "
                f"paragraph (length {len(context)}), found {br!r}",
                path=file,
            )
        spans.append((br[0], br[1]))
    if "sentences" not in para:
        return spans, [context[s:e] for s, e in spans]
    sentences = _require(para, "sentences", list, file, where)
    if len(sentences) != len(spans) or not all(isinstance(s, str) for s in sentences):
        raise DataError(
            f"{where}: {len(sentences)} sentences but {len(spans)} sentence_breaks",
            path=file,
        )
    return spans, sentences


def _add_squad_question(
    b: _Builder,
    file: Path,
    wq: str,
    lang: str,
    qa: Any,
    context: str,
    spans: list[tuple[int, int]],
    cids: list[str | None],
) -> None:
    """One question of a paragraph, relevant to the sentence that holds its first answer."""
    qid = str(_require(qa, "id", (str, int), file, wq))
    text = _require(qa, "question", str, file, wq)
    answers = _require(qa, "answers", list, file, wq)
    if not answers:
        raise DataError(f"{wq}.answers: empty (question {qid!r})", path=file)
    start = _require(answers[0], "answer_start", int, file, f"{wq}.answers[0]")
    asked = b.add_question(file, wq, lang, qid, text.lstrip("\ufeff"))
    if not 0 <= start < len(context):
        raise DataError(
            f"{wq}: question {qid!r}: answer_start {start} is outside the paragraph "
            f"(length {len(context)})",
            path=file,
        )
    hit = [i for i, (s, e) in enumerate(spans) if s <= start < e]
    if not hit:
        b.skip(file, wq, lang, qid, f"answer_start {start} lies in no sentence of the paragraph")
        return
    cid = cids[hit[0]]
    if cid is None:
        if asked:
            b.skip(file, wq, lang, qid, BLANK_ANSWER)
        return
    # A blank question still has its answer: the translations of the question in other
    # languages are relevant to it (LAReQA).
    b.answers.append((qid, lang, cid))


ROW_FIELDS = ("qid", "question", "passage")
ROW_COLUMNS = ("qid", "lang", "question", "passage", "context")
"""Every column a row may have: ``qid``, ``question`` and ``passage`` text or an integer (read
as text), ``lang`` and ``context`` text."""


def _read_parquet(file: Path) -> pl.DataFrame:
    """A parquet file's rows, its known columns checked for type (see :data:`ROW_COLUMNS`: a
    list, a struct, a float or binary data is refused, naming the column and its type) and
    cast to text."""
    try:
        frame = pl.read_parquet(file)
    except Exception as e:  # polars raises several types for a bad file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"cannot read parquet: {first}", path=file) from None
    for name in ROW_COLUMNS:
        if name not in frame.columns:
            continue
        dtype = frame.schema[name]
        ok = dtype in (pl.String, pl.Categorical, pl.Null) or isinstance(dtype, pl.Enum)
        if name in ROW_FIELDS:
            ok = ok or dtype.is_integer()
        if not ok:
            wanted = "text or an integer" if name in ROW_FIELDS else "text"
            raise DataError(f"column {name!r} holds {dtype}, expected {wanted}", path=file)
        frame = frame.with_columns(pl.col(name).cast(pl.String))
    return frame


def _read_jsonl(file: Path) -> pl.DataFrame:
    """JSONL rows: each line read as UTF-8 and JSON on its own, so a bad byte or a bad line is
    named by its line number (lines end at LF only, as JSON Lines says: a CR is JSON
    whitespace)."""
    data = file.read_bytes()
    if not data.strip():
        raise DataError("empty file", path=file)
    data = data.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark
    rows = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            row = _parse_json(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise DataError(
                f"line {n}: not UTF-8 text ({e.reason} at byte {e.start} of the line)", path=file
            ) from None
        except ValueError as e:
            raise DataError(f"line {n}: {e}", path=file) from None
        if not isinstance(row, dict):
            raise DataError(f"line {n}: expected an object, found {_json_type(row)}", path=file)
        for key in ROW_COLUMNS:
            value = row.get(key)
            required = key in ROW_FIELDS
            if value is None and not required:
                continue
            allowed = isinstance(value, str) or (required and isinstance(value, int))
            if not allowed or isinstance(value, bool):
                wanted = "text or an integer" if required else "text"
                what = "missing" if value is None else f"{_json_type(value)}, expected {wanted}"
                raise DataError(f"line {n}: field {key!r}: {what}", path=file)
            _check_text(str(value), file, f"line {n}: field {key!r}")
        rows.append({k: (None if row.get(k) is None else str(row[k])) for k in ROW_COLUMNS})
    return pl.DataFrame(rows, schema=dict.fromkeys(ROW_COLUMNS, pl.String))


def _json_type(value: Any) -> str:
    """A JSON value's type, as JSON names it (``an object``, ``a list``, ``a number``)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "text" if isinstance(value, str) else "null"


def _read_rows(file: Path) -> pl.DataFrame:
    return _read_parquet(file) if file.suffix == ".parquet" else _read_jsonl(file)


def _load_rows(file: Path, lang: str | None, b: _Builder) -> None:
    """JSONL or parquet rows ``qid, lang, question, passage`` (optional ``context``)."""
    frame = _read_rows(file)
    missing = [c for c in ROW_FIELDS if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}",
            path=file,
        )
    if frame.is_empty():
        raise DataError("contains no rows", path=file)
    if "lang" not in frame.columns or frame["lang"].null_count():
        if lang is None:
            raise DataError(
                "rows without 'lang' and no language from the file name: name it <lang>.jsonl "
                "or pass --file-lang",
                path=file,
            )
        fill = pl.lit(lang)
        frame = frame.with_columns(
            pl.col("lang").fill_null(fill) if "lang" in frame.columns else fill.alias("lang")
        )
    if "context" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("context"))
    frame = frame.with_columns(pl.col("qid").cast(pl.String))
    for i, row in enumerate(frame.iter_rows(named=True), 1):
        for key in ROW_FIELDS:
            if row[key] is None or (key == "qid" and not str(row[key]).strip()):
                raise DataError(f"row {i}: empty field {key!r}", path=file)
    # A blank question or passage is skipped and reported like an unplaceable answer.
    # One paragraph per distinct (lang, context), or per passage when there is no context.
    cand_of: dict[tuple[str, str, str], str] = {}
    para_of: dict[tuple[str, str], tuple[str, int]] = {}
    for i, row in enumerate(frame.iter_rows(named=True), 1):
        lg, passage, context = row["lang"], row["passage"], row["context"] or row["passage"]
        key = (lg, context, passage)
        asked = b.add_question(file, f"row {i}", lg, row["qid"], row["question"])
        if not passage.strip():
            if key not in cand_of:
                b.skip(file, f"row {i}.passage", lg, "", BLANK_CANDIDATE)
                cand_of[key] = ""
            if asked:
                b.skip(file, f"row {i}", lg, row["qid"], BLANK_ANSWER)
            continue
        if key not in cand_of:
            pkey = (lg, context)
            if pkey not in para_of:
                number = b.paragraphs.get(lg, 0)
                b.paragraphs[lg] = number + 1
                para_of[pkey] = (f"{lg}/{number}", 0)
            pid, n = para_of[pkey]
            para_of[pkey] = (pid, n + 1)
            cid = f"{pid}/{n}"
            cand_of[key] = cid
            b.candidates.append((cid, lg, pid, n, passage, context))
        b.answers.append((row["qid"], lg, cand_of[key]))


def source_fingerprint(files: Sequence[Path], lang: str | None, strict: bool) -> str:
    """A key that changes whenever a source file's content or a loading option changes."""
    parts = [LOADER_VERSION, f"lang={lang}", f"strict={strict}"]
    for f in files:
        parts += [f.name, file_digest(f)]
    return text_digest(*parts)


def load_collection(
    sources: Sequence[str | Path] | str | Path,
    lang: str | None = None,
    *,
    strict: bool = False,
    use_cache: bool = True,
    name: str | None = None,
) -> Collection:
    """Load a collection from a folder or a list of files (JSON, JSONL, parquet).

    ``lang`` names the language of files whose name does not carry one. With ``strict``, a
    question whose answer lies in no sentence is an error instead of a reported skip.
    """
    if isinstance(sources, str | Path):
        sources = [sources]
    if lang is not None and not _LANG_RE.match(lang):
        raise XlirError(f"--lang {lang!r} is not a language code (like de, zh, pt-BR)")
    files = expand_sources(sources)
    fingerprint = source_fingerprint(files, lang, strict)
    if name is None:
        first = Path(sources[0])
        name = (
            first.name
            if first.is_dir() or (len(sources) == 1 and len(files) > 1)
            else (first.stem if len(files) == 1 else first.parent.name or first.stem)
        )
    # The cache key adds the files' locations to the content fingerprint: reports name the files.
    cache_dir = (
        cache_root() / "collections" / text_digest(fingerprint, *(str(f.resolve()) for f in files))
    )
    if use_cache and (cache_dir / "manifest.json").exists():
        try:
            cached = _read_cached(cache_dir, name, fingerprint, [str(f) for f in files])
        except Exception:
            pass  # an unreadable cache entry is rebuilt below
        else:
            from ..storage.files import mark_used

            mark_used(cache_dir)
            return cached
    b = _Builder(strict)
    for f in files:
        file_lang = lang_from_filename(f) or lang  # --file-lang: for names that carry none
        if f.suffix == ".json":
            if file_lang is None:
                raise DataError(
                    "cannot tell the language: name the file <lang>.json (de.json, "
                    "xquad.de.json) or pass --file-lang",
                    path=f,
                )
            _load_squad(f, file_lang, b)
        else:
            _load_rows(f, file_lang, b)
    collection = b.build(name, fingerprint, [str(f) for f in files])
    if collection.questions.is_empty():
        raise DataError("no question could be placed in a sentence", path=sources[0])
    if use_cache:
        _write_cache(cache_dir, collection)
    return collection


def _write_cache(cache_dir: Path, c: Collection) -> None:
    """Keep a loaded collection as parquet; a cache that cannot be written only costs speed."""
    try:
        with atomic_dir(cache_dir, command="cache", ours=True) as tmp:
            for part in ("questions", "candidates", "relevance", "skipped"):
                getattr(c, part).write_parquet(tmp / f"{part}.parquet")
            write_json(
                tmp / "manifest.json",
                {
                    "format": "xlir-tui/collection-cache",
                    "loader_version": LOADER_VERSION,
                    "fingerprint": c.fingerprint,
                },
            )
    except (OSError, XlirError):
        pass


def _read_cached(cache_dir: Path, name: str, fingerprint: str, sources: list[str]) -> Collection:
    frames = {
        p: pl.read_parquet(cache_dir / f"{p}.parquet")
        for p in ("questions", "candidates", "relevance", "skipped")
    }
    return Collection(name=name, fingerprint=fingerprint, sources=sources, **frames)
