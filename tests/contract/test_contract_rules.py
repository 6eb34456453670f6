"""The risk contract, rule by rule: what a user who edits risk-assessment.yaml sees."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from freqtrade_exec_ext.contract import (
    ContractError,
    RiskContract,
    load_contract,
    parse_contract,
    parse_yaml_text,
)
from freqtrade_exec_ext.contract.loader import MAX_BYTES

MINIMAL: dict[str, Any] = {
    "schema_version": 1,
    "strategy_id": "STR-042",
    "capital": {"initial_capital": 500},
    "sizing": {"method": "risk_per_trade", "risk_per_trade": 0.02},
    "stop_loss": {"stoploss": -0.08},
    "slippage": {"max_entry_bps": 12, "max_exit_bps": 25},
}


def with_value(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(base or MINIMAL)
    node = data
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def without(path: str) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    node = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    del node[last]
    return data


def problems(data: Any) -> list[str]:
    with pytest.raises(ContractError) as info:
        parse_contract(data, "risk.yaml")
    return [str(p) for p in info.value.problems]


def problems_of_text(text: str | bytes) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(ContractError) as info:
        parse_contract(parse_yaml_text(raw, "risk.yaml"), "risk.yaml")
    return [str(p) for p in info.value.problems]


# ------------------------------------------------------------------ valid contracts
def test_shipped_contract_loads_with_its_numbers(str001_contract_path: Path) -> None:
    c = load_contract(str001_contract_path)
    assert c.strategy_id == "STR-001"
    assert c.sizing.method == "risk_per_trade"
    assert c.stop_loss.stoploss == -0.05
    assert (c.slippage.max_entry_bps, c.slippage.max_exit_bps) == (15, 30)
    assert (c.sizing.min_stake, c.sizing.max_stake) == (10, 300)


def test_minimal_contract_gets_every_documented_default() -> None:
    c = parse_contract(MINIMAL)
    assert c.market.exchange == "binance"
    assert c.market.trading_mode == "spot"
    assert c.market.stake_currency == "USDT"
    assert c.capital.max_open_trades == 3
    assert (c.sizing.min_stake, c.sizing.max_stake) == (10, 300)
    assert c.stop_loss.trailing.enabled is False
    assert (c.stop_loss.trailing.positive, c.stop_loss.trailing.offset) == (0.01, 0.02)
    assert c.stop_loss.on_exchange is True
    assert c.stop_loss.order_type == "stop_limit"
    assert c.stop_loss.limit_ratio == 0.99
    assert (c.slippage.max_spread_bps, c.slippage.backtest_bps) == (10, 5)
    assert c.orders.time_in_force == "GTC"
    assert (c.orders.entry_timeout_s, c.orders.exit_timeout_s) == (240, 300)
    assert (c.orders.max_reprices, c.orders.min_fill_ratio, c.orders.max_retries) == (3, 0.5, 2)
    assert c.leverage.max == 1
    assert c.funding.max_rate_bps == 5
    assert (c.limits.max_drawdown, c.limits.daily_loss_limit) == (0.15, 0.05)
    assert c.limits.max_consecutive_stoplosses == 3


def test_contract_is_immutable() -> None:
    c = parse_contract(MINIMAL)
    with pytest.raises(Exception, match="frozen"):
        c.slippage.max_entry_bps = 500  # type: ignore[misc]


def test_integers_are_accepted_where_numbers_are_expected() -> None:
    c = parse_contract(with_value("capital.initial_capital", 1000))
    assert isinstance(c.capital.initial_capital, float)


def test_scientific_notation_without_a_dot_is_a_number() -> None:
    text = yaml.safe_dump(with_value("capital.initial_capital", "PLACEHOLDER"))
    c = parse_contract(parse_yaml_text(text.replace("PLACEHOLDER", "1e3").encode(), "f"))
    assert c.capital.initial_capital == 1000.0


def test_fingerprint_changes_with_any_limit() -> None:
    a = parse_contract(MINIMAL)
    b = parse_contract(with_value("slippage.max_entry_bps", 13))
    assert a.fingerprint() == parse_contract(copy.deepcopy(MINIMAL)).fingerprint()
    assert a.fingerprint() != b.fingerprint()


def test_futures_contract_with_leverage_and_margin_mode() -> None:
    data = with_value("market", {"trading_mode": "futures", "margin_mode": "cross"})
    c = parse_contract(with_value("leverage.max", 3, data))
    assert c.is_futures and c.leverage.max == 3 and c.market.margin_mode == "cross"


# ------------------------------------------------------------------ required keys
@pytest.mark.parametrize(
    "path",
    [
        "schema_version",
        "strategy_id",
        "capital.initial_capital",
        "sizing.method",
        "stop_loss.stoploss",
        "slippage.max_entry_bps",
        "slippage.max_exit_bps",
    ],
)
def test_required_key_missing_is_named(path: str) -> None:
    lines = problems(without(path))
    assert any(f"risk.yaml: {path}: required" in line for line in lines), lines


@pytest.mark.parametrize("section", ["capital", "sizing", "stop_loss", "slippage"])
def test_required_section_missing_names_what_it_needs(section: str) -> None:
    lines = problems(without(section))
    assert lines == [line for line in lines if line.startswith("risk.yaml: ")]
    assert any(f"{section}: required section is missing" in line for line in lines)


@pytest.mark.parametrize(
    ("method", "key"),
    [
        ("fixed_stake", "fixed_stake"),
        ("fraction_of_equity", "fraction_of_equity"),
        ("risk_per_trade", "risk_per_trade"),
    ],
)
def test_sizing_method_requires_its_own_key(method: str, key: str) -> None:
    data = with_value("sizing", {"method": method})
    assert problems(data) == [f"risk.yaml: sizing.{key}: required when sizing.method is {method}"]
    ok = with_value(f"sizing.{key}", 0.05, data)
    assert parse_contract(ok).sizing.method == method


# ------------------------------------------------------------------ unknown keys
@pytest.mark.parametrize(
    ("path", "suggestion"),
    [
        ("slippage.max_entry_bp", "max_entry_bps"),
        ("stop_loss.trailng", "trailing"),
        ("capitol", "capital"),
        ("orders.time_in_forse", "time_in_force"),
        ("stop_loss.trailing.ofset", "offset"),
    ],
)
def test_unknown_key_is_an_error_with_the_closest_name(path: str, suggestion: str) -> None:
    lines = problems(with_value(path, 1))
    assert any(
        line.startswith(f"risk.yaml: {path}: unknown key; did you mean '{suggestion}'?")
        for line in lines
    ), lines


# ------------------------------------------------------------------ strict types
@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("capital.max_open_trades", 2.0),
        ("capital.max_open_trades", True),
        ("capital.max_open_trades", "3"),
        ("orders.entry_timeout_s", 600.5),
        ("orders.max_reprices", False),
        ("limits.max_consecutive_stoplosses", 3.0),
        ("schema_version", 1.0),
        ("schema_version", True),
    ],
)
def test_integer_field_takes_no_float_bool_or_text(path: str, value: Any) -> None:
    lines = problems(with_value(path, value))
    assert any(f"{path}: must be an integer" in line for line in lines), lines


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("slippage.max_entry_bps", "15"),
        ("slippage.max_entry_bps", True),
        ("capital.initial_capital", "1000"),
        ("stop_loss.stoploss", None),
        ("leverage.max", [1]),
    ],
)
def test_number_field_takes_no_text_bool_or_other_shapes(path: str, value: Any) -> None:
    lines = problems(with_value(path, value))
    assert any(f"{path}: must be a number" in line for line in lines), lines


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(
    "path", ["capital.initial_capital", "slippage.max_exit_bps", "leverage.max"]
)
def test_every_number_must_be_finite(path: str, value: float) -> None:
    lines = problems(with_value(path, value))
    assert any(f"{path}: must be a finite number" in line for line in lines), lines


@pytest.mark.parametrize(
    "path",
    [
        "stop_loss.trailing.enabled",
        "stop_loss.on_exchange",
        "stop_loss.trailing.only_offset_is_reached",
    ],
)
def test_boolean_field_takes_only_true_or_false(path: str) -> None:
    assert any(f"{path}: must be true or false" in x for x in problems(with_value(path, "true")))
    assert any(f"{path}: must be true or false" in x for x in problems(with_value(path, 1)))


def test_section_must_be_a_mapping() -> None:
    lines = problems(with_value("slippage", [15, 30]))
    assert any("slippage: must be a mapping of keys" in line for line in lines), lines


# ------------------------------------------------------------------ ranges
# (path, rejected values, accepted values) from the version-1 reference
RANGES: list[tuple[str, list[Any], list[Any]]] = [
    ("capital.initial_capital", [0, -1], [0.01, 1e9]),
    ("capital.max_open_trades", [0, -2], [1, 50]),
    ("sizing.min_stake", [0, -5], [0.5, 10]),
    ("stop_loss.stoploss", [0, -1, 0.05, -1.5], [-0.999, -0.0001]),
    ("stop_loss.trailing.positive", [0, 1, 1.5], [0.005]),
    ("stop_loss.limit_ratio", [0, 1.01], [1, 0.5]),
    ("slippage.max_entry_bps", [-0.1, 500.1], [0, 500]),
    ("slippage.max_exit_bps", [-1, 501], [0, 500]),
    ("slippage.max_spread_bps", [-1, 600], [0, 500]),
    ("slippage.backtest_bps", [-1, 501], [0, 500]),
    ("orders.entry_timeout_s", [0, -60], [1, 86400]),
    ("orders.exit_timeout_s", [0], [1]),
    ("orders.max_reprices", [-1], [0, 10]),
    ("orders.min_fill_ratio", [-0.1, 1.1], [0, 1]),
    ("orders.max_retries", [-1], [0]),
    ("funding.max_rate_bps", [-0.5], [0, 100]),
    ("limits.max_drawdown", [0, 1], [0.5]),
    ("limits.daily_loss_limit", [0, 1, 2], [0.01]),
    ("limits.max_consecutive_stoplosses", [0], [1, 7]),
]


@pytest.mark.parametrize(("path", "bad", "good"), RANGES, ids=[r[0] for r in RANGES])
def test_range_limits_hold(path: str, bad: list[Any], good: list[Any]) -> None:
    for value in bad:
        lines = problems(with_value(path, value))
        assert any(
            line.startswith(f"risk.yaml: {path}: ") and "allowed:" in line for line in lines
        ), (
            value,
            lines,
        )
    for value in good:
        parse_contract(with_value(path, value))


@pytest.mark.parametrize(
    ("method", "key", "bad", "good"),
    [
        ("fixed_stake", "fixed_stake", [0, -10], [5, 1e6]),
        ("fraction_of_equity", "fraction_of_equity", [0, 1.01], [1, 0.001]),
        ("risk_per_trade", "risk_per_trade", [0, 0.11, 1], [0.1, 0.0001]),
    ],
)
def test_sizing_ranges(method: str, key: str, bad: list[float], good: list[float]) -> None:
    for value in bad:
        data = with_value("sizing", {"method": method, key: value})
        assert any(f"sizing.{key}:" in line for line in problems(data))
    for value in good:
        parse_contract(with_value("sizing", {"method": method, key: value}))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("market.trading_mode", "margin"),
        ("market.margin_mode", "portfolio"),
        ("sizing.method", "kelly"),
        ("stop_loss.order_type", "trailing"),
        ("orders.entry_type", "stop"),
        ("orders.exit_type", "LIMIT"),
        ("orders.time_in_force", "gtc"),
    ],
)
def test_enum_fields_list_what_is_allowed(path: str, value: str) -> None:
    lines = problems(with_value(path, value))
    assert any(f"{path}: not one of the allowed values" in line and "|" in line for line in lines)


def test_unknown_exchange_and_one_freqtrade_refuses() -> None:
    assert any(
        "market.exchange: 'nasdaq'" in x for x in problems(with_value("market.exchange", "nasdaq"))
    )
    lines = problems(with_value("market.exchange", "poloniex"))
    assert any("market.exchange: Freqtrade does not support poloniex" in x for x in lines)


def test_stake_currency_form() -> None:
    assert any(
        "market.stake_currency" in x for x in problems(with_value("market.stake_currency", "usdt"))
    )


def test_strategy_id_form() -> None:
    for bad in ["STR-01", "str-001", "STR001", "STR-001a", ""]:
        assert any(
            x.startswith("risk.yaml: strategy_id: ")
            for x in problems(with_value("strategy_id", bad))
        )
    assert parse_contract(with_value("strategy_id", "STR-12345")).strategy_id == "STR-12345"


# ------------------------------------------------------------------ cross-field rules
def test_schema_version_must_be_1() -> None:
    assert problems(with_value("schema_version", 2)) == [
        "risk.yaml: schema_version: must be 1, was 2"
    ]


def test_max_stake_below_min_stake() -> None:
    data = with_value("sizing.max_stake", 5, with_value("sizing.min_stake", 20))
    assert problems(data) == ["risk.yaml: sizing.max_stake: must be >= min_stake (20), was 5"]


def test_trailing_offset_below_positive() -> None:
    data = with_value("stop_loss.trailing", {"enabled": True, "positive": 0.03, "offset": 0.02})
    assert problems(data) == [
        "risk.yaml: stop_loss.trailing.offset: must be >= positive (0.03), was 0.02"
    ]


def test_leverage_must_be_1_on_spot() -> None:
    assert problems(with_value("leverage.max", 2)) == [
        "risk.yaml: leverage.max: must be 1 on spot, was 2"
    ]
    assert any("leverage.max:" in x for x in problems(with_value("leverage.max", 0.5)))


def test_margin_mode_is_futures_only() -> None:
    lines = problems(with_value("market.margin_mode", "isolated"))
    assert lines == ["risk.yaml: market.margin_mode: applies only when trading_mode is futures"]


def test_post_only_needs_limit_orders() -> None:
    data = with_value("orders", {"time_in_force": "PO", "entry_type": "market"})
    assert problems(data) == [
        "risk.yaml: orders.time_in_force: PO (post-only) needs limit entry_type and exit_type"
    ]


def test_all_problems_are_reported_at_once() -> None:
    data = with_value("capital.initial_capital", -1, with_value("slippage.max_entry_bps", 900))
    data["stop_loss"]["stoplos"] = -0.1
    lines = problems(data)
    assert len(lines) == 3
    assert all(line.startswith("risk.yaml: ") for line in lines)


def test_strategy_id_must_match_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "STR-007"
    folder.mkdir()
    path = folder / "risk-assessment.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    with pytest.raises(
        ContractError, match=r"strategy_id: 'STR-042' does not match its folder 'STR-007'"
    ):
        load_contract(path)
    path.write_text(yaml.safe_dump(with_value("strategy_id", "STR-007")))
    assert load_contract(path).strategy_id == "STR-007"


# ------------------------------------------------------------------ hostile YAML
def test_yaml_syntax_error_names_line_and_column() -> None:
    (line,) = problems_of_text("schema_version: 1\nslippage: {max_entry_bps: 15\n")
    assert line.startswith("risk.yaml: invalid YAML: line 3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- 1\n- 2\n", "expected a mapping at the top level, found a list"),
        ("just text\n", "expected a mapping at the top level, found a str"),
        ("", "expected a mapping at the top level, found empty"),
        ("# only a comment\n", "expected a mapping at the top level, found empty"),
        ("a: 1\n---\nb: 2\n", "invalid YAML"),
        ("1: x\n", "keys must be text"),
        ("? [a, b]\n: 1\n", "keys must be text"),
        ("schema_version: !!python/object:os.system x\n", "invalid YAML"),
    ],
)
def test_wrong_document_shapes(text: str, expected: str) -> None:
    (line,) = problems_of_text(text)
    assert expected in line


def test_duplicate_keys_are_rejected_at_any_depth() -> None:
    (line,) = problems_of_text("schema_version: 1\nschema_version: 1\n")
    assert "duplicate key 'schema_version'" in line and "line 2" in line
    (line,) = problems_of_text("slippage:\n  max_entry_bps: 1\n  max_entry_bps: 500\n")
    assert "duplicate key 'max_entry_bps'" in line


def test_alias_expansion_bomb_is_rejected() -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        bomb.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    (line,) = problems_of_text("\n".join(bomb) + "\n")
    assert "aliases (*name) are not allowed" in line


def test_even_a_harmless_alias_is_rejected() -> None:
    (line,) = problems_of_text("x: &v 15\nslippage: {max_entry_bps: *v}\n")
    assert "aliases" in line


def test_oversized_file_is_rejected_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "risk-assessment.yaml"
    path.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(ContractError, match=f"larger than {MAX_BYTES} bytes"):
        load_contract(path)


@pytest.mark.parametrize("raw", [b"\xff\xfe\x00s", b"schema_version: 1\nstrategy_id: STR-\xe9\n"])
def test_non_utf8_bytes_are_rejected(raw: bytes) -> None:
    (line,) = problems_of_text(raw)
    assert "not UTF-8 text" in line


def test_nul_bytes_are_rejected() -> None:
    (line,) = problems_of_text("schema_version: 1\x00\n")
    assert "NUL" in line


def test_deep_nesting_is_rejected_without_recursion_error() -> None:
    (line,) = problems_of_text("[" * 10000)
    assert "invalid YAML" in line


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="does not exist"):
        load_contract(tmp_path / "nope.yaml")
    with pytest.raises(ContractError, match="is a directory"):
        load_contract(tmp_path)


def test_model_documents_every_field() -> None:
    from freqtrade_exec_ext.contract import field_docs

    rows = field_docs()
    assert len(rows) == 47  # 46 + slippage.backtest_model (calibration)
    for path, _type, _default, allowed, _unit, desc in rows:
        assert allowed and desc, path
    assert isinstance(RiskContract.model_fields["slippage"].annotation, type)


# --------------------------------------------------------------------- input hardening
MINIMAL_TEXT = yaml.safe_dump(MINIMAL, sort_keys=False)


@pytest.mark.parametrize(
    "text",
    ["0x10", "0o17", "017", "1_000", "10:00", "1:30:00", ".inf", "-.inf", ".nan", "0b101"],
)
def test_yaml_11_number_forms_are_refused_with_one_line(text):
    raw = MINIMAL_TEXT.replace("initial_capital: 500", f"initial_capital: {text}")
    (line,) = problems_of_text(raw)
    assert f"'{text}' is not a plain number" in line and "line " in line


@pytest.mark.parametrize("text", ["1000", "1e3", "1.0e+3", "+1000", "1000.0"])
def test_plain_decimal_and_exponent_numbers_are_read(text):
    raw = MINIMAL_TEXT.replace("initial_capital: 500", f"initial_capital: {text}")
    assert parse_contract(parse_yaml_text(raw.encode(), "c.yaml")).capital.initial_capital == 1000


@pytest.mark.parametrize("text", ["-8e-2", "-0.8e-1", "-8.0e-2"])
def test_small_exponent_numbers_are_read(text):
    """YAML 1.1 resolves '-8e-2' (no dot) to text; the contract reads it as the number."""
    raw = MINIMAL_TEXT.replace("stoploss: -0.08", f"stoploss: {text}")
    assert parse_contract(parse_yaml_text(raw.encode(), "c.yaml")).stop_loss.stoploss == -0.08


@pytest.mark.parametrize("text", ["yes", "no", "on", "off", "Yes", "y"])
def test_yaml_11_booleans_are_text(text):
    raw = MINIMAL_TEXT.replace("stoploss: -0.08", f"stoploss: -0.08\n  on_exchange: {text}")
    out = problems_of_text(raw)
    assert any("on_exchange: must be true or false" in line for line in out), out


@pytest.mark.parametrize(
    ("field", "value"),
    [("capital.max_open_trades", 10**12), ("orders.max_retries", 10**9),
     ("orders.entry_timeout_s", 10**8), ("capital.initial_capital", 1e12),
     ("leverage.max", 200), ("orders.max_reprices", 11), ("sizing.max_stake", 1e10)],
)
def test_every_count_duration_and_amount_has_an_upper_bound(field, value):
    out = problems(with_value(field, value))
    assert any(field in line and "allowed" in line for line in out), out


def test_allowed_text_is_derived_from_the_constraints():
    import re

    from freqtrade_exec_ext.contract.model import field_docs

    rows = {r[0]: r[3] for r in field_docs()}
    assert rows["orders.max_retries"] == "integer in [0, 10]"
    assert rows["slippage.max_entry_bps"] == "number in [0, 500] (required)"
    assert rows["capital.initial_capital"] == "number in (0, 1e9] (required)"
    assert rows["leverage.max"] == "number in [1, 125]; must be 1 on spot"
    for path, allowed in rows.items():  # every number and count has an upper bound
        if allowed.startswith(("number", "integer")) and path != "schema_version":
            assert re.search(r"[\])]", allowed.split(";")[0]), (path, allowed)


def test_many_problems_print_at_most_50_lines_and_escape_control_characters():
    data = copy.deepcopy(MINIMAL)
    data["limits"] = {f"k{i}": 1 for i in range(6000)}
    data["limits"]["\x1b[31mred\x1b[0m"] = 1
    with pytest.raises(ContractError) as err:
        parse_contract(data, "c.yaml")
    lines = err.value.lines()
    assert len(lines) == 51 and lines[-1] == "... and 5951 more problems"
    assert all("\x1b" not in str(p) for p in err.value.problems)
    assert any("\\x1b[31mred" in str(p) for p in err.value.problems)
