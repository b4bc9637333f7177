"""`render --target k8s`: load, check, build, validate, then write the folder in one rename.

Nothing is written unless the deploy file passes its rules and the manifests their checks. The
folder is replaced only when missing, empty or an earlier k8s render of the same deploy file
(marker `.tritonsla-output`), unless `force` (`tritonsla.folders`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tritonsla.errors import ConfigErrors
from tritonsla.k8s.manifests import Manifests, build, to_yaml
from tritonsla.k8s.rules import k8s_rules
from tritonsla.k8s.spec import ClusterSpec, cluster_spec
from tritonsla.k8s.validate import (
    KUBERNETES_VERSION,
    ManifestError,
    schemas_available,
    validate,
)
from tritonsla.profiles.loading import load_deployment
from tritonsla.profiles.rules import check_deployment
from tritonsla.repo.context import portable_path
from tritonsla.repo.render import write_repository


@dataclass(frozen=True)
class K8sResult:
    """What was rendered, and whether the core schemas were checked."""

    spec: ClusterSpec
    manifests: Manifests
    schemas_checked: bool

    @property
    def schema_note(self) -> str:
        if self.schemas_checked:
            return f"checked against the Kubernetes {KUBERNETES_VERSION} schemas"
        return "core schemas not checked (install the dev extra: kubernetes-validate)"


def k8s_owner(source: str) -> str:
    """Marker owner of manifests rendered from the deploy file `source`."""
    return f"tritonsla render --target k8s {source}"


def plan_k8s(
    deploy_file: Path,
    *,
    sets: list[str] | None = None,
    bounds: dict[str, tuple[int, int]] | None = None,
) -> K8sResult:
    """Checked manifests of `deploy_file` (ConfigErrors: bad input; ManifestError: a bad build)."""
    dep = load_deployment(deploy_file, sets)
    problems = check_deployment(dep) + k8s_rules(dep)
    if problems:
        raise ConfigErrors(problems)
    spec = cluster_spec(dep, bounds)
    manifests = build(spec, dep)
    found = validate(manifests.all_objects(), spec)
    if found:
        raise ManifestError(found)
    return K8sResult(spec, manifests, schemas_available())


def render_k8s(
    deploy_file: Path,
    out: Path,
    *,
    sets: list[str] | None = None,
    bounds: dict[str, tuple[int, int]] | None = None,
    force: bool = False,
) -> K8sResult:
    """Render and write the manifests of `deploy_file` into `out`."""
    result = plan_k8s(deploy_file, sets=sets, bounds=bounds)
    files = {name: to_yaml(objs).encode() for name, objs in result.manifests.objects.items()}
    files.update({name: text.encode() for name, text in result.manifests.extras.items()})
    source = portable_path(deploy_file.resolve(), out.resolve().parent)
    write_repository(files, out, owner=k8s_owner(source), force=force)
    return result
