"""``freqtrade-exec exchange serve|start|stop`` as a user runs them.

Trading keys come from the environment only; they must never show up in the command's
output, the pidfile, the server's log or the background server's command line.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ccxt
import pytest
from support import free_port

from freqtrade_exec_ext.localex import ccxt_urls

pytestmark = pytest.mark.slow

KEY_VARS = (
    "LOCALEX_API_KEY",
    "LOCALEX_API_SECRET",
    "FREQTRADE__EXCHANGE__KEY",
    "FREQTRADE__EXCHANGE__SECRET",
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env.update(extra)
    return env


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "freqtrade_exec_ext.cli.main", "exchange", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env if env is not None else _env(),
    )


_free_port = free_port


def _get(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _client(url: str, key: str, secret: str) -> ccxt.binance:
    c = ccxt.binance({**ccxt_urls(url), "apiKey": key, "secret": secret, "enableRateLimit": False})
    c.load_markets()
    return c


def test_start_serves_in_background_and_stop_stops_it(tmp_path, repo_datadir) -> None:
    port = _free_port()
    pidfile = tmp_path / "lx.pid"
    common = ["--datadir", str(repo_datadir), "--pidfile", str(pidfile)]
    # asked for a moment about 150 s ahead of the wall clock's phase in its 5m candle: the
    # replay starts up to 5 min earlier (the served candles stay on 5m boundaries) and says so
    phase = (time.time() + 150) % 300
    asked = datetime(2025, 12, 1, tzinfo=UTC) + timedelta(seconds=phase)
    start_at = ["--start-at", asked.isoformat(timespec="seconds")]
    started = _cli("start", "--port", str(port), *common, *start_at, cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()  # stdout is the URL only: URL=$(... exchange start)
        assert url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/api/v3/time", timeout=5) as r:
            assert "serverTime" in json.loads(r.read())
        # no keys in the environment: market data only, and the user is told how to trade
        first, how = started.stderr.splitlines()[:2]
        assert first.startswith(f"local exchange on {url}: market data only; trading disabled")
        assert how.startswith("to trade: set FREQTRADE__EXCHANGE__KEY and ")
        note = next(x for x in started.stderr.splitlines() if x.startswith("note: --start-at"))
        assert f"--start-at {asked.isoformat(timespec='seconds')}: replay starts at " in note
        assert "served candles must open on whole 5m boundaries" in note
        client = _client(url, secrets.token_hex(32), secrets.token_hex(32))
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            client.fetch_balance()
        # the port is now taken: a second start refuses with one line
        again = _cli(
            "start",
            "--port",
            str(port),
            *common[:2],
            "--pidfile",
            str(tmp_path / "other.pid"),
            cwd=tmp_path,
        )
        assert again.returncode == 2
        assert again.stderr.strip() == f"--port {port}: already in use on 127.0.0.1"
    finally:
        stopped = _cli("stop", "--pidfile", str(pidfile), cwd=tmp_path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not pidfile.exists()
    with socket.socket() as s:  # port released (REUSEADDR: our own client left TIME_WAITs)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    idle = _cli("stop", "--pidfile", str(pidfile), cwd=tmp_path)
    assert idle.returncode == 0 and "not running" in idle.stdout


def test_start_trades_with_keys_from_the_environment_and_never_shows_them(
    tmp_path, repo_datadir
) -> None:
    key, secret = secrets.token_hex(32), secrets.token_hex(32)
    env = _env(FREQTRADE__EXCHANGE__KEY=key, FREQTRADE__EXCHANGE__SECRET=secret)
    faults = tmp_path / "faults.yaml"
    faults.write_text(
        "faults:\n"
        "  - {kind: latency, endpoint: GET /api/v3/time, delay_s: 0.01, count: null}\n"
        "  - {kind: reject, endpoint: POST /api/v3/order, symbol: ETHUSDT, reason: min_notional}\n"
        "  - {kind: http_error, endpoint: GET /api/v3/ping, status: 503}\n"
    )
    port = _free_port()
    pidfile = tmp_path / "lx.pid"
    options = ["--balance", "USDT=500", "--balance", "btc=0.01", "--futures-balance", "250"]
    options += ["--spot-fees", "0.0005,0.00075", "--faults", str(faults), "--weight-limit", "900"]
    started = _cli(
        "start", "--port", str(port), "--datadir", str(repo_datadir), "--pidfile", str(pidfile),
        *options, cwd=tmp_path, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout == f"{url}\n"
        summary = started.stderr.splitlines()[0]
        assert summary.startswith(
            f"local exchange on {url}: trading enabled (API key from "
            "FREQTRADE__EXCHANGE__KEY/FREQTRADE__EXCHANGE__SECRET); spot 500 USDT, 0.01 BTC; "
            "USDT-M wallet 250 USDT; fees maker/taker spot 0.05%/0.075%"
        )
        assert "rate limits: Binance's (weight limit 900)" in summary
        assert f"faults: 3 loaded from {faults} (latency, reject, http_error)" in summary
        pid = json.loads(pidfile.read_text())["pid"]
        # starting up used no fault: the first ping is the scripted 503
        with pytest.raises(urllib.error.HTTPError, match="503"):
            _get(f"{url}/api/v3/ping")
        assert _get(f"{url}/api/v3/ping") == {}
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()

        # a signed call with the environment's pair succeeds; the balances are the options'
        client = _client(url, key, secret)
        balance = client.fetch_balance()
        assert (balance["USDT"]["free"], balance["BTC"]["free"]) == (500.0, 0.01)
        bid = client.fetch_order_book("BTC/USDT", 5)["bids"][0][0]
        order = client.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2))
        assert client.fetch_open_orders("BTC/USDT")[0]["id"] == order["id"]
        client.cancel_order(order["id"], "BTC/USDT")
        with pytest.raises(ccxt.ExchangeError, match="MIN_NOTIONAL"):  # the scripted reject
            client.create_order("ETH/USDT", "market", "buy", 0.01)
        # the admin API needs this run's token, which only the token file holds (mode 0600)
        token_file = tmp_path / ".localex.admin-token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        with pytest.raises(urllib.error.HTTPError, match="401"):
            _get(f"{url}/_admin/state")
        # the other options reached the background server
        state = _get(f"{url}/_admin/state", token)
        assert state["futures_wallet"] == 250.0
        assert [f["kind"] for f in _get(f"{url}/_admin/faults", token)["faults"]] == ["latency"]
        weights = [
            r["limit"]
            for r in _get(f"{url}/api/v3/exchangeInfo")["rateLimits"]
            if r["rateLimitType"] == "REQUEST_WEIGHT"
        ]
        assert weights == [900]
        # another key is refused
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            _client(url, secrets.token_hex(32), secret).fetch_balance()
        log = (tmp_path / "lx.pid.log").read_text()
        pid_text = pidfile.read_text()
    finally:
        _cli("stop", "--pidfile", str(pidfile), cwd=tmp_path)
    assert "--balance" in cmdline and "--faults" in cmdline
    assert "trading enabled" in log
    assert f"admin API (/_admin): token random for this run, in {token_file}" in log
    for value in (key, secret, token):
        for text in (started.stdout, started.stderr, pid_text, log, cmdline):
            assert value not in text
    assert not token_file.exists()  # removed when the venue stopped


def test_localex_variables_take_precedence_over_the_bots(tmp_path, repo_datadir) -> None:
    mine = secrets.token_hex(32), secrets.token_hex(32)
    bots = secrets.token_hex(32), secrets.token_hex(32)
    env = _env(
        LOCALEX_API_KEY=mine[0],
        LOCALEX_API_SECRET=mine[1],
        FREQTRADE__EXCHANGE__KEY=bots[0],
        FREQTRADE__EXCHANGE__SECRET=bots[1],
    )
    port = _free_port()
    cmd = [sys.executable, "-m", "freqtrade_exec_ext.cli.main", "exchange", "serve"]
    cmd += ["--port", str(port), "--datadir", str(repo_datadir), "--no-rate-limits"]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while "Ctrl-C stops" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert _client(url, *mine).fetch_balance()["USDT"]["free"] == 10_000.0
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            _client(url, *bots).fetch_balance()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert "API key from LOCALEX_API_KEY/LOCALEX_API_SECRET" in text
    assert "rate limits: off" in text
    assert not any(v in text for v in (*mine, *bots))


def test_start_refuses_a_datadir_without_candles(tmp_path) -> None:
    res = _cli(
        "start",
        "--port",
        str(_free_port()),
        "--datadir",
        str(tmp_path),
        "--pidfile",
        str(tmp_path / "x.pid"),
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert res.stderr.startswith(f"--datadir {tmp_path}: no candle files")
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.pid").exists()


# ------------------------------------------------------------------ bad input, in-process


def _run(capsys: Any, *args: str) -> tuple[int, list[str], str]:
    from freqtrade_exec_ext.cli.main import main

    try:
        rc = main(["exchange", *args])
    except SystemExit as exc:  # argparse's own errors
        rc = int(exc.code or 0)
    captured = capsys.readouterr()
    return rc, captured.err.splitlines(), captured.out


BAD_OPTIONS = [
    (["--port", "http"], "--port http: must be an integer 0..65535"),
    (["--port", "70000"], "--port 70000: must be an integer 0..65535"),
    (["--speed", "0"], "--speed 0: must be a positive number"),
    (["--speed", "nan"], "--speed nan: must be a positive number"),
    (["--balance", "USDT"], "--balance USDT: expected ASSET=AMOUNT, e.g. --balance USDT=10000"),
    (["--balance", "USDT=-5"], "--balance USDT=-5: AMOUNT must be a number >= 0"),
    (["--balance", "USDT=1", "--balance", "usdt=2"], "--balance USDT: given twice"),
    (["--balance", "US DT=1"], "--balance US DT=1: expected ASSET=AMOUNT, e.g. --balance "),
    (["--futures-balance", "lots"], "--futures-balance lots: must be a number >= 0"),
    (["--spot-fees", "0.001"], "--spot-fees 0.001: expected MAKER,TAKER rates within 0..0.1"),
    (["--futures-fees", "0.2,0.1"], "--futures-fees 0.2,0.1: expected MAKER,TAKER rates"),
    (["--participation", "1.5"], "--participation 1.5: must be within 0..1 (0 excluded)"),
    (["--rate-limit-scale", "-2"], "--rate-limit-scale -2: must be a positive number"),
    (["--weight-limit", "10.5"], "--weight-limit 10.5: must be a positive integer"),
    (
        ["--no-rate-limits", "--rate-limit-scale", "5"],
        "--no-rate-limits: cannot be combined with --rate-limit-scale or --weight-limit",
    ),
    (["--start-at", "yesterday"], "--start-at 'yesterday': not an ISO 8601 date/time"),
    (["--host", "0.0.0.0"], "--host: host '0.0.0.0' is not a loopback address"),
    (["--balance"], "freqtrade-exec exchange serve: argument --balance: expected one argument"),
    (
        ["--api-secret", "hunter2"],
        (
            "freqtrade-exec exchange serve: unrecognized arguments: --api-secret (values not "
            "shown); the API key and secret are read from the environment only"
        ),
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
def test_bad_option_values_are_one_line_and_exit_2(
    capsys, monkeypatch, repo_datadir, args, message
) -> None:
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    for command in ("serve", "start"):
        rc, err, out = _run(capsys, command, "--datadir", str(repo_datadir), *args)
        assert rc == 2 and out == ""
        assert len(err) == 1 and err[0].startswith(message.replace(" serve:", f" {command}:"))
        assert "hunter2" not in err[0]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"FREQTRADE__EXCHANGE__KEY": "k" * 64},
            "FREQTRADE__EXCHANGE__SECRET: not set while FREQTRADE__EXCHANGE__KEY is; set both",
        ),
        (
            {"LOCALEX_API_SECRET": "s" * 64, "FREQTRADE__EXCHANGE__KEY": "a1" * 32},
            "LOCALEX_API_KEY: not set while LOCALEX_API_SECRET is; set both",
        ),
        (
            {"LOCALEX_API_KEY": "key with space", "LOCALEX_API_SECRET": "s" * 64},
            "LOCALEX_API_KEY: must be printable ASCII without spaces",
        ),
    ],
)
def test_half_a_key_pair_is_refused_without_showing_values(
    capsys, monkeypatch, repo_datadir, env, message
) -> None:
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    rc, err, _ = _run(capsys, "serve", "--datadir", str(repo_datadir), "--port", "0")
    assert rc == 2 and len(err) == 1 and err[0].startswith(message)
    assert not any(v in err[0] for v in env.values())


def test_fault_file_errors_are_one_line(capsys, tmp_path, repo_datadir) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("faults:\n  - {kind: latency\n  - [\n")
    unknown_kind = tmp_path / "kind.json"
    unknown_kind.write_text('[{"kind": "meteor", "endpoint": "*"}]')
    unknown_field = tmp_path / "field.yml"
    unknown_field.write_text("- kind: latency\n  delay: 3\n")
    cases = {
        tmp_path / "missing.yaml": f"--faults: {tmp_path / 'missing.yaml'}: cannot read",
        bad_yaml: f"--faults: {bad_yaml}: not valid yaml:",
        unknown_kind: f"--faults: {unknown_kind}: faults[0]: fault kind 'meteor': allowed latency,",
        unknown_field: f"--faults: {unknown_field}: faults[0]: fault latency: unknown field(s) "
        "delay; allowed",
    }
    for path, message in cases.items():
        rc, err, _ = _run(capsys, "serve", "--datadir", str(repo_datadir), "--faults", str(path))
        assert rc == 2 and len(err) == 1 and err[0].startswith(message), err
