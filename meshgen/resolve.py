"""Spec -> model: link references, expand consumers, weigh federation gateway endpoints, join global names."""

from __future__ import annotations

from math import lcm

from meshgen.model import Endpoint, ExportNode, FleetModel, GlobalNameNode, Identity
from meshgen.spec.hosts import export_host
from meshgen.spec.models import Export, Fleet, GlobalName
from meshgen.spec.positions import Positions

_NAMED_LISTS = ("networks", "rootsOfTrust", "meshes", "clusters", "services", "globalNames", "exports", "failover")


def resolve(fleet: Fleet, positions: Positions, addresses: dict[str, str] | None = None) -> FleetModel:
    """Build the model. ``addresses`` (imported host -> IP) comes from the address allocator."""
    model = FleetModel(fleet, origins=_origins(fleet, positions), positions=positions, addresses=dict(addresses or {}))
    exports = [resolve_export(model, i, e) for i, e in enumerate(fleet.exports)]
    model.exports = sorted(exports, key=lambda node: node.host)
    names = [resolve_global_name(model, i, g) for i, g in enumerate(fleet.globalNames)]
    model.global_names = sorted(names, key=lambda node: node.host)
    return model


def _origins(fleet: Fleet, positions: Positions) -> dict[tuple, object]:
    """Spans keyed by ('clusters', name) etc., plus every raw key path for finer lookups."""
    origins: dict[tuple, object] = {}
    for kind in _NAMED_LISTS:
        for i, item in enumerate(getattr(fleet, kind)):
            span = positions.span((kind, i))
            origins[(kind, i)] = span
            origins[(kind, _item_key(kind, item, i))] = span
    return origins


def _item_key(kind: str, item, i: int) -> str:
    if kind == "services":
        return f"{item.namespace}/{item.name}"
    if kind == "exports":
        return f"{item.mesh}/{item.service}"
    if kind == "failover":
        return item.service
    if kind == "globalNames":
        return item.host
    return item.name


def consumer_clusters(model: FleetModel, export: Export) -> list[str]:
    names = set()
    for consumer in export.to:
        if consumer.cluster:
            names.add(consumer.cluster)
        else:
            names |= {c.name for c in model.mesh_clusters(consumer.mesh)}
    return sorted(names)


def resolve_export(model: FleetModel, index: int, export: Export) -> ExportNode:
    namespace, name = export.service.split("/")
    service = model.services[(namespace, name)]
    clusters = consumer_clusters(model, export)
    return ExportNode(
        host=export_host(model.fleet, export),
        mesh=model.meshes[export.mesh],
        service=service,
        consumers=tuple(export.to),
        consumer_clusters=tuple(clusters),
        config_clusters=tuple(sorted({model.config_cluster(c) for c in clusters})),
        identities=_identities(model, export),
        endpoints=gateway_endpoints(model, service, export.mesh),
        pinned_address=export.address,
        origin=model.origin("exports", index),
    )


def resolve_global_name(model: FleetModel, index: int, name: GlobalName) -> GlobalNameNode:
    backends = []
    for ref in sorted(set(name.services)):
        service = model.services[tuple(ref.split("/"))]
        backends.append((service, sum(p.weight for p in model.placements(service, name.mesh))))
    return GlobalNameNode(name.host, model.meshes[name.mesh], tuple(backends), name.address,
                          model.origin("globalNames", index))


def _identities(model: FleetModel, export: Export) -> tuple[Identity, ...]:
    found = set()
    for consumer in export.to:
        mesh = consumer.mesh or model.clusters[consumer.cluster].mesh
        domain = model.meshes[mesh].trustDomain
        if consumer.serviceAccounts:
            found |= {Identity(domain, *item.split("/")) for item in consumer.serviceAccounts}
        elif consumer.namespaces:
            found |= {Identity(domain, ns) for ns in consumer.namespaces}
        else:
            found.add(Identity(domain))
    return tuple(sorted(found, key=lambda i: (i.trust_domain, i.namespace, i.service_account)))


def gateway_endpoints(model: FleetModel, service, mesh: str) -> tuple[Endpoint, ...]:
    """One endpoint per federation gateway address, weighted by the instances it fronts (Istio's EDS
    rule: a placement's weight is split evenly over the gateways of its network)."""
    fronting = []
    for placement in model.placements(service, mesh):
        owners = model.gateway_owners(placement.cluster.name, "federationGateways")
        gateways = [(owner, gw) for owner in owners for gw in owner.federationGateways]
        if gateways:
            fronting.append((placement.weight, gateways))
    if not fronting:
        return ()
    scale = lcm(*(len(gateways) for _, gateways in fronting))
    merged: dict[tuple[str, int], list] = {}
    for weight, gateways in fronting:
        share = weight * scale // len(gateways)
        for owner, gw in gateways:
            entry = merged.setdefault((gw.address, gw.port), [owner, 0])
            entry[1] += share
    divisor = _gcd_all(weight for _, weight in merged.values())
    endpoints = [
        Endpoint(address, port, owner.network, model.locality(owner.name), owner.name, weight // divisor)
        for (address, port), (owner, weight) in merged.items()
    ]
    return tuple(sorted(endpoints, key=lambda e: (e.cluster, e.address, e.port)))


def _gcd_all(values) -> int:
    from math import gcd

    result = 0
    for value in values:
        result = gcd(result, value)
    return result or 1
