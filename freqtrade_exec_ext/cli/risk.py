"""``freqtrade-exec risk check PATH``: validate a risk contract and print its limits."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    risk = sub.add_parser("risk", help="risk contract (risk-assessment.yaml) tools")
    risk_sub = risk.add_subparsers(dest="risk_command", metavar="ACTION")
    risk_sub.required = True
    check = risk_sub.add_parser(
        "check",
        help="validate a risk-assessment.yaml and print its normalized limits",
        description="Exit 0 and print the limits when the file is valid; otherwise print "
        "one line per problem to stderr and exit 2.",
    )
    check.add_argument("path", help="path to risk-assessment.yaml")
    check.add_argument("--json", action="store_true", help="print the normalized contract as JSON")
    check.set_defaults(func=run_check)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_check(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.contract import field_docs, load_contract

    contract = load_contract(args.path)
    if args.json:
        print(json.dumps(contract.normalized(), indent=2, sort_keys=False))
        return 0

    from rich.console import Console
    from rich.table import Table

    docs = {row[0]: row for row in field_docs()}
    values = _flatten(contract.normalized())
    table = Table(title=f"{contract.strategy_id}: risk limits ({args.path})")
    table.add_column("field", style="cyan", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("set", justify="center")
    set_fields = _explicit_fields(contract)
    for path, value in values.items():
        unit = docs[path][4] if path in docs else ""
        shown = json.dumps(value) if not isinstance(value, str) else value
        table.add_row(path, shown, unit, "file" if path in set_fields else "default")
    Console(width=110).print(table)
    fingerprint = contract.fingerprint()[:12]
    print(f"OK: {args.path} is a valid version-1 risk contract (fingerprint {fingerprint})")
    return 0


def _explicit_fields(model: Any, prefix: str = "") -> set[str]:
    from pydantic import BaseModel

    out: set[str] = set()
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out |= _explicit_fields(value, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out
