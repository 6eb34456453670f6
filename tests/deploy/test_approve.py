"""``freqtrade-exec approve``: a human, after 14 days of paper, reviews the evidence and the
paper report; breaches need a recorded reason; the approval is sealed by a digest that
``deploy`` and ``validate`` re-derive."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from deploytools import (
    DEPLOYMENT,
    approve_live,
    deploy,
    make_paper_db,
    make_ready,
    make_testnet_db,
    record_sessions,
    run_cli,
)

APPROVAL = ".crypto/knowledge/strategies/STR-001/approvals/live.json"
REPORT = ".crypto/knowledge/strategies/STR-001/approvals/live-paper-report.json"


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


def contract_of(project: Path):
    from freqtrade_exec_ext.contract import load_contract

    return load_contract(project / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml")


def test_a_human_approves_after_14_days_of_paper(project, typed, capsys):
    make_paper_db(project, closed_trades=5, days=15.0)
    typed("STR-001\n")
    assert approve(project, "--by", "Alice Example", "--capital", "750") == 0
    out = capsys.readouterr().out
    assert "STR-001 paper results: 1 session, 10 filled orders, 5 closed trades, 0 failed" in out
    assert "drawdown 0.0% (limits.max_drawdown 15.0%)" in out
    assert "paper report: 10 orders, 10 filled, implementation shortfall" in out
    assert "BREACH" not in out
    assert "Approving LIVE trading of STR-001 with 750 USDT" in out
    data = json.loads((project / APPROVAL).read_text())
    assert data["approved_by"] == "Alice Example" and data["version"] == 2
    assert data["capital"] == 750.0 and data["stake_currency"] == "USDT"
    approved_at = datetime.fromisoformat(data["approved_at"])
    as_of = datetime.fromisoformat(data["paper_evidence_as_of"])
    assert approved_at - as_of == timedelta(minutes=2)  # rows still being committed wait
    assert data["contract_sha256"] == contract_of(project).fingerprint()
    assert data["paper_evidence"]["days"] == 15.0
    assert data["accepted_breaches"] == [] and data["accept_reason"] is None
    # the report the person saw is kept, and bound by its sha256
    report = (project / REPORT).read_bytes()
    assert hashlib.sha256(report).hexdigest() == data["report_sha256"]
    assert json.loads(report)["totals"]["filled"] == 10
    # one digest over everything else
    payload = {k: v for k, v in data.items() if k != "digest"}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(blob.encode()).hexdigest() == data["digest"]


def test_no_interactive_terminal_no_approval(project, monkeypatch, capsys):
    make_paper_db(project)
    monkeypatch.setattr("sys.stdin", io.StringIO("STR-001\n"))  # piped, not a person
    assert approve(project, "--by", "bot", "--capital", "100") == 2
    assert "needs an interactive terminal" in capsys.readouterr().err
    assert not (project / APPROVAL).exists() and not (project / REPORT).exists()


def test_a_wrong_confirmation_records_nothing(project, typed, capsys):
    make_paper_db(project)
    typed("yes\n")
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    assert "not confirmed; nothing was recorded" in capsys.readouterr().err
    assert not (project / APPROVAL).exists() and not (project / REPORT).exists()


def test_nothing_to_approve_before_14_days_of_paper(project, typed, capsys):
    typed("STR-001\n")
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    assert "no paper results to review" in capsys.readouterr().err
    make_paper_db(project, days=6.0)
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    err = capsys.readouterr().err
    assert "heartbeats cover 6.0 days without a gap over 1.0 h" in err
    assert not (project / APPROVAL).exists()


def test_paper_without_a_trade_cannot_be_approved(project, typed, capsys):
    make_paper_db(project, closed_trades=0, days=15.0)
    typed("STR-001\n")
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    assert capsys.readouterr().err.splitlines() == [
        ("approve refused: paper evidence: user_data/STR-001.paper.sqlite: 0 closed trades in "
        "the paper sessions; live needs at least 1 (paper results with no trade cannot be "
        "reviewed)")
    ]


def test_breaches_block_approval_unless_a_reason_is_recorded(project, typed, capsys):
    make_paper_db(project, closed_trades=3, rejected=1, over_budget=1, days=15.0)
    typed("STR-001\n")
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "approve refused: the paper results have breaches: 1 rejected order; 1 fill over the "
        "slippage budget."
    )
    assert "--accept-breaches" in err[1]
    assert not (project / APPROVAL).exists()
    typed("STR-001\n")
    reason = "rejections were the venue's maintenance window; the fill was a news spike"
    assert approve(project, "--by", "Alice", "--capital", "100", "--accept-breaches", reason) == 0
    out = capsys.readouterr().out
    assert "BREACH: 1 rejected order" in out and f"accepted because: {reason}" in out
    data = json.loads((project / APPROVAL).read_text())
    assert data["accepted_breaches"] == ["1 rejected order", "1 fill over the slippage budget"]
    assert data["accept_reason"] == reason


def test_drawdown_over_the_contract_limit_is_a_breach(project, typed, capsys):
    # 1000 USDT paper wallet, limits.max_drawdown 0.15: +10, -100, -90 -> 18.8% from the peak
    make_paper_db(project, closed_trades=3, losses=(10.0, -100.0, -90.0), days=15.0)
    typed("STR-001\n")
    assert approve(project, "--by", "Alice", "--capital", "100") == 2
    err = capsys.readouterr().err
    assert "drawdown 18.8% over limits.max_drawdown 15.0%" in err


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


# ------------------------------------------------------------------ after the approval
def live_refusals(project: Path, capsys) -> list[str]:
    capsys.readouterr()
    assert deploy(project, "live") == 2
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("  - ")]


def test_a_hand_edited_approval_is_refused_by_deploy_and_validate(project, capsys):
    make_ready(project, "live")
    assert deploy(project, "live") == 0
    path = project / APPROVAL
    data = json.loads(path.read_text())
    data["capital"] = 1000.0  # more money than was approved, digest left as it was
    path.write_text(json.dumps(data, indent=2))
    problem = (
        "  - human approval: .crypto/knowledge/strategies/STR-001/approvals/live.json: its "
        "content does not match its digest (edited by hand?); a human reviews the paper "
        "results and runs freqtrade-exec approve again. After reviewing the paper results, a "
        "human runs: freqtrade-exec approve STR-001 --by NAME --capital AMOUNT"
    )
    assert problem in live_refusals(project, capsys)
    assert run_cli("validate", str(project / DEPLOYMENT)) == 2
    assert f"stage order: {problem[4:]}" in capsys.readouterr().err.splitlines()


def test_a_hand_written_approval_is_refused(project, capsys):
    make_testnet_db(project)
    make_paper_db(project, closed_trades=4)
    path = project / APPROVAL
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "strategy_id": "STR-001", "stage": "live", "approved_by": "me",
        "approved_at": "2026-01-21T08:00:00Z", "capital": 500.0, "stake_currency": "USDT",
        "contract_sha256": contract_of(project).fingerprint(),
        "paper_evidence_digest": "0" * 64, "paper_evidence_as_of": "2026-01-21T07:58:00Z",
        "paper_evidence": {}, "report_sha256": "0" * 64, "report_file": "x.json",
        "version": 2, "digest": "f" * 64,
    }))  # fmt: skip
    assert any("does not match its digest" in line for line in live_refusals(project, capsys))
    path.write_text(json.dumps({"approved_by": "me", "capital": 500}))  # the old format
    assert any("not a version-2 approval" in line for line in live_refusals(project, capsys))


def test_the_reviewed_report_must_stay_as_it_was(project, capsys):
    make_ready(project, "live")
    report = project / REPORT
    report.write_text(report.read_text().replace('"filled"', '"filled" ', 1))
    assert (
        "  - human approval: the paper report it approved (live-paper-report.json) changed "
        "after the approval: review the paper results and approve again"
    ) in live_refusals(project, capsys)
    report.unlink()
    assert any("is missing" in line for line in live_refusals(project, capsys))


def test_another_paper_database_is_not_the_approved_evidence(project, capsys):
    make_ready(project, "live")
    make_paper_db(project, closed_trades=6, days=15.0)  # a different paper run, same contract
    lines = live_refusals(project, capsys)
    assert any(
        line.startswith("  - human approval: the paper database no longer holds the evidence "
                        "that was approved (digest ")
        for line in lines
    )  # fmt: skip


def _keep_paper_running(project: Path, *, rejected: bool) -> None:
    """The paper bot runs on after the approval: a new session and a new trade."""
    from deploytools import _engine, contract_sha
    from freqtrade.persistence import Trade, init_db
    from support import make_order, make_trade

    db = project / "user_data/STR-001.paper.sqlite"
    start = datetime(2026, 1, 21, 9, 0, tzinfo=UTC)
    init_db(f"sqlite:///{db}")
    when = (start + timedelta(minutes=20)).replace(tzinfo=None)
    trade = make_trade(open_date=when)
    trade.orders.append(make_order(
        "buy", "dry_run_buy_BTC/USDT_later", when, ft_is_open=rejected,
        status="rejected" if rejected else "closed", filled=0.0 if rejected else 1.0,
    ))  # fmt: skip
    Trade.session.add(trade)
    Trade.commit()
    Trade.session.remove()
    engine = _engine(db)
    record_sessions(engine, stage="paper", dry_run=True, start=start, days=1.0,
                    contract=contract_sha(project))  # fmt: skip
    engine.dispose()


def test_the_paper_bot_may_keep_running_after_the_approval(project, capsys):
    make_ready(project, "live")
    _keep_paper_running(project, rejected=False)
    assert deploy(project, "live") == 0


def test_a_breach_after_the_approval_blocks_live(project, capsys):
    make_ready(project, "live")
    _keep_paper_running(project, rejected=True)
    assert (
        "  - paper evidence: new since the approval at 2026-01-21T08:00:00Z: 1 rejected "
        "order: review the paper results and approve again"
    ) in live_refusals(project, capsys)


def test_accepted_breaches_let_live_deploy_and_show_in_the_checklist(project):
    make_testnet_db(project)
    make_paper_db(project, closed_trades=4, rejected=1, days=15.0)
    approve_live(project, accept="the venue was in maintenance")
    assert deploy(project, "live") == 0
    text = (project / DEPLOYMENT / "deployment-checklist.md").read_text()
    assert "breaches accepted: the venue was in maintenance" in text
