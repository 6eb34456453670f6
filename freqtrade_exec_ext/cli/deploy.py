"""``freqtrade-exec deploy | approve | validate | kill``: the deployment stages.

* ``deploy STR-001 --stage {testnet,paper,live}`` writes
  ``.crypto/knowledge/strategies/STR-001/deployment/`` from the risk contract;
* ``approve STR-001 --by NAME --capital AMOUNT [--accept-breaches REASON]`` records the
  human approval live needs, after showing the paper evidence and report;
* ``validate DIR`` re-checks a deployment folder (exit 2, one finding per line);
* ``kill STR-001 [--stage S]`` is the kill switch (REST API of that stage's bot only).

See docs/stages.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from freqtrade_exec_ext.cli.errors import CliError

STAGES = ("testnet", "paper", "live")


def register(sub: Any) -> None:
    dep = sub.add_parser(
        "deploy",
        help="write a stage's deployment folder (config.json, docker-compose.yml, checklist)",
        description="Generate .crypto/knowledge/strategies/<ID>/deployment/ for a stage. "
        "Stage order: testnet -> paper -> live; a stage whose prerequisites are missing is "
        "refused and nothing is written.",
    )
    dep.add_argument("strategy_id", help="e.g. STR-001")
    dep.add_argument("--stage", required=True, choices=STAGES)
    dep.add_argument(
        "--exchange",
        default=None,
        help="the contract's exchange (default), or 'local' for the project's local exchange "
        "(testnet and paper only)",
    )
    dep.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    dep.add_argument("--root", default=".", help="project root (default: current directory)")
    dep.add_argument(
        "--pairs",
        default=None,
        help="comma-separated pairs for a StaticPairList, e.g. BTC/USDT,ETH/USDT "
        "(default: VolumePairList, top 20 by quote volume)",
    )
    dep.add_argument("--api-port", type=int, default=8080, help="REST API port (default 8080)")
    dep.add_argument(
        "--local-url",
        default="http://127.0.0.1:8765",
        help="local exchange URL with --exchange local (default http://127.0.0.1:8765)",
    )
    dep.add_argument(
        "--testnet-db", default=None, help="database URL of the testnet stage's evidence"
    )
    dep.add_argument("--paper-db", default=None, help="database URL of the paper stage's evidence")
    dep.set_defaults(func=run_deploy)

    app = sub.add_parser(
        "approve",
        help="record the human approval the live stage needs",
        description="A human who reviewed the paper results (evidence and report, shown "
        "here) approves live trading with a capital. Needs an interactive terminal; the "
        "approval covers the current contract and this paper evidence only.",
    )
    app.add_argument("strategy_id")
    app.add_argument("--by", required=True, help="name of the approver")
    app.add_argument(
        "--capital",
        required=True,
        type=float,
        help="live capital in the stake currency (at most capital.initial_capital)",
    )
    app.add_argument("--root", default=".", help="project root (default: current directory)")
    app.add_argument("--paper-db", default=None, help="database URL of the paper stage")
    app.add_argument(
        "--accept-breaches",
        default=None,
        metavar="REASON",
        help="approve although paper had breaches (rejected orders, fills over budget, "
        "drawdown over limits.max_drawdown); the reason is recorded",
    )
    app.set_defaults(func=run_approve)

    val = sub.add_parser(
        "validate",
        help="re-check a deployment folder (secrets, config, risk numbers, stage order)",
        description="Exit 0 when clean; otherwise one finding per line on stderr and exit 2.",
    )
    val.add_argument("dir", help="the deployment folder")
    val.add_argument("--root", default=None, help="project root (default: derived from DIR)")
    val.set_defaults(func=run_validate)

    kil = sub.add_parser(
        "kill",
        help="kill switch: stop entries, cancel open orders (--flatten: exit all positions)",
        description="Talks to the running bot's REST API and acts only if the bot there is "
        "the stage's bot of this strategy (bot_name, strategy, dry_run). Credentials from "
        "FREQTRADE__API_SERVER__USERNAME / FREQTRADE__API_SERVER__PASSWORD.",
    )
    kil.add_argument("strategy_id")
    kil.add_argument(
        "--stage",
        choices=STAGES,
        default=None,
        help="the stage whose bot to stop (default: the deployment's); a bot of another "
        "stage or strategy is left alone",
    )
    kil.add_argument(
        "--url",
        default=None,
        help="bot API (default http://127.0.0.1:<api port of the deployment>)",
    )
    kil.add_argument("--flatten", action="store_true", help="also exit every position (market)")
    kil.add_argument("--root", default=".", help="project root (default: current directory)")
    kil.set_defaults(func=run_kill)


def _root(text: str) -> Path:
    root = Path(text)
    if not root.is_dir():
        raise CliError(f"--root {text}: not a folder")
    return root.resolve()


def _build_errors(exc: Exception) -> CliError:
    lines = getattr(exc, "lines", None) or [str(exc)]
    return CliError(lines)


def run_deploy(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.deploy import stages as st
    from freqtrade_exec_ext.deploy.config_builder import BuildError, DeployOptions, parse_pairs
    from freqtrade_exec_ext.deploy.generate import (
        Interrupted,
        generate,
        load_strategy_contract,
        tree,
    )

    root = _root(args.root)
    try:
        st.check_strategy_id(args.strategy_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    contract = load_strategy_contract(root, args.strategy_id)
    urls = {k: v for k, v in (("testnet", args.testnet_db), ("paper", args.paper_db)) if v}
    try:
        opts = DeployOptions(
            stage=args.stage,
            exchange=(args.exchange or contract.market.exchange).lower(),
            db=args.db,
            pairs=parse_pairs(args.pairs, contract),
            api_port=args.api_port,
            local_url=args.local_url,
        )
        if opts.is_local:
            from freqtrade_exec_ext.localex import freqtrade_exchange_config

            try:
                freqtrade_exchange_config(opts.local_url)
            except ValueError as exc:
                raise BuildError(f"--local-url: {exc}") from None
        result = generate(root, args.strategy_id, opts, evidence_urls=urls)
    except BuildError as exc:
        raise _build_errors(exc) from None
    except Interrupted as exc:
        print(f"freqtrade-exec deploy: interrupted by {exc}; temporary files removed",
              file=sys.stderr)  # fmt: skip
        return 128 + exc.signum
    rel = result.folder.relative_to(root)
    print(f"{args.strategy_id}: {args.stage} deployment written to {rel}/")
    print("\n".join(tree(result.folder)))
    for stage, ev in result.gates.evidence.items():
        days = f", {ev.days:.1f} days of heartbeats" if stage == "paper" else ""
        print(f"{stage} evidence: {ev.summary()}{days} ({ev.source})")
    if result.gates.approval:
        print(f"approval: {result.gates.approval.describe()}")
    print(
        f"next: cp {rel}/.env.example {rel}/.env && chmod 600 {rel}/.env, fill it in (this "
        f"stage's secrets only), then "
        f"docker compose -f {rel}/docker-compose.yml up -d --build "
        f"(checklist: {rel}/deployment-checklist.md)"
    )
    if opts.is_local and opts.stage == "testnet":
        cfg = result.config
        print(
            f"without Docker: set -a; . {rel}/.env; set +a; freqtrade-exec exchange start "
            f"--port {urlparse(opts.local_url or '').port} --balance "
            f"{cfg['stake_currency']}={float(cfg['available_capital']):g}; "
            f"freqtrade trade -c {rel}/config.json"
        )
    return 0


def run_approve(args: argparse.Namespace, *, confirm: Any = None) -> int:
    from datetime import UTC, datetime

    from freqtrade_exec_ext.deploy import stages as st
    from freqtrade_exec_ext.deploy.approval import ApprovalError
    from freqtrade_exec_ext.deploy.approve import prepare, record
    from freqtrade_exec_ext.deploy.gates import default_evidence_urls
    from freqtrade_exec_ext.deploy.generate import load_strategy_contract

    root = _root(args.root)
    try:
        st.check_strategy_id(args.strategy_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    contract = load_strategy_contract(root, args.strategy_id)
    url = args.paper_db or default_evidence_urls(args.strategy_id, "sqlite")["paper"]
    try:
        draft = prepare(root, contract, by=args.by, capital=args.capital, paper_url=url,
                        accept_reason=args.accept_breaches, now=datetime.now(UTC))  # fmt: skip
    except ApprovalError as exc:
        raise _build_errors(exc) from None
    ev, a = draft.evidence, draft.approval
    cur = contract.market.stake_currency
    print(f"{args.strategy_id} paper results: {ev.summary()}, {ev.days:.1f} days")
    print(f"  ({ev.stretch_start} to {ev.stretch_end}, {ev.source}, as of {ev.as_of})")
    dd = "n/a" if ev.drawdown is None else f"{ev.drawdown:.1%}"
    print(f"  drawdown {dd} (limits.max_drawdown {contract.limits.max_drawdown:.1%})")
    print(f"  {draft.report.summary()}")
    for line in draft.breaches:
        print(f"  BREACH: {line}")
    if draft.breaches:
        print(f"  accepted because: {a.accept_reason}")
    print(
        f"Approving LIVE trading of {args.strategy_id} with {a.capital:g} {cur} "
        f"(contract {a.contract_sha256[:12]}) as {a.approved_by!r}."
    )
    ask = confirm or _ask_human
    if not ask(args.strategy_id):
        raise CliError("approve: not confirmed; nothing was recorded")
    path = record(root, draft)
    print(f"recorded {path.relative_to(root)}: {a.describe()}")
    print(f"next: freqtrade-exec deploy {args.strategy_id} --stage live")
    return 0


def _ask_human(strategy_id: str) -> bool:
    if not sys.stdin.isatty():
        raise CliError(
            "approve: needs an interactive terminal (live trading needs a human to type the "
            "confirmation); nothing was recorded"
        )
    answer = input(f"Type {strategy_id} to confirm: ")
    return answer.strip() == strategy_id


def run_validate(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.deploy.validate import validate_folder

    folder = Path(args.dir)
    root = _root(args.root) if args.root else None
    result = validate_folder(folder, root=root)
    if result.findings:
        for line in result.findings:
            print(line, file=sys.stderr)
        return 2
    print(
        f"OK: {folder} ({result.strategy_id}, stage {result.stage}): {result.files_scanned} "
        "files scanned, no secrets; config valid for Freqtrade; risk numbers equal "
        f"risk-assessment.yaml ({result.contract.fingerprint()[:12] if result.contract else ''});"
        " stage order satisfied"
    )
    return 0


def run_kill(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.deploy.kill import PASSWORD_VAR, USER_VAR, KillError, kill

    user, password = os.environ.get(USER_VAR, ""), os.environ.get(PASSWORD_VAR, "")
    if not user or not password:
        raise CliError(
            f"kill: set {USER_VAR} and {PASSWORD_VAR} (the bot's API credentials, as in "
            "deployment/.env) in the environment"
        )
    url, expected = _kill_target(args)
    try:
        report = kill(url, user, password, expected=expected, flatten=args.flatten)
    except KillError as exc:
        raise CliError(str(exc)) from None
    print(f"kill switch for {args.strategy_id} ({expected.bot_name}) at {report.url}:")
    for line in report.steps:
        print(f"  {line}")
    for line in report.failures:
        print(f"  FAILED {line}", file=sys.stderr)
    if report.open_trades is not None:
        held = "positions still held" if not args.flatten else "exits placed"
        print(
            f"  now: {report.open_trades} open trades ({held}), {report.open_orders} with open "
            "orders; entries stay paused until the bot restarts"
        )
    return 0 if report.ok else 1


def _kill_target(args: argparse.Namespace) -> tuple[str, Any]:
    """(URL, the bot expected there): the stage's bot as deploy wrote its config."""
    import json

    from freqtrade_exec_ext.deploy import stages as st
    from freqtrade_exec_ext.deploy.kill import Expected, KillError, check_url

    try:
        cls = st.strategy_class(args.strategy_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    rel = st.deployment_relpath(args.strategy_id) / st.CONFIG_FILE
    config: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, CliError):
        loaded = json.loads((_root(args.root) / rel).read_text(encoding="utf-8"))
        config = loaded if isinstance(loaded, dict) else {}
    ext: dict[str, Any] = _dict(config.get("exec_ext"))
    deployed = ext.get("stage") if ext.get("strategy_id") == args.strategy_id else None
    stage = args.stage or deployed
    if stage is None:
        raise CliError(
            f"kill: no deployment of {args.strategy_id} in {rel.parent}: pass --stage "
            "testnet|paper|live (and --url if the bot is not on 127.0.0.1:8080)"
        )
    url = args.url
    if url is None:
        if deployed != stage:
            raise CliError(
                f"kill --stage {stage}: {rel.parent} holds the {deployed or 'no'} stage, so "
                f"the {stage} bot's address is unknown: pass --url"
            )
        port = st.API_PORT_DEFAULT
        with contextlib.suppress(KeyError, TypeError, ValueError):
            port = int(config["api_server"]["listen_port"])
        url = f"http://127.0.0.1:{port}"
    try:
        check_url(url)
    except KillError as exc:
        raise CliError(str(exc)) from None
    return url, Expected(cls, st.bot_name(args.strategy_id, stage), stage == "paper")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
