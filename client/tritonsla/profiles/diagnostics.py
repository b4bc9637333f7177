"""Turn schema validation failures into ConfigErrors that name the file, field path and fix.

The schema holds types, ranges and allowed keys only (cross-field rules live in rules.py), so
one layer of values (a profile file, a deploy file's overrides, --set) can be checked alone."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from tritonsla.errors import ConfigError


def field_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """Dotted path of a pydantic location, list indexes in brackets: `batching.sizes[1]`."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The schema class that holds the field at `loc` (for did-you-mean suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = info.annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def unknown_key_error(file: str, path: str, key: str, valid: list[str]) -> ConfigError:
    """A typo'd or unknown key, with the closest valid names."""
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else "remove it"
    return ConfigError(
        file, path, f"unknown key `{key}`", f"{hint} Valid keys here: {', '.join(sorted(valid))}"
    )


def _fix_for(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind.startswith("greater_than") or kind.startswith("less_than"):
        bounds = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ctx.items())
        return f"use a value {bounds}"
    if kind == "literal_error":
        return f"use one of {ctx.get('expected')}"
    if kind == "missing":
        return "add this required field"
    if kind == "string_pattern_mismatch":
        return f"use a value matching {ctx.get('pattern')} (letters, digits, `_`; no quotes)"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"write a {kind.split('_')[0]} value (YAML: no quotes for numbers and booleans)"
    return "correct the value"


def config_errors(
    file: str,
    model: type[BaseModel],
    error: ValidationError,
    prefix: str = "",
    *,
    missing: bool = True,
) -> list[ConfigError]:
    """One ConfigError per pydantic error, located in `file` under `prefix` (`missing`: also
    required fields that are absent)."""
    found = []
    for item in error.errors():
        if item["type"] == "missing" and not missing:
            continue
        loc = tuple(item["loc"])
        if item["type"] == "extra_forbidden":
            holder = _model_at(model, loc[:-1])
            valid = list(holder.model_fields) if holder else []
            found.append(unknown_key_error(file, field_path(loc, prefix), str(loc[-1]), valid))
            continue
        value = item.get("input")
        shown = "" if item["type"] == "missing" else f" (got {value!r})"
        found.append(
            ConfigError(file, field_path(loc, prefix), f"{item['msg']}{shown}", _fix_for(item))
        )
    return found


def layer_errors(
    file: str, model: type[BaseModel], data: dict[str, Any], prefix: str = ""
) -> list[ConfigError]:
    """Errors of the values one file (or option) sets, checked on their own against `model`:
    types, ranges and unknown keys. Fields it leaves out are another layer's (or defaults), so
    absent required fields are not errors here."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        return config_errors(file, model, error, prefix, missing=False)
    return []
