"""``freqtrade-exec``: the package's command line.

Each sub-command lives in its own module that exposes ``register(subparsers)``; the
modules import only argparse at import time so that every command starts fast, and do
their heavy imports inside the handler.  Bad input prints one line per problem to stderr
and exits 2; no input ever produces a traceback (``--debug`` shows one for bug reports).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from freqtrade_exec_ext import __version__
from freqtrade_exec_ext.cli import calibrate, deploy, exchange, ft, report, resume, risk
from freqtrade_exec_ext.cli.errors import CliError
from freqtrade_exec_ext.contract import ContractError

COMMAND_MODULES = (risk, exchange, deploy, report, resume, calibrate, ft)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freqtrade-exec",
        description="Risk contract, local exchange, deployment and execution-quality tools "
        "for Freqtrade strategies.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # the freqtrade passthrough takes its arguments verbatim
    if args_list[:1] == ["ft"]:
        return ft.run_passthrough(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    try:
        return int(args.func(args) or 0)
    except (CliError, ContractError) as exc:
        lines = exc.lines if isinstance(exc, CliError) else exc.lines()
        for line in lines:
            print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        print(
            f"freqtrade-exec: internal error: {exc.__class__.__name__}: {exc} "
            "(run with --debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
