"""``freqtrade-exec report``: execution quality of a Freqtrade database or backtest.

Reads Freqtrade's orders/trades plus the execution ledger (``--db URL`` for trade and
dry-run databases, SQLite or PostgreSQL; ``--backtest FILE`` for backtest results) and
prints slippage, costs, implementation shortfall and budget and stop breaches per strategy, pair,
side, order type and stage.  See docs/report.md for every column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

STAGES = ("dry_run", "live", "backtest")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="execution-quality report (slippage, costs, shortfall, budget and stop breaches)",
        description="Execution-quality report from a Freqtrade database (--db) or backtest "
        "result (--backtest). Prints a table; --json/--csv/--html write files.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--db",
        metavar="URL",
        action="append",
        help="SQLAlchemy URL of a Freqtrade database, e.g. "
        "sqlite:///tradesv3.dryrun.sqlite or postgresql+psycopg://user@host/db; "
        "repeat it for several bots (read concurrently, one column per bot)",
    )
    src.add_argument(
        "--backtest",
        metavar="FILE",
        type=Path,
        help="backtest-result-*.zip, .last_result.json or the results directory",
    )
    p.add_argument(
        "--ledger",
        metavar="FILE",
        type=Path,
        help="execution ledger (JSON lines) of the backtest; default: "
        "<results dir>/<Strategy>-exec-ledger.jsonl",
    )
    p.add_argument(
        "--datadir",
        metavar="DIR",
        type=Path,
        help="candles for backtest markouts; default: the backtest config's "
        "datadir, else user_data/data/<exchange>",
    )
    p.add_argument(
        "--max-backtest-mb",
        metavar="MB",
        type=int,
        default=256,
        help="refuse a backtest result that inflates to more than this (default 256)",
    )
    p.add_argument(
        "--contract",
        metavar="PATH",
        type=Path,
        help="risk-assessment.yaml: recheck every fill against its slippage budget and every "
        "trade's stop against the contract's",
    )
    p.add_argument(
        "--stage",
        choices=STAGES,
        help="label every order with this stage (default: derived, see docs)",
    )
    p.add_argument(
        "--pair", action="append", default=[], metavar="PAIR", help="only this pair (repeatable)"
    )
    p.add_argument(
        "--strategy",
        action="append",
        default=[],
        metavar="NAME",
        help="only this strategy class (repeatable)",
    )
    p.add_argument("--json", metavar="FILE", type=Path, help="write the report as JSON")
    p.add_argument("--csv", metavar="FILE", type=Path, help="write the group table as CSV")
    p.add_argument(
        "--html", metavar="FILE", type=Path, help="write a self-contained HTML report with charts"
    )
    p.add_argument(
        "--executions",
        metavar="FILE",
        type=Path,
        help="write every execution (decision and its orders) as CSV",
    )
    p.add_argument(
        "--width",
        metavar="N",
        type=int,
        help="terminal width (default: COLUMNS or the terminal's size)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no terminal table and no progress (files only)"
    )
    p.set_defaults(func=run)


def _progress(quiet: bool) -> tuple[Any, Any]:
    """A rich progress bar on stderr when it is a terminal; else nothing."""
    if quiet or not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    prog = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    tasks = {"reading orders": prog.add_task("reading orders", total=None)}

    def cb(done: int, total: int | None, description: str = "reading orders") -> None:
        if description not in tasks:  # a new stage: a new line, the previous one hidden
            for t in tasks.values():
                prog.update(t, visible=False)
            tasks[description] = prog.add_task(description, total=total)
        prog.update(tasks[description], completed=done, total=total)

    return prog, cb


def _check_outputs(args: argparse.Namespace) -> None:
    from freqtrade_exec_ext.cli.errors import CliError

    for opt in ("json", "csv", "html", "executions"):
        path = getattr(args, opt)
        if path is not None and not path.parent.exists():
            raise CliError(f"--{opt} {path}: directory {path.parent} does not exist")


def _check_options(args: argparse.Namespace) -> None:
    from freqtrade_exec_ext.cli.errors import CliError

    _check_outputs(args)
    if args.width is not None and args.width < 40:
        raise CliError(f"--width {args.width}: must be at least 40")
    if args.max_backtest_mb < 1:
        raise CliError(f"--max-backtest-mb {args.max_backtest_mb}: must be at least 1")
    if args.ledger is not None and args.db:
        raise CliError(
            "--ledger: only with --backtest (database ledgers live in trade_custom_data)"
        )


def _limits(args: argparse.Namespace) -> tuple[tuple[float, float] | None, Any]:
    """From --contract: the slippage budgets (entry, exit bps) and the stop (StopLimits)."""
    if args.contract is None:
        return None, None
    from freqtrade_exec_ext.cli.errors import CliError
    from freqtrade_exec_ext.contract import load_contract

    if not args.contract.is_file():
        raise CliError(f"--contract {args.contract}: no such file")
    from freqtrade_exec_ext.report.stop_breaches import StopLimits

    c = load_contract(args.contract)  # ContractError -> one line per problem, exit 2
    budget = float(c.slippage.max_entry_bps), float(c.slippage.max_exit_bps)
    return budget, StopLimits(float(c.stop_loss.stoploss), float(c.slippage.max_exit_bps))


def run(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.cli.errors import CliError
    from freqtrade_exec_ext.redact import mask_urls_in
    from freqtrade_exec_ext.report.errors import ReportInputError

    _check_options(args)
    budget, stops = _limits(args)
    prog, cb = _progress(args.quiet)
    try:
        if prog is not None:
            prog.start()
        report = _build(args, budget, stops, cb)
    except ReportInputError as exc:
        # every message names URLs masked already; this is the safety net (a token that
        # ends a clause keeps its colon)
        raise CliError(
            " ".join(
                mask_urls_in(t[:-1]) + ":" if t.endswith(":") else mask_urls_in(t)
                for t in str(exc).split(" ")
            )
        ) from exc
    finally:
        if prog is not None:
            prog.stop()
    from freqtrade_exec_ext.report import render

    if args.json:
        render.write_json(report, args.json)
    if args.csv:
        render.write_csv(report, args.csv)
    if args.executions:
        render.write_executions_csv(report, args.executions)
    if args.html:
        from freqtrade_exec_ext.report.html import write_html

        write_html(report, args.html)
    if not args.quiet:
        render.render_terminal(report, file=sys.stdout, width=args.width)
        for opt in ("json", "csv", "html", "executions"):
            if getattr(args, opt):
                print(f"wrote {getattr(args, opt)}")
    return 0


def _build(
    args: argparse.Namespace, budget: tuple[float, float] | None, stops: Any, cb: Any
) -> Any:
    from freqtrade_exec_ext.report.build import build_report

    if args.db:
        from freqtrade_exec_ext.report.sql_reader import lookup_order_ids, read_dbs

        r = read_dbs(
            args.db,
            stage=args.stage,
            pairs=tuple(args.pair),
            strategies=tuple(args.strategy),
            progress=cb,
        )
        if cb:
            cb(0, None, f"computing the report of {len(r.orders):,} orders")
        meta = {
            "kind": "database",
            "source": r.source,
            "dialect": r.dialect,
            "stage_rule": r.stage_rule,
            "ledger_records": r.ledger_records,
            "bots": r.bots,
        }
        return build_report(
            r.orders,
            meta,
            budget=budget,
            notes=r.notes,
            skipped=r.problems.lines(),
            decisions=r.decisions,
            links=r.links,
            contexts=r.contexts,
            order_id_lookup=lambda w: lookup_order_ids(args.db, r.bots, w),
            stops=stops,
            trades=_db_trades(args, r.bots) if stops is not None else None,
        )
    from freqtrade_exec_ext.report.backtest_reader import read_backtest

    b = read_backtest(
        args.backtest,
        ledger=args.ledger,
        pairs=tuple(args.pair),
        strategies=tuple(args.strategy),
        max_mb=args.max_backtest_mb,
        datadir=args.datadir,
    )
    orders = b.orders
    if args.stage:
        orders = orders.assign(stage=args.stage).astype({"stage": "category"})
    meta = {
        "kind": "backtest",
        "source": b.source,
        "stage_rule": f"--stage {args.stage}" if args.stage else "backtest",
        "ledgers": {k: (str(v) if v else None) for k, v in b.ledgers.items()},
    }
    return build_report(
        orders,
        meta,
        budget=budget,
        notes=b.notes,
        skipped=b.skipped,
        decisions=b.decisions,
        links=b.links,
        stops=stops,
        trades=b.trades,
    )


def _db_trades(args: argparse.Namespace, bots: list[str]) -> Any:
    """Every trade's stop prices (for the stop check of --contract)."""
    from freqtrade_exec_ext.report.readers.trades import read_trades

    return read_trades(args.db, bots, tuple(args.pair), tuple(args.strategy))
