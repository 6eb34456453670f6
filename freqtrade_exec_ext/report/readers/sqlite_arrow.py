"""SQLite, fast path: one id range of orders read as Arrow columns (ADBC's SQLite driver)
and its ledger records parsed by Arrow's JSON reader, off the GIL.

The fast path reads only *regular* data: numbers that are numbers, texts that are texts,
ledger records that are each one JSON object with fields of the documented types.
Anything else (a text in a number column, a record that is not one JSON object, a field
of the wrong type, a NaN or Infinity token in a field the report reads, a driver error)
raises :class:`Irregular`, and the caller reads that range again with the exact stdlib
path (:mod:`.sqlite`), which names every skipped row.  Both paths build the same raw
columns, so a range gives the same order rows either way
(``tests/report/test_fast_reader.py``).  One difference is kept on purpose: a NaN or
Infinity token in a field the report does not read leaves the record usable here, as
SQLite 3.42 and newer (JSON5) read it too; older SQLite calls such a record invalid.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.compat import schema
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.report.query import (
    CC,
    MARKOUT_HORIZONS,
    MARKOUTS_FIELD,
    OC,
    ORDER_TEXT,
    SQLITE_ORDER_NAMES,
    TRADE_NAMES,
    TRADE_TEXT,
    ledger_join,
    sqlite_orders_sql,
    sqlite_trades_sql,
)

T = schema.TABLES


class Irregular(Exception):
    """The range holds data the fast path does not read: use the exact path."""


def available() -> bool:
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
        import pyarrow.json  # noqa: F401
    except ImportError:
        return False
    return True


BUSY_TIMEOUT_MS = 5000  # as the stdlib driver waits for a bot's write to finish


def connect(path: Path) -> Any:
    """A read-only connection that waits for a bot's write to finish, as the stdlib one."""
    import adbc_driver_sqlite.dbapi as adbc
    from adbc_driver_manager import Error

    try:
        con = adbc.connect(f"file:{path.resolve()}?mode=ro", autocommit=True)
    except Error as exc:
        raise Irregular(str(exc)) from exc
    try:
        cur = con.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.fetchall()
        cur.close()
    except Exception:
        con.close()
        raise
    return con


def _table(cur: Any, sql: str, named: dict[str, Any], numbers: Sequence[int] = ()) -> Any:
    """Run ``sql`` (``:name`` parameters); the columns at ``numbers`` must come back as
    numbers (or all NULL).  The driver types a column by its first values and fails on a
    value of another type (a text in a number column, or a float after integers): that
    is :class:`Irregular`."""
    import pyarrow as pa
    from adbc_driver_manager import Error

    try:
        cur.execute(*_positional(sql, named))
        table = cur.fetch_arrow_table()
    except (OSError, Error) as exc:  # a value of another type; the exact path says the rest
        raise Irregular(str(exc)) from exc
    for k in numbers:
        t = table.schema.field(k).type
        numeric = pa.types.is_floating(t) or pa.types.is_integer(t)
        if not numeric and table.column(k).null_count != len(table):
            raise Irregular(f"column {table.schema.field(k).name} is {t}")
    return table


def _columns(table: Any, names: Sequence[str], text: Collection[str]) -> dict[str, Any]:
    """The query's columns by name: texts as categoricals, the rest as float64."""
    return {
        n: _categories(table.column(k)) if n in text else _floats(table.column(k))
        for k, n in enumerate(names)
    }


def _floats(col: Any) -> np.ndarray:
    out: np.ndarray = col.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return out


def _categories(col: Any) -> pd.Categorical:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        if col.null_count != len(col):
            raise Irregular(f"a text column is {col.type}")
        col = col.cast(pa.string())
    enc = pc.dictionary_encode(col).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    codes = np.where(enc.indices.is_null().to_numpy(zero_copy_only=False), -1, codes)
    cats = pd.Index(enc.dictionary.to_pylist(), dtype=object)
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=cats)


def orders(cur: Any, job: dict[str, Any], lo: int, hi: int) -> pd.DataFrame:
    """One id range of orders: the exact path's query, with its short texts uncoded."""
    sql, params = sqlite_orders_sql(job["pairs"], job["strategies"], {})
    names = SQLITE_ORDER_NAMES
    numbers = [k for k, n in enumerate(names) if n not in ORDER_TEXT]
    table = _table(cur, sql, {**params, "lo": lo, "hi": hi}, numbers)
    return pd.DataFrame(_columns(table, names, ORDER_TEXT))


def _positional(sql: str, named: dict[str, Any]) -> tuple[str, list[Any]]:
    """``:name`` parameters as ``?`` (the driver binds by position)."""
    import re

    order: list[Any] = []

    def sub(m: re.Match[str]) -> str:
        order.append(named[m.group(1)])
        return "?"

    return re.sub(r":([a-z]\w*)", sub, sql), order


def trades(cur: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The trades of one id range of orders (``args``: how they are selected)."""
    sql = sqlite_trades_sql({}, by_range=args["dense"])
    names = TRADE_NAMES
    numbers = [k for k, n in enumerate(names) if n not in TRADE_TEXT]
    table = _table(cur, sql, {k: v for k, v in args.items() if k != "dense"}, numbers)
    return _columns(table, names, TRADE_TEXT)


def ledger(
    cur: Any, lo: int, hi: int, fields: tuple[tuple[str, str, str], ...]
) -> tuple[np.ndarray, pd.DataFrame]:
    """(orders.id of each record, its fields as ``l_<name>`` columns) for one id range."""
    import pyarrow as pa
    import pyarrow.json as pj

    sql = (
        f"SELECT {OC['id']}, {CC['cd_value']} || char(10) "  # noqa: S608
        f"FROM {T.orders} o JOIN {ledger_join(T.custom_data)} "
        f"WHERE {OC['id']} > :lo AND {OC['id']} <= :hi"
    )
    table = _table(cur, sql, {"prefix": LEDGER_KEY_PREFIX, "lo": lo, "hi": hi}, [0])
    ids = _floats(table.column(0))
    names = [f"l_{n}" for n, _, _ in fields]
    if not len(ids):
        return ids, pd.DataFrame({n: np.zeros(0) for n in names})
    text = table.column(1).combine_chunks()
    if text.null_count or not pa.types.is_string(text.type):
        raise Irregular("a ledger record is NULL or not text")
    offsets = np.frombuffer(
        text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4
    )
    block = text.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    _one_object_each(np.frombuffer(block, dtype=np.uint8), offsets - offsets[0])
    parsed = _parse(pa, pj, block, fields)
    if parsed.num_rows != len(ids):
        raise Irregular("a ledger record holds no or several JSON objects")
    return ids, _ledger_frame(parsed, fields, names)


def _one_object_each(data: np.ndarray, offsets: np.ndarray) -> None:
    """Every record starts with '{' and ends with '}' (then the newline added in SQL).
    Arrow's reader reads objects one after another, across lines; with these bounds no
    object can span two records (a string cannot hold the raw newline, and after a
    closing '}' the next record's '{' is a syntax error), so one object per record
    follows from the object count alone."""
    if (np.diff(offsets) < 3).any():
        raise Irregular("an empty ledger record")
    if not ((data[offsets[:-1]] == ord("{")).all() and (data[offsets[1:] - 2] == ord("}")).all()):
        raise Irregular("a ledger record is not one JSON object without surrounding space")


def _schema(pa: Any, fields: tuple[tuple[str, str, str], ...]) -> Any:
    top = [
        pa.field(n, pa.float64() if k == "num" else pa.string())
        for n, p, k in fields
        if not n.startswith("mk_")
    ]
    horizons = [h for h in MARKOUT_HORIZONS if any(n == f"mk_{h}" for n, _, _ in fields)]
    if horizons:
        top.append(pa.field(MARKOUTS_FIELD, pa.struct([(h, pa.float64()) for h in horizons])))
    return pa.schema(top)


def _parse(pa: Any, pj: Any, block: Any, fields: tuple[tuple[str, str, str], ...]) -> Any:
    try:
        return pj.read_json(
            pa.BufferReader(block),
            # one thread: the ranges are already read in parallel (less CPU than nesting)
            read_options=pj.ReadOptions(block_size=16 << 20, use_threads=False),
            parse_options=pj.ParseOptions(
                explicit_schema=_schema(pa, fields),
                unexpected_field_behavior="ignore",
                newlines_in_values=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # not JSON, or a field of another type
        raise Irregular(str(exc)) from exc


def _ledger_frame(parsed: Any, fields: tuple[tuple[str, str, str], ...], names: list[str]) -> Any:
    out: dict[str, Any] = {}
    for (n, _, kind), name in zip(fields, names, strict=True):
        if n.startswith("mk_"):
            out[name] = _struct_field(parsed.column(MARKOUTS_FIELD).combine_chunks(), n[3:])
        elif kind == "num":
            out[name] = _finite(_floats(parsed.column(n)), parsed.column(n))
        else:
            out[name] = _categories(parsed.column(n))
    return pd.DataFrame(out)


def _finite(vals: np.ndarray, col: Any) -> np.ndarray:
    """JSON has no NaN or infinity: Arrow's reader accepts the tokens NaN and Infinity,
    SQLite's (before 3.42) does not; such a record is read by the exact path."""
    if np.isnan(vals).sum() != col.null_count or np.isinf(vals).any():
        raise Irregular("a ledger number is NaN or infinite")
    return vals


def _struct_field(marks: Any, key: str) -> np.ndarray:
    """One horizon of the markouts: NaN where the record has no markouts at all."""
    vals = _finite(_floats(marks.field(key)), marks.field(key))
    if marks.null_count:
        vals = np.where(marks.is_valid().to_numpy(zero_copy_only=False), vals, np.nan)
    return vals


def release_memory() -> None:
    """Hand the read's freed buffers back to the system: Arrow's pool keeps them, and so
    does glibc's heap after many threads' mid-sized allocations (the report's peak memory
    comes after the read, so what is kept here counts twice)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (None elsewhere), from the symbols the process has."""
    import ctypes

    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None
