"""Language-bias remedies without training: each method's algebra on synthetic data, the fit's
files, the checks of bad input, and the commands end to end with the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLE, build_tiny_model, run_cli
from test_bad_input import assert_one_line_error

from xlir_tui.errors import XlirError
from xlir_tui.retrieval.debias import (
    identify_language,
    identify_query_language,
    language_means,
    lir_directions,
    subspace_limit,
)
from xlir_tui.retrieval.debias_fit import DebiasFit
from xlir_tui.retrieval.debias_fits import model_identity
from xlir_tui.retrieval.specs import DebiasSpec

LANGS = ("de", "en", "zh")


def synthetic(n: int, seed: int, d: int = 24, offset: float = 3.0) -> tuple[np.ndarray, list[str]]:
    """Vectors with a strong offset per language (the language bias), in three languages."""
    rng = np.random.default_rng(seed)
    shift = {lang: np.random.default_rng(100 + i).normal(size=d) for i, lang in enumerate(LANGS)}
    langs = [LANGS[i % len(LANGS)] for i in range(n)]
    x = rng.normal(size=(n, d)) + offset * np.stack([shift[x] for x in langs])
    return x.astype(np.float32), langs


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, list[str]]]:
    return {"query": synthetic(240, 1), "candidate": synthetic(450, 2)}


def fit_of(method: str, data, **kw) -> DebiasFit:
    return DebiasFit.fit(method, *data["query"], *data["candidate"], **kw)


def spread(means: dict[str, np.ndarray]) -> float:
    """How far apart the languages' means are (0: all the same)."""
    m = np.stack(list(means.values()))
    return float(np.abs(m - m.mean(axis=0)).max())


# --------------------------------------------------------------------------- algebra


def test_center_makes_each_language_mean_zero(data) -> None:
    fit = fit_of("center", data)
    for role in ("query", "candidate"):
        x, langs = data[role]
        raw = fit.transform(x, langs, role, normalise_rows=False)
        for lang, mean in language_means(raw, langs).items():
            assert np.abs(mean).max() < 1e-5, (role, lang)
        # queries by the questions' means, candidates by the candidates' (not each other's)
        assert not np.allclose(
            fit.tensors[f"query.mean.{LANGS[0]}"], fit.tensors[f"candidate.mean.{LANGS[0]}"]
        )
        out = fit.transform(x, langs, role)
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert spread(language_means(data["candidate"][0], data["candidate"][1])) > 1.0


def test_lir_removes_the_top_singular_directions_of_the_uncentred_matrix(data) -> None:
    fit = fit_of("lir", data)
    assert fit.parameters == {"query_rank": 2, "candidate_rank": 1}  # LIR's best on LAReQA
    for role, rank in (("query", 2), ("candidate", 1)):
        x, langs = data[role]
        out = fit.transform(x, langs, role)
        for lang in LANGS:
            rows = [i for i, g in enumerate(langs) if g == lang]
            u = fit.tensors[f"{role}.lir.{lang}"]
            assert u.shape == (x.shape[1], rank)
            assert np.abs(out[rows] @ u).max() < 1e-5  # orthogonal to what was removed
            # the right singular vectors of the uncentred matrix, by an independent SVD
            _, _, vh = np.linalg.svd(x[rows].astype(np.float64), full_matrices=False)
            assert np.allclose(np.abs(vh[:rank] @ u), np.eye(rank), atol=1e-4)
            # uncentred: the first direction is (nearly) the language's mean direction
            mean = x[rows].mean(axis=0)
            assert abs(mean @ u[:, 0]) / np.linalg.norm(mean) > 0.9
    assert lir_directions(data["query"][0], 3).shape == (24, 3)


def test_leace_makes_the_language_means_equal(data) -> None:
    """LEACE's guarantee: after erasure every class has the same mean, so no linear classifier
    beats a constant one at telling the language."""
    fit = fit_of("leace", data)
    described = fit.describe()  # as a report says it: no language at transform time
    assert not described["query_language_needed"] and "applied without them" in described["roles"]
    for role in ("query", "candidate"):
        x, langs = data[role]
        assert spread(language_means(x, langs)) > 1.0
        raw = fit.transform(x, None, role, normalise_rows=False)  # no language needed
        assert spread(language_means(raw, langs)) < 1e-4
        # the same eraser as the package's own, applied by hand from its saved arrays
        left, right, bias = (
            fit.tensors[f"{role}.leace.{n}"] for n in ("proj_left", "proj_right", "bias")
        )
        by_hand = x - ((x - bias) @ right.T) @ left.T
        assert np.allclose(raw, by_hand, atol=1e-4)


def test_subspace_removes_the_directions_of_the_language_means(data) -> None:
    limit = subspace_limit([language_means(*data["query"]), language_means(*data["candidate"])])
    assert limit == 4
    fit = fit_of("subspace", data, subspace_rank=limit)
    basis = fit.tensors["basis"]
    assert np.allclose(basis.T @ basis, np.eye(limit), atol=1e-5)
    for role in ("query", "candidate"):
        x, langs = data[role]
        raw = fit.transform(x, ["xx"] * len(x), role, normalise_rows=False)  # language ignored
        assert np.abs(raw @ basis).max() < 1e-4
        assert spread(language_means(raw, langs)) < 1e-4
    default = fit_of("subspace", data)
    assert default.parameters == {"rank": 2}  # languages - 1
    assert default.name == "subspace(r=2)"


def test_a_query_of_an_unseen_language_falls_back_to_the_subspace(data) -> None:
    for method in ("center", "lir"):
        fit = fit_of(method, data)
        x = data["query"][0][:5]
        assert fit.unseen(["de", "pt", None]) == ["pt", None]
        out = fit.transform(x, ["pt"] * 5, "query", normalise_rows=False)
        assert np.abs(out @ fit.tensors["fallback"]).max() < 1e-4
        assert fit_of("leace", data).unseen(["pt"]) == []  # needs no language


def test_fit_save_load_round_trip_and_an_altered_file_is_refused(data, tmp_path: Path) -> None:
    for method in ("center", "lir", "leace", "subspace"):
        fit = fit_of(method, data)
        fit.info["model"] = {"model": "m", "fingerprint": "abc", "dimension": 24}
        json_path = tmp_path / f"{method}.json"
        fit.save(json_path)
        back = DebiasFit.load(json_path)
        x, langs = data["query"]
        assert np.array_equal(back.transform(x, langs), fit.transform(x, langs))
        assert back.describe()["method"] == method and back.name == fit.name
    path = tmp_path / "center.safetensors"
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0xFF  # one changed byte, same size
    path.write_bytes(bytes(blob))
    with pytest.raises(XlirError, match="does not match its hash"):
        DebiasFit.load(tmp_path / "center.json")
    path.write_bytes(bytes(blob[:-8]))
    with pytest.raises(XlirError, match="truncated or changed"):
        DebiasFit.load(tmp_path / "center.json")
    (tmp_path / "lir.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(XlirError, match="unreadable debias fit"):
        DebiasFit.load(tmp_path / "lir.json")
    nothing_pickled = [p for p in tmp_path.iterdir() if p.suffix not in (".json", ".safetensors")]
    assert nothing_pickled == []


def test_a_fit_of_another_model_or_dimension_is_refused(data) -> None:
    fit = fit_of("center", data)
    fit.info["model"] = {"model": "a", "fingerprint": "aaa", "dimension": 24}
    fit.check_model({"model": "a", "fingerprint": "aaa", "dimension": 24})
    with pytest.raises(XlirError, match="was made with model a"):
        fit.check_model({"model": "b", "fingerprint": "bbb", "dimension": 24})
    with pytest.raises(XlirError, match="dimension 24, model b gives vectors of dimension 32"):
        fit.check_model({"model": "b", "fingerprint": "aaa", "dimension": 32})
    with pytest.raises(XlirError, match="dimension"):
        fit.transform(np.zeros((2, 32), np.float32), ["de", "de"])


def test_ranks_out_of_range_and_unknown_methods_are_refused(data) -> None:
    with pytest.raises(XlirError, match=r"--lir-rank \(queries\) 30 is out of range"):
        fit_of("lir", data, lir_rank=(30, 1))
    with pytest.raises(XlirError, match="--subspace-rank 5 is out of range"):
        fit_of("subspace", data, subspace_rank=5)
    with pytest.raises(XlirError, match="unknown --debias method 'centre'"):
        fit_of("centre", data)
    one = {
        "query": (data["query"][0], ["de"] * 240),
        "candidate": (data["candidate"][0], ["de"] * 450),
    }
    with pytest.raises(XlirError, match="two or more languages"):
        fit_of("leace", one)
    assert [s.method for s in DebiasSpec.parse("none, center,center")] == ["none", "center"]
    assert DebiasSpec.parse("lir", "3")[0].lir_rank == (3, 3)
    for bad, needle in (
        (("centre",), "unknown --debias method centre"),
        (("",), "names no method"),
        (("lir", "2,x"), "--lir-rank '2,x'"),
        (("lir", "1,2,3"), "one number, or two"),
        (("lir", "0"), "at least 1"),
        (("subspace", None, 0), "--subspace-rank must be at least 1"),
    ):
        with pytest.raises(XlirError, match=needle):
            DebiasSpec.parse(*bad)


def test_query_language_identification() -> None:
    assert identify_language("Wer entdeckte den Schwänzeltanz?", LANGS)[0] == "de"
    assert identify_language("蜜蜂的舞蹈是谁发现的？", LANGS)[0] == "zh"
    assert identify_language("12345", LANGS)[0] is None  # nothing to tell it by
    assert identify_language("hello", ["xx-unknown"]) == (None, 0.0)
    # a language the fit lacks is named as itself, not as the nearest language of the fit
    fit = ["ar", "de", "el", "en", "es", "fr", "hi", "ru", "th", "zh"]
    assert identify_query_language("Quem venceu o Super Bowl?", fit)[::2] == ("pt", False)
    assert identify_query_language("Chi ha scritto questo libro?", fit)[::2] == ("it", False)
    # a short query whose likeliest language is a neighbour of a known one stays among them
    assert identify_query_language("Кто?", fit)[::2] == ("ru", True)
    assert identify_query_language("Wer hat das Telefon erfunden?", fit)[::2] == ("de", True)
    assert identify_query_language("Tesla", fit)[2] is True  # a name: no language outside


# --------------------------------------------------------------------------- commands


TINY = ["--backend", "torch"]


@pytest.mark.slow
def test_report_puts_each_remedy_beside_its_plain_system(
    capsys, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    args = ["bias-report", str(SAMPLE), "-m", str(tiny_model), *TINY, "--langs", "en,de,zh"]
    code, text, err = run_cli(
        [
            *args,
            "--debias",
            "center,none,subspace",
            "--resamples",
            "200",
            "--json",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(text)
    plain = str(tiny_model)
    labels = [s["label"] for s in report["systems"]]
    assert labels == [f"{plain} + center", plain, f"{plain} + subspace(r=2)"]
    centred = report["systems"][0]
    block = centred["debias"]
    assert block["method"] == "center" and block["source"] == "fitted"
    assert block["fit_collection"]["languages"] == ["en", "de", "zh"]  # in --langs order
    assert block["languages"]["query"] == ["de", "en", "zh"] and block["fallback_queries"] == 0
    assert block["model"]["fingerprint"] == report["systems"][1]["model"]["fingerprint"]
    assert "debias" not in report["systems"][1]
    assert set(centred["timings"]) >= {"debias_fit_s", "debias_candidates_s", "debias_queries_s"}
    # each remedy against the plain system; the plain one compared with nothing else
    pairs = {(c["system"], c["baseline"]) for c in report["comparisons"]["results"]}
    assert pairs == {(f"{plain} + center", plain), (f"{plain} + subspace(r=2)", plain)}
    multi = next(
        c
        for c in report["comparisons"]["results"]
        if c["system"].endswith("center") and c["setting"] == "multi" and c["metric"] == "ap"
    )
    assert multi["mean_difference"] == pytest.approx(
        centred["summary"]["multi"]["map"] - report["systems"][1]["summary"]["multi"]["map"]
    )
    queries = pl.read_parquet(out / "queries.parquet")
    got = dict(queries.select("system", "baseline").unique().iter_rows())
    assert got == {f"{plain} + center": plain, plain: None, f"{plain} + subspace(r=2)": plain}
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["systems"][0]["debias"]["method"] == "center"
    # the same fit is not made twice: the second report takes it from the cache
    code, text, err = run_cli([*args, "--debias", "none,center", "--resamples", "200"], capsys)
    assert code == 0, err
    assert "fit from the cache" in err and "fitted in" not in err
    assert "+ center" in text and "Compared with" in text


def test_report_debiases_a_fusion_s_dense_part(capsys, tiny_model: Path) -> None:
    code, text, err = run_cli(
        ["bias-report", str(SAMPLE), "-m", str(tiny_model), *TINY, "--langs", "en,de",
         "--system", "fusion", "--debias", "none,leace", "--resamples", "0", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    labels = [s["label"] for s in json.loads(text)["systems"]]
    assert labels == [
        f"fusion({tiny_model}+chargram, rrf, 0.5/0.5)",
        f"fusion({tiny_model} + leace+chargram, rrf, 0.5/0.5)",
    ]


@pytest.mark.slow
def test_index_keeps_the_fits_and_search_uses_them(
    capsys, tiny_model: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    code, _, err = run_cli(
        ["index", str(SAMPLE), "-m", str(tiny_model), *TINY, "--debias", "lir,none,center",
         "--lir-rank", "3,1", "--out", str(idx)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "fits kept: lir, center" in err
    manifest = json.loads((idx / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["debias"]["systems"] == ["lir", "none", "center"]
    assert {"debias/lir.json", "debias/lir.safetensors", "debias/center.json"} <= set(
        manifest["files"]
    )
    query = "Wer entdeckte den Schwänzeltanz?"
    # without --debias: the index's own system, the first named, from its saved fit
    code, text, err = run_cli(["search", str(idx), query, "-k", "3", "--json"], capsys)
    assert code == 0, err
    found = json.loads(text)
    assert found["system"] == f"{tiny_model} + lir(r=3/1)" and found["debias"]["source"] == "index"
    assert found["query_lang"] == "de"
    assert "query language: de (identified by py3langid" in err
    # several remedies: one ranking each; a fit with the index's key is the index's
    code, text, err = run_cli(
        ["search", str(idx), query, "--json", "--debias", "none,center,subspace", "--query-lang", "de"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    systems = json.loads(text)["systems"]
    assert [s["system"] for s in systems] == [
        str(tiny_model), f"{tiny_model} + center", f"{tiny_model} + subspace(r=9)"
    ]  # fmt: skip
    assert systems[1]["debias"]["source"] == "index" and "identified" not in err
    assert [h["id"] for h in systems[0]["results"]] != [h["id"] for h in systems[1]["results"]]
    # a language the fit has not seen: said in one line, the subspace instead
    code, text, err = run_cli(
        ["search", str(idx), query, "--debias", "center", "--query-lang", "pt"], capsys
    )
    assert code == 0, err
    assert "language without statistics in the fit (pt; the fit has" in err and "subspace" in err
    code, text, err = run_cli(
        ["search", str(idx), query, "--debias", "center", "--query-lang", "DE", "--json"], capsys
    )
    assert code == 0, err
    found = json.loads(text)
    assert (found["query_lang"], found["query_lang_from"], found["fallback_used"]) == (
        "de",
        "given",
        False,
    )
    assert "without statistics" not in err
    code, _, err = run_cli(["search", str(idx), query, "--query-lang", "German"], capsys)
    assert_one_line_error(code, err, "--query-lang 'German' is not a language code")
    # identified: a language outside the fit is seen as such, not as the fit's nearest one
    code, _, err = run_cli(
        ["search", str(idx), "Chi ha scritto questo libro?", "--debias", "center"], capsys
    )
    assert code == 0, err
    assert "query language: it (identified by py3langid, p=" in err
    assert "language without statistics in the fit (it; the fit has" in err
    code, text, _ = run_cli(
        ["search", str(idx), "Chi ha scritto questo libro?", "--debias", "center", "--json"], capsys
    )
    found = json.loads(text)
    assert (found["query_lang"], found["query_lang_from"], found["fallback_used"]) == (
        "it", "identified", True
    )  # fmt: skip
    # the explorer opens the index's own system and offers the others, the plain one first
    from xlir_tui.app.explore import Workspace

    ws = Workspace.open(index=idx, encoder_options={"backend": "torch"})
    assert ws.names == ["tiny + lir(r=3/1)"]
    offered = dict(ws.remedies())
    assert "debias:none" in offered and "debias:lir" not in offered
    ws.add_remedy("none")
    assert ws.names == ["tiny + lir(r=3/1)", "tiny"]
    assert "debias:none" not in dict(ws.remedies())  # the plain system is shown now
    ws.add_remedy("center")
    assert ws.names[1] == "tiny + center" and ws.systems[1].source == "index"
    offered = dict(ws.remedies())  # what the panes show is not offered again
    assert "debias:center" not in offered and "debias:lir" not in offered
    assert {"debias:none", "debias:leace", "debias:subspace"} <= set(offered)
    # a pane's note: what the remedy did first, short enough for a narrow pane
    centred = ws.systems[1]
    note = centred.pane_note("Chi ha scritto questo libro?", None)
    assert note.startswith("center as subspace: it not in the fit (py3langid 0.")
    assert centred.pane_note(query, None).startswith("center as de (py3langid ")
    assert centred.pane_note(query, "de") == ""  # given and in the fit: nothing to say
    assert centred.pane_note(query, "pt") == "center as subspace: pt not in the fit"
    # a changed fit (same size) is refused on load, in one line
    fit = idx / "debias" / "center.safetensors"
    blob = bytearray(fit.read_bytes())
    blob[-2] ^= 0xFF
    fit.write_bytes(bytes(blob))
    code, _, err = run_cli(["search", str(idx), query, "--debias", "center"], capsys)
    assert_one_line_error(
        code, err, "debias/center.safetensors", "has changed since the index was built"
    )
    fit.write_bytes(bytes(blob[:-4]))
    code, _, err = run_cli(["search", str(idx), query, "--debias", "center"], capsys)
    assert_one_line_error(code, err, "debias/center.safetensors is truncated or changed")


def test_debias_bad_input(capsys, tiny_model: Path, sample_index: Path, tmp_path: Path) -> None:
    report = ["bias-report", str(SAMPLE), "-m", str(tiny_model), *TINY]
    cases = [
        ([*report, "--debias", "centre"], "unknown --debias method centre"),
        ([*report, "--debias", "center", "--lir-rank", "2"], "--lir-rank goes with --debias lir"),
        ([*report, "--debias", "lir", "--lir-rank", "500"], "--lir-rank (queries) 500 is out of range"),
        ([*report, "--debias", "subspace", "--subspace-rank", "40"], "--subspace-rank 40 is out of range"),
        ([*report, "--debias", "none", "--debias-fit", str(SAMPLE)], "--debias-fit goes with"),
        (["bias-report", str(SAMPLE), "--system", "bm25", "--debias", "center"], "--debias transforms"),
        (["index", str(SAMPLE), "--system", "chargram", "--debias", "center", "--out", str(tmp_path / "x")],
         "--debias goes with --system dense"),
        (["search", str(sample_index), "q", "--debias", "center", "--translate-query", "en", "--mt", "m",
          "--query-lang", "de"], "separate systems"),
        (["explore", "--debias", "none,center,lir"], "two systems at most"),
    ]  # fmt: skip
    for args, needle in cases:
        code, _, err = run_cli(args, capsys)
        assert_one_line_error(code, err, needle)
    # a fit collection without a language of the pool, before any model loads
    part = tmp_path / "two"
    part.mkdir()
    for lang in ("en", "de"):
        shutil.copy(SAMPLE / f"{lang}.json", part / f"{lang}.json")
    code, _, err = run_cli([*report, "--debias", "center", "--debias-fit", str(part)], capsys)
    assert_one_line_error(code, err, "fit collection two has no candidates in ar")
    assert "loading model" not in err
    # the same fit collection serves a pool of its languages
    code, text, err = run_cli(
        [*report, "--langs", "de,en", "--debias", "none,center", "--debias-fit", str(part), "--json",
         "--resamples", "0"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(text)["systems"][1]["debias"]["fit_collection"]["name"] == "two"


def test_a_saved_fit_serves_another_collection_and_not_another_model(
    capsys, tiny_model: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    code, _, err = run_cli(
        ["index", str(SAMPLE), "-m", str(tiny_model), *TINY, "--debias", "center", "--out", str(idx)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    fit = idx / "debias" / "center.json"
    report = ["bias-report", str(SAMPLE), "--langs", "en,de", *TINY, "--json"]
    code, text, err = run_cli(
        [*report, "-m", str(tiny_model), "--debias", "center", "--debias-fit", str(fit)], capsys
    )
    assert code == 0, err
    plain, centred = json.loads(text)["systems"]  # the plain system scored without `none`
    assert "debias" not in plain and centred["debias"]["source"] == "file"
    pairs = {(c["system"], c["baseline"]) for c in json.loads(text)["comparisons"]["results"]}
    assert pairs == {(centred["label"], plain["label"])}
    code, _, err = run_cli(
        [*report, "-m", str(tiny_model), "--debias", "lir", "--debias-fit", str(fit)], capsys
    )
    assert_one_line_error(code, err, "holds a center fit, not lir")
    other = build_tiny_model(tmp_path / "other", seed=5)
    code, _, err = run_cli(
        [*report, "-m", str(other), "--debias", "center", "--debias-fit", str(fit)], capsys
    )
    assert_one_line_error(code, err, "the center fit was made with model")
    wider = build_tiny_model(tmp_path / "wider", hidden=16, seed=5)
    code, _, err = run_cli(
        [*report, "-m", str(wider), "--debias", "center", "--debias-fit", str(fit)], capsys
    )
    assert_one_line_error(code, err, "the center fit has dimension 32", "dimension 16")


def test_model_identity_names_what_makes_vectors_differ(tiny_encoder) -> None:
    identity = model_identity(tiny_encoder)
    assert identity["dimension"] == 32 and identity["backend"] == "torch"
    assert set(identity) >= {"fingerprint", "prompts", "passage_context", "max_seq_length"}


@pytest.mark.slow
async def test_explorer_shows_plain_and_centred_side_by_side(tiny_model: Path) -> None:
    from test_explorer import SIZE, panes, settle

    from xlir_tui.tui.app import ExplorerApp
    from xlir_tui.tui.widgets import ResultPane

    app = ExplorerApp(
        collection=[str(SAMPLE)],
        model=str(tiny_model),
        encoder_options={"backend": "torch"},
        langs=["en", "de"],
        debias=DebiasSpec.parse("none,center"),
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, lambda: app.workspace is not None and app.query(ResultPane))
        assert app.compare and app.workspace.names == ["tiny", "tiny + center"]
        await pilot.press(*"Wer entdeckte den Schwänzeltanz?")
        await pilot.press("enter")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        centred = [p.result for p in panes(app) if p.result.pane.system == 1]
        assert centred and centred[0].note.startswith("center as de (py3langid ")
        # F6 offers the other remedies of the main model; leace replaces center
        await pilot.press("f6")
        choices = app.screen.query_one("#choices")
        ids = [choices.get_option_at_index(i).id for i in range(choices.option_count)]
        assert {"debias:lir", "debias:leace", "debias:subspace"} <= set(ids)
        assert "debias:none" not in ids  # the main system is the plain one
        assert "debias:center" not in ids  # the panes show it already
        for _ in range(ids.index("debias:leace") - choices.highlighted):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.workspace.names[1:] == ["tiny + leace"])
