"""Monitoring of a deployment: Prometheus, its alert rules, a provisioned Grafana dashboard.

Every file is built as data and serialised (YAML is written as JSON, which YAML reads);
every metric named here comes from :data:`freqtrade_exec_ext.metrics.METRICS` (the tests
check each expression against it), and every threshold from the contract.

Layout inside the deployment folder (``monitoring/``)::

    prometheus.yml                               scrape the bot's /metrics every 15 s
    alert-rules.yml                              kill switch, budget breaches, bot down,
                                                 rate-limit holds, stale data
    grafana/provisioning/datasources/prometheus.yml
    grafana/provisioning/dashboards/exec-ext.yml
    grafana/dashboards/exec-ext.json             the dashboard
"""

from __future__ import annotations

import json
from typing import Any

from freqtrade_exec_ext.contract import RiskContract

PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0"
GRAFANA_IMAGE = "grafana/grafana:11.6.0"
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
SCRAPE_JOB = "exec_ext_bot"
DIR = "monitoring"
PROMETHEUS_FILE = f"{DIR}/prometheus.yml"
RULES_FILE = f"{DIR}/alert-rules.yml"
DATASOURCE_FILE = f"{DIR}/grafana/provisioning/datasources/prometheus.yml"
DASHBOARDS_FILE = f"{DIR}/grafana/provisioning/dashboards/exec-ext.yml"
DASHBOARD_FILE = f"{DIR}/grafana/dashboards/exec-ext.json"
BOT_DOWN_AFTER = "2m"
LOOP_STALE_S = 300  # no bot loop for this long: the bot is stuck even if its API answers


def host_ports(api_port: int) -> tuple[int, int]:
    """(Prometheus, Grafana) ports published on 127.0.0.1: offset like the API port, so
    deployments with different API ports do not collide."""
    offset = api_port - 8080
    return PROMETHEUS_PORT + offset, GRAFANA_PORT + offset


def _yaml(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def prometheus_yml(strategy_id: str, bot_host: str, api_port: int) -> str:
    return _yaml(
        {
            "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
            "rule_files": ["alert-rules.yml"],  # beside this file, here and in the container
            "scrape_configs": [
                {
                    "job_name": SCRAPE_JOB,
                    "metrics_path": "/metrics",
                    "static_configs": [
                        {
                            "targets": [f"{bot_host}:{api_port}"],
                            "labels": {"strategy_id": strategy_id},
                        }
                    ],
                }
            ],
        }
    )


def _rule(name: str, expr: str, severity: str, summary: str, for_: str = "0m") -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


def alert_rules(contract: RiskContract) -> dict[str, Any]:
    sid = contract.strategy_id
    rules = [
        _rule(
            "ExecExtKillSwitchReducing",
            "exec_ext_kill_switch_level == 1",
            "warning",
            f"{sid}: kill switch REDUCING: no new entries (see the bot's log and "
            "the exec_ext_kill_switch_events table)",
        ),
        _rule(
            "ExecExtKillSwitchTripped",
            "exec_ext_kill_switch_level >= 2",
            "critical",
            f"{sid}: kill switch FLATTEN/HALTED: exits everything; "
            f"`freqtrade-exec resume {sid}` after review",
        ),
        _rule(
            "ExecExtBudgetBreach",
            "increase(exec_ext_fills_over_budget_total[1h]) > 0",
            "warning",
            f"{sid}: fills over the slippage budget "
            f"({contract.slippage.max_entry_bps:g}/{contract.slippage.max_exit_bps:g} bps)",
        ),
        _rule(
            "ExecExtBotDown",
            f'up{{job="{SCRAPE_JOB}"}} == 0',
            "critical",
            f"{sid}: the bot's /metrics does not answer",
            BOT_DOWN_AFTER,
        ),
        _rule(
            "ExecExtBotLoopStuck",
            f"time() - exec_ext_last_loop_timestamp_seconds > {LOOP_STALE_S}",
            "critical",
            f"{sid}: no bot loop for {LOOP_STALE_S} s (the API answers, trading does not)",
        ),
        _rule(
            "ExecExtRateLimitHolds",
            "increase(exec_ext_rate_limit_holds_total[10m]) > 0",
            "warning",
            f"{sid}: requests held back by the shared rate-limit budget",
        ),
        _rule(
            "ExecExtRateLimited",
            "increase(exec_ext_rate_limited_total[10m]) > 0",
            "critical",
            f"{sid}: the exchange answered 429/418 (ban risk)",
        ),
        _rule(
            "ExecExtRateLimitRefused",
            "increase(exec_ext_rate_limit_refused_total[10m]) > 0",
            "warning",
            f"{sid}: requests not sent: the shared budget had no room",
        ),
        _rule(
            "ExecExtStaleData",
            "exec_ext_data_age_seconds > exec_ext_data_age_limit_seconds",
            "warning",
            f"{sid}: market data older than one timeframe + "
            f"{contract.limits.stale_data_s} s (limits.stale_data_s)",
        ),
    ]
    return {"groups": [{"name": f"exec_ext_{sid.lower().replace('-', '_')}", "rules": rules}]}


def alert_rules_yml(contract: RiskContract) -> str:
    return _yaml(alert_rules(contract))


def datasource_yml() -> str:
    return _yaml(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus",
                    "type": "prometheus",
                    "access": "proxy",
                    "url": f"http://prometheus:{PROMETHEUS_PORT}",
                    "isDefault": True,
                    "editable": False,
                }
            ],
        }
    )


def dashboards_yml() -> str:
    return _yaml(
        {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "exec-ext",
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "options": {"path": "/var/lib/grafana/dashboards"},
                }
            ],
        }
    )


_DS = "Prometheus"  # by name: the secrets scan refuses any 'uid' key in a deployment


def _panel(
    pid: int,
    title: str,
    kind: str,
    targets: list[tuple[str, str]],
    x: int,
    y: int,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": _DS, "expr": expr, "legendFormat": leg}
            for i, (expr, leg) in enumerate(targets)
        ],
    }


PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    (
        "Kill switch (0 NORMAL, 1 REDUCING, 2 FLATTEN, 3 HALTED)",
        "stat",
        [("exec_ext_kill_switch_level", "{{strategy_id}}")],
        "short",
    ),
    (
        "Equity and open trades",
        "timeseries",
        [("exec_ext_equity_quote", "equity"), ("exec_ext_open_trades", "open trades")],
        "short",
    ),
    (
        "Drawdown and day's loss",
        "timeseries",
        [("exec_ext_drawdown_ratio", "drawdown"), ("exec_ext_daily_loss_ratio", "day's loss")],
        "percentunit",
    ),
    (
        "Fills per hour",
        "timeseries",
        [("sum by (pair, side) (increase(exec_ext_fills_total[1h]))", "{{pair}} {{side}}")],
        "short",
    ),
    (
        "Slippage vs decision, p50 / p90 (bps, + = cost)",
        "timeseries",
        [
            (
                (
                    "histogram_quantile(0.5, sum by (le, pair, side) "
                    "(rate(exec_ext_slippage_bps_bucket[1h])))"
                ),
                "p50 {{pair}} {{side}}",
            ),
            (
                (
                    "histogram_quantile(0.9, sum by (le, pair, side) "
                    "(rate(exec_ext_slippage_bps_bucket[1h])))"
                ),
                "p90 {{pair}} {{side}}",
            ),
        ],
        "short",
    ),
    (
        "Implementation shortfall (stake currency)",
        "timeseries",
        [("sum by (pair, side) (exec_ext_shortfall_quote)", "{{pair}} {{side}}")],
        "short",
    ),
    ("Maker share of filled notional", "stat", [("exec_ext_maker_share", "maker")], "percentunit"),
    (
        "Rejections by reason (1h)",
        "timeseries",
        [("sum by (reason) (increase(exec_ext_rejections_total[1h]))", "{{reason}}")],
        "short",
    ),
    (
        "Reprices and fills over budget (1h)",
        "timeseries",
        [
            ("sum by (intent) (increase(exec_ext_reprices_total[1h]))", "reprices {{intent}}"),
            (
                "sum by (intent) (increase(exec_ext_fills_over_budget_total[1h]))",
                "over budget {{intent}}",
            ),
        ],
        "short",
    ),
    ("Order guard journal", "timeseries", [("exec_ext_order_guard_orders", "{{status}}")], "short"),
    (
        "Request weight per minute",
        "timeseries",
        [("sum by (family) (rate(exec_ext_request_weight_total[5m])) * 60", "{{family}}")],
        "short",
    ),
    (
        "Rate-limit holds, refusals, 429/418 (10m)",
        "timeseries",
        [
            ("increase(exec_ext_rate_limit_holds_total[10m])", "holds"),
            ("increase(exec_ext_rate_limit_hold_seconds_total[10m])", "held (s)"),
            ("increase(exec_ext_rate_limit_refused_total[10m])", "refused"),
            ("sum by (status) (increase(exec_ext_rate_limited_total[10m]))", "HTTP {{status}}"),
        ],
        "short",
    ),
    (
        "Market data age (s) and its limit",
        "timeseries",
        [("exec_ext_data_age_seconds", "age"), ("exec_ext_data_age_limit_seconds", "limit")],
        "s",
    ),
    (
        "Funding paid (stake currency)",
        "timeseries",
        [("exec_ext_funding_paid_quote", "{{pair}}")],
        "short",
    ),
]


def dashboard(contract: RiskContract) -> dict[str, Any]:
    sid = contract.strategy_id
    panels = []
    for i, (title, kind, targets, unit) in enumerate(PANELS):
        panels.append(
            _panel(i + 1, title, kind, targets, x=(i % 2) * 12, y=(i // 2) * 8, unit=unit)
        )
    return {
        "title": f"{sid} execution and risk",
        "tags": ["freqtrade-exec-ext", sid],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "panels": panels,
    }


def files(contract: RiskContract, *, bot_host: str, api_port: int) -> dict[str, str]:
    return {
        PROMETHEUS_FILE: prometheus_yml(contract.strategy_id, bot_host, api_port),
        RULES_FILE: alert_rules_yml(contract),
        DATASOURCE_FILE: datasource_yml(),
        DASHBOARDS_FILE: dashboards_yml(),
        DASHBOARD_FILE: json.dumps(dashboard(contract), indent=2) + "\n",
    }
