"""Large session archives: read_sessions (projection, filters, directories) and summarize_sessions.

Wilson intervals and the small per-session summary are checked against base R (tests/reference/sessions.R);
the batched summary of a large archive is checked against the one-pass pandas computation.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from lacrima.errors import DataError
from lacrima.longitudinal.sessions import read_sessions, summarize_sessions, wilson_interval

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return json.loads((REF / "sessions.json").read_text())


def _archive(n_clients: int, n_sessions: int, seed: int, noise_columns: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_clients * n_sessions
    client = np.repeat(np.arange(n_clients), n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_clients)
    cried = (rng.random(n) < 0.1 + 0.01 * session).astype("float64")
    cried[rng.random(n) < 0.01] = np.nan
    alliance = 4.5 + 0.03 * session + rng.normal(0, 0.8, n)
    alliance[rng.random(n) < 0.02] = np.nan
    d = pd.DataFrame(
        {
            "client_id": client,
            "site": np.array(["it", "il", "us"])[client % 3],
            "session": session,
            "cried": cried,
            "alliance": alliance,
        }
    )
    for j in range(noise_columns):
        d[f"noise_{j:02d}"] = rng.normal(size=n)
    return d


def _pandas_summary(d: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = d.groupby(by)
    return pd.DataFrame(
        {
            "n_rows": g.size(),
            "n": g["cried"].count(),
            "n_cried": g["cried"].sum(),
            "prevalence": g["cried"].mean(),
            "alliance_n": g["alliance"].count(),
            "alliance_mean": g["alliance"].mean(),
            "alliance_sd": g["alliance"].std(),
        }
    ).reset_index()


# Wilson interval ----------------------------------------------------------------------------------------


def test_it_computes_wilson_intervals_like_prop_test(ref: dict[str, Any]) -> None:
    cases = pd.DataFrame(ref["wilson"])
    low, high = wilson_interval(cases["x"], cases["n"])
    np.testing.assert_allclose(low, cases["ci_low"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(high, cases["ci_high"], rtol=1e-10, atol=1e-14)
    w90 = ref["wilson_90"]
    low90, high90 = wilson_interval(w90["x"], w90["n"], 0.90)
    np.testing.assert_allclose([low90, high90], [w90["ci_low"], w90["ci_high"]], rtol=1e-10)


def test_it_gives_no_interval_without_observations() -> None:
    low, high = wilson_interval([0, 3], [0, 5])
    assert np.isnan(low[0]) and np.isnan(high[0]) and 0 < low[1] < high[1] < 1
    with pytest.raises(DataError, match="level"):
        wilson_interval(1, 2, level=95)


# summarize_sessions ------------------------------------------------------------------------------------


def test_it_summarises_a_session_table_like_r(ref: dict[str, Any]) -> None:
    small = pd.read_csv(REF / "data" / "sessions_small.csv")
    got = summarize_sessions(small, means=("alliance",)).table()
    want = pd.DataFrame(ref["summary"])
    assert list(got["session"]) == list(want["session"])
    for col in ["n", "n_cried", "alliance_n"]:
        np.testing.assert_array_equal(got[col], want[col].astype(int), err_msg=col)
    for col in ["prevalence", "ci_low", "ci_high", "alliance_mean", "alliance_sd"]:
        np.testing.assert_allclose(got[col], want[col].astype(float), rtol=1e-10, equal_nan=True, err_msg=col)
    assert (got["n_rows"] == got["n"] + got["n_missing"]).all()


def test_it_summarises_a_large_archive_in_batches_as_pandas_does(tmp_path: Path) -> None:
    d = _archive(15_000, 20, seed=5)  # 300,000 sessions
    path = tmp_path / "sessions.parquet"
    d.to_parquet(path, row_group_size=50_000)
    result = summarize_sessions(path, means=("alliance",), batch_size=4_096)
    assert result.n_rows == len(d) and result.n_batches > 64  # more batches than are held before folding
    got = result.table()
    want = _pandas_summary(d, ["session"])
    np.testing.assert_array_equal(got["session"], want["session"])
    for col in ["n_rows", "n", "n_cried", "alliance_n"]:
        np.testing.assert_array_equal(got[col], want[col], err_msg=col)
    for col in ["prevalence", "alliance_mean", "alliance_sd"]:
        np.testing.assert_allclose(got[col], want[col], rtol=1e-10, err_msg=col)

    by_site = summarize_sessions(path, by=("session", "site"), means=("alliance",), batch_size=65_536).table()
    want_site = _pandas_summary(d, ["session", "site"])
    np.testing.assert_array_equal(by_site[["session", "site"]], want_site[["session", "site"]])
    np.testing.assert_allclose(by_site["alliance_sd"], want_site["alliance_sd"], rtol=1e-10)
    np.testing.assert_array_equal(by_site["n_cried"], want_site["n_cried"])


def test_it_filters_and_keeps_groups_with_missing_keys(tmp_path: Path) -> None:
    d = _archive(50, 4, seed=2)
    d["session"] = d["session"].astype("float64")
    d.loc[[8, 9], "session"] = np.nan  # client 2, site us
    path = tmp_path / "s.parquet"
    d.to_parquet(path)
    t = summarize_sessions(path, means=(), filters=[("site", "=", "us")]).table()
    us = d[d["site"] == "us"]
    assert t["n_rows"].sum() == len(us)
    assert t["session"].isna().iloc[-1]  # the missing key is a group of its own, sorted last
    assert list(t.columns[:2]) == ["session", "n_rows"] and "alliance_mean" not in t.columns


def test_it_accepts_boolean_crying_and_refuses_other_codes() -> None:
    d = pd.DataFrame({"session": [1, 1, 2], "cried": [True, False, True], "chk_alliance": [5.0, 6.0, 4.0]})
    t = summarize_sessions(d).table()
    assert list(t["n_cried"]) == [1, 1] and list(t["chk_alliance_mean"]) == [5.5, 4.0]
    with pytest.raises(DataError, match="coded 1"):
        summarize_sessions(d.assign(cried=[0, 2, 1]))
    with pytest.raises(DataError, match="not boolean"):
        summarize_sessions(d.assign(cried=["yes", "no", "yes"]))
    with pytest.raises(DataError, match="'chk_alliance'"):
        summarize_sessions(d.drop(columns="chk_alliance"))


def test_it_summarises_simulated_sessions() -> None:
    from lacrima.simulate import simulate_sessions

    d = simulate_sessions(150, 10, seed=4).data
    t = summarize_sessions(d, by=("session", "attachment_style"), means=("alliance",)).table()
    want = d.groupby(["session", "attachment_style"])["cried"].mean()
    np.testing.assert_allclose(t["prevalence"], want.to_numpy(), rtol=1e-12)


# read_sessions -----------------------------------------------------------------------------------------


def test_it_reads_only_the_columns_and_rows_asked_for(tmp_path: Path) -> None:
    d = _archive(200, 10, seed=1)
    path = tmp_path / "s.parquet"
    d.to_parquet(path)
    got = read_sessions(path, columns=["client_id", "session", "cried"], filters=[("site", "=", "it")])
    assert list(got.columns) == ["client_id", "session", "cried"]
    want = d.loc[d["site"] == "it", ["client_id", "session", "cried"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    expr = read_sessions(path, filters=(pc.field("session") <= 2) & (pc.field("site") != "us"))
    assert len(expr) == int(((d["session"] <= 2) & (d["site"] != "us")).sum())


def test_it_reads_a_directory_of_site_files_with_differing_columns(tmp_path: Path) -> None:
    d = _archive(30, 5, seed=3)
    for site, part in d.groupby("site"):
        part = part.drop(columns="alliance") if site == "il" else part
        if site == "us":
            part = part.assign(cried=part["cried"].fillna(0).astype("int64"))  # int here, float elsewhere
        part.to_parquet(tmp_path / f"{site}.parquet")
    (tmp_path / "README.txt").write_text("not data")
    got = read_sessions(tmp_path).sort_values(["client_id", "session"]).reset_index(drop=True)
    assert len(got) == len(d)
    assert got.loc[got["site"] == "il", "alliance"].isna().all()
    assert got["cried"].dtype == "float64"
    summary = summarize_sessions(tmp_path, means=("alliance",)).table()
    assert summary["n_rows"].sum() == len(d)


def test_it_reads_hive_partitions(tmp_path: Path) -> None:
    d = _archive(30, 4, seed=6)
    pq.write_to_dataset(
        pa.Table.from_pandas(d.drop(columns="site").assign(region=d["site"])),
        tmp_path,
        partition_cols=["region"],
    )
    got = read_sessions(tmp_path, columns=["region", "cried"], filters=[("region", "in", ["it", "il"])])
    assert set(got["region"]) == {"it", "il"} and len(got) == int(d["site"].isin(["it", "il"]).sum())


def test_it_explains_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_sessions(tmp_path / "nope.parquet")
    with pytest.raises(DataError, match=r"no \.parquet files"):
        read_sessions(tmp_path)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match="could not be read"):
        read_sessions(bad)
    good = tmp_path / "good.parquet"
    _archive(3, 2, seed=1).to_parquet(good)
    with pytest.raises(DataError, match="'wai_total'"):
        read_sessions(good, columns=["session", "wai_total"])
    with pytest.raises(DataError, match="filter"):
        read_sessions(good, filters=[("nope", "=", 1)])
    with pytest.raises(DataError, match="filters must be"):
        read_sessions(good, filters=[("session", "=")])


# bytes read from disk: projection and row-group pruning ----------------------------------------------------


class _CountingFile(io.FileIO):
    def __init__(self, path: str, counter: list[int]) -> None:
        super().__init__(path, "r")
        self.counter = counter

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(-1 if size is None else size)
        self.counter[0] += len(data or b"")
        return data or b""

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer) or 0
        self.counter[0] += n
        return n


class _CountingHandler(pafs.FileSystemHandler):
    """The local disk, counting the bytes read from files."""

    def __init__(self) -> None:
        self.local = pafs.LocalFileSystem()
        self.counter = [0]
        self.opened: list[_CountingFile] = []  # arrow leaves closing to the garbage collector

    def close_all(self) -> None:
        for f in self.opened:
            f.close()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)

    def get_type_name(self) -> str:
        return "counting"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.local.get_file_info(selector)

    def open_input_file(self, path: str) -> pa.PythonFile:
        f = _CountingFile(path, self.counter)
        self.opened.append(f)
        return pa.PythonFile(f, mode="r")

    def open_input_stream(self, path: str) -> pa.PythonFile:
        return self.open_input_file(path)

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("read-only test filesystem")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = delete_file = _read_only
    move = copy_file = open_output_stream = open_append_stream = _read_only


def test_it_never_reads_unneeded_columns_or_row_groups(tmp_path: Path) -> None:
    d = _archive(500, 20, seed=8, noise_columns=12).sort_values("site", kind="stable")
    path = tmp_path / "wide.parquet"
    d.to_parquet(path, row_group_size=2_000, compression="none")

    handler = _CountingHandler()
    try:
        _count_bytes(d, path, handler)
    finally:
        handler.close_all()


def _count_bytes(d: pd.DataFrame, path: Path, handler: _CountingHandler) -> None:
    size = path.stat().st_size
    fs = pafs.PyFileSystem(handler)
    everything = read_sessions(str(path), filesystem=fs)
    full = handler.counter[0]
    assert len(everything) == len(d) and full > 0.9 * size

    handler.counter[0] = 0
    summary = summarize_sessions(str(path), means=("alliance",), filesystem=fs)
    projected = handler.counter[0]
    assert summary.n_rows == len(d)
    assert projected < 0.35 * full  # 3 of 17 columns

    handler.counter[0] = 0
    one_site = read_sessions(str(path), columns=["cried"], filters=[("site", "=", "il")], filesystem=fs)
    assert len(one_site) == int((d["site"] == "il").sum())
    assert handler.counter[0] < 0.6 * projected  # row groups of the other sites are skipped
