"""Secrets scan of a deployment folder (pure).

Two kinds of detector run on every line of every file:

* **named values**: a key whose name says "secret" (``key``, ``secret``, ``password``,
  ``token``, ``jwt_secret_key``, ``webhook_url``, ``chat_id``, ``..._PASSWORD`` ...) with a
  non-empty value, in JSON (``"secret": "..."``), YAML (``password: ...``) or env files
  (``FREQTRADE__EXCHANGE__KEY=...``).  Empty values and references (``${VAR}``,
  ``$VAR``) are fine: that is how the generator leaves secrets out.
* **shapes**: private-key blocks, Telegram bot tokens, Discord/Slack webhook URLs, URLs
  with a password or a token in the query, JWTs, AWS/GitHub tokens and 64-character
  mixed-case API keys (Binance and others), wherever they appear.

A finding names the file, the line and the kind, never the value.  ``.env`` is the one
file meant to hold secrets: its content is not scanned, but it must not be readable by
group or others.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 2 * 1024 * 1024
ENV_FILE_NAME = ".env"  # the one file meant to hold secrets

_EXACT_NAMES = {
    "key",
    "apikey",
    "api_key",
    "secret",
    "secret_key",
    "secretkey",
    "password",
    "passwd",
    "passphrase",
    "token",
    "ws_token",
    "access_token",
    "auth_token",
    "bot_token",
    "jwt_secret_key",
    "private_key",
    "privatekey",
    "webhook_url",
    "chat_id",
    "uid",
    "wallet_address",
    "walletaddress",
    "account_id",
}
_SUFFIXES = (
    "_password",
    "_passwd",
    "_secret",
    "_secret_key",
    "_token",
    "_api_key",
    "_apikey",
    "_private_key",
    "_passphrase",
    "_webhook_url",
)
# "name": "value" | name: value | NAME=value  (value: quoted, or up to space/comma/#)
_NAMED = re.compile(
    r"""(?P<q>["']?)(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P=q)\s*(?P<op>[:=])[ \t]*"""
    r"""(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>[^']*)'|(?P<bare>\$\{[^}]*\}|[^\s,#}\]]*))"""
)
# ${VAR}, ${VAR:?message}, ${VAR:-} (an empty default); not ${VAR:-a-default-secret}
_PLACEHOLDER = re.compile(
    r"^(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*|:?-)?\}|\$[A-Za-z_][A-Za-z0-9_]*"
    r"|REDACTED|null|true|false)$"
)

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key block", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")),
    ("Telegram bot token", re.compile(r"(?<![\w])\d{6,12}:[A-Za-z0-9_-]{30,}(?![\w-])")),
    (
        "Discord webhook URL (carries its token)",
        re.compile(r"https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]+"),
    ),
    (
        "Slack webhook URL (carries its token)",
        re.compile(r"https://hooks\.slack\.com/services/[\w/]+"),
    ),
    (
        "URL with a password",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"']+:(?!\$\{)[^/\s@\"']+@"),
    ),
    (
        "URL with a token in its query",
        re.compile(
            r"[?&](?:token|key|apikey|api_key|secret|sig|signature|access_token|auth)"
            r"=[^&\s\"'$]{6,}",
            re.IGNORECASE,
        ),
    ),
    ("JSON web token", re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
)
_LONG_KEY = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")


@dataclass(frozen=True)
class SecretFinding:
    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.kind} (value not shown)"


def sensitive_name(name: str) -> bool:
    """``FREQTRADE__EXCHANGE__SECRET`` / ``exchange.secret`` / ``"password"`` -> True."""
    last = re.split(r"__|\.", name)[-1].lower().replace("-", "_")
    return last in _EXACT_NAMES or last.endswith(_SUFFIXES)


def _looks_like_api_key(token: str) -> bool:
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )


def scan_text(text: str, path: str) -> list[SecretFinding]:
    out: list[SecretFinding] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        kinds: list[str] = []
        for m in _NAMED.finditer(line):
            if not sensitive_name(m.group("name")):
                continue
            value = next((g for g in (m.group("dq"), m.group("sq"), m.group("bare")) if g), "")
            value = value.strip()
            if value and not _PLACEHOLDER.match(value):
                kinds.append(f"value for '{m.group('name')}'")
        for kind, pattern in _SHAPES:
            if pattern.search(line):
                kinds.append(kind)
        if any(_looks_like_api_key(t) for t in _LONG_KEY.findall(line)):
            kinds.append("64-character API key")
        for kind in dict.fromkeys(kinds):
            out.append(SecretFinding(path, lineno, kind))
    return out


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        yield path


def scan_folder(folder: Path) -> tuple[list[SecretFinding], int]:
    """(findings, number of files scanned) for every file below ``folder``."""
    findings: list[SecretFinding] = []
    scanned = 0
    for path in _files(folder):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            findings.append(SecretFinding(rel, 0, "symbolic link (not followed, not scanned)"))
            continue
        if rel == ENV_FILE_NAME:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                findings.append(
                    SecretFinding(
                        rel,
                        0,
                        f"secrets file readable by group/others (mode "
                        f"{stat.S_IMODE(mode):o}); run: chmod 600 {path}",
                    )
                )
            continue
        scanned += 1
        if path.stat().st_size > MAX_BYTES:
            findings.append(SecretFinding(rel, 0, f"larger than {MAX_BYTES} bytes (not scanned)"))
            continue
        data = path.read_bytes()
        if b"\x00" in data[:8192]:
            findings.append(SecretFinding(rel, 0, "binary file (not scanned)"))
            continue
        findings += scan_text(data.decode("utf-8", errors="replace"), rel)
    return findings, scanned
