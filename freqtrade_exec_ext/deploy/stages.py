"""The three deployment stages and where each one keeps its files (pure, no Freqtrade).

``testnet`` -> ``paper`` -> ``live``: each stage is generated only when the stages before
it left their evidence (see :mod:`freqtrade_exec_ext.deploy.gates`).  Every path here is
relative to the project root (the folder holding ``.crypto/`` and ``user_data/``), which
is also the working directory of the bot, on the host and inside the container
(``/freqtrade``), so one relative path works in both places.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

from freqtrade_exec_ext.contract.locate import KNOWLEDGE_DIR, contract_relpath

Stage = Literal["testnet", "paper", "live"]
STAGES: tuple[Stage, ...] = ("testnet", "paper", "live")
DbKind = Literal["sqlite", "postgres"]
DB_KINDS: tuple[DbKind, ...] = ("sqlite", "postgres")

#: paper trading must have run this long (heartbeats of its run sessions) before live
PAPER_MIN_DAYS = 14.0
#: ... with at least this many closed trades (results with no trade cannot be reviewed)
PAPER_MIN_CLOSED_TRADES = 1
#: the testnet stage must have closed at least this many trades (entry and exit filled)
TESTNET_MIN_CLOSED_TRADES = 1
#: ... and filled at least this many orders on the exchange ("a handful")
TESTNET_MIN_FILLED_ORDERS = 4

DEPLOYMENT_DIRNAME = "deployment"
APPROVALS_DIRNAME = "approvals"
LIVE_APPROVAL_FILENAME = "live.json"

CONFIG_FILE = "config.json"
COMPOSE_FILE = "docker-compose.yml"
DOCKERFILE = "Dockerfile"
DOCKERIGNORE = "Dockerfile.dockerignore"
ENV_EXAMPLE = ".env.example"
ENV_FILE = ".env"
CHECKLIST_FILE = "deployment-checklist.md"
MANIFEST_FILE = "manifest.json"
POSTGRES_INIT = "postgres-init.sql"

#: inside the container (official image): working directory = project root
CONTAINER_ROOT = PurePosixPath("/freqtrade")
API_PORT_DEFAULT = 8080
LOCAL_EXCHANGE = "local"
LOCAL_EXCHANGE_URL_DEFAULT = "http://127.0.0.1:8765"
POSTGRES_USER = "freqtrade"
POSTGRES_HOST_PORT = 5432

_ID = re.compile(r"^STR-[0-9]{3,}$")


def check_strategy_id(strategy_id: str) -> str:
    if not _ID.match(strategy_id):
        raise ValueError(
            f"strategy id {strategy_id!r}: expected STR- and 3 or more digits, e.g. STR-001"
        )
    return strategy_id


def strategy_class(strategy_id: str) -> str:
    """``STR-001`` -> ``STR001`` (the strategy class and its file name)."""
    return check_strategy_id(strategy_id).replace("-", "")


def bot_name(strategy_id: str, stage: str) -> str:
    """``bot_name`` of a stage's bot (config.json); the kill switch checks it."""
    return f"{strategy_id} {stage}"


def previous_stage(stage: Stage) -> Stage | None:
    idx = STAGES.index(stage)
    return STAGES[idx - 1] if idx else None


def stages_before(stage: Stage) -> tuple[Stage, ...]:
    return STAGES[: STAGES.index(stage)]


def strategy_relpath(strategy_id: str) -> PurePosixPath:
    return PurePosixPath(KNOWLEDGE_DIR.as_posix()) / strategy_id


def deployment_relpath(strategy_id: str) -> PurePosixPath:
    return strategy_relpath(strategy_id) / DEPLOYMENT_DIRNAME


def contract_posix(strategy_id: str) -> str:
    """The contract path relative to the project root (host and container alike)."""
    return contract_relpath(strategy_id).as_posix()


def approval_relpath(strategy_id: str) -> PurePosixPath:
    return strategy_relpath(strategy_id) / APPROVALS_DIRNAME / LIVE_APPROVAL_FILENAME


def sqlite_relpath(strategy_id: str, stage: Stage) -> str:
    """The stage's SQLite database, relative to the project root."""
    return f"user_data/{strategy_id}.{stage}.sqlite"


def postgres_database(strategy_id: str, stage: Stage) -> str:
    return f"{strategy_id.lower().replace('-', '_')}_{stage}"


def db_url(strategy_id: str, stage: Stage, db: DbKind) -> str:
    """``db_url`` of the bot for a stage.  Never carries a password (PGPASSWORD does)."""
    if db == "sqlite":
        return f"sqlite:///{sqlite_relpath(strategy_id, stage)}"
    return (
        f"postgresql+psycopg://{POSTGRES_USER}@postgres:5432/"
        f"{postgres_database(strategy_id, stage)}"
    )


def budget_db_url(db: DbKind) -> str:
    """Where every bot of the host keeps the shared request budget: the PostgreSQL server
    (its default database) or a SQLite file on the volume every deployment mounts."""
    if db == "sqlite":
        return f"sqlite:///{CONTAINER_ROOT}/shared/rate-budget.sqlite"
    return f"postgresql+psycopg://{POSTGRES_USER}@postgres:5432/{POSTGRES_USER}"


def host_evidence_url(strategy_id: str, stage: Stage, db: DbKind) -> str:
    """Where the generator reads a stage's database from the host (relative for SQLite)."""
    if db == "sqlite":
        return f"sqlite:///{sqlite_relpath(strategy_id, stage)}"
    return (
        f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{POSTGRES_HOST_PORT}/"
        f"{postgres_database(strategy_id, stage)}"
    )


def log_relpath(strategy_id: str, stage: Stage) -> str:
    return f"user_data/logs/{strategy_id}.{stage}.log"


def compose_project(strategy_id: str) -> str:
    """One Compose project per strategy: switching stage replaces the bot container."""
    return strategy_id.lower()
