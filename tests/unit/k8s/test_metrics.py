"""The series the manifests read are the ones their exporters write."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tritonsla.cli.main import run
from tritonsla.k8s.metrics import GATEWAY_SERIES, server_families
from tritonsla.k8s.signals import SIGNALS

from .conftest import CPU


def test_gateway_series_are_the_gateways_own() -> None:
    metrics = pytest.importorskip("tritonsla.gateway.metrics")
    registry = metrics.GatewayMetrics(("realtime",)).registry
    written = {sample.name for family in registry.collect() for sample in family.samples}
    # a labelled counter has no sample before its first count: take its family's name
    written |= {f"{f.name}_total" for f in registry.collect() if f.type == "counter"}
    assert written >= GATEWAY_SERIES


def test_every_signal_reads_families_some_engine_exports() -> None:
    trt = server_families("trt-engine")
    cpu = server_families("cpu")
    for signal in SIGNALS.values():
        assert set(signal.families) <= trt
        assert set(signal.families) <= cpu
        assert signal.series_query.startswith(signal.families[0] + "{")


def test_cli_renders_k8s_and_refuses_check(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    status = run(
        ["render", "--target", "k8s", "--deploy", str(CPU), "--out", str(tmp_path / "m")],
        console,
    )
    assert status == 0
    text = out.getvalue()
    assert "Rendered 21 Kubernetes objects" in text
    assert "realtime (1-4 replicas on tritonsla_engine_waiting_requests)" in text
    assert (tmp_path / "m" / "13-batch.yaml").is_file()
    with pytest.raises(Exception, match="--check applies to --target triton only"):
        run(["render", "--target", "k8s", "--check"], console)
