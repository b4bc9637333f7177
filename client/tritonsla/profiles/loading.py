"""Load a deployment and its profiles: defaults <- profile file <- deploy overrides <- --set.

Relative paths in a deploy file resolve against the deploy file's folder (as docker-compose
does). Errors name the file that supplied the bad value: the profile file, the deploy file's
`overrides.<profile>` or the `--set` option. Each of the three is type-checked on its own before
they merge, so a bad value is reported against its file even where a later layer replaces it
(a profile's `max_batch_size: "eight"` under a deploy override is still an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tritonsla.errors import ConfigError, ConfigErrors
from tritonsla.profiles.diagnostics import config_errors, layer_errors, unknown_key_error
from tritonsla.profiles.schema import Deploy, Profile

SET_SOURCE = "--set"


def display_path(path: Path) -> str:
    """`path` relative to the working folder when below it, for short error messages."""
    resolved = path.resolve()
    cwd = Path.cwd()
    return str(resolved.relative_to(cwd)) if resolved.is_relative_to(cwd) else str(resolved)


@dataclass(frozen=True)
class Deployment:
    """A validated deployment with its merged profiles, in the deploy file's order."""

    deploy: Deploy
    deploy_file: Path
    profiles: dict[str, Profile]
    profile_files: dict[str, Path]
    set_values: dict[str, dict[str, Any]]

    def path(self, value: str) -> Path:
        """Resolve a path written in the deploy file."""
        return (self.deploy_file.parent / value).resolve()

    def locate(self, profile: str, field: str) -> tuple[str, str]:
        """(file, field path) that supplied `field` of `profile`: --set, overrides or profile."""
        loc = tuple(field.split("."))
        if _contains(self.set_values.get(profile, {}), loc):
            return SET_SOURCE, f"{profile}.{field}"
        if _contains(self.deploy.overrides.get(profile, {}), loc):
            return display_path(self.deploy_file), f"overrides.{profile}.{field}"
        return display_path(self.profile_files[profile]), field


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file and the line."""
    shown = display_path(path)
    if not path.is_file():
        raise ConfigErrors([ConfigError(shown, "(file)", "file not found", "check the path")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigErrors(
            [ConfigError(shown, where, f"YAML syntax error: {problem}", "fix the YAML syntax")]
        ) from error
    if not isinstance(data, dict):
        raise ConfigErrors(
            [ConfigError(shown, "(top level)", "expected a mapping of keys", "write `key: value`")]
        )
    return data


def parse_set_option(option: str) -> tuple[str, list[str], Any]:
    """`realtime.batching.max_batch_size=8` -> ("realtime", ["batching", "max_batch_size"], 8)."""
    path, sep, raw = option.partition("=")
    parts = path.strip().split(".")
    if not sep or len(parts) < 2 or not all(parts):
        raise ConfigErrors(
            [
                ConfigError(
                    SET_SOURCE,
                    option,
                    "expected <profile>.<field path>=<value>",
                    "write e.g. --set realtime.batching.max_batch_size=8",
                )
            ]
        )
    return parts[0], parts[1:], yaml.safe_load(raw)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `override` replaces `base` key by key, merging nested mappings."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _contains(tree: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    node: Any = tree
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _nest(keys: list[str], value: Any) -> dict[str, Any]:
    for key in reversed(keys):
        value = {key: value}
    return value


def _load_profile(
    name: str,
    file: Path,
    overrides: dict[str, Any],
    sets: dict[str, Any],
    deploy_file: str,
) -> Profile:
    data = read_yaml_mapping(file)
    merged = deep_merge(deep_merge(data, overrides), sets)
    errors = [
        *layer_errors(display_path(file), Profile, data),
        *layer_errors(deploy_file, Profile, overrides, f"overrides.{name}"),
        *layer_errors(SET_SOURCE, Profile, sets, name),
    ]
    if data.get("name") != name:
        errors.append(
            ConfigError(
                display_path(file),
                "name",
                f"is {data.get('name')!r} but the file is {file.name}",
                f"set `name: {name}` or rename the file",
            )
        )
    try:
        profile = Profile.model_validate(merged)
    except ValidationError as error:
        reported = {str(e) for e in errors}  # a layer's own error is the merged one, located
        for found in config_errors(display_path(file), Profile, error):
            located = _attribute(found, name, overrides, sets, deploy_file)
            if str(located) not in reported:
                errors.append(located)
        raise ConfigErrors(errors) from error
    if errors:
        raise ConfigErrors(errors)
    return profile


def _attribute(
    error: ConfigError, name: str, overrides: dict, sets: dict, deploy_file: str
) -> ConfigError:
    """Re-locate an error in the deploy file or --set when that is where the value came from."""
    loc = tuple(part for part in error.field.replace("[", ".").replace("]", "").split(".") if part)
    loc = tuple(int(p) if p.isdigit() else p for p in loc)
    if _contains(sets, loc):
        return ConfigError(SET_SOURCE, f"{name}.{error.field}", error.problem, error.fix)
    if _contains(overrides, loc):
        return ConfigError(deploy_file, f"overrides.{name}.{error.field}", error.problem, error.fix)
    return error


def load_deployment(deploy_file: Path, set_options: list[str] | None = None) -> Deployment:
    """Load, merge and schema-check a deployment; raise ConfigErrors listing every problem."""
    shown = display_path(deploy_file)
    data = read_yaml_mapping(deploy_file)
    try:
        deploy = Deploy.model_validate(data)
    except ValidationError as error:
        raise ConfigErrors(config_errors(shown, Deploy, error)) from error

    sets: dict[str, dict[str, Any]] = {}
    for option in set_options or []:
        profile, keys, value = parse_set_option(option)
        sets[profile] = deep_merge(sets.get(profile, {}), _nest(keys, value))

    errors: list[ConfigError] = []
    for section, source in ((deploy.overrides, shown), (sets, SET_SOURCE)):
        for name in section:
            if name not in deploy.profiles:
                field = f"overrides.{name}" if source == shown else name
                errors.append(unknown_key_error(source, field, name, deploy.profiles))
    if len(set(deploy.profiles)) != len(deploy.profiles):
        errors.append(
            ConfigError(shown, "profiles", "lists a profile twice", "list each profile once")
        )
    profiles_dir = (deploy_file.parent / deploy.profiles_dir).resolve()
    available = sorted(p.stem for p in profiles_dir.glob("*.yaml")) if profiles_dir.is_dir() else []
    choices = ", ".join(available) or f"(no profiles found in {profiles_dir})"
    profiles: dict[str, Profile] = {}
    files: dict[str, Path] = {}
    for index, name in enumerate(deploy.profiles):
        file = profiles_dir / f"{name}.yaml"
        if not file.is_file():
            errors.append(
                ConfigError(
                    shown,
                    f"profiles[{index}]",
                    f"no profile file {file}",
                    f"use one of: {choices}",
                )
            )
            continue
        try:
            profiles[name] = _load_profile(
                name, file, deploy.overrides.get(name, {}), sets.get(name, {}), shown
            )
            files[name] = file
        except ConfigErrors as error:
            errors.extend(error.errors)
    if errors:
        raise ConfigErrors(errors)
    return Deployment(deploy, deploy_file.resolve(), profiles, files, sets)
