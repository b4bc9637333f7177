"""Check LLM() arguments against the facts table of the pinned TensorRT-LLM source.

The table (llm_args_facts.yaml beside this module) lists the fields of TorchLlmArgs and of the
nested configs this project renders, with their types, ranges and allowed values, read from
tensorrt_llm/llmapi/llm_args.py at the commit it names. `check_llm_config` walks a rendered
model.yaml and reports every key the release does not know and every value it would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FACTS_FILE = Path(__file__).with_name("llm_args_facts.yaml")
ROOT_CLASS = "TorchLlmArgs"


@dataclass(frozen=True)
class Facts:
    """The loaded table: where it was read, the classes, required fields and unions."""

    source: dict[str, str]
    model_yaml: dict[str, dict[str, Any]]
    classes: dict[str, dict[str, dict[str, Any]]]
    required: dict[str, list[str]]
    unions: dict[str, dict[str, Any]]

    @property
    def release(self) -> str:
        """`<repository>@<commit[:12]>`, for messages."""
        return f"{self.source['repository']}@{self.source['commit'][:12]}"


@cache
def load_facts(path: Path = FACTS_FILE) -> Facts:
    """The facts table at `path` (parsed once)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Facts(
        source=data["source"],
        model_yaml=data["model_yaml"],
        classes=data["classes"],
        required=data.get("required", {}),
        unions=data.get("unions", {}),
    )


def _number_problem(path: str, value: Any, spec: dict[str, Any]) -> str | None:
    low, high = spec.get("min"), spec.get("max")
    if low is not None and value < low:
        return f"`{path}` = {value!r} is below the minimum {low}"
    if high is not None and value > high:
        return f"`{path}` = {value!r} is above the maximum {high}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar_problem(path: str, value: Any, spec: dict[str, Any]) -> str | None:
    kind = spec["type"]
    if kind == "unchecked":
        return f"`{path}`: the release has this field, but its values are not in the facts table"
    if kind == "bool":
        return None if isinstance(value, bool) else f"`{path}` = {value!r} is not a boolean"
    if kind == "str":
        ok = isinstance(value, str) and value != ""
        return None if ok else f"`{path}` = {value!r} is not a non-empty string"
    if kind == "int":
        if not _is_int(value):
            return f"`{path}` = {value!r} is not an integer"
        return _number_problem(path, value, spec)
    if kind == "float":
        if not (_is_int(value) or isinstance(value, float)):
            return f"`{path}` = {value!r} is not a number"
        return _number_problem(path, value, spec)
    if kind == "int_list":
        if not isinstance(value, list) or not value or not all(_is_int(v) for v in value):
            return f"`{path}` = {value!r} is not a non-empty list of integers"
        low = min(value)
        return _number_problem(f"{path}[]", low, spec)
    raise ValueError(f"facts table: unknown type {kind!r} at {path}")


class _Checker:
    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.problems: list[str] = []

    def fields(self, path: str, data: Any, cls: str) -> None:
        if not isinstance(data, dict):
            self.problems.append(f"`{path}` = {data!r} is not a mapping ({cls})")
            return
        table = self.facts.classes[cls]
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            spec = table.get(key)
            if spec is None:
                self.problems.append(f"`{where}` is not a field of {cls}")
            else:
                self.value(where, value, spec)
        for key in self.facts.required.get(cls, []):
            if key not in data:
                where = f"{path}.{key}" if path else key
                self.problems.append(f"`{where}` is required by {cls}")

    def value(self, path: str, value: Any, spec: dict[str, Any]) -> None:
        if "object" in spec:
            self.fields(path, value, spec["object"])
        elif "union" in spec:
            self.union(path, value, spec["union"])
        elif "enum" in spec:
            if value not in spec["enum"]:
                allowed = ", ".join(str(v) for v in spec["enum"])
                self.problems.append(f"`{path}` = {value!r} is not allowed. Available: {allowed}")
        else:
            problem = _scalar_problem(path, value, spec)
            if problem:
                self.problems.append(problem)

    def union(self, path: str, data: Any, name: str) -> None:
        union = self.facts.unions[name]
        key = union["discriminator"]
        if not isinstance(data, dict):
            self.problems.append(f"`{path}` = {data!r} is not a mapping ({name})")
            return
        tag = data.get(key, union.get("default"))
        classes = union["classes"]
        if tag not in classes:
            allowed = ", ".join(str(t) for t in classes)
            self.problems.append(
                f"`{path}.{key}` = {tag!r} is not a {name} type. Available: {allowed}"
            )
        elif classes[tag] is None:
            self.problems.append(
                f"`{path}.{key}` = {tag!r}: the release has it, but its fields are not in the "
                "facts table"
            )
        else:
            self.fields(path, data, classes[tag])


def check_llm_config(data: Any, facts: Facts | None = None) -> list[str]:
    """Every problem of a model.yaml mapping: LLM() arguments plus the Triton-only keys."""
    facts = facts or load_facts()
    checker = _Checker(facts)
    if not isinstance(data, dict):
        return [f"expected a mapping of LLM() arguments, got {type(data).__name__}"]
    llm_args = {k: v for k, v in data.items() if k not in facts.model_yaml}
    for key in facts.model_yaml:
        if key in data:
            checker.value(key, data[key], facts.model_yaml[key])
    checker.fields("", llm_args, ROOT_CLASS)
    return checker.problems
