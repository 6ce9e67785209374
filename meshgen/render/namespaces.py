"""namespaces.yaml: the system namespace with its network, and the service namespaces of each mesh.

* ``istio-system`` in every cluster, labelled ``topology.istio.io/network`` (the cluster-wide default
  network of its endpoints, reference §5.3). A remote also carries the annotation
  ``topology.istio.io/controlPlaneClusters: <primary>`` so that only its primary's istiod manages it.
* Namespace sameness (reference §1): a service's namespace exists, identically labelled, in every
  cluster of each mesh the service is placed in, with ``istio-injection: enabled``.
* The import namespace (``settings.importNamespace``) in a config cluster that receives imports or
  global names.

Injection: ``istio-injection: enabled`` reaches only the default revision; a cluster with a
``revision`` labels its namespaces ``istio.io/rev: <revision>`` instead (reference §5.2; the
injector's webhooks select on one label or the other).

No namespace is ever deleted by a GitOps controller: every Namespace carries Argo CD's
``argocd.argoproj.io/sync-options: Prune=false`` and Flux's ``kustomize.toolkit.fluxcd.io/prune:
disabled``, so removing the last service of a namespace, or a whole cluster, from the spec leaves the
namespace (and istio-system with istiod) running; ``render`` lists what disappears.
"""

from __future__ import annotations

from meshgen.diagnostics import Span
from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.render.bundles import BOOTSTRAP
from meshgen.render.common import ISTIO_NAMESPACE, KEEP, metadata, obj

FILE = "namespaces.yaml"
NETWORK_LABEL = "topology.istio.io/network"
CONTROL_PLANE_ANNOTATION = "topology.istio.io/controlPlaneClusters"
REVISION_LABEL = "istio.io/rev"


def render(model: FleetModel) -> list[Resource]:
    resources = []
    for name in model.clusters:
        resources.append(system_namespace(model, name))
        for namespace, (labels, origin) in cluster_namespaces(model, name).items():
            resources.append(_namespace(name, namespace, labels, None, origin))
    return resources


def system_namespace(model: FleetModel, cluster: str) -> Resource:
    spec = model.clusters[cluster]
    annotations = {}
    if not model.is_primary(cluster):
        annotations = {CONTROL_PLANE_ANNOTATION: model.config_cluster(cluster)}
    labels = {NETWORK_LABEL: spec.network}
    return _namespace(cluster, ISTIO_NAMESPACE, labels, annotations, model.origin("clusters", cluster))


def injection_label(model: FleetModel, cluster: str) -> dict:
    revision = model.revision(cluster)
    return {REVISION_LABEL: revision} if revision else {"istio-injection": "enabled"}


def cluster_namespaces(model: FleetModel, cluster: str) -> dict[str, tuple[dict, Span]]:
    """Namespace -> (labels, origin) for the non-system namespaces a cluster needs, sorted by name."""
    mesh = model.clusters[cluster].mesh
    injection = injection_label(model, cluster)
    found: dict[str, tuple[dict, Span]] = {}
    for service in model.services_in_mesh(mesh):
        origin = model.origin("services", f"{service.namespace}/{service.name}")
        found.setdefault(service.namespace, (injection, origin))
    named = model.imports_for(cluster) + model.global_names_of(mesh) if model.is_primary(cluster) else []
    if named:
        # Holds ServiceEntries only: no injection label unless a service namespace shares its name.
        found.setdefault(model.fleet.settings.importNamespace, ({}, named[0].origin))
    found.pop(ISTIO_NAMESPACE, None)
    return dict(sorted(found.items()))


def _namespace(cluster: str, name: str, labels: dict, annotations: dict | None, origin: Span) -> Resource:
    body = obj("v1", "Namespace", metadata(name, labels=labels, annotations={**KEEP, **(annotations or {})}))
    return Resource(bundle_path(cluster, FILE, BOOTSTRAP), body, origin)
