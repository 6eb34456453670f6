"""Local Binance-compatible exchange on 127.0.0.1 (replayed candles, calibrated books).

Layers: ``replay`` (candles mapped onto the present, pure), ``book`` (synthetic calibrated
order books, pure), ``venue`` (Binance-shaped answers), ``server`` (uvicorn HTTP
layer and :class:`~freqtrade_exec_ext.localex.server.LocalExchange`), ``urls`` (ccxt and
Freqtrade configuration pointing at it).  See docs/local-exchange.md.
"""

from __future__ import annotations

from freqtrade_exec_ext.localex.urls import ccxt_urls, freqtrade_exchange_config

__all__ = ["ccxt_urls", "freqtrade_exchange_config"]
