"""``xlir-tui index`` under torchrun: ranks, shards, one-line failures, the same index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import ROOT, SAMPLE, run_cli

from xlir_tui.app.index import RankFailure, Ranks, launched, shard_bounds
from xlir_tui.errors import XlirError


def test_launched_reads_torchrun_environment() -> None:
    assert launched({}) is None
    assert launched({"WORLD_SIZE": "1", "RANK": "0"}) is None  # one process is a plain run
    assert launched({"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0"}) == Ranks(2, 4, 0)
    assert launched({"WORLD_SIZE": "2", "RANK": "0"}).leader  # type: ignore[union-attr]
    with pytest.raises(XlirError, match="must be whole numbers"):
        launched({"WORLD_SIZE": "two", "RANK": "0"})
    with pytest.raises(XlirError, match="RANK=3 is not a rank of WORLD_SIZE=2"):
        launched({"WORLD_SIZE": "2", "RANK": "3"})


@pytest.mark.parametrize(("n", "size"), [(10, 3), (2, 4), (1090, 2), (0, 2), (7, 7)])
def test_shards_cover_every_row_once_in_order(n: int, size: int) -> None:
    bounds = [shard_bounds(n, size, r) for r in range(size)]
    rows = [i for lo, hi in bounds for i in range(lo, hi)]
    assert rows == list(range(n))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_ranks_on_one_machine_share_its_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from xlir_tui.models.backends import thread_count

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert thread_count() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert thread_count() == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert thread_count() == 1


@pytest.mark.parametrize("quiet", [True, False])
def test_a_failure_is_printed_by_rank_zero_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, quiet: bool
) -> None:
    def failing(*_args, **_kwargs):
        raise RankFailure("rank 1 of 2: no space left", quiet=quiet)

    monkeypatch.setattr("xlir_tui.app.index.build_index", failing)
    code, _, err = run_cli(["index", str(SAMPLE), "--out", str(tmp_path / "x")], capsys)
    assert code == (0 if quiet else 1)  # a quiet rank leaves the failure to rank 0
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines == ([] if quiet else ["xlir-tui: error: rank 1 of 2: no space left"])


# --------------------------------------------------------------------- real torchrun launches


def _env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "XLIR_TUI_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    env["HF_HUB_OFFLINE"] = "1"
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        env.pop(name, None)
    return env


def _torchrun(
    args: list[str], cache: Path, script: Path | None = None
) -> subprocess.CompletedProcess:
    target = [str(script)] if script is not None else ["-m", "xlir_tui.cli"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return subprocess.run(
        [*launcher, "--nproc-per-node", "2", *target, *args],
        cwd=ROOT,
        env=_env(cache),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_two_ranks_write_the_one_process_index(tiny_model: Path, tmp_path: Path) -> None:
    args = ["index", str(SAMPLE), "--model", str(tiny_model), "--backend", "torch"]
    one = subprocess.run(
        [sys.executable, "-m", "xlir_tui.cli", *args, "--out", str(tmp_path / "one")],
        cwd=ROOT,
        env=_env(tmp_path / "cache-one"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr
    # a cache of its own: the ranks encode, nothing is served from the first run's embeddings
    two = _torchrun([*args, "--out", str(tmp_path / "two")], tmp_path / "cache-two")
    assert two.returncode == 0, two.stderr
    assert "over 2 ranks" in two.stderr
    assert two.stderr.count("indexed 1090 candidates") == 1  # rank 0 alone reports
    a, b = (
        pl.read_parquet(tmp_path / "one" / "candidates.parquet"),
        pl.read_parquet(tmp_path / "two" / "candidates.parquet"),
    )
    assert a["id"].to_list() == b["id"].to_list()
    va, vb = np.load(tmp_path / "one" / "vectors.npy"), np.load(tmp_path / "two" / "vectors.npy")
    assert va.shape == vb.shape
    np.testing.assert_allclose(va, vb, atol=1e-5, rtol=0)
    ma = json.loads((tmp_path / "one" / "manifest.json").read_text())
    mb = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert ma["model"] == mb["model"] and ma["hnsw"] == mb["hnsw"]
    assert ma["collection"] == mb["collection"]
    # rank 0 wrote the index and nothing else beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache-one", "cache-two", "one", "two"]


RANK_ONE_FAILS = """
import os, sys
from xlir_tui.models.encoders import Encoder
from xlir_tui.errors import XlirError

if os.environ["RANK"] == "1":
    def broken(self, candidates, progress=None):
        raise XlirError("the disk with the passages went away")
    Encoder.encode_candidates = broken
from xlir_tui.cli import main
sys.argv = ["xlir-tui", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_a_failing_rank_fails_the_command_in_one_line(tiny_model: Path, tmp_path: Path) -> None:
    script = tmp_path / "launch.py"
    script.write_text(RANK_ONE_FAILS)
    out = tmp_path / "idx"
    res = _torchrun(
        ["index", str(SAMPLE), "--model", str(tiny_model), "--backend", "torch", "--out", str(out)],
        tmp_path / "cache",
        script,
    )
    assert res.returncode != 0
    ours = [x for x in res.stderr.splitlines() if "xlir-tui: error" in x]
    assert ours == ["xlir-tui: error: rank 1 of 2: the disk with the passages went away"]
    # torchrun adds its own report of the failed launch; no traceback comes from the tool
    assert "xlir_tui/" not in res.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".idx", "idx"))]
