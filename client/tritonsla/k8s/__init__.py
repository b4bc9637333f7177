"""Kubernetes manifests from a deploy file and its profiles (`tritonsla render --target k8s`).

One Deployment (or LeaderWorkerSet, for tp x pp beyond a node) per SLA class with its probes,
headless Service, PodDisruptionBudget, HorizontalPodAutoscaler on the class's own signal and
ServiceMonitor; the prometheus-adapter rules the HPAs read; the gateway; a Grafana dashboard;
optionally Gateway API Inference Extension objects. Building is pure (`manifests`), checking is
pure (`validate`), writing happens once at the edge (`render`).
"""
