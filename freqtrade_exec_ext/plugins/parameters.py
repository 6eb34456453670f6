"""Plugin parameters declared once: a frozen pydantic model per plugin.

The model is the single source of each parameter's default, type, range and help text.
:func:`parse` turns the plugin's config block into the model (one line naming the plugin,
the field and what is allowed on bad input); :func:`available_parameters` derives the
``available_parameters()`` dict Freqtrade's UI and ``/pairlists/available`` show.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, ValidationError

P = TypeVar("P", bound="PluginParams")

# keys Freqtrade itself reads from every pairlist/protection block
FREQTRADE_KEYS = frozenset({"method", "refresh_period", "number_assets"})


class PluginParams(BaseModel):
    """Base of every plugin's parameters: frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def parse(model: type[P], block: dict[str, Any]) -> P:
    """The block as ``model``; ValueError with one line naming the field and what is allowed."""
    values = {k: v for k, v in block.items() if k not in FREQTRADE_KEYS}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(part) for part in err["loc"]) or "?"
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(model.model_fields))
            raise ValueError(f"unknown parameter {field!r} (allowed: {allowed})") from None
        spec = model.model_fields.get(field.split(".")[0])
        allowed = _allowed(spec.annotation, spec.metadata) if spec else ""
        raise ValueError(
            f"{field}: {err['msg']}, was {err.get('input')!r}"
            + (f" (allowed: {allowed})" if allowed else "")
        ) from None


def available_parameters(model: type[PluginParams]) -> dict[str, dict[str, Any]]:
    """Freqtrade's ``available_parameters()`` shape, derived from ``model``."""
    out: dict[str, dict[str, Any]] = {}
    for name, field in model.model_fields.items():
        kind, options = _kind(field.annotation)
        spec: dict[str, Any] = {
            "type": kind,
            "default": field.default,
            "description": field.title or name,
            "help": field.description or "",
        }
        if options:
            spec["options"] = list(options)
        out[name] = spec
    return out


def _kind(annotation: Any) -> tuple[str, tuple[Any, ...]]:
    annotation = _strip_optional(annotation)
    if typing.get_origin(annotation) is Literal:
        return "option", typing.get_args(annotation)
    if annotation is bool:
        return "boolean", ()
    if annotation in (int, float):
        return "number", ()
    if annotation is str:
        return "string", ()
    raise TypeError(f"no Freqtrade parameter type for {annotation!r}")


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        if set(args) == {int, float}:
            return float
    return annotation


def _allowed(annotation: Any, metadata: list[Any]) -> str:
    kind, options = _kind(annotation)
    if options:
        return "one of " + ", ".join(str(o) for o in options)
    bounds = []
    for item in metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None:
                bounds.append(f"{sign} {value:g}")
    text = {"number": "a number", "boolean": "true or false", "string": "text"}[kind]
    return f"{text} {' and '.join(bounds)}".strip()
