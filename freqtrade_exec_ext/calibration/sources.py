"""Read what ``calibrate`` fits from: Freqtrade databases and a datadir of candles.

Databases are read with plain SQL through SQLAlchemy (SQLite files read-only, PostgreSQL by
URL), naming Freqtrade's tables and columns only through ``compat.schema``: the execution
ledger (``trade_custom_data``, keys ``exec_ext.fill.*``), the trades (market, timeframe,
strategy) and the order journal (``exec_ext_order_intents``, when the bot traded live).
Every problem is one line naming the database (credentials masked).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.calibration.attempts import Placement
from freqtrade_exec_ext.calibration.features import CandleSeries
from freqtrade_exec_ext.errors import InputRefused
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX, FillRecord
from freqtrade_exec_ext.redact import mask_url
from freqtrade_exec_ext.store.journal import TABLE as JOURNAL_TABLE

NO_ORDER = ("rejected", "absent", "sending", "unknown")  # journal rows with no order


class CalibrationInputError(InputRefused, ValueError):
    """Bad input for calibrate/rescore: ``str()`` is one line."""


@dataclass
class DbData:
    shown: str  # the URL, credentials masked
    records: list[FillRecord] = field(default_factory=list)
    journal: list[Placement] = field(default_factory=list)
    markets: set[tuple[str, str]] = field(default_factory=set)  # (exchange, trading mode)
    timeframes: set[str] = field(default_factory=set)
    strategies: set[str] = field(default_factory=set)
    has_journal: bool = False
    # stop-loss orders (Freqtrade's ft_order_side "stoploss"): order id -> stop price
    stop_orders: dict[str, float | None] = field(default_factory=dict)


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = mask_url(url)
    if url.startswith("sqlite"):
        m = re.match(r"sqlite(?:\+\w+)?:///(.+)$", url)
        if not m or m.group(1).startswith(":memory:"):
            raise CalibrationInputError(f"--db {shown}: need a database file (sqlite:///PATH)")
        path = Path(m.group(1).split("?", 1)[0])
        if not path.is_file():
            raise CalibrationInputError(f"--db {shown}: file not found: {path}")
        url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"  # never write to it
    try:
        return create_engine(url, future=True)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise CalibrationInputError(f"--db {shown}: not a usable database URL ({exc})") from None
    except ModuleNotFoundError as exc:
        raise CalibrationInputError(f"--db {shown}: database driver missing: {exc.name}") from None


def _aware(dt: Any) -> datetime | None:
    if dt is None:
        return None
    when: datetime = datetime.fromisoformat(dt) if isinstance(dt, str) else dt
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def timeframe_text(minutes: Any) -> str | None:
    try:
        m = int(minutes)
    except (TypeError, ValueError):
        return None
    if m <= 0:
        return None
    if m % 1440 == 0:
        return f"{m // 1440}d"
    if m % 60 == 0:
        return f"{m // 60}h"
    return f"{m}m"


def timeframe_seconds(timeframe: str) -> int:
    """``5m`` -> 300 (minutes, hours, days, weeks)."""
    m = re.fullmatch(r"(\d+)([mhdw])", timeframe.strip())
    if not m or int(m.group(1)) <= 0:
        raise CalibrationInputError(f"timeframe {timeframe!r}: expected e.g. 1m, 5m, 1h, 1d")
    return int(m.group(1)) * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]


def read_database(url: str) -> DbData:
    """The ledger, the journal and the market facts of one Freqtrade database."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    from freqtrade_exec_ext.compat.schema import tables

    shown = mask_url(url)
    engine = _engine(url)
    t = tables()
    out = DbData(shown=shown)
    try:
        with engine.connect() as con:
            names = set(inspect(con).get_table_names())
            missing = [n for n in (t.trades, t.custom_data) if n not in names]
            if missing:
                raise CalibrationInputError(
                    f"--db {shown}: not a Freqtrade trade database (no table {', '.join(missing)})"
                )
            for row in con.execute(
                text(
                    f"SELECT DISTINCT exchange, trading_mode, timeframe, strategy FROM {t.trades}"  # noqa: S608
                )
            ):
                out.markets.add((str(row[0] or "").lower(), str(row[1] or "spot").lower()))
                tf = timeframe_text(row[2])
                if tf:
                    out.timeframes.add(tf)
                if row[3]:
                    out.strategies.add(str(row[3]))
            query = text(
                f"SELECT cd_value FROM {t.custom_data} WHERE cd_key LIKE :prefix"  # noqa: S608
            )
            out.records = list(_records(con.execute(query, {"prefix": LEDGER_KEY_PREFIX + "%"})))
            for oid, stop, ft_price in con.execute(
                text(
                    f"SELECT order_id, stop_price, ft_price FROM {t.orders} "  # noqa: S608
                    "WHERE ft_order_side = 'stoploss'"
                )
            ):
                if oid:
                    price = stop if stop else ft_price
                    out.stop_orders[str(oid)] = float(price) if price else None
            if JOURNAL_TABLE in names:
                out.has_journal = True
                cols = "pair, intent, side, order_type, amount, price, order_id, status, created_at"
                out.journal = list(
                    _placements(
                        con.execute(
                            text(
                                f"SELECT {cols} FROM {JOURNAL_TABLE}"  # noqa: S608 - constant names
                            )
                        )
                    )
                )
    except SQLAlchemyError as exc:
        raise CalibrationInputError(
            f"--db {shown}: cannot read ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None
    finally:
        engine.dispose()
    return out


def _records(rows: Iterable[Any]) -> Iterable[FillRecord]:
    for (value,) in rows:
        try:
            data = json.loads(value) if isinstance(value, str) else value
            if isinstance(data, dict) and data.get("fill_price"):
                yield FillRecord.from_dict(data)
        except (TypeError, ValueError):
            continue  # a record this version cannot read is skipped, never guessed


def _placements(rows: Iterable[Any]) -> Iterable[Placement]:
    for pair, intent, side, otype, amount, price, order_id, status, created in rows:
        if status in NO_ORDER:
            continue
        when = _aware(created)
        if when is None:
            continue
        yield Placement(
            pair=str(pair),
            intent=str(intent),
            side=str(side),
            order_type=str(otype),
            amount=float(amount or 0.0),
            price=float(price) if price else None,
            order_id=str(order_id) if order_id else None,
            created_at=when,
        )


def load_candles(
    datadir: Path,
    pairs: Iterable[str],
    timeframe: str,
    start: datetime,
    end: datetime,
    *,
    futures: bool,
) -> tuple[dict[str, CandleSeries], list[str]]:
    """Candles of ``pairs`` covering [start, end] from a Freqtrade datadir; notes on what
    was missing (a perpetual without futures candles uses its spot pair's, as the local
    exchange replays it)."""
    from freqtrade_exec_ext.compat.data import load_candles_before

    tf_s = timeframe_seconds(timeframe)
    count = int((end - start).total_seconds() // tf_s) + 3
    until = end + timedelta(seconds=2 * tf_s)
    out: dict[str, CandleSeries] = {}
    notes: list[str] = []
    for pair in sorted(set(pairs)):
        tries = [(pair, "futures" if futures else "spot")]
        if futures:
            tries.append((pair.split(":")[0], "spot"))
        df = None
        for name, ctype in tries:
            cfg = {"datadir": str(datadir), "dataformat_ohlcv": "feather", "candle_type_def": ctype}
            df = load_candles_before(cfg, name, timeframe, until, count)
            if df is not None and len(df):
                if name != pair:
                    notes.append(f"{pair}: no futures candles, used {name}'s")
                break
        if df is None or not len(df):
            notes.append(f"{pair}: no {timeframe} candles in {datadir}")
            continue
        dates = df["date"].dt.as_unit("s").astype("int64").to_numpy()
        out[pair] = CandleSeries(
            start_s=dates.astype(float),
            open=df["open"].to_numpy(float),
            high=df["high"].to_numpy(float),
            low=df["low"].to_numpy(float),
            close=df["close"].to_numpy(float),
            volume=df["volume"].to_numpy(float),
            timeframe_s=tf_s,
        )
    return out, notes


class OrderCandles:
    """Backtests: the candle an order is placed in, read from the backtest's own datadir.

    Freqtrade decides a backtest fill from that candle's low and high; the model draws its
    fill from the same candle (how far it traded through the decision price, its
    direction).  The strategy's signals never see it: only the execution model does, as
    Freqtrade's fill check does.  Each pair is read once (the whole timerange).
    """

    def __init__(self, config: dict[str, Any], timeframe: str) -> None:
        self.config = config
        self.timeframe = timeframe
        self._series: dict[str, CandleSeries | None] = {}

    def _load(self, pair: str) -> CandleSeries | None:
        from freqtrade_exec_ext.compat.data import load_candles_before, timerange_start

        tf_s = timeframe_seconds(self.timeframe)
        start = timerange_start(self.config) or datetime(2009, 1, 1, tzinfo=UTC)
        end = datetime.now(UTC) + timedelta(days=1)  # to the end of the data
        count = int((end - start).total_seconds() // tf_s) + 2
        df = load_candles_before(self.config, pair, self.timeframe, end, count)
        if df is None or not len(df):
            return None
        return CandleSeries(
            start_s=df["date"].dt.as_unit("s").astype("int64").to_numpy().astype(float),
            open=df["open"].to_numpy(float),
            high=df["high"].to_numpy(float),
            low=df["low"].to_numpy(float),
            close=df["close"].to_numpy(float),
            volume=df["volume"].to_numpy(float),
            timeframe_s=tf_s,
        )

    def _get(self, pair: str) -> CandleSeries | None:
        if pair not in self._series:
            try:
                self._series[pair] = self._load(pair)
            except Exception:  # noqa: BLE001 - no candle: the model draws unconditioned
                self._series[pair] = None
        return self._series[pair]

    def at(self, pair: str, when: datetime) -> Any:
        """The candle containing ``when`` (features.Candle), None when unknown."""
        s = self._get(pair)
        i = s.index_at(when) if s is not None else None
        return None if s is None or i is None else s.candle(i)

    def after(self, pair: str, when: datetime) -> Any:
        """The candle after the one containing ``when`` (the order candle of a signal)."""
        s = self._get(pair)
        i = s.index_at(when) if s is not None else None
        if s is None or i is None or i + 1 >= len(s.start_s):
            return None
        return s.candle(i + 1)
