"""The secrets corpus: secret shapes the scan must catch and look-alikes it must not.

Every value is made at run time from a seeded generator (this file holds no secret, and
no string a secret scanner would take for one); each case is (name, file name, text,
line of the secret, the secret).
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid

A62 = string.ascii_letters + string.digits
HEXD = "0123456789abcdef"


class Gen:
    def __init__(self, seed: int = 14) -> None:
        self.rng = random.Random(seed)

    def chars(self, n: int, alphabet: str = A62) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def hex(self, n: int) -> str:
        return self.chars(n, HEXD)

    def b64(self, nbytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(nbytes)).decode()

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _config(section: dict) -> str:
    return json.dumps(section, indent=2) + "\n"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def secret_cases(g: Gen | None = None) -> list[tuple[str, str, str, int, str]]:
    g = g or Gen()
    out: list[tuple[str, str, str, int, str]] = []

    def add(name: str, file: str, text: str, needle: str) -> None:
        out.append((name, file, text, _line_of(text, needle), needle))

    def in_config(name: str, tree: dict, needle: str) -> None:
        add(name, "config.json", _config(tree), needle)

    k = g.hex(64)
    add("bare 64-hex key line (openssl rand -hex 32)", "notes.txt", f"keys\n{k}\n", k)
    k = g.b64(32)
    add("bare base64 key line (openssl rand -base64 32)", "notes.txt", f"{k}\n", k)
    k = g.chars(64)
    in_config("Binance key in exchange.key", {"exchange": {"name": "binance", "key": k}}, k)
    k = g.chars(64)
    add("Binance secret in an env file", ".env.example", f"FREQTRADE__EXCHANGE__SECRET={k}\n", k)
    k = g.uuid()
    in_config("OKX key (a UUID) in exchange.key", {"exchange": {"name": "okx", "key": k}}, k)
    k = g.hex(32).upper()
    in_config("OKX secret in exchange.secret", {"exchange": {"name": "okx", "secret": k}}, k)
    k = "Pass" + g.chars(8) + "!"
    in_config("OKX passphrase in exchange.password", {"exchange": {"password": k}}, k)
    k = g.chars(12)
    add("OKX passphrase in an env file", ".env.bak", f"FREQTRADE__EXCHANGE__PASSWORD={k}\n", k)
    k = g.chars(18)
    add("Bybit key in YAML", "bybit.yml", f"bybit:\n  bybit_api_key: {k}\n", k)
    k = g.chars(36)
    add("Bybit secret in shell export", "run.sh", f"export BYBIT_API_SECRET={k}\n", k)
    k = g.b64(64)
    add("Kraken base64 secret, unlabelled", "kraken.txt", f"private:\n{k}\n", k)
    k = g.b64(64)
    in_config("Kraken secret in exchange.secret", {"exchange": {"name": "kraken", "secret": k}}, k)
    k = g.chars(68, A62 + "-_")
    w = f"discord.com/api/webhooks/{g.chars(18, string.digits)}/{k}"
    add("Discord webhook without https://", "alerts.md", f"hook: {w}\n", k)
    add("Discord webhook with https://", "alerts.md", f"see https://{w} for alerts\n", k)
    k = g.chars(22, A62 + "-_")
    u = f"https://maker.ifttt.com/trigger/exec_alert/with/key/{k}"
    add("IFTTT key in a URL path", "notes.md", f"IFTTT: {u}\n", k)
    k = g.chars(40, A62 + "._-")
    add("Authorization: Bearer header", "curl.txt", f"Authorization: Bearer {k}\n", k)
    k = g.chars(64)
    in_config("ccxt header X-MBX-APIKEY", {"exchange": {"ccxt_config": {"headers": {
        "X-MBX-APIKEY": k}}}}, k)  # fmt: skip
    k = g.chars(64)
    add("ccxt headers in YAML flow style", "ccxt.yml",
        f"ccxt_config:\n  headers: {{X-MBX-APIKEY: {k}}}\n", k)  # fmt: skip
    k = g.chars(64)
    text = '{\n  "exchange": {\n    "secret":\n      "' + k + '"\n  }\n}\n'
    add('"secret": with its value on the next line (JSON)', "config.json", text, k)
    k = g.chars(48)
    add("secret: value on the next line (YAML)", "keys.yml", f"secret:\n  {k}\n", k)
    u = f"https://hooks.example.net/notify/{g.chars(10, string.ascii_lowercase)}"
    in_config("webhook URL in Freqtrade's webhook.url", {"webhook": {"enabled": True, "url": u}}, u)
    u = f"https://hooks.example.net/{g.chars(8, string.ascii_lowercase)}"
    add("webhook URL in FREQTRADE__WEBHOOK__URL", ".env.local", f"FREQTRADE__WEBHOOK__URL={u}\n", u)
    k = f"{g.chars(10, string.digits)}:AA{g.chars(33, A62 + '_-')}"
    in_config("Telegram token in telegram.token", {"telegram": {"token": k}}, k)
    k = f"{g.chars(10, string.digits)}:AA{g.chars(33, A62 + '_-')}"
    add("Telegram token in a comment", "docker-compose.yml", f"# bot {k}\nservices: {{}}\n", k)
    k = g.chars(14)
    in_config("API password in api_server.password", {"api_server": {"password": k}}, k)
    k = g.hex(64)
    in_config("JWT secret in api_server.jwt_secret_key", {"api_server": {
        "jwt_secret_key": k}}, k)  # fmt: skip
    k = g.chars(12)
    in_config("db_url with a password", {"db_url": f"postgresql+psycopg://ft:{k}@db/ft"}, k)
    k = g.chars(40)
    add("token in URL userinfo", "clone.sh", f"git clone https://{k}@github.com/o/r.git\n", k)
    k = g.chars(32)
    add("token in a URL query", "notes.md", f"GET https://api.example.net/v1/x?apikey={k}\n", k)
    k = f"T{g.chars(8).upper()}/B{g.chars(8).upper()}/{g.chars(24)}"
    add("Slack webhook URL", "alerts.txt", f"https://hooks.slack.com/services/{k}\n", k)
    k = f"xoxb-{g.chars(11, string.digits)}-{g.chars(13, string.digits)}-{g.chars(24)}"
    add("Slack bot token", "slack.txt", f"{k}\n", k)
    k = "gh" + "p_" + g.chars(36)
    add("GitHub classic token", "ci.txt", f"token {k}\n", k)
    k = "github" + "_pat_" + g.chars(82, A62 + "_")
    add("GitHub fine-grained token", "ci.txt", f"{k}\n", k)
    k = "AK" + "IA" + g.chars(16, string.ascii_uppercase + string.digits)
    add("AWS access key id", "aws.ini", f"id = {k}\n", k)
    k = g.chars(40, A62 + "+/")
    add("AWS secret access key", "aws.ini", f"aws_secret_access_key = {k}\n", k)
    pem = "-----BEGIN " + "RSA PRIVATE KEY-----"
    add("RSA private key block", "id_rsa", f"{pem}\n{g.b64(48)}\n", pem)
    pem = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
    add("OpenSSH private key block", ".ssh/key", f"{pem}\n{g.b64(48)}\n", pem)
    k = "eyJ" + g.chars(20, A62 + "_-") + ".eyJ" + g.chars(40, A62 + "_-") + "." + g.chars(43)
    add("JSON web token", "session.txt", f"cookie: {k}\n", k)
    k = "sk" + "_live_" + g.chars(24)
    add("Stripe live key", "billing.txt", f"{k}\n", k)
    k = "AI" + "za" + g.chars(35, A62 + "_-")
    add("Google API key", "maps.txt", f"maps {k}\n", k)
    k = "sk-" + "proj-" + g.chars(48, A62 + "_-")
    add("OpenAI key", "llm.txt", f"{k}\n", k)
    k = "np" + "m_" + g.chars(36)
    add("npm token", ".npmrc", f"//registry.npmjs.org/:_authToken={k}\n", k)
    k = "pypi-" + "AgEIcHlwaS5vcmc" + g.chars(60, A62 + "_-")
    add("PyPI token", ".pypirc", f"password = {k}\n", k)
    k = "SG." + g.chars(22, A62 + "_-") + "." + g.chars(43, A62 + "_-")
    add("SendGrid key", "mail.txt", f"{k}\n", k)
    k = "dckr" + "_pat_" + g.chars(27, A62 + "_-")
    add("Docker Hub token", "docker.txt", f"{k}\n", k)
    k = "h" + "f_" + g.chars(34)
    add("Hugging Face token", "hf.txt", f"{k}\n", k)
    k = base64.b64encode(f"admin:{g.chars(16)}".encode()).decode()
    add("Basic credentials header", "curl.txt", f"Authorization: Basic {k}\n", k)
    k = g.chars(24)
    in_config("websocket token in api_server.ws_token", {"api_server": {"ws_token": [k]}}, k)
    k = g.chars(64)
    in_config("ccxt_config.apiKey", {"exchange": {"ccxt_config": {"apiKey": k}}}, k)
    k = g.hex(64)
    in_config("wallet private key in exchange.private_key", {"exchange": {
        "private_key": "0x" + k}}, k)  # fmt: skip
    k = g.chars(64)
    add("exported exchange key", "env.sh", f"export BINANCE_API_KEY='{k}'\n", k)
    k = g.b64(64)
    add("Azure storage key", "azure.txt",
        f"DefaultEndpointsProtocol=https;AccountName=x;AccountKey={k}\n", k)  # fmt: skip
    k = g.chars(40)
    add("unlabelled 40-character token in prose", "README.md", f"use {k} to log in\n", k)
    k = g.chars(36)
    add("Bybit X-BAPI-API-KEY header", "req.http", f"X-BAPI-API-KEY: {k}\n", k)
    k = g.chars(14)
    add("OKX OK-ACCESS-PASSPHRASE header", "req.http", f"OK-ACCESS-PASSPHRASE: {k}\n", k)
    k = f"{g.chars(10, string.digits)}:AA{g.chars(33, A62 + '_-')}"
    add("Telegram token in YAML", "alerts.yml", f"telegram:\n  token: {k}\n", k)
    return out


def benign_cases(g: Gen | None = None) -> list[tuple[str, str, str]]:
    g = g or Gen(41)
    h64, h40 = g.hex(64), g.hex(40)
    return [
        ("contract_sha256 in config.json", "config.json",
         _config({"exec_ext": {"contract_sha256": g.hex(64), "stage": "paper"}})),
        ("digest of an approval", "live.json", _config({"digest": g.hex(64)})),
        ("fingerprint field", "manifest.json", _config({"contract": {"fingerprint": h64}})),
        ("a sha256 on the next line", "manifest.json",
         '{\n  "config_sha256":\n    "' + g.hex(64) + '"\n}\n'),
        ("image pinned by digest", "docker-compose.yml",
         f"services:\n  ft:\n    image: freqtradeorg/freqtrade@sha256:{g.hex(64)}\n"),
        ("git commit id", "CHANGES.md", f"commit {h40}\nAuthor: someone\n"),
        ("commit URL", "CHANGES.md", f"https://github.com/freqtrade/freqtrade/commit/{g.hex(40)}\n"),
        ("VCS pin", "requirements.txt", f"git+https://github.com/o/r.git@{g.hex(40)}#egg=r\n"),
        ("pip hash", "requirements.txt", f"ccxt==4.5.90 --hash=sha256:{g.hex(64)}\n"),
        ("checksum field", "data.yml", f"checksum: {g.hex(64)}\n"),
        ("a UUID trade id", "trades.json", _config({"trade_uuid": g.uuid()})),
        ("sort_key of VolumePairList", "config.json",
         _config({"pairlists": [{"method": "VolumePairList", "sort_key": "quoteVolume"}]})),
        ("required variable placeholders", "docker-compose.yml",
         "environment:\n  FREQTRADE__EXCHANGE__KEY: \"${FREQTRADE__EXCHANGE__KEY:?set it}\"\n"),
        ("empty secrets", "config.json", _config({"exchange": {"key": "", "secret": ""},
                                                   "telegram": {"token": ""}})),
        ("paths and identifiers", "notes.md",
         (".crypto/knowledge/strategies/STR-001/risk-assessment.yaml recent_quote_volume_5m "
          "usdm_BTC_USDT_USDT-l2top20-1s /work/shared/data/binance-l2-trades-2024-08-08\n")),
        ("a URL with a user but no password", "config.json",
         _config({"db_url": "postgresql+psycopg://freqtrade@postgres:5432/str_001_paper"})),
        ("OKX demo header", "config.json",
         _config({"exchange": {"ccxt_config": {"headers": {"x-simulated-trading": "1"}}}})),
        ("documented placeholder password", "stages.md",
         "freqtrade-exec kill STR-001 --url 'http://user:PASSWORD@127.0.0.1:8080'\n"),
        ("command substitution", "setup.sh",
         "export FREQTRADE__EXCHANGE__KEY=$(openssl rand -hex 32)\n"),
        ("a repeated test pattern", "notes.txt", "0123456789abcdef" * 4 + "\n"),
    ]
