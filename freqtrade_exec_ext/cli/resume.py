"""``freqtrade-exec resume STR-NNN``: a person ends the kill switch's FLATTEN or HALTED.

The bot's kill switch latches at FLATTEN and HALTED, also across restarts; only this
command lifts it.  It writes NORMAL (reason ``KS_RESUMED``, ``person:<name>``) into the
bot's database; the running bot reads it at its next loop, removes its kill switch pair
lock and trades again, with the drawdown peak and the day's opening equity started
afresh.  Which database: ``--db URL``, or ``--stage`` of the deployment under ``--root``
(the database the generator reads evidence from).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STAGES = ("testnet", "paper", "live")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "resume",
        help="lift the kill switch (FLATTEN/HALTED) of a strategy's bot",
        description="Set the kill switch of STRATEGY_ID back to NORMAL in the bot's database. "
        "The running bot picks it up at its next loop; a stopped bot at its start.",
    )
    p.add_argument("strategy_id", help="e.g. STR-001")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", metavar="URL", help="the bot's database (SQLAlchemy URL)")
    where.add_argument("--stage", choices=STAGES, help="the deployment stage whose bot it is")
    p.add_argument("--root", default=".", help="project root (default: current directory)")
    p.add_argument("--by", default=None, help="who resumes (default: the login name)")
    p.set_defaults(func=run)


def _db_url(args: argparse.Namespace) -> str:
    from freqtrade_exec_ext.cli.errors import CliError
    from freqtrade_exec_ext.deploy import stages as st

    if args.db:
        return str(args.db)
    root = Path(args.root)
    manifest = root / st.deployment_relpath(args.strategy_id) / st.MANIFEST_FILE
    if not manifest.is_file():
        raise CliError(f"{manifest}: no deployment of {args.strategy_id}; pass --db URL")
    try:
        db = json.loads(manifest.read_text())["db"]
    except (ValueError, KeyError) as exc:
        raise CliError(f"{manifest}: unreadable ({type(exc).__name__}); pass --db URL") from None
    url = st.host_evidence_url(args.strategy_id, args.stage, db)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{(root / url[len('sqlite:///') :]).resolve()}"
    return url


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from freqtrade_exec_ext.cli.errors import CliError
    from freqtrade_exec_ext.contract.model import STRATEGY_ID_PATTERN
    from freqtrade_exec_ext.execution.killswitch import KillSwitch, Thresholds
    from freqtrade_exec_ext.redact import mask_url
    from freqtrade_exec_ext.store.killswitch import KillSwitchStore

    sid = args.strategy_id
    if not re.match(STRATEGY_ID_PATTERN, sid):
        raise CliError(f"strategy_id {sid!r}: STR- and 3 or more digits, e.g. STR-001")
    url = _db_url(args)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        raise CliError(f"--db {mask_url(url)}: no such database file")
    by = args.by or os.environ.get("USER") or getpass.getuser()
    try:
        store = KillSwitchStore(create_engine(url))
        state, rev = store.load(sid)
        if rev == 0:
            raise CliError(f"{mask_url(url)}: no kill switch state for {sid} (never ran there)")
        switch = KillSwitch(_no_thresholds(Thresholds), state)
        now = datetime.now(UTC)
        t = switch.resume(now, by)
        if t is None:
            print(f"{sid}: kill switch is NORMAL already; nothing to resume")
            return 0
        if store.save(sid, switch.state, now, t, actor=f"person:{by}", revision=rev) is None:
            raise CliError(f"{sid}: the bot changed the kill switch meanwhile; run resume again")
    except SQLAlchemyError as exc:
        raise CliError(
            f"--db {mask_url(url)}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ) from None
    print(
        f"{sid}: kill switch {t.old.name} -> NORMAL by {by} (was {state.reason}: "
        f"{state.detail}); the bot trades again from its next loop"
    )
    return 0


def _no_thresholds(cls: Any) -> Any:
    """Resuming reads no threshold: placeholders keep the pure object whole."""
    return cls(**{name: 1 for name in cls.__dataclass_fields__})
