"""Stops looser than the contract's and stop-outs beyond it (issue 18, item 1): the rule,
and ``report --contract`` on Freqtrade databases whose stops Freqtrade itself set."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
import stops_db
from report_helpers import run_report

from freqtrade_exec_ext.report import stop_breaches as SB

LIMITS = SB.StopLimits(stoploss=-0.10, exit_bps=30.0)


def _trade(**kw):
    base = {"bot": "", "strategy": "S", "pair": "BTC/USDT", "trade_id": 1, "is_short": False,
            "leverage": 1.0, "open_rate": 100.0, "stop_loss": 90.0, "initial_stop_loss": 90.0}
    base.update(kw)
    return base


def _find(*trades, limits=LIMITS):
    return SB.find(pd.DataFrame(list(trades)), limits)


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(("short", "stop", "breach"), [
    (False, 90.0, False),        # exactly the contract's stop
    (False, 90.00005, False),    # tighter
    (False, 89.99995, False),    # 0.5 parts in 10^6 looser: rounding
    (False, 89.9998, True),      # 2.2 parts in 10^6 looser
    (False, 70.0, True),
    (True, 110.0, False),
    (True, 110.0001, False),     # 0.9 parts in 10^6
    (True, 110.0003, True),
    (True, 130.0, True),
])
def test_a_stop_farther_than_the_contracts_price_move_breaches(short, stop, breach):
    found = _find(_trade(is_short=short, stop_loss=stop, initial_stop_loss=stop))
    assert len(found) == int(breach)
    if breach:
        [row] = SB.records(found)
        assert row["kind"] == SB.LOOSER and row["side"] == ("short" if short else "long")
        assert row["move_pct"] == pytest.approx(-abs(stop / 100.0 - 1.0) * 100)
        assert row["contract_pct"] == pytest.approx(-10.0)


def test_one_price_tick_is_allowed_when_the_trade_records_its_precision():
    tick = {"price_precision": 0.01, "precision_mode_price": SB.TICK_SIZE}
    assert _find(_trade(stop_loss=89.99, initial_stop_loss=89.99, **tick)).empty
    assert len(_find(_trade(stop_loss=89.98, initial_stop_loss=89.98, **tick))) == 1
    assert len(_find(_trade(stop_loss=89.99, initial_stop_loss=89.99))) == 1  # no tick known


def test_precision_modes_are_ccxts():
    from ccxt.base import decimal_to_precision as d

    assert (SB.DECIMAL_PLACES, SB.SIGNIFICANT_DIGITS, SB.TICK_SIZE) == (
        d.DECIMAL_PLACES, d.SIGNIFICANT_DIGITS, d.TICK_SIZE)
    assert SB.tick(90.0, 2, SB.DECIMAL_PLACES) == pytest.approx(0.01)
    assert SB.tick(90.0, 5, SB.SIGNIFICANT_DIGITS) == pytest.approx(0.001)
    assert SB.tick(90.0, float("nan"), float("nan")) == 0.0


@pytest.mark.parametrize(("short", "ft_ratio", "price", "breach"), [
    (False, -0.30, 90.0, False),   # 3x: -0.30 of margin is a 10 % price move
    (False, -0.33, 89.0, True),    # 11 %
    (True, -0.30, 110.0, False),
    (True, -0.90, 130.0, True),    # 30 %
])
def test_at_3x_the_absolute_stop_freqtrade_sets_is_compared(short, ft_ratio, price, breach):
    from freqtrade.enums import TradingMode
    from freqtrade.persistence import LocalTrade

    t = LocalTrade(pair="BTC/USDT:USDT", exchange="binance", stake_amount=100 / 3,
                   amount=1.0, open_rate=100.0, fee_open=0.0, fee_close=0.0, leverage=3.0,
                   is_short=short, trading_mode=TradingMode.FUTURES, open_date=stops_db.T0)
    t.adjust_stop_loss(100.0, ft_ratio, initial=True)
    assert t.stop_loss == pytest.approx(price)
    found = _find(_trade(is_short=short, leverage=3.0, stop_loss=t.stop_loss,
                         initial_stop_loss=t.initial_stop_loss))
    assert len(found) == int(breach)
    if breach:
        assert found["move_pct"].iloc[0] == pytest.approx(-abs(price - 100.0))
        assert found["side"].iloc[0] == ("short" if short else "long")


def test_initial_stop_is_checked_against_the_first_entry():
    # the initial stop is looser than the contract's from the average entry (an add at a
    # higher price raised it to 105) but not from the first entry (100): no breach
    dca = _trade(open_rate=105.0, stop_loss=94.5, initial_stop_loss=90.0,
                 first_requested=100.0, first_fill=100.0)
    assert _find(dca).empty
    # Freqtrade sets the initial stop from the requested price before the fill: a long
    # filled above its request is judged from the request
    slip = _trade(open_rate=100.2, stop_loss=90.18, initial_stop_loss=90.0,
                  first_requested=100.0, first_fill=100.2)
    assert _find(slip).empty
    loose = _trade(stop_loss=90.0, initial_stop_loss=85.0, first_requested=100.0)
    [row] = SB.records(_find(loose))
    assert (row["which"], row["price"], row["move_pct"]) == ("initial stop", 85.0,
                                                              pytest.approx(-15.0))


@pytest.mark.parametrize(("short", "reason", "close", "breach"), [
    (False, "stop_loss", 89.75, False),            # within 30 bps below the 90 stop: 89.73
    (False, "stop_loss", 89.70, True),
    (False, "trailing_stop_loss", 80.0, True),
    (False, "stoploss_on_exchange", 80.0, True),
    (False, "liquidation", 80.0, True),
    (False, "exit_signal", 80.0, False),           # not a stop: not this check
    (True, "stop_loss", 110.3, False),             # 110 x 1.003 = 110.33
    (True, "stop_loss", 110.4, True),
])
def test_a_stop_out_beyond_the_contracts_stop_and_exit_budget_breaches(short, reason,
                                                                        close, breach):
    stop = 110.0 if short else 90.0
    found = _find(_trade(is_short=short, stop_loss=stop, initial_stop_loss=stop,
                         exit_reason=reason, close_rate=close))
    assert len(found) == int(breach)
    if breach:
        [row] = SB.records(found)
        assert row["kind"] == SB.STOP_OUT and row["price"] == close
        assert row["contract_pct"] == pytest.approx(-(10.0 + 0.3 * (1.1 if short else 0.9)))


def test_stop_exit_reasons_are_freqtrades():
    from freqtrade.enums import ExitType

    assert {
        ExitType.STOP_LOSS.value, ExitType.TRAILING_STOP_LOSS.value,
        ExitType.STOPLOSS_ON_EXCHANGE.value, ExitType.LIQUIDATION.value,
    } == set(SB.STOP_EXITS)


# ------------------------------------------------------------------ report --contract


@pytest.fixture(scope="module")
def loose_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('loose') / 'tradesv3.sqlite'}"
    stops_db.build(url, loose=True)
    return url


@pytest.fixture(scope="module")
def compliant_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('ok') / 'tradesv3.sqlite'}"
    stops_db.build(url, loose=False)
    return url


def _check_loose(data):
    rows = sorted((b["pair"], b["kind"]) for b in data["stop_breaches"])
    assert rows == [("BTC/USDT", SB.LOOSER), ("BTC/USDT", SB.STOP_OUT),
                    ("XRP/USDT", SB.LOOSER)]
    by = {(b["pair"], b["kind"]): b for b in data["stop_breaches"]}
    btc = by["BTC/USDT", SB.LOOSER]
    assert (btc["trade_id"], btc["entry"], btc["price"]) == (1, 100.0, pytest.approx(70.0))
    assert btc["move_pct"] == pytest.approx(-30.0) and btc["contract_pct"] == -10.0
    out = by["BTC/USDT", SB.STOP_OUT]
    assert out["price"] == 70.4 and out["move_pct"] == pytest.approx(-29.6)
    assert out["exit_reason"] == "trailing_stop_loss"
    xrp = by["XRP/USDT", SB.LOOSER]
    assert (xrp["side"], xrp["leverage"], xrp["price"]) == ("short", 3.0, pytest.approx(2.6))
    assert xrp["move_pct"] == pytest.approx(-30.0)
    assert data["totals"]["stop_breaches"] == 3


def test_report_lists_a_stop_looser_than_the_contract(loose_db, tmp_path, capsys,
                                                      str001_contract_path):
    path = stops_db.contract(tmp_path, str001_contract_path)
    out_csv, out_html = tmp_path / "r.csv", tmp_path / "r.html"
    rc, data, out, _ = run_report(
        ["--db", loose_db, "--contract", str(path), "--csv", str(out_csv), "--html",
         str(out_html), "--width", "160"], tmp_path, capsys)
    assert rc == 0
    _check_loose(data)
    assert data["breaches"] == []  # every fill at its requested price: no budget breach
    assert "Stop breaches: 3 against the contract's stop, a -10.00% price move from entry" in out
    assert "stop looser than contract" in out and "stop-out beyond contract" in out
    assert "-30.00" in out and "-29.60" in out
    assert "Budget breaches: none" not in out
    assert "Breaches: 0 fill(s) over the slippage budget, 3 stop breach(es)" in out
    rows = list(csv.DictReader(out_csv.open()))
    assert rows[-1]["strategy"] == "TOTAL" and rows[-1]["stop_breaches"] == "3"
    per_pair = {r["pair"]: int(r["stop_breaches"]) for r in rows[:-1]
                if r["side"] in ("buy", "sell") and int(r["stop_breaches"])}
    assert per_pair == {"BTC/USDT": 2, "XRP/USDT": 1}  # in the group of the entry order
    page = out_html.read_text()
    assert "Stop breaches: 3" in page and "stop-out beyond contract" in page
    assert "Budget breaches: none" not in page


def test_report_with_compliant_stops_has_no_stop_breach(compliant_db, tmp_path, capsys,
                                                        str001_contract_path):
    path = stops_db.contract(tmp_path, str001_contract_path)
    rc, data, out, _ = run_report(["--db", compliant_db, "--contract", str(path)],
                                  tmp_path, capsys)
    assert rc == 0
    assert data["stop_breaches"] == [] and data["totals"]["stop_breaches"] == 0
    assert "Breaches: none" in out and "Stop breaches" not in out


def test_without_contract_stops_are_not_checked(loose_db, tmp_path, capsys):
    rc, data, out, _ = run_report(["--db", loose_db], tmp_path, capsys)
    assert rc == 0 and data["stop_breaches"] is None
    assert "stop_breaches" not in data["totals"] and "Budget breaches: none" in out


def test_pair_filter_applies_to_the_stop_check(loose_db, tmp_path, capsys,
                                               str001_contract_path):
    path = stops_db.contract(tmp_path, str001_contract_path)
    _, data, _, _ = run_report(["--db", loose_db, "--contract", str(path), "--pair",
                                "XRP/USDT"], tmp_path, capsys)
    assert [b["pair"] for b in data["stop_breaches"]] == ["XRP/USDT"]


def test_generic_sqlalchemy_path_reads_the_same_stops(loose_db, monkeypatch):
    from freqtrade_exec_ext.report.readers import trades as TR

    direct = TR.read_trades([loose_db], ["b"])
    monkeypatch.setattr(TR, "sqlite_file", lambda url: None)  # as for any other dialect
    generic = TR.read_trades([loose_db], ["b"])
    pd.testing.assert_frame_equal(direct, generic)
    assert sorted(generic["pair"]) == ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
    assert generic.loc[generic["pair"] == "BTC/USDT", "stop_loss"].item() == pytest.approx(70)


def test_an_old_database_without_precision_columns_is_checked(tmp_path, loose_db):
    import shutil
    import sqlite3

    from freqtrade_exec_ext.report.readers.trades import read_trades

    copy = tmp_path / "old.sqlite"
    shutil.copy(loose_db.removeprefix("sqlite:///"), copy)
    con = sqlite3.connect(copy)
    con.execute("ALTER TABLE trades DROP COLUMN precision_mode_price")
    con.commit()
    con.close()
    t = read_trades([f"sqlite:///{copy}"], [""])
    assert t["precision_mode_price"].isna().all() and len(SB.find(t, LIMITS)) == 3


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_reports_the_same_stop_breaches(pg_server, tmp_path, capsys,
                                                 str001_contract_path):
    url = pg_server.createdb("stops")
    stops_db.build(url, loose=True)
    path = stops_db.contract(tmp_path, str001_contract_path)
    rc, data, _, _ = run_report(["--db", url, "--contract", str(path)], tmp_path, capsys)
    assert rc == 0
    _check_loose(data)


@pytest.mark.slow
def test_backtest_stops_are_checked_against_the_contract(str001_backtest, tmp_path, capsys,
                                                         str001_contract_path):
    """A real STR001 backtest: its stops are the contract's own (-0.05), so none is looser;
    against a contract of -0.02 every trade whose stop lies more than 2 % away is listed."""
    _, data, _, _ = run_report(["--backtest", str(str001_backtest), "--contract",
                                str(str001_contract_path)], tmp_path, capsys)
    assert data["stop_breaches"] is not None
    assert [b for b in data["stop_breaches"] if b["kind"] == SB.LOOSER] == []
    tight = stops_db.contract(tmp_path, str001_contract_path, stoploss=-0.02)
    rc, data, out, _ = run_report(["--backtest", str(str001_backtest), "--contract",
                                   str(tight)], tmp_path, capsys)
    assert rc == 0
    from freqtrade.data.btanalysis import load_backtest_stats

    last = json.loads((str001_backtest / ".last_result.json").read_text())["latest_backtest"]
    trades = load_backtest_stats(str001_backtest / last)["strategy"]["STR001"]["trades"]
    expected = sorted(
        n for n, t in enumerate(trades, 1)
        if t["stop_loss_abs"] < t["open_rate"] * 0.98 * (1 - 1e-6)
    )
    assert expected, "the backtest has trades with a stop"
    looser = sorted(b["trade_id"] for b in data["stop_breaches"] if b["kind"] == SB.LOOSER)
    assert looser == expected
    assert all(b["move_pct"] < -2.0 for b in data["stop_breaches"])
    assert f"Stop breaches: {len(data['stop_breaches'])}" in out


def _docs_block(repo_root) -> list[str]:
    text = (repo_root / "docs" / "report.md").read_text(encoding="utf-8")
    part = text.split("gives two rows:\n\n```\n", 1)[1].split("```", 1)[0]
    return [ln for ln in part.splitlines() if ln.strip()]


def test_the_docs_example_is_what_the_report_prints(tmp_path, capsys, repo_root,
                                                    str001_contract_path):
    url = f"sqlite:///{tmp_path / 'tradesv3.sqlite'}"
    stops_db.build(url, loose=True, only=(1,))
    path = stops_db.contract(tmp_path, str001_contract_path)
    rc, data, out, _ = run_report(["--db", url, "--contract", str(path), "--width", "120"],
                                  tmp_path, capsys)
    assert rc == 0 and len(data["stop_breaches"]) == 2
    printed = [ln.split() for ln in out.splitlines()]
    for line in _docs_block(repo_root):
        words = line.split()
        assert any(p[: len(words)] == words for p in printed), line


def test_a_trade_without_a_stop_price_is_named_under_could_not_compute(
        tmp_path, capsys, loose_db, str001_contract_path):
    import shutil
    import sqlite3

    copy = tmp_path / "nostop.sqlite"
    shutil.copy(loose_db.removeprefix("sqlite:///"), copy)
    con = sqlite3.connect(copy)
    con.execute("UPDATE trades SET stop_loss = NULL, initial_stop_loss = NULL WHERE id = 4")
    con.commit()
    con.close()
    path = stops_db.contract(tmp_path, str001_contract_path)
    _, data, _, _ = run_report(["--db", f"sqlite:///{copy}", "--contract", str(path)],
                               tmp_path, capsys)
    assert "stop check: 1 of 4 trades record no stop price or entry" in data["unavailable"]
    assert sorted(b["pair"] for b in data["stop_breaches"]) == ["BTC/USDT", "BTC/USDT"]


def test_an_unreadable_database_is_one_clear_error(tmp_path):
    from freqtrade_exec_ext.report.errors import ReportInputError
    from freqtrade_exec_ext.report.readers.trades import read_trades

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ReportInputError, match=r"^--db sqlite:///.*junk.sqlite: cannot read"):
        read_trades([f"sqlite:///{junk}"], ["junk"])
