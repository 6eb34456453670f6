"""``freqtrade-exec ft <freqtrade args>``: run Freqtrade with our plugins loadable.

Installs the plugin registry (pairlist/protection names resolve to this package's
classes) and a config hook that appends ``exec_ext.pairlists`` to ``pairlists`` right
after Freqtrade loads its configuration, then runs ``freqtrade.main.main(argv)`` in this
process.  Needed for commands that load no strategy (``test-pairlist``, ``webserver``);
``trade``, ``backtesting`` and ``hyperopt`` also work with the plain ``freqtrade``
command because the strategy's mixin installs the same thing.
"""

from __future__ import annotations

import sys
from typing import Any

HELP = (
    "run freqtrade with the freqtrade-exec-ext plugins loadable; every argument after "
    "'ft' goes to freqtrade verbatim (e.g. freqtrade-exec ft test-pairlist -c config.json)"
)


def register(sub: Any) -> None:
    # Only for --help: cli/main.py routes "ft ..." to run_passthrough before argparse.
    parser = sub.add_parser("ft", help=HELP, description=HELP, add_help=True)
    parser.add_argument("freqtrade_args", nargs="*", help="arguments for freqtrade")
    parser.set_defaults(func=lambda args: run_passthrough(list(args.freqtrade_args)))


def run_passthrough(argv: list[str]) -> int:
    """Install the registry and config hook, then run freqtrade with ``argv``."""
    try:
        from freqtrade_exec_ext import compat
    except Exception as exc:  # noqa: BLE001  (FreqtradeCompatError, or no usable freqtrade)
        print(f"freqtrade-exec ft: {exc}", file=sys.stderr)
        return 2
    try:
        compat.install_config_hook()
    except compat.FreqtradeCompatError as exc:
        print(f"freqtrade-exec ft: {exc}", file=sys.stderr)
        return 2
    return compat.run_freqtrade_main(list(argv))
