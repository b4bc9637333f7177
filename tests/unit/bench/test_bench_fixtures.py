"""The benchmark scripts' shared fixtures: the echo and sleep models' repository and the parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritonsla import contract
from tritonsla.bench.fixtures.serving import (
    DELAY_S,
    ECHO_MODEL_PY,
    contract_model_config,
    contract_models,
    repository_plan,
    script_parser,
)
from tritonsla.errors import RenderError
from tritonsla.repo.render import validate_plan


def spec_of(tensor: mc.ModelInput | mc.ModelOutput) -> tuple[str, str, tuple[int, ...]]:
    return tensor.name, mc.DataType.Name(tensor.data_type), tuple(tensor.dims)


def test_echo_and_sleep_speak_the_ensembles_client_contract() -> None:
    configs = validate_plan(contract_models())
    assert sorted(configs) == ["echo", "sleep"]
    ensemble = {spec.name: spec for spec in (*contract.ENSEMBLE_INPUTS, *contract.ENSEMBLE_OUTPUTS)}
    for config in configs.values():
        assert config.backend == "python"
        for tensor in (*config.input, *config.output):
            spec = ensemble[tensor.name]
            assert spec_of(tensor) == (spec.name, spec.data_type, spec.dims)
        assert [t.name for t in config.input if not t.optional] == ["text_input", "max_tokens"]
        assert [t.name for t in config.output] == ["text_output"]


def test_echo_batches_and_answers_at_once_sleep_waits_alone() -> None:
    configs = validate_plan(contract_models())
    echo, sleep = configs["echo"], configs["sleep"]
    assert echo.HasField("dynamic_batching")
    assert not sleep.HasField("dynamic_batching")
    assert echo.parameters["delay_s"].string_value == "0.0"
    assert float(sleep.parameters["delay_s"].string_value) == DELAY_S
    one_cpu = [(1, mc.ModelInstanceGroup.KIND_CPU)]
    assert [(g.count, g.kind) for g in sleep.instance_group] == one_cpu


def test_the_written_config_is_the_built_message() -> None:
    plan = contract_models()
    for name in ("echo", "sleep"):
        written = text_format.Parse(plan[f"{name}/config.pbtxt"].decode(), mc.ModelConfig())
        delay = 0.0 if name == "echo" else DELAY_S
        assert written == contract_model_config(name, delay, batching=name == "echo")
        assert plan[f"{name}/1/model.py"] == ECHO_MODEL_PY.read_bytes()


def test_a_model_named_unlike_its_folder_is_refused() -> None:
    plan = contract_models()
    plan["sleep/config.pbtxt"] = plan["echo/config.pbtxt"]
    with pytest.raises(RenderError, match=r"sleep/config.pbtxt: model name 'echo' differs"):
        validate_plan(plan)


def test_without_the_cpu_deployment_the_plan_is_the_two_models(tmp_path: Path) -> None:
    plan = repository_plan(tmp_path / "repo", cpu_deployment=False, echo_models=True)
    assert plan == contract_models()
    assert repository_plan(tmp_path / "repo", cpu_deployment=False, echo_models=False) == {}


def test_script_parser_describes_with_the_first_paragraph_and_ends_with_the_rest() -> None:
    doc = """Question the script answers.

    .venv/bin/python benchmarks/example.py [--n 3]

More about it.
"""
    parser = script_parser(doc)
    parser.add_argument("--n", type=int, default=3)
    text = parser.format_help()
    assert parser.description == "Question the script answers."
    assert text.index("--n") < text.index("benchmarks/example.py") < text.index("More about it.")
