"""The report reads ledger records by the fields of FillRecord (declared once, in
execution.ledger): every field it reads exists, and a record the mixin serialised into a
Freqtrade database is read back with every one of them."""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime

import pandas as pd
import pytest
from support import make_order, make_trade

from freqtrade_exec_ext.execution.ledger import FillRecord
from freqtrade_exec_ext.report import query as Q

RECORD = FillRecord(
    strategy_id="STR-001", pair="BTC/USDT", side="buy", intent="entry", is_short=False,
    order_type="limit", order_id="X1", trade_id=1, runmode="dry_run", decision_price=100.0,
    decision_time=None, arrival_mid=100.05, arrival_spread_bps=3.0, requested_price=100.2,
    fill_price=100.2, filled_amount=1.0, ordered_amount=1.0, notional=100.2,
    slippage_decision_bps=20.0, slippage_arrival_bps=15.0, spread_cost_bps=1.5,
    fee_cost=0.0002, fee_currency="BTC", fee_rate=0.001, liquidity="maker",
    fee_inferred=False, funding_fees=0.0, reprice_count=0, placed_time=None,
    filled_time=None, time_to_fill_s=None, slippage_budget_bps=17.0, over_budget=True,
    markouts_bps={"1s": 1.0, "10s": 2.0, "60s": 3.0, "300s": 4.0},
)
# each ledger value the report reads -> (order-frame column, the value it must show there)
READ_BACK = {
    "decision_price": ("decision_price", 100.0),
    "arrival_mid": ("arrival_mid", 100.05),
    "spread_cost_bps": ("spread_cost_bps", 1.5),
    "fee_cost": ("fee", 0.0002 * 100.2),  # in BTC, the base: times the fill price
    "fee_currency": ("fee", 0.0002 * 100.2),
    "liquidity": ("liquidity", "maker"),
    "slippage_budget_bps": ("budget_bps", 17.0),
    "runmode": ("stage", "dry_run"),  # not a dry_run_* id nor a 'dryrun' file: the ledger's
    "mk_1s": ("mk_1s", 1.0),
    "mk_10s": ("mk_10s", 2.0),
    "mk_60s": ("mk_60s", 3.0),
    "mk_300s": ("mk_300s", 4.0),
}


def test_every_ledger_value_the_report_reads_is_a_fillrecord_field():
    hints = typing.get_type_hints(FillRecord)
    names = {f.name for f in dataclasses.fields(FillRecord)}
    assert set(Q.LEDGER_READ) <= names and Q.MARKOUTS_FIELD in names
    assert hints[Q.MARKOUTS_FIELD] == dict[str, float] | None
    for name, path, kind in Q.LEDGER_FIELDS:
        if name.startswith("mk_"):
            assert path == f'$.{Q.MARKOUTS_FIELD}."{name[3:]}"' and kind == "num"
            assert name[3:] in Q.MARKOUT_HORIZONS
            continue
        assert path == f"$.{name}"
        numeric = hints[name] is float or float in typing.get_args(hints[name])
        assert kind == ("num" if numeric else "text"), name
    assert set(READ_BACK) == {n for n, _, _ in Q.LEDGER_FIELDS}  # this test covers them all


def _db_with_mixin_record(tmp_path) -> str:
    """A Freqtrade database holding RECORD, written by the mixin's own recorder
    (FillRecorder.on_fill, live: ``trade.set_custom_data(key, record.to_dict())``)."""
    from freqtrade.persistence import Trade, init_db

    from freqtrade_exec_ext.strategy.recording import FillRecorder

    url = f"sqlite:///{tmp_path / 'tradesv3.sqlite'}"
    init_db(url)
    trade = make_trade(open_rate=100.2)
    trade.orders = [make_order("buy", "X1", datetime(2026, 1, 1), price=100.2)]
    Trade.session.add(trade)
    Trade.session.commit()
    recorder = FillRecorder(strategy=None)
    recorder.record = lambda *a, **k: RECORD  # the record itself is not under test here
    assert recorder.on_fill(trade, trade.orders[0], datetime(2026, 1, 1), live=True) is RECORD
    Trade.session.commit()
    Trade.session.remove()
    Trade.session.get_bind().dispose()
    return url


def _check(orders: pd.DataFrame) -> None:
    [row] = orders.to_dict("records")  # the one order
    assert row["has_ledger"]
    for field_name, (col, want) in READ_BACK.items():
        got = row[col]
        ok = got == pytest.approx(want) if isinstance(want, float) else str(got) == want
        assert ok, f"{field_name}: {col} = {got!r}, want {want!r}"


def test_a_record_the_mixin_wrote_is_read_back_with_every_field(tmp_path):
    from freqtrade_exec_ext.report.sql_reader import read_db

    _check(read_db(_db_with_mixin_record(tmp_path)).orders)


def test_the_generic_path_reads_every_field_too(tmp_path, monkeypatch):
    from freqtrade_exec_ext.report import sql_reader

    url = _db_with_mixin_record(tmp_path)
    monkeypatch.setattr(sql_reader, "sqlite_file", lambda u: None)  # as any other dialect
    r = sql_reader.read_db(url)
    assert r.dialect == "sqlite"
    _check(r.orders)
