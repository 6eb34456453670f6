"""How a contract field is declared (:func:`spec`) and described (:func:`allowed_text`,
:func:`field_rows`): what a field allows is stated once, by its type and constraints, and
every text people read (error messages, ``risk check``, docs/risk-assessment.md) is derived.
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field


def spec(
    default: Any,
    *,
    desc: str,
    unit: str = "",
    note: str = "",
    **constraints: Any,
) -> Any:
    """Declare a contract field with its default, constraints and documentation.

    What a field allows is stated once, by its type and constraints (``ge``/``gt``/``le``/
    ``lt``, ``Literal`` choices); :func:`allowed_text` derives the words people read from
    them.  ``note`` adds what no constraint expresses (a cross-field rule, an example).
    """
    extra: dict[str, Any] = {"note": note, "unit": unit}
    return Field(default, description=desc, json_schema_extra=extra, **constraints)


def _fmt_bound(x: Any) -> str:
    return f"{x:g}".replace("e+0", "e").replace("e+", "e") if isinstance(x, float) else str(x)


def allowed_text(info: Any) -> str:
    """What a field allows, in words, derived from its type and constraints."""
    import annotated_types as at

    ann = info.annotation
    args = [a for a in get_args(ann)] if get_origin(ann) is Literal else []
    if args:
        text = " | ".join(str(a) for a in args)
    elif ann is bool:
        text = "true | false"
    elif ann in (int, float):
        kind = "integer" if ann is int else "number"
        lo: Any = None
        hi: Any = None
        lo_open = hi_open = False
        for m in info.metadata:
            if isinstance(m, at.Ge):
                lo = m.ge
            elif isinstance(m, at.Gt):
                lo, lo_open = m.gt, True
            elif isinstance(m, at.Le):
                hi = m.le
            elif isinstance(m, at.Lt):
                hi, hi_open = m.lt, True
        if lo is not None and hi is not None:
            text = (
                f"{kind} in {'(' if lo_open else '['}{_fmt_bound(lo)}, "
                f"{_fmt_bound(hi)}{')' if hi_open else ']'}"
            )
        elif lo is not None:
            text = f"{kind} {'>' if lo_open else '>='} {_fmt_bound(lo)}"
        elif hi is not None:
            text = f"{kind} {'<' if hi_open else '<='} {_fmt_bound(hi)}"
        else:
            text = kind
    else:
        text = ""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    note = str(extra.get("note", ""))
    text = "; ".join(t for t in (text, note) if t)
    return f"{text} (required)" if info.is_required() else text


def field_rows(root: type[BaseModel]) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of (path, type, required/default, allowed, unit, description) for every field."""
    rows: list[tuple[str, str, str, str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            path = f"{prefix}{name}"
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, path + ".")
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            default = "required" if info.is_required() else json.dumps(info.default)
            type_name = getattr(ann, "__name__", str(ann)).replace("Literal", "enum")
            if str(ann).startswith("typing.Literal"):
                type_name = "enum"
            rows.append(
                (
                    path,
                    type_name,
                    default,
                    allowed_text(info),
                    str(extra.get("unit", "")),
                    info.description or "",
                )
            )

    walk(root, "")
    return rows
