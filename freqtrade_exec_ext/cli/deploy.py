"""``freqtrade-exec deploy | approve | validate | kill``: the deployment stages.

* ``deploy STR-001 --stage {testnet,paper,live}`` writes
  ``.crypto/knowledge/strategies/STR-001/deployment/`` from the risk contract;
* ``approve STR-001 --by NAME --capital AMOUNT`` records the human approval live needs;
* ``validate DIR`` re-checks a deployment folder (exit 2, one finding per line);
* ``kill STR-001`` is the kill switch (REST API of the running bot).

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
        description="A human who reviewed the paper results approves live trading with a "
        "capital. Needs an interactive terminal; the approval covers the current contract "
        "only (a changed contract invalidates it).",
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
        description="Talks to the running bot's REST API. Credentials from "
        "FREQTRADE__API_SERVER__USERNAME / FREQTRADE__API_SERVER__PASSWORD.",
    )
    kil.add_argument("strategy_id")
    kil.add_argument(
        "--url",
        default=None,
        help="bot API (default http://127.0.0.1:<api port of the deployment, else 8080>)",
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
    from freqtrade_exec_ext.deploy.generate import generate, load_strategy_contract, tree

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
    rel = result.folder.relative_to(root)
    print(f"{args.strategy_id}: {args.stage} deployment written to {rel}/")
    print("\n".join(tree(result.folder)))
    for stage, ev in result.gates.evidence.items():
        print(f"{stage} evidence: {ev.summary()}, {ev.days:.1f} days ({ev.source})")
    if result.gates.approval:
        print(f"approval: {result.gates.approval.describe()}")
    print(
        f"next: cp {rel}/.env.example {rel}/.env && chmod 600 {rel}/.env, fill it in, then "
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
    from freqtrade_exec_ext.deploy import stages as st
    from freqtrade_exec_ext.deploy.approval import (
        ApprovalError,
        check_capital,
        check_name,
        new_approval,
        write_approval,
    )
    from freqtrade_exec_ext.deploy.evidence import EvidenceError, read_evidence
    from freqtrade_exec_ext.deploy.gates import default_evidence_urls, paper_problems
    from freqtrade_exec_ext.deploy.generate import load_strategy_contract

    root = _root(args.root)
    try:
        st.check_strategy_id(args.strategy_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    contract = load_strategy_contract(root, args.strategy_id)
    try:
        name = check_name(args.by)
        capital = check_capital(args.capital, contract)
    except ApprovalError as exc:
        raise CliError(str(exc)) from None
    url = args.paper_db or default_evidence_urls(args.strategy_id, "sqlite")["paper"]
    try:
        paper = read_evidence(url, root)
    except EvidenceError as exc:
        raise CliError(f"approve refused: no paper results to review: {exc}") from None
    problems = paper_problems(paper)
    if problems:
        raise CliError([f"approve refused: {p}" for p in problems])
    cur = contract.market.stake_currency
    print(f"{args.strategy_id} paper results: {paper.summary()}, {paper.days:.1f} days")
    print(f"  ({paper.first_activity} to {paper.last_activity}, {paper.source})")
    print(
        f"Approving LIVE trading of {args.strategy_id} with {capital:g} {cur} "
        f"(contract {contract.fingerprint()[:12]}) as {name!r}."
    )
    ask = confirm or _ask_human
    if not ask(args.strategy_id):
        raise CliError("approve: not confirmed; nothing was recorded")
    approval = new_approval(contract, by=name, capital=capital, paper_evidence=paper.to_dict())
    path = root / st.approval_relpath(args.strategy_id)
    write_approval(path, approval)
    print(f"recorded {path.relative_to(root)}: {approval.describe()}")
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
    import json

    from freqtrade_exec_ext.deploy import stages as st
    from freqtrade_exec_ext.deploy.kill import PASSWORD_VAR, USER_VAR, KillError, kill

    try:
        cls = st.strategy_class(args.strategy_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    user, password = os.environ.get(USER_VAR, ""), os.environ.get(PASSWORD_VAR, "")
    if not user or not password:
        raise CliError(
            f"kill: set {USER_VAR} and {PASSWORD_VAR} (the bot's API credentials, as in "
            "deployment/.env) in the environment"
        )
    url = args.url
    if url is None:
        port = 8080
        cfg_path = _root(args.root) / st.deployment_relpath(args.strategy_id) / st.CONFIG_FILE
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            port = int(json.loads(cfg_path.read_text())["api_server"]["listen_port"])
        url = f"http://127.0.0.1:{port}"
    try:
        report = kill(url, user, password, expected_strategy=cls, flatten=args.flatten)
    except KillError as exc:
        raise CliError(str(exc)) from None
    print(f"kill switch for {args.strategy_id} at {report.url}:")
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
