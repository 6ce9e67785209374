"""namespaces.yaml: the system namespace with its network, and the service namespaces of each mesh.

* ``istio-system`` in every cluster, labelled ``topology.istio.io/network`` (the cluster-wide default
  network of its endpoints, reference §5.3). A remote also carries the annotation
  ``topology.istio.io/controlPlaneClusters: <primary>`` so that only its primary's istiod manages it.
* Namespace sameness (reference §1): a service's namespace exists, identically labelled, in every
  cluster of each mesh the service is placed in, with ``istio-injection: enabled``.
* The import namespace (``settings.importNamespace``) in a config cluster that receives imports.
"""

from __future__ import annotations

from meshgen.diagnostics import Span
from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.render.common import ISTIO_NAMESPACE, metadata, obj

FILE = "namespaces.yaml"
NETWORK_LABEL = "topology.istio.io/network"
CONTROL_PLANE_ANNOTATION = "topology.istio.io/controlPlaneClusters"
INJECTION_LABEL = {"istio-injection": "enabled"}


def render(model: FleetModel) -> list[Resource]:
    resources = []
    for name in model.clusters:
        resources.append(system_namespace(model, name))
        for namespace, (labels, origin) in cluster_namespaces(model, name).items():
            resources.append(_namespace(name, namespace, labels, None, origin))
    return resources


def system_namespace(model: FleetModel, cluster: str) -> Resource:
    spec = model.clusters[cluster]
    annotations = None
    if not model.is_primary(cluster):
        annotations = {CONTROL_PLANE_ANNOTATION: model.config_cluster(cluster)}
    labels = {NETWORK_LABEL: spec.network}
    return _namespace(cluster, ISTIO_NAMESPACE, labels, annotations, model.origin("clusters", cluster))


def cluster_namespaces(model: FleetModel, cluster: str) -> dict[str, tuple[dict, Span]]:
    """Namespace -> (labels, origin) for the non-system namespaces a cluster needs, sorted by name."""
    mesh = model.clusters[cluster].mesh
    found: dict[str, tuple[dict, Span]] = {}
    for service in model.services_in_mesh(mesh):
        origin = model.origin("services", f"{service.namespace}/{service.name}")
        found.setdefault(service.namespace, (INJECTION_LABEL, origin))
    imports = model.imports_for(cluster)
    if imports:
        # Holds ServiceEntries only: no injection label unless a service namespace shares its name.
        found.setdefault(model.fleet.settings.importNamespace, ({}, imports[0].origin))
    found.pop(ISTIO_NAMESPACE, None)
    return dict(sorted(found.items()))


def _namespace(cluster: str, name: str, labels: dict, annotations: dict | None, origin: Span) -> Resource:
    body = obj("v1", "Namespace", metadata(name, labels=labels, annotations=annotations))
    return Resource(bundle_path(cluster, FILE), body, origin)
