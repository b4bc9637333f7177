"""The render pipeline: load -> validate -> plan -> bundle -> validate configs -> write or diff.

The bundle (tritonsla.repo.bundle) is the tritonsla code the Python models import, copied into
the repository so that any tritonserver with the third-party packages can serve it.

A rendered repository carries the marker of its deploy file (`tritonsla render <deploy>`), so a
render replaces only a repository rendered from the same deploy file, unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tritonsla.errors import ConfigError, ConfigErrors, RenderError
from tritonsla.folders import MARKER, marker_bytes
from tritonsla.llmapi.facts import FACTS_FILE, check_llm_config, load_facts
from tritonsla.profiles.loading import Deployment, display_path, load_deployment
from tritonsla.profiles.rules import check_deployment
from tritonsla.repo.bundle import bundled
from tritonsla.repo.context import portable_path
from tritonsla.repo.engine_config import check_engines
from tritonsla.repo.render import (
    TEMPLATES_DIR,
    Plan,
    diff_repository,
    plan_repository,
    validate_plan,
    write_repository,
)


def render_owner(source: str) -> str:
    """Marker owner of a repository rendered from the deploy file `source`."""
    return f"tritonsla render {source}"


@dataclass(frozen=True)
class RenderResult:
    """What a render produced (or, with check, how the disk differs)."""

    deployment: Deployment
    out: Path
    plan: Plan
    diff: list[str]


def output_rules(dep: Deployment, out: Path) -> list[ConfigError]:
    """Folders the repository must not contain (Triton would take them for models)."""
    found = []
    repo = out.resolve()
    for field in ("tokenizer", "checkpoint"):
        value = getattr(dep.deploy.model, field)
        if Path(value).is_absolute():
            continue
        folder = dep.path(value)
        if folder.is_relative_to(repo):
            found.append(
                ConfigError(
                    display_path(dep.deploy_file),
                    f"model.{field}",
                    f"{folder} lies inside the output model repository {repo}; Triton would try to "
                    "load it as a model and a re-render would delete it",
                    "keep model files outside the repository (e.g. assets/)",
                )
            )
    return found


def check_llm_arguments(plan: Plan) -> None:
    """Every rendered llmapi model.yaml against the facts of the pinned TensorRT-LLM source."""
    problems = []
    for path, data in sorted(plan.items()):
        if path.endswith("/model.yaml"):
            found = check_llm_config(yaml.safe_load(data))
            problems.extend(f"{path}: {problem}" for problem in found)
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        raise RenderError(
            f"rendered LLM() arguments do not fit TensorRT-LLM {load_facts().release} "
            f"(facts: {FACTS_FILE.name}):\n{listed}"
        )


def load_and_check(deploy_file: Path, out: Path, sets: list[str] | None = None) -> Deployment:
    """Load the deployment and run every rule; raise ConfigErrors listing all problems."""
    dep = load_deployment(deploy_file, sets)
    problems = check_deployment(dep) + check_engines(dep) + output_rules(dep, out)
    if problems:
        raise ConfigErrors(problems)
    return dep


def render(
    deploy_file: Path,
    out: Path,
    *,
    sets: list[str] | None = None,
    check: bool = False,
    force: bool = False,
    templates: Path = TEMPLATES_DIR,
) -> RenderResult:
    """Render `deploy_file` into `out` (or, with `check`, only diff against it).

    `out` is replaced only when missing, empty or rendered from the same deploy file, unless
    `force`.
    """
    dep = load_and_check(deploy_file, out, sets)
    source = portable_path(deploy_file.resolve(), out.resolve().parent)
    plan = bundled(plan_repository(dep, out, source, templates))
    validate_plan(plan)
    check_llm_arguments(plan)
    owner = render_owner(source)
    plan[MARKER] = marker_bytes(owner)
    if check:
        return RenderResult(dep, out, plan, diff_repository(plan, out))
    write_repository(plan, out, owner=owner, force=force)
    return RenderResult(dep, out, plan, [])
