"""The execution-quality report (``freqtrade-exec report``; see docs/report.md).

* :mod:`.metrics`: the pure metrics over a frame of orders (slippage statistics,
  implementation shortfall, breaches); no Freqtrade import.
* :mod:`.sql_reader`: Freqtrade databases (SQLite, PostgreSQL, other SQLAlchemy dialects)
  read with set-based queries in chunks.
* :mod:`.backtest_reader`: Freqtrade backtest results plus the ledger written beside them.
* :mod:`.build`, :mod:`.render`, :mod:`.html`: the report and its terminal, JSON, CSV and
  HTML forms.
"""
