"""Issue 15.5: the SQLite fast path (Arrow columns, Arrow's JSON reader, threads) gives the
same order rows as the exact stdlib path, range by range, and hands every range it cannot
read exactly to that path.

The databases are written with Freqtrade's own table definitions (the bench's writer,
``benchmarks.bench_report.build_db``, and ``report_helpers.build`` through Freqtrade's
``set_custom_data``); hostile variants are edited with plain SQL afterwards.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmarks.bench_report import build_db
from freqtrade_exec_ext.report.readers import sqlite as reader
from freqtrade_exec_ext.report.readers import sqlite_arrow as fast
from freqtrade_exec_ext.report.sql_reader import read_db

pytestmark = pytest.mark.skipif(not fast.available(), reason="adbc-driver-sqlite not installed")

CHUNK = 400  # several ranges per database: a bad range must not spoil the others


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fastdb") / "tradesv3.dryrun.sqlite"
    build_db(path, 3000, seed=11)
    return path


def _count(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
    finally:
        con.close()


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    return dst


def _read(path: Path, monkeypatch: pytest.MonkeyPatch, *, use_fast: bool, **kw: Any) -> Any:
    """read_db, with the fast path on or off; counts the ranges the exact path read."""
    exact: list[tuple[int, int]] = []
    real = reader._exact_chunk

    def spy(job: dict[str, Any], bounds: tuple[int, int]) -> Any:
        exact.append(bounds)
        return real(job, bounds)

    with monkeypatch.context() as m:
        m.setattr(fast, "available", lambda: use_fast)
        m.setattr(reader, "_exact_chunk", spy)
        got = read_db(f"sqlite:///{path}", chunk_rows=CHUNK, **kw)
    return got, exact


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        if isinstance(x.dtype, pd.CategoricalDtype) or x.dtype == object or x.dtype == "str":
            assert x.astype(str).tolist() == y.astype(str).tolist(), c
        else:
            # both parsers round JSON decimals correctly; allow one unit in the last place
            np.testing.assert_allclose(
                x.to_numpy(float),
                y.to_numpy(float),
                rtol=1e-15,
                atol=0,
                equal_nan=True,
                err_msg=c,
            )


def _both(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, list, Any]:
    quick, fell_back = _read(path, monkeypatch, use_fast=True, **kw)
    exact, _ = _read(path, monkeypatch, use_fast=False, **kw)
    _same(quick.orders, exact.orders)
    assert quick.problems == exact.problems
    return quick, fell_back, exact


def test_a_regular_database_is_read_by_the_fast_path_alone(bench_db, monkeypatch):
    quick, fell_back, exact = _both(bench_db, monkeypatch)
    assert fell_back == []  # every range read by the fast path
    assert len(quick.orders) == _count(bench_db)
    assert int(quick.orders["has_ledger"].sum()) > 1500  # the ledger values are there
    assert quick.orders["decision_price"].notna().sum() == exact.ledger_records


def test_filters_give_the_same_rows(bench_db, monkeypatch):
    quick, fell_back, _ = _both(bench_db, monkeypatch, pairs=["BTC/USDT", "SOL/USDT"])
    assert fell_back == []
    assert set(quick.orders["pair"].astype(str)) == {"BTC/USDT", "SOL/USDT"}


def test_records_written_by_freqtrade_itself(tmp_path, monkeypatch):
    """report_helpers.build writes the ledger through Freqtrade's set_custom_data
    (json.dumps with spaces), and trades without any ledger record."""
    from report_helpers import sqlite_db

    path = tmp_path / "tradesv3.dryrun.sqlite"
    sqlite_db(path)
    quick, fell_back, _ = _both(path, monkeypatch)
    assert fell_back == []
    assert quick.orders["liquidity"].astype(str).tolist().count("maker") == 1


def _first_ledger(con: sqlite3.Connection, after_order: int) -> tuple[int, str]:
    return con.execute(
        "SELECT cd.id, cd.cd_value FROM trade_custom_data cd JOIN orders o "
        "ON cd.cd_key = 'exec_ext.fill.' || o.order_id WHERE o.id > ? ORDER BY o.id LIMIT 1",
        (after_order,),
    ).fetchone()


def _edit_ledger(path: Path, after_order: int, text: str) -> None:
    con = sqlite3.connect(path)
    cid, _ = _first_ledger(con, after_order)
    con.execute("UPDATE trade_custom_data SET cd_value = ? WHERE id = ?", (text, cid))
    con.commit()
    con.close()


def _record(path: Path, after_order: int) -> dict[str, Any]:
    con = sqlite3.connect(path)
    _, value = _first_ledger(con, after_order)
    con.close()
    return dict(json.loads(value))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda r: json.dumps(r)[:-5], id="not-json"),
        pytest.param(lambda r: json.dumps({**r, "decision_price": "abc"}), id="text-for-number"),
        pytest.param(lambda r: json.dumps({**r, "liquidity": 7}), id="number-for-text"),
        pytest.param(
            lambda r: json.dumps(r).replace('"arrival_mid": ', '"arrival_mid": NaN, "x": '),
            id="nan-token",
        ),
        pytest.param(lambda r: json.dumps(r) + json.dumps(r), id="two-objects"),
        pytest.param(lambda r: " " + json.dumps(r), id="leading-space"),
        pytest.param(lambda r: "", id="empty"),
        pytest.param(lambda r: json.dumps([r]), id="array"),
        pytest.param(lambda r: json.dumps({**r, "decision_price": 1e308 * 10}), id="overflow"),
    ],
)
def test_an_irregular_ledger_record_sends_its_range_to_the_exact_path(
    bench_db, tmp_path, monkeypatch, make
):
    path = _copy(bench_db, tmp_path)
    _edit_ledger(path, 1300, make(_record(path, 1300)))
    quick, fell_back, _ = _both(path, monkeypatch)
    assert fell_back == [(1200, 1600)]  # that range only; the others stay fast
    assert len(quick.orders) == _count(path)


def test_a_pretty_printed_record_is_read_by_the_fast_path(bench_db, tmp_path, monkeypatch):
    path = _copy(bench_db, tmp_path)
    rec = _record(path, 1300)
    _edit_ledger(path, 1300, json.dumps({**rec, "decision_price": 123.25}, indent=2))
    quick, fell_back, _ = _both(path, monkeypatch)
    assert fell_back == []
    assert 123.25 in quick.orders["decision_price"].to_numpy()


def test_a_text_in_a_number_column_is_named_by_the_exact_path(bench_db, tmp_path, monkeypatch):
    path = _copy(bench_db, tmp_path)
    con = sqlite3.connect(path)
    con.execute("UPDATE orders SET ft_price = 'n/a' WHERE id = 2500")
    con.commit()
    con.close()
    quick, fell_back, _ = _both(path, monkeypatch)
    assert fell_back == [(2400, 2800)]
    assert len(quick.orders) == _count(path) - 1
    assert "orders.id 2500 has a non-numeric ft_price ('n/a')" in " ".join(quick.problems.lines())


def test_markouts_are_read_the_same(bench_db, tmp_path, monkeypatch):
    path = _copy(bench_db, tmp_path)
    con = sqlite3.connect(path)
    rows = con.execute("SELECT id, cd_value FROM trade_custom_data").fetchall()
    for k, (cid, value) in enumerate(rows):
        if k % 3:  # some records have markouts, some not, one with a horizon missing
            mk = {"1s": 0.5 * k, "10s": -1.25, "60s": 2.0} | ({} if k % 5 else {"300s": 3.5})
            value = json.dumps({**json.loads(value), "markouts_bps": mk})
        con.execute("UPDATE trade_custom_data SET cd_value = ? WHERE id = ?", (value, cid))
    con.commit()
    con.close()
    quick, fell_back, _ = _both(path, monkeypatch)
    assert fell_back == []
    assert quick.orders["mk_300s"].notna().sum() > 0
    assert quick.orders["mk_1s"].notna().sum() > quick.orders["mk_300s"].notna().sum()
