"""The contract binds under every Freqtrade command and every settings source.

A contract-owned setting is either in effect (the contract's value, or the value
lookahead-analysis forces for an analysis that places no order) or the command stops with
one line naming the source and the contract's value.  See binding_matrix.py.
"""

from __future__ import annotations

import pytest
from binding_matrix import COMMANDS, SOURCES, table

REFUSED_EVERYWHERE = {"add_config_files", "environment variable", "hyperopt parameter file"}


def expected(source: str, command: str) -> str:
    if source == "strategy class attribute":
        return "in effect"  # the contract's value replaces the class's (a warning says so)
    if source == "config file":  # sets max_open_trades, which lookahead-analysis forces
        return "in effect" if command == "lookahead-analysis" else "refused"
    if source == "command-line flag":  # --stake-amount, which lookahead-analysis forces
        return "in effect" if command == "lookahead-analysis" else "refused"
    assert source in REFUSED_EVERYWHERE | {"REST API backtest request", "hyperopt --spaces"}
    return "refused"


@pytest.mark.slow
def test_every_source_under_every_command_is_in_effect_or_refused(localex, tmp_path, capsys):
    rows = table(tmp_path, localex.base_url)
    with capsys.disabled():
        print("\n| source | command | outcome | message |\n|---|---|---|---|")
        for src, cmd, outcome, detail in rows:
            if outcome != "n/a":
                print(f"| {src} | {cmd} | {outcome} | {detail.replace(str(tmp_path), '<tmp>')} |")
    cells = {(src, cmd): (outcome, detail) for src, cmd, outcome, detail in rows}
    assert len(cells) == len(SOURCES) * len(COMMANDS)
    for (src, cmd), (outcome, detail) in cells.items():
        if outcome == "n/a":
            continue
        assert outcome == expected(src, cmd), (src, cmd, detail)
        if outcome == "refused":
            # one line naming the source and the contract's value
            assert "\n" not in detail and "the contract sets" in detail or "owns" in detail
            assert src.split()[0].lower() in detail.lower() or "--" in detail or (
                "file" in detail), (src, detail)
        else:
            assert "contract" in detail
    # a strategy class attribute never wins: the contract's stop is in effect
    for cmd in COMMANDS:
        outcome, detail = cells[("strategy class attribute", cmd)]
        assert detail.startswith("stoploss=-0.05"), detail
