"""traffic.yaml (primaries only): locality failover for services placed in several clusters of a mesh.

One DestinationRule per such service in the service's namespace (reference §7.1):

* by default ``failoverPriority`` network, region, zone: stay on the caller's network, then in
  its region, then its zone, before crossing a gateway;
* when ``failover`` in the spec names the service, region pairs (each region fails over to the
  next one in the list) *instead*: the validator rejects ``failover`` together with a
  ``failoverPriority`` naming region or zone labels.

``outlierDetection`` is always set: without it Istio never fails over (reference §7.1, [LB]).
Imported ``.global`` hosts are the federation renderer's.
"""

from __future__ import annotations

from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.render.common import OUTLIER_DETECTION, metadata, obj
from meshgen.spec.models import Service

FILE = "traffic.yaml"
FAILOVER_PRIORITY = ("topology.istio.io/network", "topology.kubernetes.io/region", "topology.kubernetes.io/zone")


def render(model: FleetModel) -> list[Resource]:
    """The rules of a mesh are the same in each of its primaries: built once, their bodies shared."""
    resources = []
    per_mesh: dict[str, list[tuple[dict, object]]] = {}  # mesh -> [(body, origin)]
    for name in model.primary_names():
        mesh = model.clusters[name].mesh
        rules = per_mesh.get(mesh)
        if rules is None:
            rules = per_mesh[mesh] = [
                (destination_rule(model, service, mesh), model.origin("services", f"{service.namespace}/{service.name}"))
                for service in failover_services(model, mesh)
            ]
        path = bundle_path(name, FILE)
        resources += [Resource(path, body, origin) for body, origin in rules]
    return resources


def failover_services(model: FleetModel, mesh: str) -> list[Service]:
    """Services with instances in more than one cluster of the mesh."""
    return [s for s in model.services_in_mesh(mesh) if len(model.placements(s, mesh)) > 1]


def failover_regions(model: FleetModel, service: Service, mesh: str) -> list[str]:
    """The regions of the first ``failover`` entry for this service (and mesh, when it names one)."""
    key = f"{service.namespace}/{service.name}"
    for entry in model.fleet.failover:
        if entry.service == key and entry.mesh in (None, mesh):
            return list(entry.regions)
    return []


def locality_setting(regions: list[str], priority=FAILOVER_PRIORITY) -> dict:
    """Region pairs from the spec's failover order, else ``priority``."""
    pairs = [{"from": a, "to": b} for a, b in zip(regions, regions[1:]) if a != b]
    if pairs:
        return {"enabled": True, "failover": pairs}
    return {"enabled": True, "failoverPriority": list(priority)}


def destination_rule(model: FleetModel, service: Service, mesh: str) -> dict:
    regions = failover_regions(model, service, mesh)
    spec = {
        "host": model.host(service),
        "trafficPolicy": {
            "loadBalancer": {"localityLbSetting": locality_setting(regions)},
            "outlierDetection": dict(OUTLIER_DETECTION),
        },
    }
    return obj("networking.istio.io/v1", "DestinationRule", metadata(service.name, service.namespace), spec=spec)
