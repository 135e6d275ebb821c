"""Malformed collection files, of every format and layout (SQuAD JSON, JSONL rows, parquet rows):
whatever the bytes, the nesting or the column types, loading ends in a collection or in one
``DataError`` line naming the file and the place; never another exception.

Hand-rolled fuzzing (seeded, a few hundred cases, about a second): random bytes, valid files cut
or with bytes flipped, every field of every layout given every JSON type, deep nesting, and
every parquet column given every column type.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import run_cli
from test_bad_input import assert_one_line_error
from test_collections import para, squad

from xlir_tui.data.collections import load_collection
from xlir_tui.errors import XlirError

GOOD_SQUAD = squad(
    [
        para(
            "Paris is in France. Berlin is in Germany.",
            [("q1", "Where is Berlin?", "Germany"), ("q2", "Where is Paris?", "France")],
        )
    ]
)
GOOD_ROWS = [
    {"qid": "q1", "lang": "en", "question": "Where is Berlin?", "passage": "In Germany."},
    {"qid": "q1", "lang": "de", "question": "Wo ist Berlin?", "passage": "In Deutschland."},
]
DEEP = 100_000
"""Deeper than Python's JSON parser goes (its recursion limit)."""
BIG = "<an integer of 5000 digits>"
"""Written as such an integer by :func:`dumps` (Python would not write it either)."""


def json_values(rng: random.Random) -> list[Any]:
    """One value of every JSON type, and some that strain a reader."""
    return [
        None,
        True,
        0,
        -1,
        1.5,
        float("nan"),
        BIG,  # an integer of more digits than Python converts by default
        "",
        "text",
        "\ud800",  # a lone surrogate (written as the escape \\ud800)
        [],
        [1, "a"],
        {},
        {"a": {"b": [None]}},
        "x" * rng.randint(1, 3000),
    ]


def check(files: dict[str, bytes], root: Path) -> None:
    """Load the files as a collection: a collection, or an XlirError of one line naming a file."""
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        old.unlink()
    for name, data in files.items():
        (root / name).write_bytes(data)
    try:
        load_collection(root, use_cache=False)
    except XlirError as e:
        message = str(e)
        assert "\n" not in message and "Traceback" not in message
        assert any(name in message for name in files) or str(root) in message, message


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).replace(json.dumps(BIG), "9" * 5000).encode()


def deep(kind: str) -> str:
    return ("[" * DEEP + "]" * DEEP) if kind == "list" else ('{"a":' * DEEP + "1" + "}" * DEEP)


def mutations(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    """``data`` cut short, with bytes flipped, with random bytes put in."""
    out = []
    for _ in range(n):
        cut = rng.randint(0, len(data))
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        at = rng.randint(0, len(data))
        noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        out += [data[:cut], bytes(flipped), data[:at] + noise + data[at:]]
    return out


def random_bytes(rng: random.Random, n: int) -> list[bytes]:
    return [bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))) for _ in range(n)]


def test_squad_json(tmp_path: Path) -> None:
    rng = random.Random(19)
    good = dumps(GOOD_SQUAD)
    cases = [*random_bytes(rng, 20), *mutations(good, rng, 40)]
    cases += [deep("list").encode(), deep("object").encode(), b"\xef\xbb\xbf" + good]
    cases.append(b'{"data": ' + deep("list").encode() + b"}")
    # every field of the layout given every type
    paths: list[tuple[Any, ...]] = [
        ("data",),
        ("data", 0),
        ("data", 0, "paragraphs"),
        ("data", 0, "paragraphs", 0),
        *(("data", 0, "paragraphs", 0, k) for k in ("context", "qas", "sentences")),
        ("data", 0, "paragraphs", 0, "sentence_breaks"),
        ("data", 0, "paragraphs", 0, "sentence_breaks", 0),
        ("data", 0, "paragraphs", 0, "sentences", 0),
        ("data", 0, "paragraphs", 0, "qas", 0),
        *(("data", 0, "paragraphs", 0, "qas", 0, k) for k in ("id", "question", "answers")),
        ("data", 0, "paragraphs", 0, "qas", 0, "answers", 0),
        ("data", 0, "paragraphs", 0, "qas", 0, "answers", 0, "answer_start"),
    ]
    for path in paths:
        for value in json_values(rng):
            doc = json.loads(json.dumps(GOOD_SQUAD))
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            cases.append(dumps(doc))
    for i, data in enumerate(cases):
        check({"en.json": data}, tmp_path / f"c{i % 4}")


def test_jsonl_rows(tmp_path: Path) -> None:
    rng = random.Random(20)
    good = b"\n".join(dumps(r) for r in GOOD_ROWS) + b"\n"
    cases = [*random_bytes(rng, 20), *mutations(good, rng, 40)]
    cases += [
        deep("list").encode(),
        dumps(GOOD_ROWS[0]) + b"\n" + deep("object").encode(),
        good.replace(b"\n", b"\r\n"),
        b"\xef\xbb\xbf" + good,
        b"\xff\xfe" + good,
        b"\n".join(dumps(r) for r in GOOD_ROWS) + b"\n\xc3\x28\n",  # a bad byte on line 3
    ]
    for key in ("qid", "lang", "question", "passage", "context"):
        for value in json_values(rng):
            rows = [dict(GOOD_ROWS[0], **{key: value}), GOOD_ROWS[1]]
            cases.append(b"\n".join(dumps(r) for r in rows))
        cases.append(b"\n".join(dumps(r) for r in [GOOD_ROWS[0], {**GOOD_ROWS[1], key: DEEP}]))
    for value in json_values(rng):
        cases.append(dumps(value))  # a line that is not an object
    for i, data in enumerate(cases):
        check({"rows.jsonl": data}, tmp_path / f"c{i % 4}")


def parquet_columns() -> dict[str, pl.Series]:
    """A column of every kind a parquet file can hold."""
    import datetime

    return {
        "int": pl.Series([1, 2]),
        "float": pl.Series([1.5, float("nan")]),
        "bool": pl.Series([True, False]),
        "null": pl.Series([None, None]),
        "text": pl.Series(["a", ""]),
        "binary": pl.Series([b"\xff", b"a"]),
        "list": pl.Series([[1], [2, 3]]),
        "struct": pl.Series([{"a": 1}, {"a": 2}]),
        "date": pl.Series([datetime.date(2020, 1, 1), None]),
        "categorical": pl.Series(["en", "de"], dtype=pl.Categorical),
        "decimal": pl.Series(["1.5", "2"]).cast(pl.Decimal(10, 2)),
        "nested": pl.Series([[[["a"]]], [[["b"]]]]),
    }


def test_parquet_rows(tmp_path: Path) -> None:
    rng = random.Random(21)
    frame = pl.DataFrame(GOOD_ROWS)
    cases: list[bytes] = []
    for key in ("qid", "lang", "question", "passage", "context"):
        for series in parquet_columns().values():
            out = tmp_path / "one.parquet"
            frame.with_columns(series.alias(key)).write_parquet(out)
            cases.append(out.read_bytes())
    out = tmp_path / "good.parquet"
    frame.write_parquet(out)
    good = out.read_bytes()
    cases += [*random_bytes(rng, 10), *mutations(good, rng, 20)]
    pl.DataFrame({"qid": ["1"]}).write_parquet(out)  # columns missing
    cases.append(out.read_bytes())
    pl.DataFrame(
        schema={"qid": pl.String, "question": pl.String, "passage": pl.String}
    ).write_parquet(out)  # no rows
    cases.append(out.read_bytes())
    for i, data in enumerate(cases):
        check({"rows.parquet": data}, tmp_path / f"c{i % 4}")


@pytest.mark.parametrize(
    ("name", "data", "needles"),
    [
        (
            "de.jsonl",
            b'{"qid": "1", "question": "Wo?", "passage": "Da."}\n{"qid": "2", "question": "W\xff"}\n',
            ["de.jsonl", "line 2", "not UTF-8"],
        ),
        (
            "de.jsonl",
            b"[" * DEEP + b"]" * DEEP + b"\n",
            ["de.jsonl", "line 1", "nested too deeply"],
        ),
        (
            "de.json",
            b'{"data": ' + b"[" * DEEP + b"]" * DEEP + b"}",
            ["de.json", "nested too deeply"],
        ),
        ("de.json", b'{"data": []}\xff', ["de.json", "not UTF-8", "line 1"]),
        (
            "de.jsonl",
            b'{"qid": "1", "question": "Wo?", "passage": "\\udc80"}\n',
            ["de.jsonl", "line 1", "'passage'", "lone surrogate"],
        ),
        (
            "de.jsonl",
            b'{"qid": "1", "question": "Wo?", "passage": "Da.", "lang": ["de"]}\n',
            ["de.jsonl", "line 1", "'lang'", "a list, expected text"],
        ),
    ],
    ids=["jsonl-bytes", "jsonl-deep", "json-deep", "json-bytes", "surrogate", "lang-type"],
)
def test_one_line_names_the_file_and_the_place(
    capsys, tmp_path: Path, name: str, data: bytes, needles: list[str]
) -> None:
    (tmp_path / name).write_bytes(data)
    code, _, err = run_cli(["data", "stats", str(tmp_path / name)], capsys)
    assert_one_line_error(code, err, *needles)


def test_a_parquet_column_of_the_wrong_type(capsys, tmp_path: Path) -> None:
    rows = pl.DataFrame(GOOD_ROWS).with_columns(pl.Series("question", [[1], [2]]))
    rows.write_parquet(tmp_path / "de.parquet")
    code, _, err = run_cli(["data", "stats", str(tmp_path / "de.parquet")], capsys)
    assert_one_line_error(code, err, "de.parquet", "column 'question'", "expected text")
    # a number where text is wanted is read as text, as in JSONL rows
    pl.DataFrame(GOOD_ROWS).with_columns(pl.Series("qid", [7, 7])).write_parquet(
        tmp_path / "de.parquet"
    )
    code, out, err = run_cli(["data", "stats", str(tmp_path / "de.parquet"), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["qids"] == 1
