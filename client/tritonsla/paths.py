"""Where relative paths in rendered configs point.

A rendered config.pbtxt stores a tokenizer or checkpoint folder either as an absolute path or
relative to the folder that *contains* the model repository (for the committed `model_repo/`,
the project root). Keeping them relative keeps the committed repository identical on every
machine; Python models resolve them with `resolve_model_path`.
"""

from __future__ import annotations

from pathlib import Path


def resolve_model_path(value: str, model_dir: str | Path) -> Path:
    """Resolve a path parameter of the model in `model_dir` (`<repo>/<model name>`)."""
    path = Path(value)
    if path.is_absolute():
        return path
    return (Path(model_dir).resolve().parent.parent / path).resolve()


def model_config_parameter(model_config: dict, key: str, default: str | None = None) -> str:
    """Read `parameters[key].string_value` from a model config in Triton's JSON form."""
    entry = model_config.get("parameters", {}).get(key)
    if entry is None:
        if default is None:
            raise KeyError(f"model config of {model_config.get('name')!r} has no parameter {key!r}")
        return default
    return entry["string_value"]
