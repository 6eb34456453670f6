"""The kill switch: through Freqtrade's REST API (stdlib HTTP, no Freqtrade import).

1. ``GET  /api/v1/show_config``: the bot must be the expected stage's bot of the expected
   strategy (``bot_name`` as deploy wrote it, e.g. ``STR-001 paper``; ``strategy``; and
   ``dry_run`` true for paper only), else nothing is done (wrong URL or port guard);
2. ``POST /api/v1/stopentry``: no new entries (state ``paused``; exits still run);
3. ``GET  /api/v1/status`` then ``DELETE /api/v1/trades/<id>/open-order`` for every trade
   with an open entry/exit order (stop-loss orders on the exchange are kept: they protect
   the positions that stay open);
4. with ``flatten``: ``POST /api/v1/forceexit {"tradeid": "all", "ordertype": "market"}``;
5. ``GET /api/v1/status`` again: what is still open.

Credentials come only from ``FREQTRADE__API_SERVER__USERNAME`` / ``__PASSWORD`` (the
same variables the bot reads); a URL carrying credentials is refused, and every URL shown
is masked (:mod:`freqtrade_exec_ext.redact`).  Every step is attempted even if an earlier
one failed, and each failure is reported.  Note: ``paused`` lasts until the bot restarts.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from freqtrade_exec_ext.errors import InputRefused
from freqtrade_exec_ext.redact import mask_url

USER_VAR = "FREQTRADE__API_SERVER__USERNAME"
PASSWORD_VAR = "FREQTRADE__API_SERVER__PASSWORD"  # noqa: S105 - a variable name
TIMEOUT_S = 15.0
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class KillError(InputRefused):
    """Bad input for the kill switch (one clear line)."""


@dataclass
class KillReport:
    url: str
    steps: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    open_trades: int | None = None
    open_orders: int | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


def check_url(url: str) -> str:
    shown = mask_url(url)
    try:
        parsed = urlparse(url)
        host = parsed.hostname
    except ValueError:
        raise KillError(f"--url {shown!r}: not a URL; expected http://127.0.0.1:<port>") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise KillError(f"--url {shown!r}: expected http://127.0.0.1:<port>")
    if "@" in parsed.netloc:
        raise KillError(
            f"--url {shown!r}: credentials in the URL are not used (they would end up in "
            "shell history and process lists); set FREQTRADE__API_SERVER__USERNAME and "
            "FREQTRADE__API_SERVER__PASSWORD instead"
        )
    if parsed.scheme == "http" and host not in LOOPBACK:
        raise KillError(
            f"--url {shown!r}: plain http to a non-loopback host would send the API password "
            "unencrypted; use https or an SSH tunnel to 127.0.0.1"
        )
    return url.rstrip("/")


@dataclass(frozen=True)
class Expected:
    """The bot the kill switch may act on."""

    strategy: str  # the strategy class, e.g. STR001
    bot_name: str | None = None  # e.g. "STR-001 paper" (config.json bot_name)
    dry_run: bool | None = None  # paper: True; testnet and live: False

    def mismatch(self, cfg: Any) -> str | None:
        if not isinstance(cfg, dict):
            return "its configuration could not be read"
        got = (cfg.get("bot_name"), cfg.get("strategy"), cfg.get("dry_run"))
        want = (self.bot_name, self.strategy, self.dry_run)
        names = ("bot_name", "strategy", "dry_run")
        wrong = [f"{n} {g!r}, not {w!r}" for n, g, w in zip(names, got, want, strict=True)
                 if w is not None and g != w]  # fmt: skip
        return "; ".join(wrong) or None


class _Api:
    def __init__(self, base: str, user: str, password: str) -> None:
        self.base = base
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(  # noqa: S310 - scheme checked in check_url
            f"{self.base}/api/v1/{path}", data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", errors="replace")
            raise RuntimeError(f"{method} /api/v1/{path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RuntimeError(f"{method} /api/v1/{path}: {reason}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise RuntimeError(f"{method} /api/v1/{path}: answer is not JSON") from None


def kill(
    url: str,
    username: str,
    password: str,
    *,
    expected: Expected,
    flatten: bool = False,
) -> KillReport:
    api = _Api(check_url(url), username, password)
    report = KillReport(mask_url(api.base))

    def step(label: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            answer = api.call(method, path, body)
        except RuntimeError as exc:
            report.failures.append(f"{label}: {exc}")
            return None
        msg = answer.get("status") or answer.get("result") if isinstance(answer, dict) else None
        report.steps.append(f"{label}: ok" + (f" ({msg})" if msg else ""))
        return answer

    try:
        cfg = api.call("GET", "show_config")
    except RuntimeError as exc:
        report.failures.append(f"bot identity: {exc}")
        return report  # unreachable or wrong credentials: nothing else will work
    wrong = expected.mismatch(cfg)
    if wrong:
        report.failures.append(
            f"bot identity: {report.url} is not the expected bot ({wrong}); nothing was done "
            "(pass the right --stage or --url)"
        )
        return report
    report.steps.append(f"bot identity: ok ({cfg.get('bot_name')}, {cfg.get('strategy')})")
    step("stop new entries", "POST", "stopentry")
    trades = step("list open trades", "GET", "status")
    for trade in trades if isinstance(trades, list) else []:
        if trade.get("has_open_orders"):
            _cancel(api, report, trade)
    if flatten:
        step("exit every position (market)", "POST", "forceexit",
             {"tradeid": "all", "ordertype": "market"})  # fmt: skip
    after = step("remaining open trades", "GET", "status")
    if isinstance(after, list):
        report.open_trades = len(after)
        report.open_orders = sum(1 for t in after if t.get("has_open_orders"))
    return report


def _cancel(api: _Api, report: KillReport, trade: dict[str, Any]) -> None:
    """Cancel a trade's open entry/exit order.  Cancelling an unfilled entry makes
    Freqtrade delete the trade, and the endpoint then answers an error although the order
    is gone: the status is read again to tell the two apart."""
    tid = trade.get("trade_id")
    label = f"cancel open order of trade {tid} ({trade.get('pair')})"
    try:
        api.call("DELETE", f"trades/{tid}/open-order")
    except RuntimeError as exc:
        try:
            now = api.call("GET", "status")
        except RuntimeError:
            now = None
        if isinstance(now, list):
            left = [t for t in now if t.get("trade_id") == tid]
            if not left or not left[0].get("has_open_orders"):
                report.steps.append(f"{label}: ok (order cancelled; unfilled trade removed)")
                return
        report.failures.append(f"{label}: {exc}")
        return
    report.steps.append(f"{label}: ok")
