"""Prometheus metrics of one bot: execution KPIs, the request budget, the kill switch.

:class:`Metrics` owns a private ``prometheus_client`` registry (nothing global, so
several strategies in one process or test do not collide); the bot serves it at
``/metrics`` on Freqtrade's REST API port (see ``compat.ops``).  Every metric name is
declared once, in :data:`METRICS`; the provisioned Grafana dashboard and Prometheus
alert rules (``deploy/monitoring.py``) are checked against it by the tests.

Units are in the names (``_bps``, ``_seconds``, ``_quote``: stake currency).  Slippage
is positive when it costs money, as in the execution ledger.
"""

from __future__ import annotations

from freqtrade_exec_ext.metrics.registry import METRICS, Metrics

__all__ = ["METRICS", "Metrics"]
