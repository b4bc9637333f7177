"""The endpoint table is read from deploy/cpu.yaml and its profiles, nothing copied."""

from __future__ import annotations

import pytest

from tritonsla.profiles.loading import load_deployment
from tritonsla.routing.errors import UnknownEndpointError
from tritonsla.routing.table import EndpointTable, Replica, contract_engine


def test_classes_models_and_replicas_from_cpu_deploy(deployment):
    table = EndpointTable.from_deployment(deployment)

    assert list(table.endpoints) == ["realtime", "interactive", "batch"]
    realtime = table.endpoint("realtime")
    assert realtime.model == "realtime_tensorrt_llm_bls"
    assert realtime.replicas == (Replica("127.0.0.1:8001", "http://127.0.0.1:8002/metrics"),)
    assert realtime.profile is deployment.profiles["realtime"]
    assert realtime.slo.ttft_ms == 500 and realtime.slo.itl_ms == 150  # deploy overrides
    assert realtime.queue.priority_levels == 2
    assert realtime.queue.default_timeout_us == 2_000_000
    assert realtime.max_batch_size == 4
    assert table.endpoint("interactive").slo.e2e_ms == 8000
    assert table.endpoint("batch").queue.priority_levels == 0
    assert realtime.engine_model == "realtime_tensorrt_llm" and realtime.contract
    assert realtime.pipeline_models == (
        "realtime_preprocessing",
        "realtime_tensorrt_llm",
        "realtime_postprocessing",
        "realtime_ensemble",
        "realtime_tensorrt_llm_bls",
    )


def test_ensemble_target_and_lookup_by_model(deployment):
    table = EndpointTable.from_deployment(deployment, target="ensemble")

    assert table.endpoint("batch").model == "batch_ensemble"
    assert table.for_model("batch_tensorrt_llm_bls").sla == "batch"
    pinned = table.for_model("interactive_ensemble", "127.0.0.1:9101")
    assert pinned.replicas == (Replica("127.0.0.1:9101"),)


@pytest.mark.parametrize(
    ("model", "engine"),
    [
        ("general_ensemble", "general_tensorrt_llm"),
        ("my_sla_tensorrt_llm_bls", "my_sla_tensorrt_llm"),
        ("echo", None),
        ("_ensemble", None),
        ("realtime_tensorrt_llm", None),  # the engine itself takes other inputs
    ],
)
def test_contract_models_are_known_by_their_names(model, engine):
    assert contract_engine(model) == engine


def test_deploy_replicas_follow_the_main_server(project):
    project.edit("deploy/cpu.yaml", lambda d: d["server"].update(replicas=["10.1.1.1:9001"]))
    table = EndpointTable.from_deployment(load_deployment(project.deploy))

    assert [r.address for r in table.endpoint("batch").replicas] == [
        "127.0.0.1:8001",
        "10.1.1.1:9001",
    ]
    assert table.endpoint("batch").replicas[1].metrics_url is None


def test_wildcard_host_is_reached_on_loopback(project):
    project.edit("deploy/cpu.yaml", lambda d: d["server"].update(host="0.0.0.0"))
    table = EndpointTable.from_deployment(load_deployment(project.deploy))

    assert table.endpoint("realtime").replicas[0].address == "127.0.0.1:8001"


def test_unknown_names_list_the_available_ones(table):
    with pytest.raises(UnknownEndpointError, match=r"SLA class 'gold'\. Available: realtime, "):
        table.endpoint("gold")
    with pytest.raises(UnknownEndpointError, match=r"model 'x'\. Available: realtime_tensorrt"):
        table.for_model("x")
    with pytest.raises(UnknownEndpointError, match=r"target 'onnx'\. Available: bls, ensemble"):
        EndpointTable.from_deployment(table.deployment, target="onnx")


@pytest.mark.parametrize("text", ["localhost", "host:", ":8001", "h:0", "h:99999", "h:80a"])
def test_malformed_replica_addresses_are_refused(text):
    with pytest.raises(ValueError, match="is not host:grpc_port"):
        Replica.parse(text)


def test_replica_parsing_keeps_ipv6_brackets():
    assert Replica.parse(" [::1]:8001 ").address == "[::1]:8001"
