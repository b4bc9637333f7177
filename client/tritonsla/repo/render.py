"""Render a deployment into a Triton model repository: plan in memory, validate, write atomically.

`plan_repository` is pure: it returns every file of the repository as bytes. `validate_plan`
parses each config.pbtxt as Triton's ModelConfig and checks the ensemble wiring. Only then
`write_repository` replaces the output folder in one rename, so a failed render leaves the
previous repository untouched. `diff_repository` backs `tritonsla render --check`.
"""

from __future__ import annotations

import difflib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import jinja2
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritonsla import contract
from tritonsla.errors import RenderError
from tritonsla.folders import check_replaceable, replace_folder
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.topology import engine_models
from tritonsla.repo.context import endpoint_context, engine_context
from tritonsla.repo.wiring import check_wiring

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
"""The Jinja templates of config.pbtxt and model.yaml (package data: a wheel renders too)."""

ADAPTERS_DIR = Path(__file__).resolve().parent / "model_adapters"
"""The Python models, thin adapters over package code that run inside Triton: copied as they
are, not templated."""

PYTHON_MODEL_SOURCES = {
    ("preprocessing", "*"): "preprocessing",
    ("postprocessing", "*"): "postprocessing",
    ("tensorrt_llm_bls", "*"): "tensorrt_llm_bls",
    ("tensorrt_llm", "cpu"): "tensorrt_llm_cpu",
    ("tensorrt_llm", "llmapi"): "tensorrt_llm_llmapi",
}
"""`ADAPTERS_DIR/<folder>/model.py` copied into `<model>/1/model.py`, by role and kind."""

Plan = dict[str, bytes]


def _quote(value: object) -> str:
    """A protobuf text-format string literal; rules already refuse quotes and newlines."""
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _bool(value: object) -> str:
    if not isinstance(value, bool):
        raise RenderError(f"expected a boolean in a template, got {value!r}")
    return "true" if value else "false"


def _dims(values: tuple[int, ...] | list[int]) -> str:
    return "[ " + ", ".join(str(v) for v in values) + " ]" if values else "[ ]"


def template_environment(templates: Path) -> jinja2.Environment:
    """Jinja environment with StrictUndefined: a missing value is an error, never left blank."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(q=_quote, b=_bool, dims=_dims)
    return env


def _render(env: jinja2.Environment, template: str, context: dict) -> bytes:
    try:
        text = env.get_template(template).render(**context)
    except jinja2.UndefinedError as error:
        raise RenderError(f"template {template}: {error.message}; add the value") from error
    except jinja2.TemplateError as error:
        raise RenderError(f"template {template}: {error}") from error
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return (re.sub(r"\n{3,}", "\n\n", text).strip() + "\n").encode()


def _model_files(
    env: jinja2.Environment, kind: str, role: str, folder: str, context: dict
) -> Iterator[tuple[str, bytes]]:
    """config.pbtxt of one model and the files of its version folder."""
    yield f"{folder}/config.pbtxt", _render(env, f"{role}.pbtxt.j2", context)
    source_dir = PYTHON_MODEL_SOURCES.get((role, kind)) or PYTHON_MODEL_SOURCES.get((role, "*"))
    if source_dir is None:
        yield f"{folder}/1/.gitkeep", b""
        return
    model_py = ADAPTERS_DIR / source_dir / "model.py"
    if not model_py.is_file():
        raise RenderError(f"missing Python model source {model_py} for role {role} ({kind})")
    yield f"{folder}/1/model.py", model_py.read_bytes()
    if role == "tensorrt_llm" and kind == "llmapi":
        yield f"{folder}/1/model.yaml", _render(env, "llmapi_model.yaml.j2", context)


def plan_repository(
    dep: Deployment, out: Path, source: str, templates: Path = TEMPLATES_DIR
) -> Plan:
    """Every file of the repository (relative path -> bytes). With layout per-profile, one
    repository per profile under `out/<profile>/`; with layout shared, one engine model."""
    env = template_environment(templates)
    kind = dep.deploy.engine_kind
    per_profile = dep.deploy.layout == "per-profile"

    def prefix_and_parent(sla: str) -> tuple[str, Path]:
        if per_profile:
            return f"{sla}/", (out / sla).resolve().parent
        return "", out.resolve().parent

    plan: Plan = {}
    for name in dep.profiles:
        prefix, repo_parent = prefix_and_parent(name)
        context = endpoint_context(dep, name, repo_parent, source)
        for role in contract.MODEL_ROLES:
            if role != "tensorrt_llm":
                folder = f"{prefix}{contract.model_name(name, role)}"
                plan.update(_model_files(env, kind, role, folder, context))
    for engine in engine_models(dep):
        prefix, repo_parent = prefix_and_parent(engine.classes[0])
        context = engine_context(dep, engine, repo_parent, source)
        plan.update(_model_files(env, kind, "tensorrt_llm", prefix + engine.model, context))
    return plan


def parse_config(path: str, data: bytes) -> mc.ModelConfig:
    """Parse one rendered config.pbtxt as Triton's ModelConfig, naming the file on failure."""
    try:
        return text_format.Parse(data.decode(), mc.ModelConfig())
    except text_format.ParseError as error:
        raise RenderError(f"{path} is not a valid ModelConfig: {error}") from error


def validate_plan(plan: Plan) -> dict[str, mc.ModelConfig]:
    """Parse every config, check names match folders and ensembles are wired; return configs."""
    configs: dict[str, dict[str, mc.ModelConfig]] = {}
    for path, data in plan.items():
        if not path.endswith("/config.pbtxt"):
            continue
        config = parse_config(path, data)
        parts = path.split("/")
        if config.name != parts[-2]:
            raise RenderError(f"{path}: model name {config.name!r} differs from its folder")
        configs.setdefault("/".join(parts[:-2]), {})[config.name] = config
    merged: dict[str, mc.ModelConfig] = {}
    for repository in configs.values():
        check_wiring(repository)
        merged.update(repository)
    return merged


def _safe_target(out: Path, relative: str) -> Path:
    target = (out / relative).resolve()
    if not target.is_relative_to(out.resolve()):
        raise RenderError(f"refusing to write {relative!r}: it escapes {out}")
    return target


def write_repository(plan: Plan, out: Path, *, owner: str, force: bool = False) -> None:
    """Replace `out` with exactly the planned files, atomically: build beside it, then rename.

    Only a folder that is missing, empty or marked by `owner` is replaced (any with `force`).
    """
    out = out.resolve()
    check_replaceable(out, owner, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.rendering-", dir=out.parent))
    try:
        for relative, data in sorted(plan.items()):
            target = _safe_target(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        replace_folder(staging, out, owner=owner, force=force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def disk_files(out: Path) -> Plan:
    """The repository currently on disk, in plan form (caches excluded)."""
    if not out.is_dir():
        return {}
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _is_binary(data: bytes | None) -> bool:
    if data is None:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return b"\0" in data


def diff_repository(plan: Plan, out: Path) -> list[str]:
    """Unified-diff lines between the plan and `out`; empty when the repository is current."""
    current = disk_files(out)
    lines: list[str] = []
    for relative in sorted(set(plan) | set(current)):
        old, new = current.get(relative), plan.get(relative)
        if old == new:
            continue
        label = f"{out.name}/{relative}"
        if _is_binary(old) or _is_binary(new):  # the .tritonsla.zip bundle
            lines.append(f"Binary file {label} differs\n")
            continue
        old_text = (old or b"").decode(errors="replace").splitlines(keepends=True)
        new_text = (new or b"").decode(errors="replace").splitlines(keepends=True)
        lines.extend(
            difflib.unified_diff(
                old_text,
                new_text,
                fromfile=label if old is not None else "/dev/null",
                tofile=label if new is not None else "/dev/null",
            )
        )
    return lines
