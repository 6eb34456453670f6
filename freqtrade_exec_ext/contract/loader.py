"""Load ``risk-assessment.yaml`` safely into a :class:`RiskContract`.

Hostile input is rejected before it costs anything: files over ``MAX_BYTES``, bytes that
are not UTF-8, YAML aliases (alias-expansion bombs), duplicate keys, non-string keys,
several documents, and deep nesting.  Every problem becomes one line naming the file,
the field path and what is allowed.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from freqtrade_exec_ext.contract.fields import allowed_text
from freqtrade_exec_ext.contract.model import STRATEGY_ID_PATTERN, RiskContract
from freqtrade_exec_ext.errors import InputRefused

MAX_BYTES = 64 * 1024
MAX_DEPTH = 20
CONTRACT_FILENAME = "risk-assessment.yaml"


MAX_LINES = 50


def safe_text(text: str) -> str:
    """``text`` with control and format characters (ANSI escapes, bidi overrides, NUL...)
    shown as escapes, so that a message never drives the terminal it is printed on."""
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return safe_text(f"{self.file}: {where}{self.message}")


class ContractError(InputRefused):
    """The contract file is missing or invalid; ``problems`` holds one entry per finding."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem, at most ``MAX_LINES``, then how many more there are."""
        shown = [str(p) for p in self.problems[:MAX_LINES]]
        more = len(self.problems) - MAX_LINES
        if more > 0:
            shown.append(f"... and {more} more problem{'s' * (more > 1)}")
        return shown

    def one_line(self) -> str:
        first = str(self.problems[0]) if self.problems else "invalid risk contract"
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' * (more > 1)})" if more > 0 else "")


# ---------------------------------------------------------------------------- YAML
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys, non-string keys or deep nesting."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                "while reading the contract",
                None,
                "YAML aliases (*name) are not allowed in a risk contract",
                event.start_mark,
            )
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.MarkedYAMLError(
                    None,
                    None,
                    f"nesting deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        self.flatten_mapping(node)
        seen: dict[str, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.MarkedYAMLError(
                    None, None, f"keys must be text, found {key!r}", key_node.start_mark
                )
            if key in seen:
                raise yaml.MarkedYAMLError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen[key] = True
        return super().construct_mapping(node, deep=deep)


# Scalars: PyYAML implements YAML 1.1, where 0x10, 0o17, 1_000, 10:00 (sexagesimal, 600)
# and yes/no/on/off are numbers and booleans.  A contract number is written in plain
# decimal or exponent form only (YAML 1.2's core schema); true/false are the booleans.
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_BOOL = re.compile(r"^(true|True|TRUE|false|False|FALSE)$")
# what YAML 1.1 would have read as a number: refused with a clear message
_YAML11_NUMBER = re.compile(
    r"^[-+]?(0b[0-1_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?"
    r"|[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|\.[0-9_]*_[0-9_]*"
    r"|\.(inf|Inf|INF|nan|NaN|NAN))$"
)
_STRICT_RESOLVERS = {
    ch: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":int", ":float", ":bool"))]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.yaml_implicit_resolvers = _STRICT_RESOLVERS
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping
)


def _construct_plain(loader: _StrictLoader, node: Any) -> Any:
    value = loader.construct_scalar(node)
    if node.style is None and _YAML11_NUMBER.match(str(value)):
        raise yaml.MarkedYAMLError(
            None,
            None,
            f"'{value}' is not a plain number: write numbers in decimal or exponent form "
            "(e.g. 1000, 0.5, 1e-3); hex, octal, underscores, sexagesimal (10:00) and "
            ".inf/.nan are not accepted",
            node.start_mark,
        )
    return value


_StrictLoader.add_constructor("tag:yaml.org,2002:str", _construct_plain)


def parse_yaml_text(raw: bytes, file: str) -> Any:
    """Decode and parse one YAML document, or raise ContractError."""
    if len(raw) > MAX_BYTES:
        raise ContractError([Problem(file, "", f"file is larger than {MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContractError(
            [Problem(file, "", f"not UTF-8 text (bad byte at offset {exc.start})")]
        ) from None
    if "\x00" in text:
        raise ContractError([Problem(file, "", "not a text file (contains NUL bytes)")])
    try:
        loader = _StrictLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise ContractError([Problem(file, "", f"invalid YAML: {where}{what}")]) from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise ContractError([Problem(file, "", f"invalid YAML: {_first_line(exc)}")]) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


# ---------------------------------------------------------------------------- errors
def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = RiskContract
    for part in loc:
        info = model.model_fields.get(str(part))
        ann = info.annotation if info else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def _allowed(loc: tuple[Any, ...]) -> str:
    if not loc:
        return ""
    parent = _model_at(loc[:-1])
    info = parent.model_fields.get(str(loc[-1])) if parent else None
    return allowed_text(info) if info is not None else ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(err: dict[str, Any]) -> tuple[str, str]:
    loc = tuple(err["loc"])
    path = ".".join(str(p) for p in loc)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        names = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return path, f"unknown key{hint} (allowed keys: {', '.join(names)})"
    if kind == "missing":
        sub = _model_at(loc)
        if sub is not None:
            needed = [n for n, f in sub.model_fields.items() if f.is_required()]
            return path, f"required section is missing (it needs {', '.join(needed)})"
        return path, f"required; allowed: {_allowed(loc)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, f"must be a mapping of keys, was {_show(value)}"
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        found = re.match(r"^([A-Za-z_][\w.]*): (.*)$", msg)
        if found:
            return ".".join(p for p in (path, found.group(1)) if p), found.group(2)
        return path, msg
    allowed = _allowed(loc)
    if kind == "finite_number":
        return path, f"must be a finite number, was {_show(value)}; allowed: {allowed}"
    return path, f"{_plain(err)}, was {_show(value)}; allowed: {allowed}"


def _plain(err: dict[str, Any]) -> str:
    kind = err["type"]
    plain = {
        "int_type": "must be an integer",
        "float_type": "must be a number",
        "bool_type": "must be true or false",
        "string_type": "must be text",
        "literal_error": "not one of the allowed values",
        "string_pattern_mismatch": "has the wrong form",
        "string_too_short": "must not be empty",
    }
    if kind in plain:
        return plain[kind]
    return str(err.get("msg", kind)).replace("Input should be", "must be")


def _problems_from(exc: ValidationError, file: str) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        field, message = _describe(dict(err))
        out.append(Problem(file, field, message))
    return out


# ---------------------------------------------------------------------------- API
def parse_contract(data: Any, file: str = "<contract>", folder: str | None = None) -> RiskContract:
    """Validate already-parsed YAML data."""
    if not isinstance(data, dict):
        shape = "empty" if data is None else f"a {type(data).__name__}"
        raise ContractError(
            [Problem(file, "", f"expected a mapping at the top level, found {shape}")]
        )
    try:
        contract = RiskContract.model_validate(data)
    except ValidationError as exc:
        raise ContractError(_problems_from(exc, file)) from None
    if folder and re.match(STRATEGY_ID_PATTERN, folder) and folder != contract.strategy_id:
        raise ContractError(
            [
                Problem(
                    file,
                    "strategy_id",
                    f"'{contract.strategy_id}' does not match its folder '{folder}'",
                )
            ]
        )
    return contract


def load_contract(path: str | Path) -> RiskContract:
    """Read and validate one ``risk-assessment.yaml``; raise ContractError on any problem."""
    p = Path(path)
    file = str(path)
    try:
        if not p.is_file():
            what = "is a directory" if p.is_dir() else "does not exist"
            raise ContractError([Problem(file, "", f"file {what}; expected {CONTRACT_FILENAME}")])
        if p.stat().st_size > MAX_BYTES:
            raise ContractError([Problem(file, "", f"file is larger than {MAX_BYTES} bytes")])
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ContractError([Problem(file, "", f"cannot read file: {exc.strerror}")]) from None
    data = parse_yaml_text(raw, file)
    return parse_contract(data, file, folder=p.resolve().parent.name)
