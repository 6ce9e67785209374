"""What a peer can open at a federation gateway without any configuration of its own.

AUTO_PASSTHROUGH routes on the SNI alone ([APGW], reference §8.3): a workload of another mesh that
reaches a federation gateway's address and presents a certificate the exporter trusts can name any
host the gateway lists, with no ServiceEntry of its own mesh's making (review F2: a peer's own
ServiceEntry pointing at the gateway is enough). So the matrix also evaluates, for every host every
federation gateway lists and every mesh but the exporter's, the call a probe makes straight to the
gateway: the gateway hop, the pods behind it, the exporter trusting the caller (root and trust
domain), mutual TLS, authorization at the pods. It is granted when a grant row for that host covers
the probe in some cluster of its mesh.

A listed host that no export of the exporting mesh names is an ``Exposure`` on its own: peers the
exporter trusts reach its sidecars through the boundary, whatever authorization decides there.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.explain import istio, paths
from meshgen.explain.fleet import Fleet
from meshgen.explain.index import Release
from meshgen.explain.probes import Probe


@dataclass(frozen=True)
class Exposure:
    cluster: str  # the gateway's cluster
    gateway: str  # the release name
    host: str


def listed_hosts(fleet: Fleet) -> list[tuple[Release, str, str]]:
    """(federation gateway release, its address, host) for every host an AUTO_PASSTHROUGH server
    selecting the release lists; a wildcard stands for every service its configuration knows that
    matches. The address is the pinned load-balancer IP, else the spec's (``Fleet.federation_release``)."""
    addresses = {id(fleet.federation_release(a)): a for c in fleet.model.clusters.values()
                 for a in (g.address for g in c.federationGateways)}
    found = []
    for cluster in sorted(fleet.index.bundles):
        for release in fleet.index.bundle(cluster).gateways:
            if release.east_west:
                continue
            config = fleet.index.config(release.cluster)
            target = dict(release.ports).get(release.tls_port, release.tls_port)
            address = release.address or addresses.get(id(release), release.name)
            for pattern in _server_hosts(config, release, target):
                found += [(release, address, host) for host in _expand(fleet, config, pattern)]
    return list(dict.fromkeys(found))


def _server_hosts(config, release: Release, target: int) -> list[str]:
    return [h.split("/", 1)[-1] for doc in config.of_kind("Gateway")
            if istio.selects(doc.body.get("spec", {}).get("selector", {}), release.labels)
            for s in doc.body["spec"].get("servers", [])
            if s.get("tls", {}).get("mode") == "AUTO_PASSTHROUGH" and s.get("port", {}).get("number") == target
            for h in s.get("hosts", [])]


def _expand(fleet: Fleet, config, pattern: str) -> list[str]:
    if "*" not in pattern:
        return [pattern]
    mesh = (config.istiod.body or {}).get("global", {}).get("meshID", "") if config.istiod else ""
    known = {host for kind, host in config.by_host if kind == "ServiceEntry"}
    known |= {fleet.model.host(s) for s in fleet.model.services_in_mesh(mesh)}
    return sorted(h for h in known if istio.host_matches(h, pattern))


def ports_behind(fleet: Fleet, release: Release, host: str) -> list[int]:
    """The ports of the service the gateway's istiod knows under ``host`` (the SNI names one)."""
    config = fleet.index.config(release.cluster)
    entries = [d for d in config.by_host.get(("ServiceEntry", host), []) if istio.visible(d.body, paths.GATEWAY_NAMESPACE)]
    if entries:
        return [p.get("number") for p in entries[0].body["spec"].get("ports", [])]
    mesh = (config.istiod.body or {}).get("global", {}).get("meshID", "") if config.istiod else ""
    service = fleet.in_mesh_service(host, mesh)
    return [p.number for p in service.ports] if service is not None else []


def exported(fleet: Fleet, release: Release, host: str) -> bool:
    mesh = fleet.model.clusters[release.cluster].mesh if release.cluster in fleet.model.clusters else ""
    return any(e.host == host for e in fleet.model.exports_of(mesh))


def direct_destinations(fleet: Fleet, release: Release, address: str, host: str, port: int) -> list:
    """The pods a call straight to the gateway with this SNI reaches (none when the gateway has no
    filter chain for it, or its istiod knows no pods for it in the gateway's network view)."""
    crossing = paths.gateway_hop(fleet, release, host, port, address, None, "gateway")
    if not crossing.ok:
        return []
    hop, destinations = paths.exported_pods(fleet, release, host, port)
    return destinations if hop.ok else []


def direct_probe(probe: Probe) -> Probe:
    """A probe of the caller mesh, from any of its clusters (a direct call does not use their configuration)."""
    return probe.in_cluster(f"any cluster of {probe.mesh}")
