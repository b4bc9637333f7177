"""The traffic forecast `tritonsla plan` sizes for: per class, requests/s and token lengths.

    headroom: 0.2            # optional: spare capacity over the forecast (default 0.2)
    classes:
      realtime:    {requests_per_s: 300, input_tokens: 32, output_tokens: 32}
      interactive: {requests_per_s: 300, input_tokens: 96, output_tokens: 48}
      batch:       {requests_per_s: 400, input_tokens: 128, output_tokens: 96}

Every class of the deployment needs its forecast (a class with no traffic says 0); unknown
keys and classes are errors naming the field.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tritonsla.errors import ConfigError, ConfigErrors
from tritonsla.profiles.diagnostics import config_errors, unknown_key_error
from tritonsla.profiles.loading import display_path, read_yaml_mapping


class ClassForecast(BaseModel):
    """Traffic of one class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_s: float = Field(ge=0.0, description="mean arrival rate (Poisson)")
    input_tokens: int = Field(ge=1, description="mean prompt length")
    output_tokens: int = Field(ge=1, description="mean answer length (max_tokens)")


class Forecast(BaseModel):
    """Traffic per class and the headroom to plan over it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headroom: float = Field(0.2, ge=0.0, le=10.0, description="spare capacity, 0.2 = 20%")
    classes: dict[str, ClassForecast]

    @property
    def total_rps(self) -> float:
        return sum(c.requests_per_s for c in self.classes.values())


def load_forecast(path: Path, classes: list[str]) -> Forecast:
    """Read and check a forecast against the deployment's `classes`."""
    shown = display_path(path)
    data = read_yaml_mapping(path)
    try:
        forecast = Forecast.model_validate(data)
    except ValidationError as error:
        raise ConfigErrors(config_errors(shown, Forecast, error)) from error
    problems = [
        ConfigError(
            shown,
            f"classes.{sla}",
            f"the deployment serves `{sla}` but the forecast has no traffic for it",
            f"add `{sla}: {{requests_per_s: ..., input_tokens: ..., output_tokens: ...}}` "
            "(requests_per_s: 0 for none)",
        )
        for sla in classes
        if sla not in forecast.classes
    ]
    problems += [
        unknown_key_error(shown, f"classes.{sla}", sla, classes)
        for sla in forecast.classes
        if sla not in classes
    ]
    if problems:
        raise ConfigErrors(problems)
    return forecast
