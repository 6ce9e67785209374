"""traffic.yaml (primaries only): the DestinationRule of each service that runs in several clusters of
a mesh or declares a ``trafficPolicy``, in the service's namespace (reference §7.1).

Locality, for a service in several clusters:

* ``distribute`` from the service's ``trafficPolicy``: weighted localities;
* else ``failover`` regions from the spec's ``failover`` entry: each region fails over to the next
  (the validator rejects ``failover`` with a ``failoverPriority`` naming region or zone labels);
* else ``failoverPriority`` network, region, zone: stay on the caller's network, then in its region,
  then its zone, before crossing a gateway (Istio's own order for ``PreferSameZone``).

``outlierDetection`` is always set (without it Istio never fails over, reference §7.1, [LB]): the
service's values over meshgen's defaults. Subsets and ``retryBudget`` come from ``trafficPolicy``.
The same builders serve imported hosts (``render.federation``) and global names.
"""

from __future__ import annotations

from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.render.bundles import MESH
from meshgen.render.common import OUTLIER_DETECTION, metadata, obj
from meshgen.spec.models import Service

FILE = "traffic.yaml"
FAILOVER_PRIORITY = ("topology.istio.io/network", "topology.kubernetes.io/region", "topology.kubernetes.io/zone")
_OUTLIER_FIELDS = ("consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime",
                   "maxEjectionPercent")


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
                for service in ruled_services(model, mesh)
            ]
        path = bundle_path(name, FILE, MESH)
        resources += [Resource(path, body, origin) for body, origin in rules]
    return resources


def ruled_services(model: FleetModel, mesh: str) -> list[Service]:
    """Services with instances in more than one cluster of the mesh, or with a traffic policy."""
    return [s for s in model.services_in_mesh(mesh)
            if len(model.placements(s, mesh)) > 1 or s.trafficPolicy is not None]


def failover_regions(model: FleetModel, service: Service, mesh: str) -> list[str]:
    """The regions of the first ``failover`` entry for this service (and mesh, when it names one)."""
    key = f"{service.namespace}/{service.name}"
    for entry in model.failover_of(key):
        if entry.mesh in (None, mesh):
            return list(entry.regions)
    return []


def locality_setting(model: FleetModel, service: Service, mesh: str, priority=FAILOVER_PRIORITY) -> dict:
    """``distribute`` from the policy, else region pairs from the failover order, else ``priority``."""
    policy = service.trafficPolicy
    if policy and policy.distribute:
        return {"enabled": True, "distribute": [{"from": rule.from_, "to": dict(rule.to)} for rule in policy.distribute]}
    regions = failover_regions(model, service, mesh)
    pairs = [{"from": a, "to": b} for a, b in zip(regions, regions[1:]) if a != b]
    if pairs:
        return {"enabled": True, "failover": pairs}
    return {"enabled": True, "failoverPriority": list(priority)}


def outlier_detection(service: Service) -> dict:
    """meshgen's defaults, overridden field by field by the service's ``outlierDetection``."""
    given = service.trafficPolicy.outlierDetection if service.trafficPolicy else None
    values = {**OUTLIER_DETECTION, **({k: v for k, v in given.model_dump().items() if v is not None} if given else {})}
    return {field: values[field] for field in _OUTLIER_FIELDS if field in values}


def traffic_policy(model: FleetModel, service: Service, mesh: str, locality: bool, priority=FAILOVER_PRIORITY) -> dict:
    """loadBalancer (when ``locality``), outlierDetection and retryBudget, in Istio's field order."""
    policy: dict = {}
    if locality:
        policy["loadBalancer"] = {"localityLbSetting": locality_setting(model, service, mesh, priority)}
    policy["outlierDetection"] = outlier_detection(service)
    budget = service.trafficPolicy.retryBudget if service.trafficPolicy else None
    if budget is not None:
        policy["retryBudget"] = {k: v for k, v in budget.model_dump().items() if v is not None}
    return policy


def subsets(service: Service) -> list[dict]:
    policy = service.trafficPolicy
    return [{"name": s.name, "labels": dict(sorted(s.labels.items()))} for s in (policy.subsets if policy else ())]


def destination_rule(model: FleetModel, service: Service, mesh: str) -> dict:
    spec: dict = {
        "host": model.host(service),
        "trafficPolicy": traffic_policy(model, service, mesh, locality=len(model.placements(service, mesh)) > 1),
    }
    if subsets(service):
        spec["subsets"] = subsets(service)
    return obj("networking.istio.io/v1", "DestinationRule", metadata(service.name, service.namespace), spec=spec)
