"""``freqtrade-exec approve``: a human, after 14 days of paper, for this contract only."""

from __future__ import annotations

import io
import json

import pytest
from deploytools import make_paper_db, run_cli

APPROVAL = ".crypto/knowledge/strategies/STR-001/approvals/live.json"


class Terminal(io.StringIO):
    """What a person types at an interactive terminal."""

    def isatty(self) -> bool:
        return True


def approve(project, *extra: str) -> int:
    return run_cli("approve", "STR-001", "--root", str(project), *extra)


@pytest.fixture
def typed(monkeypatch):
    def _typed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", Terminal(text))

    return _typed


def test_a_human_approves_after_14_days_of_paper(project, typed, capsys):
    make_paper_db(project, closed_trades=5, days=15.0)
    typed("STR-001\n")
    assert approve(project, "--by", "Alice Example", "--capital", "750") == 0
    out = capsys.readouterr().out
    assert "STR-001 paper results: 10 filled orders, 5 closed trades, 0 failed checks" in out
    assert "Approving LIVE trading of STR-001 with 750 USDT" in out
    data = json.loads((project / APPROVAL).read_text())
    assert data["approved_by"] == "Alice Example"
    assert data["capital"] == 750.0 and data["stake_currency"] == "USDT"
    assert data["approved_at"].endswith("Z")
    from freqtrade_exec_ext.contract import load_contract

    contract = load_contract(project / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml")
    assert data["contract_fingerprint"] == contract.fingerprint()
    assert data["paper_evidence"]["days"] == 15.0


def test_no_interactive_terminal_no_approval(project, monkeypatch, capsys):
    make_paper_db(project)
    monkeypatch.setattr("sys.stdin", io.StringIO("STR-001\n"))  # piped, not a person
    assert approve(project, "--by", "bot", "--capital", "100") == 2
    assert "needs an interactive terminal" in capsys.readouterr().err
    assert not (project / APPROVAL).exists()


def test_a_wrong_confirmation_records_nothing(project, typed, capsys):
    make_paper_db(project)
    typed("yes\n")
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    assert "not confirmed; nothing was recorded" in capsys.readouterr().err
    assert not (project / APPROVAL).exists()


def test_nothing_to_approve_before_14_days_of_paper(project, typed, capsys):
    typed("STR-001\n")
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    assert "no paper results to review" in capsys.readouterr().err
    make_paper_db(project, days=6.0)
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    assert "paper trading ran 6.0 days" in capsys.readouterr().err
    assert not (project / APPROVAL).exists()


@pytest.mark.parametrize(
    ("capital", "message"),
    [
        ("1500", "more than the contract's capital.initial_capital (1000 USDT)"),
        ("0", "--capital: must be a number > 0"),
        ("nan", "--capital: must be a number > 0"),
    ],
)
def test_capital_must_fit_the_contract(project, typed, capsys, capital, message):
    make_paper_db(project)
    typed("STR-001\n")
    assert approve(project, "--by", "Alice", "--capital", capital) == 2
    assert message in capsys.readouterr().err


def test_approver_name_is_checked(project, typed, capsys):
    make_paper_db(project)
    typed("STR-001\n")
    assert approve(project, "--by", "   ", "--capital", "100") == 2
    assert capsys.readouterr().err.startswith("--by: the approver's name")
