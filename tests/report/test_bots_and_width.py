"""Issue 15.3 (several bots) and 15.4 (the terminal output fits its width)."""

from __future__ import annotations

import pytest
from report_helpers import run_report, sqlite_db


@pytest.fixture(scope="module")
def two_bots(tmp_path_factory):
    root = tmp_path_factory.mktemp("bots")
    (root / "a").mkdir()
    (root / "b").mkdir()
    return (sqlite_db(root / "a" / "tradesv3.sqlite"),
            sqlite_db(root / "b" / "tradesv3.sqlite", ledger=False))


def test_several_databases_get_a_bot_column_and_totals(two_bots, tmp_path, capsys):
    a, b = two_bots
    _, one, _, _ = run_report(["--db", a], tmp_path, capsys)
    rc, data, out, err = run_report(["--db", a, "--db", b], tmp_path, capsys)
    assert rc == 0, err
    assert data["meta"]["bots"] == ["a/tradesv3.sqlite", "b/tradesv3.sqlite"]
    assert {g["bot"] for g in data["groups"]} == set(data["meta"]["bots"])
    assert data["totals"]["orders"] == 2 * one["totals"]["orders"]
    by_strategy = {r["key"] for r in data["executions"]["by"]["strategy"]}
    assert by_strategy == {"STR001 @ a/tradesv3.sqlite", "STR001 @ b/tradesv3.sqlite"}
    assert data["executions"]["total"]["executions"] == 2 * one["executions"]["total"][
        "executions"]
    # the same orders: bot a's groups are the single-database report's
    mine = [{k: v for k, v in g.items() if k != "bot"} for g in data["groups"]
            if g["bot"] == "a/tradesv3.sqlite"]
    assert mine == [{k: v for k, v in g.items() if k != "bot"} for g in one["groups"]]
    assert "Bot" in out and "a/tradesv3.sqlite" in out


@pytest.mark.postgres
def test_sqlite_and_postgresql_bots_together(ledger_db, pg_url, tmp_path, capsys):
    rc, data, _, err = run_report(["--db", ledger_db, "--db", pg_url], tmp_path, capsys)
    assert rc == 0, err
    assert data["meta"]["dialect"] == "postgresql, sqlite"
    assert len({g["bot"] for g in data["groups"]}) == 2


@pytest.mark.parametrize("width", [120, 100, 80])
def test_no_line_is_wider_than_the_terminal(ledger_db, tmp_path, capsys, width):
    rc, _, out, err = run_report(["--db", ledger_db, "--width", str(width)], tmp_path, capsys)
    assert rc == 0, err
    assert max(len(line) for line in out.splitlines()) <= width
    if width < 120:
        assert f"not shown at {width} columns:" in out


def test_width_comes_from_columns(ledger_db, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "90")
    rc, _, out, _ = run_report(["--db", ledger_db], tmp_path, capsys)
    assert rc == 0
    assert max(len(line) for line in out.splitlines()) <= 90


def test_one_vocabulary_in_terminal_and_html(ledger_db, tmp_path, capsys):
    page = tmp_path / "r.html"
    rc, _, out, _ = run_report(["--db", ledger_db, "--html", str(page), "--width", "240"],
                               tmp_path, capsys)
    assert rc == 0
    html = page.read_text()
    for header in ("vs", "Wtd", "Arr wtd", "Spread bps", "Impact", "Opport.", "Total bps",
                   "Avg fill"):
        assert f">{header}<" in html and header in out
    assert "requested" in out and ">requested<" in html and " dec " not in out
