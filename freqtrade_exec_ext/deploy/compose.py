"""docker-compose.yml, Dockerfile, .env.example (pure text builders).

Layout inside the container (Freqtrade's official image, working directory
``/freqtrade`` = the project root):

* ``user_data/`` is mounted read-write (strategies, data, the stage database, logs);
* the contract and config.json are mounted read-only at their project paths, so the
  relative paths written in config.json (``exec_ext.risk_contract``, ``db_url``, log file)
  resolve the same way on the host and in the container;
* secrets reach the bot only as environment variables from ``.env`` (``env_file``); the
  ones the bot cannot run safely without are also listed with ``${VAR:?...}`` so that
  ``docker compose up`` refuses to start while they are empty;
* the REST API (kill switch, FreqUI) listens on 0.0.0.0 *inside* the container and is
  published on 127.0.0.1 only;
* with ``--exchange local`` the local exchange runs as the ``localex`` service, whose
  network namespace the bot shares; on testnet it receives the exchange key pair (only
  that pair, interpolated from ``.env``), so it accepts exactly the keys the bot signs with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlparse

from freqtrade_exec_ext.deploy import monitoring as mon
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.localex.daemon import READY_PATH

LOG_OPTIONS = {"max-size": "10m", "max-file": "5"}
POSTGRES_IMAGE = "postgres:17-alpine"
#: the volume every bot of the host mounts for the shared request budget (SQLite, WAL)
SHARED_VOLUME = "exec-ext-shared"
SHARED_VOLUME_NAME = "freqtrade-exec-shared"
SHARED_MOUNT = "/freqtrade/shared"
GRAFANA_PASSWORD_VAR = "GRAFANA_ADMIN_PASSWORD"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class ComposeInput:
    strategy_id: str
    stage: st.Stage
    db: st.DbKind
    api_port: int
    freqtrade_version: str
    local_url: str | None  # set when the bot trades on the project's local exchange
    exchange_key_vars: tuple[str, ...]  # required exchange credential variables (may be ())
    local_serve_args: tuple[str, ...] = ()  # extra `exchange serve` options (no secrets)

    @property
    def local_port(self) -> int | None:
        if not self.local_url:
            return None
        return urlparse(self.local_url).port or 80


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def _required(var: str) -> str:
    return f"${{{var}:?set {var} in .env (see .env.example)}}"


def _logging(indent: str) -> list[str]:
    return [
        f"{indent}logging:",
        f"{indent}  driver: json-file",
        f"{indent}  options:",
        *(f"{indent}    {k}: {_q(v)}" for k, v in LOG_OPTIONS.items()),
    ]


def _healthcheck(indent: str, url: str, start: str) -> list[str]:
    probe = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=5)"
    return [
        f"{indent}healthcheck:",
        f"{indent}  test: [{_q('CMD')}, {_q('python3')}, {_q('-c')}, {_q(probe)}]",
        f"{indent}  interval: 30s",
        f"{indent}  timeout: 10s",
        f"{indent}  retries: 3",
        f"{indent}  start_period: {start}",
    ]


def _bot_healthcheck(indent: str, port: int) -> list[str]:
    """The API answers **and** the bot loop ran in the last LOOP_STALE_S (its /metrics)."""
    probe = (
        "import re,time,urllib.request as u; "
        f"u.urlopen('http://127.0.0.1:{port}/api/v1/ping', timeout=5); "
        f"t=u.urlopen('http://127.0.0.1:{port}/metrics', timeout=5).read().decode(); "
        "m=re.search(r'^exec_ext_last_loop_timestamp_seconds (\\S+)$', t, re.M); "
        f"assert m and time.time() - float(m.group(1)) < {mon.LOOP_STALE_S}"
    )
    return [
        f"{indent}healthcheck:",
        f"{indent}  test: [{_q('CMD')}, {_q('python3')}, {_q('-c')}, {_q(probe)}]",
        f"{indent}  interval: 30s",
        f"{indent}  timeout: 10s",
        f"{indent}  retries: 3",
        f"{indent}  start_period: 180s",
    ]


def _monitoring(ci: ComposeInput) -> list[str]:
    prom_port, graf_port = mon.host_ports(ci.api_port)
    wget = [_q("CMD"), _q("wget"), _q("-q"), _q("--spider")]
    prom_health = ", ".join([*wget, _q(f"http://127.0.0.1:{mon.PROMETHEUS_PORT}/-/healthy")])
    graf_health = ", ".join([*wget, _q(f"http://127.0.0.1:{mon.GRAFANA_PORT}/api/health")])
    return [
        "  # Prometheus scrapes the bot's /metrics and evaluates the alert rules",
        "  prometheus:",
        f"    image: {_q(mon.PROMETHEUS_IMAGE)}",
        "    restart: unless-stopped",
        "    command:",
        f"      - {_q('--config.file=/etc/prometheus/prometheus.yml')}",
        f"      - {_q('--storage.tsdb.path=/prometheus')}",
        f"      - {_q('--storage.tsdb.retention.time=30d')}",
        "    volumes:",
        f"      - {_q(f'./{mon.PROMETHEUS_FILE}:/etc/prometheus/prometheus.yml:ro')}",
        f"      - {_q(f'./{mon.RULES_FILE}:/etc/prometheus/alert-rules.yml:ro')}",
        "      - promdata:/prometheus",
        "    ports:",
        f"      - {_q(f'127.0.0.1:{prom_port}:{mon.PROMETHEUS_PORT}')}",
        "    healthcheck:",
        f"      test: [{prom_health}]",
        "      interval: 30s",
        "      timeout: 10s",
        "      retries: 3",
        *_logging("    "),
        "  # Grafana with the provisioned dashboard (admin password from .env)",
        "  grafana:",
        f"    image: {_q(mon.GRAFANA_IMAGE)}",
        "    restart: unless-stopped",
        "    environment:",
        f"      GF_SECURITY_ADMIN_PASSWORD: {_q(_required(GRAFANA_PASSWORD_VAR))}",
        '      GF_USERS_ALLOW_SIGN_UP: "false"',
        '      GF_ANALYTICS_REPORTING_ENABLED: "false"',
        '      GF_ANALYTICS_CHECK_FOR_UPDATES: "false"',
        "    volumes:",
        f"      - {_q(f'./{mon.DIR}/grafana/provisioning:/etc/grafana/provisioning:ro')}",
        f"      - {_q(f'./{mon.DIR}/grafana/dashboards:/var/lib/grafana/dashboards:ro')}",
        "      - grafanadata:/var/lib/grafana",
        "    ports:",
        f"      - {_q(f'127.0.0.1:{graf_port}:{mon.GRAFANA_PORT}')}",
        "    depends_on:",
        "      prometheus:",
        "        condition: service_healthy",
        "    healthcheck:",
        f"      test: [{graf_health}]",
        "      interval: 30s",
        "      timeout: 10s",
        "      retries: 3",
        *_logging("    "),
    ]


def image_name(strategy_id: str) -> str:
    return f"freqtrade-exec-ext-{strategy_id.lower()}:latest"


def compose_yaml(ci: ComposeInput) -> str:
    sid = ci.strategy_id
    contract_name = st.contract_posix(sid).rsplit("/", 1)[1]  # beside deployment/
    ddir = st.deployment_relpath(sid)
    root_from_here = "/".join([".."] * len(ddir.parts))
    in_container = st.CONTAINER_ROOT
    api = f"127.0.0.1:{ci.api_port}:{ci.api_port}"
    build = [
        "    build:",
        f"      context: {_q(root_from_here)}",
        f"      dockerfile: {_q((ddir / st.DOCKERFILE).as_posix())}",
        f"    image: {_q(image_name(sid))}",
    ]
    lines = [
        f"# {sid}, stage {ci.stage}: generated by `freqtrade-exec deploy` from",
        f"# {st.contract_posix(sid)}. Do not edit: re-run the generator.",
        "# Secrets come from .env beside this file (copy .env.example, chmod 600).",
        f"name: {_q(st.compose_project(sid))}",
        "",
        "services:",
    ]
    if ci.local_url:
        port = ci.local_port
        localex_args = ["freqtrade-exec", "exchange", "serve", "--host", "127.0.0.1"]
        localex_args += ["--port", str(port), "--datadir", f"{in_container}/user_data/data/binance"]
        localex_args += list(ci.local_serve_args)
        lines += [
            "  # the project's local exchange (Binance-compatible, matches orders); it owns the",
            "  # network namespace the bot shares, so both reach each other on 127.0.0.1",
            "  localex:",
            *build,
            "    restart: unless-stopped",
            "    entrypoint:",
            *(f"      - {_q(a)}" for a in localex_args),
        ]
        if ci.exchange_key_vars:
            # only the exchange key pair (not the whole .env): the venue accepts exactly
            # the keys the bot signs with
            lines += [
                "    environment:",
                *(f"      {var}: {_q(_required(var))}" for var in ci.exchange_key_vars),
            ]
        lines += [
            "    volumes:",
            f"      - {_q(f'{root_from_here}/user_data:{in_container}/user_data:ro')}",
            "    ports:",
            "      # the bot's REST API, published through the shared namespace, loopback only",
            f"      - {_q(api)}",
            # the readiness probe: outside rate limits and faults, so a bot banned by the
            # venue (same IP) does not make the venue look unhealthy
            *_healthcheck("    ", f"http://127.0.0.1:{port}{READY_PATH}", "30s"),
            *_logging("    "),
        ]
    lines += [
        "  freqtrade:",
        *build,
        "    restart: unless-stopped",
        "    stop_grace_period: 60s",
        "    command:",
        "      - trade",
        "      - --config",
        f"      - {_q(str(in_container / ddir / st.CONFIG_FILE))}",
        "    env_file: .env",
        "    environment:",
        "      FT_APP_ENV: docker",
        "      # inside the container only; the host publishes the port on 127.0.0.1",
        "      FREQTRADE__API_SERVER__LISTEN_IP_ADDRESS: 0.0.0.0",
    ]
    required = [
        "FREQTRADE__API_SERVER__USERNAME",
        "FREQTRADE__API_SERVER__PASSWORD",
        "FREQTRADE__API_SERVER__JWT_SECRET_KEY",
        *ci.exchange_key_vars,
    ]
    lines += [f"      {var}: {_q(_required(var))}" for var in required]
    if ci.db == "postgres":
        lines.append(f"      PGPASSWORD: {_q(_required('POSTGRES_PASSWORD'))}")
    lines += [
        "    volumes:",
        f"      - {_q(f'{root_from_here}/user_data:{in_container}/user_data')}",
        f"      - {_q(f'../{contract_name}:{in_container}/{st.contract_posix(sid)}:ro')}",
        f"      - {_q(f'./{st.CONFIG_FILE}:{in_container}/{ddir}/{st.CONFIG_FILE}:ro')}",
    ]
    if ci.db == "sqlite":  # the shared request budget: one SQLite file every bot mounts
        lines.append(f"      - {_q(f'{SHARED_VOLUME}:{SHARED_MOUNT}')}")
    depends = []
    if ci.local_url:
        lines += ['    network_mode: "service:localex"']
        depends.append("localex")
    else:
        lines += [
            "    ports:",
            "      # REST API (kill switch, FreqUI): loopback only",
            f"      - {_q(api)}",
        ]
    if ci.db == "postgres":
        depends.append("postgres")
    if depends:
        lines.append("    depends_on:")
        for dep in depends:
            lines += [f"      {dep}:", "        condition: service_healthy"]
    lines += _bot_healthcheck("    ", ci.api_port)
    lines += _logging("    ")
    if ci.db == "postgres":
        lines += [
            "  postgres:",
            f"    image: {_q(POSTGRES_IMAGE)}",
            "    restart: unless-stopped",
            "    environment:",
            f"      POSTGRES_USER: {_q(st.POSTGRES_USER)}",
            f"      POSTGRES_DB: {_q(st.POSTGRES_USER)}",
            f"      POSTGRES_PASSWORD: {_q(_required('POSTGRES_PASSWORD'))}",
            "    volumes:",
            "      - pgdata:/var/lib/postgresql/data",
            f"      - {_q(f'./{st.POSTGRES_INIT}:/docker-entrypoint-initdb.d/10-stages.sql:ro')}",
            "    ports:",
            "      # for the generator's evidence checks from the host; loopback only",
            f"      - {_q(f'127.0.0.1:{st.POSTGRES_HOST_PORT}:5432')}",
            "    healthcheck:",
            f"      test: [{_q('CMD-SHELL')}, {_q(f'pg_isready -U {st.POSTGRES_USER}')}]",
            "      interval: 10s",
            "      timeout: 5s",
            "      retries: 5",
            *_logging("    "),
        ]
    lines += _monitoring(ci)
    lines += ["", "volumes:", "  promdata: {}", "  grafanadata: {}"]
    if ci.db == "postgres":
        lines.append("  pgdata: {}")
    else:
        lines += [
            "  # shared by every deployment on this host (same name): the request budget",
            f"  {SHARED_VOLUME}:",
            f"    name: {_q(SHARED_VOLUME_NAME)}",
        ]
    return "\n".join(lines) + "\n"


def postgres_init_sql(strategy_id: str) -> str:
    """One database per stage, created when the PostgreSQL volume is first initialised."""
    lines = [f"-- {strategy_id}: one database per deployment stage (generated)."]
    lines += [
        f"CREATE DATABASE {st.postgres_database(strategy_id, s)} OWNER {st.POSTGRES_USER};"
        for s in st.STAGES
    ]
    return "\n".join(lines) + "\n"


def dockerfile(ci: ComposeInput) -> str:
    extra = ' "psycopg[binary]>=3.1"' if ci.db == "postgres" else ""
    return f"""\
# {ci.strategy_id} ({ci.stage}): Freqtrade's official image, pinned to the release
# freqtrade-exec-ext is built for, extended with this package.  Build context: the
# project root (docker-compose.yml), narrowed by Dockerfile.dockerignore to the
# package sources, so .env, databases and user_data never enter the image.
FROM freqtradeorg/freqtrade:{ci.freqtrade_version}

COPY --chown=ftuser:ftuser setup.cfg pyproject.toml README.md /home/ftuser/freqtrade-exec-ext/
COPY --chown=ftuser:ftuser freqtrade_exec_ext /home/ftuser/freqtrade-exec-ext/freqtrade_exec_ext
# Freqtrade and its dependencies are in the image already: add this package only.
RUN pip install --user --no-cache-dir --no-deps /home/ftuser/freqtrade-exec-ext \\
 && pip install --user --no-cache-dir "pyyaml>=6" "prometheus-client>=0.20,<1"{extra}
"""


DOCKERIGNORE = """\
# Only the package sources enter the image: never .env, databases or user_data.
*
!setup.cfg
!pyproject.toml
!README.md
!freqtrade_exec_ext/
**/__pycache__
**/*.pyc
"""


def env_example(ci: ComposeInput, key_note: str) -> str:
    sid = ci.strategy_id
    out = [
        f"# {sid} ({ci.stage}): the secrets the bot reads from its environment.",
        "# Copy to .env in this folder, fill in, chmod 600.  Never commit .env.",
        "# Freqtrade maps FREQTRADE__SECTION__KEY onto config.json (section.key).",
        "",
    ]
    if ci.exchange_key_vars:
        out += [f"# Exchange API credentials: {key_note}", *(f"{v}=" for v in ci.exchange_key_vars)]
        out.append("")
    out += [
        "# REST API: the kill switch (freqtrade-exec kill) and FreqUI log in with these.",
        "# The JWT signing secret needs 32 or more random characters (openssl rand -hex 32).",
        "FREQTRADE__API_SERVER__USERNAME=",
        "FREQTRADE__API_SERVER__PASSWORD=",
        "FREQTRADE__API_SERVER__JWT_SECRET_KEY=",
        "",
        "# Alerts: each channel is off until its ENABLED switch is true.",
        "FREQTRADE__TELEGRAM__TOKEN=",
        "FREQTRADE__TELEGRAM__CHAT_ID=",
        "FREQTRADE__TELEGRAM__ENABLED=false",
        "FREQTRADE__WEBHOOK__URL=",
        "FREQTRADE__WEBHOOK__ENABLED=false",
        "FREQTRADE__DISCORD__WEBHOOK_URL=",
        "FREQTRADE__DISCORD__ENABLED=false",
        "",
        "# Grafana (http://127.0.0.1:<port>, user admin): the dashboard and alert states",
        f"{GRAFANA_PASSWORD_VAR}=",
    ]
    if ci.db == "postgres":
        out += ["", "# PostgreSQL (the bot connects with PGPASSWORD = this)", "POSTGRES_PASSWORD="]
    return "\n".join(out) + "\n"


def exchange_key_vars(exchange: str, needs_keys: bool) -> tuple[str, ...]:
    if not needs_keys:
        return ()
    names = ["FREQTRADE__EXCHANGE__KEY", "FREQTRADE__EXCHANGE__SECRET"]
    if exchange.lower() in {"okx", "kucoin", "bitget", "myokx", "okxus"}:
        names.append("FREQTRADE__EXCHANGE__PASSWORD")  # API passphrase
    return tuple(names)
