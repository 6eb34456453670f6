"""The execution model: fitted from a bot's own fills, charged in backtests (docs/calibration.md).

* ``sources``: read Freqtrade databases (ledger, journal, stop orders) and candles;
* ``attempts`` / ``features``: decisions and the candle each order worked in (pure);
* ``fit`` / ``stats``: cells, candle bins, pair shifts, intervals (pure);
* ``model``: the versioned model file (pydantic);
* ``apply``: what a backtest charges per order (pure); ``backtest``: the mixin's adapter;
* ``rescore``: fills no callback reaches, corrected after the backtest;
* ``build`` / ``report``: the ``calibrate`` command's pipeline and its printout.
"""
