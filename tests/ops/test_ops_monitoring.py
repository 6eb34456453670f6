"""A generated deployment's monitoring: promtool on its Prometheus config and alert rules,
the Grafana dashboard parsed and every expression checked against the bot's metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from freqtrade_exec_ext.cli.main import main as cli
from freqtrade_exec_ext.deploy import monitoring as mon
from freqtrade_exec_ext.metrics import METRICS, Metrics

DEPLOYMENT = ".crypto/knowledge/strategies/STR-001/deployment"
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "histogram_quantile", "time", "max", "min", "avg",
    "le", "on", "without", "offset",
}


@pytest.fixture
def deployment(tmp_path, repo_root, capsys) -> Path:
    root = tmp_path / "project"
    sdir = root / ".crypto/knowledge/strategies/STR-001"
    sdir.mkdir(parents=True)
    shutil.copy(repo_root / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml", sdir)
    (root / "user_data/strategies").mkdir(parents=True)
    shutil.copy(repo_root / "user_data/strategies/STR001.py", root / "user_data/strategies")
    assert cli(["deploy", "STR-001", "--stage", "testnet", "--root", str(root)]) == 0
    capsys.readouterr()
    return root / DEPLOYMENT


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not found (Debian package 'prometheus'; .ci/run installs it)")
    return path


def exposed_names() -> set[str]:
    """Every series name the bot's /metrics can carry."""
    out = {"up"}
    for name, (kind, _, _) in METRICS.items():
        if kind == "counter":
            out |= {f"{name}_total", f"{name}_created"}
        elif kind == "histogram":
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        else:
            out.add(name)
    return out


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"e\d*", w)
            and w not in {"pair", "side", "intent", "reason", "family", "status"}}


def test_exposed_names_match_a_real_exposition():
    from types import SimpleNamespace

    m = Metrics("STR-001", "b")
    m.observe_fill(SimpleNamespace(
        pair="BTC/USDT", side="buy", intent="entry", liquidity="maker", notional=100.0,
        slippage_decision_bps=3.0, fee_cost=0.1, fee_currency="USDT", fill_price=100.0,
        over_budget=True, reprice_count=1))
    m.observe_rejection("SPREAD_TOO_WIDE: 12 bps")
    m.observe_kill_switch(1)
    m.observe_loop(now_s=1.0, equity=1.0, drawdown=0.0, daily_loss=0.0, open_trades=0,
                   data_age_s=1.0, data_age_limit_s=900.0)
    text = m.exposition()[0].decode()
    samples = {re.split(r"[{ ]", line)[0] for line in text.splitlines()
               if line and not line.startswith("#")}
    assert samples <= exposed_names()
    assert {"exec_ext_slippage_bps_bucket", "exec_ext_fills_total",
            "exec_ext_rejections_total", "exec_ext_kill_switch_level"} <= samples


@pytest.mark.slow
def test_promtool_checks_the_generated_config_and_rules(deployment):
    tool = promtool()
    prom = deployment / mon.PROMETHEUS_FILE
    out = subprocess.run([tool, "check", "config", str(prom)], capture_output=True, text=True,
                         timeout=60, check=False)
    print(out.stdout + out.stderr)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr
    rules = deployment / mon.RULES_FILE
    out = subprocess.run([tool, "check", "rules", str(rules)], capture_output=True, text=True,
                         timeout=60, check=False)
    print(out.stdout + out.stderr)
    assert out.returncode == 0 and "SUCCESS: 9 rules found" in out.stdout + out.stderr


@pytest.mark.slow
def test_the_kill_switch_and_rate_limit_alerts_fire(deployment, tmp_path):
    """promtool's rule unit test: series as the bot would export them, alerts expected."""
    tool = promtool()
    shutil.copy(deployment / mon.RULES_FILE, tmp_path / "alert-rules.yml")
    tests = {
        "rule_files": ["alert-rules.yml"],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            "input_series": [
                {"series": 'exec_ext_kill_switch_level{job="exec_ext_bot"}',
                 "values": "0 0 1 1 2 2 3 3"},
                {"series": 'exec_ext_rate_limited_total{job="exec_ext_bot",status="429"}',
                 "values": "0 0 0 1 1 1 1 1"},
                {"series": 'up{job="exec_ext_bot"}', "values": "1x3 0x12"},
            ],
            "alert_rule_test": [
                {"eval_time": "30s", "alertname": "ExecExtKillSwitchReducing",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "job": "exec_ext_bot"}}]},
                {"eval_time": "75s", "alertname": "ExecExtKillSwitchTripped",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "job": "exec_ext_bot"}}]},
                {"eval_time": "30s", "alertname": "ExecExtKillSwitchTripped", "exp_alerts": []},
                {"eval_time": "60s", "alertname": "ExecExtRateLimited",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "job": "exec_ext_bot",
                                                "status": "429"}}]},
                {"eval_time": "3m", "alertname": "ExecExtBotDown",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "job": "exec_ext_bot"}}]},
            ],
        }],
    }
    for test in tests["tests"]:
        for case in test["alert_rule_test"]:
            for alert in case["exp_alerts"]:
                rules = yaml.safe_load((tmp_path / "alert-rules.yml").read_text())
                rule = next(r for g in rules["groups"] for r in g["rules"]
                            if r["alert"] == case["alertname"])
                alert["exp_annotations"] = rule["annotations"]
    (tmp_path / "tests.yml").write_text(json.dumps(tests))
    out = subprocess.run([tool, "test", "rules", "tests.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_and_rules_use_only_metrics_the_bot_exports(deployment):
    board = json.loads((deployment / mon.DASHBOARD_FILE).read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    rules = yaml.safe_load((deployment / mon.RULES_FILE).read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    names = exposed_names()
    unknown = {n for e in exprs for n in metric_names(e)} - names
    assert unknown == set()
    # every metric the bot exports is on the dashboard
    shown = {n for e in exprs for n in metric_names(e)}
    missing = {n for n in METRICS if not any(s.startswith(n) for s in shown)}
    assert missing <= {"exec_ext_bot_info", "exec_ext_requests", "exec_ext_budget_store_errors",
                       "exec_ext_kill_switch_transitions", "exec_ext_fill_notional_quote"}
    # a grid of whole panels, no overlaps; the datasource is the provisioned one
    cells = set()
    for p in board["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells
                cells.add((x, y))
        assert p["datasource"] == "Prometheus"
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    ds = yaml.safe_load((deployment / mon.DATASOURCE_FILE).read_text())
    assert ds["datasources"][0]["name"] == "Prometheus"
    assert ds["datasources"][0]["url"] == f"http://prometheus:{mon.PROMETHEUS_PORT}"


def test_compose_runs_prometheus_and_grafana_pinned_with_healthchecks(deployment):
    doc = yaml.safe_load((deployment / "docker-compose.yml").read_text())
    services = doc["services"]
    for name, image in (("prometheus", mon.PROMETHEUS_IMAGE), ("grafana", mon.GRAFANA_IMAGE)):
        assert services[name]["image"] == image
        assert re.search(r":v?\d+\.\d+\.\d+$", image)  # a release, never latest
        assert services[name]["healthcheck"]["test"][0] == "CMD"
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"])
    assert "GF_SECURITY_ADMIN_PASSWORD" in services["grafana"]["environment"]
    bot = services["freqtrade"]
    probe = bot["healthcheck"]["test"][-1]
    assert "/api/v1/ping" in probe and "exec_ext_last_loop_timestamp_seconds" in probe
    # the shared budget: the same named volume in every deployment, and the config uses it
    assert "exec-ext-shared:/freqtrade/shared" in bot["volumes"]
    assert doc["volumes"]["exec-ext-shared"] == {"name": "freqtrade-exec-shared"}
    config = json.loads((deployment / "config.json").read_text())
    assert config["exec_ext"]["budget"]["db_url"] == "sqlite:////freqtrade/shared/rate-budget.sqlite"
    prom = yaml.safe_load((deployment / mon.PROMETHEUS_FILE).read_text())
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == [
        f"freqtrade:{config['api_server']['listen_port']}"]


@pytest.mark.slow
def test_bot_healthcheck_probe_reads_the_loop_time(tmp_path, deployment):
    """The probe compose runs inside the bot's container, against a stand-in /metrics."""
    import http.server
    import threading
    import time

    doc = yaml.safe_load((deployment / "docker-compose.yml").read_text())
    probe = doc["services"]["freqtrade"]["healthcheck"]["test"][-1]
    stamp = {"t": time.time()}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (b"{}" if "ping" in self.path else
                    f"exec_ext_last_loop_timestamp_seconds {stamp['t']}\n".encode())
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    probe = probe.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    import sys

    try:
        ok = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30,
                            check=False)
        stamp["t"] = time.time() - mon.LOOP_STALE_S - 5
        stuck = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30,
                            check=False)
    finally:
        srv.shutdown()
    assert ok.returncode == 0, ok.stderr
    assert stuck.returncode != 0
