"""A Grafana dashboard of the deployment: per class, TTFT / ITL / end-to-end p95 against the
SLO (the gateway's histograms), requests/s, queue depth and KV-cache use (the servers'
series) and replicas (kube-state-metrics). Grafana's dashboard JSON model (schemaVersion 39);
also shipped as a ConfigMap labelled `grafana_dashboard: "1"`, which the Grafana sidecar of
kube-prometheus-stack loads.
"""

from __future__ import annotations

import json

from tritonsla.k8s.metrics import server_families
from tritonsla.k8s.spec import ClassSpec, ClusterSpec
from tritonsla.k8s.workloads import metadata

WIDTH = 24
HEIGHT = 8


def _panel(title: str, unit: str, targets: list[tuple[str, str]]) -> dict:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _latency(cls: ClassSpec, family: str, slo_ms: float | None, label: str) -> dict | None:
    if slo_ms is None:
        return None
    expr = f'histogram_quantile(0.95, sum(rate({family}_bucket{{sla="{cls.sla}"}}[5m])) by (le))'
    return _panel(
        f"{cls.sla}: {label} p95 vs SLO",
        "s",
        [(expr, f"{label} p95"), (f"vector({slo_ms / 1000:g})", f"SLO {slo_ms:g} ms")],
    )


def _pods(spec: ClusterSpec, cls: ClassSpec) -> str:
    return f'namespace="{spec.namespace}",pod=~"{cls.name}-.*"'


def class_panels(spec: ClusterSpec, cls: ClassSpec) -> list[dict]:
    """The panels of one class, in display order."""
    slo = cls.profile.slo
    exported = server_families(spec.engine_kind)
    pods = _pods(spec, cls)
    panels = [
        _latency(cls, "tritonsla_gateway_ttft_seconds", slo.ttft_ms, "TTFT"),
        _latency(cls, "tritonsla_gateway_itl_seconds", slo.itl_ms, "ITL"),
        _latency(cls, "tritonsla_gateway_e2e_seconds", slo.e2e_ms, "end-to-end"),
        _panel(
            f"{cls.sla}: requests/s",
            "reqps",
            [
                (
                    f'sum(rate(tritonsla_gateway_requests_total{{sla="{cls.sla}"}}[1m])) '
                    "by (outcome)",
                    "{{outcome}}",
                )
            ],
        ),
    ]
    if "nv_trt_llm_request_metrics" in exported:
        queue = f'sum(nv_trt_llm_request_metrics{{{pods},request_type="waiting"}})'
    else:
        queue = f"sum(nv_inference_pending_request_count{{{pods}}})"
    panels.append(_panel(f"{cls.sla}: queue depth", "short", [(queue, "waiting")]))
    if "nv_trt_llm_kv_cache_block_metrics" in exported:
        kv = f'avg(nv_trt_llm_kv_cache_block_metrics{{{pods},kv_cache_block_type="fraction"}})'
        panels.append(_panel(f"{cls.sla}: KV-cache use", "percentunit", [(kv, "mean of pods")]))
    hpa = f'namespace="{spec.namespace}",horizontalpodautoscaler="{cls.name}"'
    panels.append(
        _panel(
            f"{cls.sla}: replicas",
            "short",
            [
                (f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}", "current"),
                (f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "max"),
            ],
        )
    )
    return [p for p in panels if p is not None]


def dashboard(spec: ClusterSpec) -> dict:
    """The dashboard JSON model: one row of panels per class."""
    panels: list[dict] = []
    y = 0
    for cls in spec.classes:
        row = class_panels(spec, cls)
        width = WIDTH // len(row)
        for i, panel in enumerate(row):
            panel["id"] = len(panels) + 1
            panel["gridPos"] = {"h": HEIGHT, "w": width, "x": i * width, "y": y}
            panels.append(panel)
        y += HEIGHT
    return {
        "title": f"triton-sla {spec.deploy}",
        "uid": f"tritonsla-{spec.name}"[:40],
        "schemaVersion": 39,
        "tags": ["triton-sla"],
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }


def dashboard_config_map(spec: ClusterSpec, board: dict) -> dict:
    labels = {**spec.common_labels, "app.kubernetes.io/component": "metrics"}
    meta = metadata(spec, f"{spec.name}-dashboard", {**labels, "grafana_dashboard": "1"})
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {f"{spec.name}.json": json.dumps(board, indent=2)},
    }
