"""What counts as a secret: names, shapes and entropy (pure; used by ``secrets.py``).

* **Names.**  Freqtrade's and ccxt's credential slots by path (``exchange.key``,
  ``exchange.secret``, ``exchange.password`` (OKX passphrase), ``exchange.uid``,
  ``ccxt_config.apiKey``, ``webhook.url``, ``discord.webhook_url``, ``telegram.token``,
  ``api_server.password`` / ``jwt_secret_key`` / ``ws_token``, credential headers such as
  ``X-MBX-APIKEY`` or ``OK-ACCESS-PASSPHRASE``), and any key named like a secret
  (``*_secret``, ``*_password``, ``*_token``, ``*_api_key``, ``Authorization`` ...).  A
  *weak* name (``key``, ``*_key``, ``uid``, ``*_sign``) counts only with a token-like value,
  so ``sort_key: quoteVolume`` is not a finding.
* **Shapes.**  Tokens with a known prefix or form, anywhere: URL userinfo, query and path
  tokens, ``Bearer``/``Basic`` credentials, webhooks of Discord (with or without
  ``https://``), Slack and IFTTT, private-key blocks, JWTs, cloud and code-host tokens.
* **Entropy.**  An unlabelled long token (hex of 32+ characters, or 20+ characters of
  letters and digits) whose characters are spread like random ones.  Hashes *in context*
  are not findings: a value of a key named like ``*sha256*``, ``digest``, ``fingerprint``,
  ``checksum``, ``commit``; ``@sha256:``/``sha256:`` digests; git commit ids after
  ``commit``, ``/commit/``, ``/tree/``, ``/blob/`` or a VCS ``@``; UUIDs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import pairwise

# ---------------------------------------------------------------------------- names
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
STRONG_EXACT = frozenset({
    "secret", "password", "passwd", "passphrase", "pwd", "token", "apikey", "api_key",
    "private_key", "privatekey", "secret_key", "secretkey", "jwt_secret_key", "access_key",
    "access_token", "auth_token", "bot_token", "ws_token", "refresh_token", "webhook_url",
    "webhookurl", "authorization", "proxy_authorization", "credentials", "client_secret",
    "twofa", "mnemonic", "seed_phrase",
})  # fmt: skip
STRONG_SUFFIXES = (
    "_secret", "_password", "_passwd", "_passphrase", "_pwd", "_token", "_apikey", "_api_key",
    "_private_key", "_secret_key", "_access_key", "_webhook_url", "_webhook", "_credentials",
    "_auth",
)  # fmt: skip
WEAK_EXACT = frozenset({"key", "uid", "login", "chat_id", "account_id", "wallet_address",
                        "walletaddress", "accountid", "sign", "signature", "cookie"})  # fmt: skip
WEAK_SUFFIXES = ("_key", "_uid", "_sign", "_signature", "_id_key")
CCXT_CREDENTIALS = frozenset({"apikey", "api_key", "key", "secret", "password", "uid",
                              "login", "twofa", "privatekey", "private_key", "walletaddress",
                              "wallet_address", "token", "accountid", "account_id"})  # fmt: skip
CCXT_SECTIONS = ("ccxt_config", "ccxt_async_config", "ccxt_sync_config")
#: (section, key) slots of Freqtrade's config that hold a secret
FREQTRADE_SLOTS: dict[tuple[str, str], str] = {
    ("webhook", "url"): "webhook URL (webhook.url)",
    ("webhook", "webhook_url"): "webhook URL (webhook.webhook_url)",
    ("discord", "webhook_url"): "Discord webhook URL (discord.webhook_url)",
    ("telegram", "token"): "Telegram token (telegram.token)",
    ("telegram", "chat_id"): "Telegram chat id (telegram.chat_id)",
    ("api_server", "password"): "API password (api_server.password)",
    ("api_server", "jwt_secret_key"): "JWT secret (api_server.jwt_secret_key)",
    ("api_server", "ws_token"): "websocket token (api_server.ws_token)",
    ("external_message_consumer", "ws_token"): "websocket token (ws_token)",
}
_HASH_PART = re.compile(
    r"^(?:sha\d*|sha\d+sum|md5|digest|fingerprint|hash|checksum|commit|revision|rev|etag"
    r"|integrity)$"
)


def normalize(name: str) -> str:
    """``X-MBX-APIKEY`` -> ``x_mbx_apikey``; ``apiKey`` -> ``api_key``."""
    return _CAMEL.sub("_", name.strip().strip("\"'")).lower().replace("-", "_")


def name_path(name: str) -> tuple[str, ...]:
    """``FREQTRADE__WEBHOOK__URL`` -> ``("webhook", "url")``; ``exchange.key`` -> ... ."""
    parts = [normalize(p) for p in re.split(r"__|\.", name) if p]
    if parts and parts[0] == "freqtrade":
        parts = parts[1:]
    return tuple(parts)


def name_strength(name: str) -> str | None:
    """``"strong"``, ``"weak"`` or None for a key name's last part."""
    last = normalize(re.split(r"__|\.", name)[-1])
    plain = last.replace("_", "")
    if last in STRONG_EXACT or plain in STRONG_EXACT or last.endswith(STRONG_SUFFIXES):
        return "strong"
    if last in WEAK_EXACT or last.endswith(WEAK_SUFFIXES) or plain.endswith("apikey"):
        return "weak"
    return None


def slot_kind(path: tuple[str, ...], label: str | None = None) -> str | None:
    """The kind of a Freqtrade/ccxt credential slot at ``path`` (normalized parts);
    ``label``: the key as written, for the message."""
    if len(path) >= 2 and path[-2:] in FREQTRADE_SLOTS:
        return FREQTRADE_SLOTS[path[-2:]]  # type: ignore[index]
    if len(path) >= 2 and path[-2] == "exchange" and path[-1] in CCXT_CREDENTIALS:
        return f"exchange credential (exchange.{path[-1]})"
    if any(s in path for s in CCXT_SECTIONS):
        if "headers" in path[:-1] and name_strength(path[-1]):
            return f"ccxt credential header ({label or path[-1]})"
        if path[-1] in CCXT_CREDENTIALS:
            return f"ccxt credential ({label or path[-1]})"
    return None


def hash_named(name: str) -> bool:
    """``contract_sha256``, ``digest``, ``git_commit`` ...: the value is a hash."""
    n = normalize(re.split(r"__|\.", name)[-1])
    parts = [p for p in re.split(r"_+", n) if p]
    return any(_HASH_PART.match(p) for p in parts) and not n.endswith(STRONG_SUFFIXES)


# ---------------------------------------------------------------------------- values
_PLACEHOLDER = re.compile(
    r"^(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*|:?-)?\}|\$[A-Za-z_][A-Za-z0-9_]*|\$\(.*"
    r"|\{\{[^}]*\}\}|<[^<>]*>|\*+|\.{3}|x{3,}|X{3,}|REDACTED|redacted|null|none|None|true"
    r"|false|True|False|changeme|CHANGEME|[A-Z][A-Z_]{2,}|your[_-][\w-]*|YOUR[_-][\w-]*)$"
)


def placeholder(value: str) -> bool:
    """Empty, a reference (``${VAR}``), or an obvious stand-in (``<key>``, ``***``)."""
    return not value.strip() or bool(_PLACEHOLDER.match(value.strip()))


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _repeated(token: str) -> bool:
    """``abcabcabc...``: a short unit repeated."""
    for size in range(1, len(token) // 2 + 1):
        if len(token) % size == 0 and token[:size] * (len(token) // size) == token:
            return True
    return False


_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_IDENTIFIER = re.compile(r"^[A-Za-z]+(?:[_-][A-Za-z]+|[0-9]{1,4})*[0-9]{0,4}$")
_RUN = re.compile(r"[^_\-./@:]+")
#: a part of a token shorter than this between separators is a word, not a key
MIN_SEGMENT = 16


def token_like(value: str) -> bool:
    """A value that could be a key: no spaces, 8+ characters, letters and digits mixed."""
    v = value.strip()
    if len(v) < 8 or any(c.isspace() for c in v) or placeholder(v) or _IDENTIFIER.match(v):
        return False
    classes = sum((any(c.islower() for c in v), any(c.isupper() for c in v),
                   any(c.isdigit() for c in v), any(not c.isalnum() for c in v)))  # fmt: skip
    return classes >= 2 and entropy(v) >= 2.5


def _class(c: str) -> str:
    return "d" if c.isdigit() else "u" if c.isupper() else "l"


def _transitions(text: str) -> float:
    """Share of neighbours of another class (lower/upper/digit): random text ~0.5."""
    chars = [c for c in text if c.isalnum()]
    if len(chars) < 2:
        return 0.0
    return sum(_class(a) != _class(b) for a, b in pairwise(chars)) / (len(chars) - 1)


def _random_part(part: str) -> bool:
    if _repeated(part) or _UUID.match(part):
        return False
    if _HEX.match(part):
        return len(part) >= 32 and entropy(part) >= 3.0
    if len(part) < 20 or _IDENTIFIER.match(part):
        return False
    alnum = [c for c in part if c.isalnum()]
    digits = sum(c.isdigit() for c in alnum)
    if not digits or digits == len(alnum):
        return False
    mixed = any(c.islower() for c in alnum) and any(c.isupper() for c in alnum)
    ratio = _transitions(part)
    if mixed:
        return ratio >= 0.33 and entropy(part) >= min(4.0, math.log2(len(part)) - 0.8)
    share = digits / len(alnum)  # single case: letters and digits evenly mixed
    return len(part) >= 24 and ratio >= 0.15 and 0.15 <= share <= 0.6 and entropy(part) >= 3.8


def random_parts(token: str) -> list[tuple[int, str]]:
    """``(offset, part)`` of the parts of ``token`` that look random enough to be a key.

    A path or an identifier (parts shorter than :data:`MIN_SEGMENT` between
    ``_ - . / @ :``) has none; base64 (``+`` or ``=`` padding) is judged whole.
    """
    if "+" in token or token.endswith("="):
        return [(0, token)] if _random_part(token) else []
    runs = [(m.start(), m.group(0)) for m in _RUN.finditer(token)]
    if len(runs) == 1:
        return [(0, token)] if _random_part(token) else []
    return [(o, p) for o, p in runs if len(p) >= MIN_SEGMENT and _random_part(p)]


def random_token(token: str) -> bool:
    """An unlabelled token that looks random enough to be a key (see the module doc)."""
    return bool(random_parts(token))


# ---------------------------------------------------------------------------- shapes
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key block", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("Telegram bot token", re.compile(r"(?<![\w])\d{6,12}:[A-Za-z0-9_-]{30,}(?![\w-])")),
    (
        "Discord webhook URL (carries its token)",
        re.compile(r"(?:[\w-]+\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]{16,}"),
    ),
    (
        "Slack webhook URL (carries its token)",
        re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[\w/]{10,}"),
    ),
    ("IFTTT webhook key", re.compile(r"maker\.ifttt\.com/\S*?(?:key|use)/[A-Za-z0-9_-]{10,}")),
    ("Slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
    ("Bearer token", re.compile(r"\bBearer\s+(?!\$\{)[A-Za-z0-9._~+/=-]{12,}")),
    ("Basic credentials", re.compile(r"\bBasic\s+(?!\$\{)[A-Za-z0-9+/]{12,}={0,2}")),
    ("JSON web token", re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{50,})")),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("Stripe key", re.compile(r"\b(?:sk|rk)_live_[A-Za-z0-9]{16,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("OpenAI/Anthropic key", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("PyPI token", re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,}")),
    ("SendGrid key", re.compile(r"\bSG\.[\w-]{16,}\.[\w-]{16,}")),
    ("Twilio key", re.compile(r"\bSK[0-9a-f]{32}\b")),
    ("Docker Hub token", re.compile(r"\bdckr_pat_[A-Za-z0-9_-]{20,}")),
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("Mailgun key", re.compile(r"\bkey-[0-9a-f]{32}\b")),
    ("DigitalOcean token", re.compile(r"\bdo[opr]_v1_[a-f0-9]{64}\b")),
    ("Shopify token", re.compile(r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b")),
    ("Azure storage key", re.compile(r"AccountKey=[A-Za-z0-9+/]{40,}={0,2}")),
)
URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>`]+")
_QUERY_SECRET = re.compile(
    r"^(?:token|key|apikey|api_key|secret|sig|signature|access_token|auth|password|pass|pwd"
    r"|client_secret|code|hash_key|private_token|webhook_key)$",
    re.IGNORECASE,
)
_COMMIT_BEFORE = re.compile(
    r"(?:/commit/|/commits/|/tree/|/blob/|/raw/|@|commit\s+)$", re.IGNORECASE
)
_HASH_BEFORE = re.compile(r"(?:sha\d{0,3}|md5)[:=@-]$", re.IGNORECASE)


def url_findings(text: str) -> list[str]:
    """Kinds of credentials inside the URLs of ``text`` (userinfo, query, path)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    out: list[str] = []
    for m in URL.finditer(text):
        try:
            parts = urlsplit(m.group(0).rstrip(".,;)]}"))
        except ValueError:
            continue
        if "@" in parts.netloc:
            userinfo = parts.netloc.rpartition("@")[0]
            user, _, password = userinfo.partition(":")
            if password and not placeholder(unquote(password)):
                out.append("URL with a password")
            elif not password and random_token(user):
                out.append("token in URL userinfo")
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if _QUERY_SECRET.match(key) and len(value) >= 6 and not placeholder(value):
                out.append("URL with a token in its query")
                break
        segments = [s for s in parts.path.split("/") if s]
        for i, seg in enumerate(segments):
            before = "/" + "/".join(segments[:i]) + "/"
            if any(not hash_context(before + seg[:o], part) for o, part in random_parts(seg)):
                out.append("token in URL path")
                break
    return out


def hash_context(before: str, token: str) -> bool:
    """Whether ``token`` is a hash by what precedes it on its line."""
    if _HASH_BEFORE.search(before) or (_HEX.match(token) and _COMMIT_BEFORE.search(before)):
        return True
    key = re.search(r"([A-Za-z_][\w.-]*)[\"']?\s*[:=]\s*[\"']?\s*$", before)
    return bool(key and hash_named(key.group(1)))
