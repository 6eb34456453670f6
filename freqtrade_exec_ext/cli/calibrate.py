"""``freqtrade-exec calibrate`` and ``freqtrade-exec rescore``: the execution model.

``calibrate --db URL [--db URL ...] --out FILE`` fits a model from the execution ledger,
Freqtrade's trades and the order journal of one or more databases; ``rescore BACKTEST
--model FILE`` corrects a finished backtest for the fills no callback reaches (stop-loss,
ROI, forced exits).  See docs/calibration.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

LAST_RESULT = ".last_result.json"


def register(sub: Any) -> None:
    cal = sub.add_parser(
        "calibrate",
        help="fit an execution model (slippage, fill probability, fees) from real fills",
        description="Fit an execution model from the execution ledger and order journal of "
        "Freqtrade databases; backtests use it through the contract's "
        "slippage.backtest_model. Bad input: one line, exit code 2.",
    )
    cal.add_argument(
        "--db",
        action="append",
        required=True,
        metavar="URL",
        help="SQLAlchemy URL of a Freqtrade database (repeatable), e.g. sqlite:///tradesv3.sqlite",
    )
    cal.add_argument(
        "--out", required=True, metavar="FILE", type=Path, help="the model file to write (JSON)"
    )
    cal.add_argument(
        "--datadir",
        metavar="DIR",
        type=Path,
        help="Freqtrade datadir with the traded candles: fills are conditioned "
        "on their candle and impact is fitted against candle volume",
    )
    cal.add_argument(
        "--timeframe", metavar="TF", help="candle timeframe (default: the trades' own)"
    )
    cal.add_argument(
        "--entry-timeout-s",
        type=float,
        default=240.0,
        metavar="S",
        help="the contract's orders.entry_timeout_s: journal placements this "
        "close to a decision's first belong to it (default 240)",
    )
    cal.add_argument(
        "--min-fills",
        type=int,
        default=20,
        metavar="N",
        help="fewer fills than this: a pair or cell is pooled (default 20)",
    )
    cal.add_argument(
        "--shrinkage",
        type=float,
        default=20.0,
        metavar="K",
        help="a pair's own mean weighs n/(n+K) against the market's (default 20)",
    )
    cal.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the backtest's draws, stored in the model (default 0)",
    )
    cal.set_defaults(func=run_calibrate)

    res = sub.add_parser(
        "rescore",
        help="correct a backtest's stop-loss/ROI/forced fills with an execution model",
        description="Move the fills of a finished backtest that no strategy callback "
        "reaches (stop-loss, ROI, forced and emergency exits) by the model, correct their "
        "fees, and write the adjusted trades and a profit table next to the backtest.",
    )
    res.add_argument(
        "backtest",
        type=Path,
        metavar="BACKTEST",
        help="backtest-result-*.zip (or .json), .last_result.json or the "
        "backtest_results directory",
    )
    res.add_argument(
        "--model",
        required=True,
        type=Path,
        metavar="FILE",
        help="the execution model (freqtrade-exec calibrate)",
    )
    res.add_argument(
        "--datadir",
        metavar="DIR",
        type=Path,
        help="the backtest's datadir: also add the modelled cost each order's "
        "candle could not hold (Freqtrade fills only inside a candle's range)",
    )
    res.add_argument("--strategy", metavar="NAME", help="only this strategy of the result")
    res.add_argument(
        "--all-fills",
        action="store_true",
        help="also model limit entries and signal exits (a backtest run "
        "without the model, e.g. plain Freqtrade)",
    )
    res.set_defaults(func=run_rescore)


def _cli_error(exc: Exception) -> Exception:
    from freqtrade_exec_ext.cli.errors import CliError

    return CliError(str(exc))


def _positive(args: argparse.Namespace) -> None:
    from freqtrade_exec_ext.cli.errors import CliError

    if args.min_fills < 1:
        raise CliError(f"--min-fills {args.min_fills}: must be an integer >= 1")
    if not args.shrinkage >= 0:
        raise CliError(f"--shrinkage {args.shrinkage}: must be a number >= 0")
    if not args.entry_timeout_s > 0:
        raise CliError(f"--entry-timeout-s {args.entry_timeout_s}: must be a number > 0")
    if not args.out.parent.is_dir():
        raise CliError(f"--out {args.out}: directory {args.out.parent} does not exist")


def run_calibrate(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.calibration.build import CalibrationInput, calibrate
    from freqtrade_exec_ext.calibration.fit import FitSettings
    from freqtrade_exec_ext.calibration.model import save
    from freqtrade_exec_ext.calibration.report import model_lines
    from freqtrade_exec_ext.calibration.sources import CalibrationInputError

    _positive(args)
    inp = CalibrationInput(
        urls=args.db,
        datadir=args.datadir,
        timeframe=args.timeframe,
        entry_timeout_s=args.entry_timeout_s,
        settings=FitSettings(min_fills=args.min_fills, shrinkage=args.shrinkage),
        seed=args.seed,
    )
    try:
        model = calibrate(inp)
    except CalibrationInputError as exc:
        raise _cli_error(exc) from None
    save(model, args.out)
    for line in model_lines(model):
        print(line)
    print(f"wrote {args.out}")
    return 0


def resolve_result(path: Path) -> Path:
    from freqtrade_exec_ext.cli.errors import CliError

    if not path.exists():
        raise CliError(f"BACKTEST {path}: no such file or directory")
    if path.is_dir() or path.name == LAST_RESULT:
        folder = path if path.is_dir() else path.parent
        last = folder / LAST_RESULT
        try:
            name = json.loads(last.read_text(encoding="utf-8"))["latest_backtest"]
        except (OSError, ValueError, KeyError, TypeError):
            raise CliError(
                f"BACKTEST {path}: no readable {LAST_RESULT} in {folder}; name the "
                "backtest-result-*.zip file instead"
            ) from None
        path = folder / str(name)
        if not path.is_file():
            raise CliError(f"BACKTEST {last}: names {name}, which does not exist")
    if path.suffix not in (".zip", ".json"):
        raise CliError(
            f"BACKTEST {path}: expected a backtest-result-*.zip (or .json), "
            f"{LAST_RESULT} or the backtest_results directory"
        )
    return path


def load_result(path: Path) -> dict[str, Any]:
    from freqtrade_exec_ext.cli.errors import CliError
    from freqtrade_exec_ext.compat.data import BacktestUnreadable, load_backtest_stats

    try:
        return load_backtest_stats(path)
    except BacktestUnreadable as exc:
        raise CliError(f"BACKTEST {path}: {exc}") from None


def _candles(datadir: Path | None, model: Any, strat: dict[str, Any]) -> Any:
    from freqtrade_exec_ext.calibration.sources import OrderCandles
    from freqtrade_exec_ext.cli.errors import CliError

    if datadir is None:
        return None
    if not datadir.is_dir():
        raise CliError(f"--datadir {datadir}: not a directory")
    timeframe = str(strat.get("timeframe") or model.timeframe or "")
    config = {
        "datadir": str(datadir),
        "dataformat_ohlcv": "feather",
        "candle_type_def": "futures" if model.trading_mode == "futures" else "spot",
    }
    return OrderCandles(config, timeframe)


def run_rescore(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.calibration.apply import load_for_backtest
    from freqtrade_exec_ext.calibration.model import ModelError
    from freqtrade_exec_ext.calibration.rescore import (
        profit_table,
        rescore,
        summary_lines,
        write_outputs,
    )
    from freqtrade_exec_ext.cli.errors import CliError

    result = resolve_result(args.backtest)
    try:
        costs = load_for_backtest(args.model, backtest_fee=None)
    except ModelError as exc:
        raise CliError(f"--model {exc}") from None
    data = load_result(result)
    names = [n for n in data["strategy"] if not args.strategy or n == args.strategy]
    if not names:
        raise CliError(
            f"--strategy {args.strategy}: not in {result} (has {', '.join(data['strategy'])})"
        )
    for name in names:
        strat = data["strategy"][name]
        trades = list(strat.get("trades") or [])
        market = str(strat.get("trading_mode") or "spot").lower()
        if market != costs.model.trading_mode:
            raise CliError(
                f"--model {args.model}: describes {costs.model.market}, but "
                f"{name} in {result} traded {market}"
            )
        r = rescore(
            costs,
            trades,
            all_fills=args.all_fills,
            candles=_candles(args.datadir, costs.model, strat),
        )
        lines = summary_lines(r, len(trades))
        table = profit_table(trades, r.trades, str(strat.get("stake_currency") or ""))
        trades_path, table_path = write_outputs(result, name, r, table, lines, str(args.model))
        print(f"{name}: {result}")
        print(table, end="")
        for line in lines:
            print(line)
        print(f"wrote {trades_path} and {table_path}")
    return 0
