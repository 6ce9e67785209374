"""Networks and control planes: routable CIDRs, gateways where traffic crosses networks, roles."""

from __future__ import annotations

import ipaddress
from itertools import combinations

from meshgen.diagnostics import Diagnostic, Severity
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions


def cidr_overlaps(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """Clusters on one network route pod and service IPs directly, so no block may be reused."""
    blocks = []  # (network, cluster index, field, j, ip_network)
    for i, cluster in enumerate(fleet.clusters):
        for field in ("podCIDRs", "serviceCIDRs"):
            for j, cidr in enumerate(getattr(cluster, field)):
                blocks.append((cluster.network, i, field, j, ipaddress.ip_network(cidr)))
    found = []
    for a, b in combinations(blocks, 2):
        if a[0] == b[0] and a[1] != b[1] and a[4].version == b[4].version and a[4].overlaps(b[4]):
            first, second = fleet.clusters[a[1]].name, fleet.clusters[b[1]].name
            message = (f"{b[2]} {b[4]} of cluster '{second}' overlaps {a[2]} {a[4]} of cluster '{first}' "
                       f"on network '{a[0]}'")
            found.append(Diagnostic("E204", message, positions.span(("clusters", b[1], b[2], b[3])),
                                    hint="clusters on one network need disjoint pod and service CIDRs; "
                                         "put them on different networks if they are not routable"))
    return found


def unchecked_cidrs(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """W204: a cluster that shares its network with others but declares no CIDRs is not checked for overlap."""
    sharing: dict[str, int] = {}
    for cluster in fleet.clusters:
        sharing[cluster.network] = sharing.get(cluster.network, 0) + 1
    found = []
    for i, cluster in enumerate(fleet.clusters):
        missing = [f for f in ("podCIDRs", "serviceCIDRs") if not getattr(cluster, f)]
        if missing and sharing[cluster.network] > 1:
            found.append(Diagnostic("W204", f"cluster '{cluster.name}' declares no {' or '.join(missing)}: their "
                                            f"overlap with the other clusters on network '{cluster.network}' is not "
                                            "checked", positions.span(("clusters", i)), Severity.WARNING,
                                    hint="clusters on one network need disjoint blocks; declare them to check it"))
    return found


def _has_gateway(fleet: Fleet, cluster, kind: str = "gateways") -> bool:
    """The cluster, or a cluster of its mesh on its network, has gateways of ``kind``."""
    return any(getattr(c, kind) for c in fleet.clusters if c.mesh == cluster.mesh and c.network == cluster.network)


def _exporting_clusters(fleet: Fleet) -> set[str]:
    exported = {(e.mesh, e.service) for e in fleet.exports}
    names = set()
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    for service in fleet.services:
        for inst in service.instances:
            if (mesh_of.get(inst.cluster), f"{service.namespace}/{service.name}") in exported:
                names.add(inst.cluster)
    return names


def gateways(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    networks = {}
    for c in fleet.clusters:
        networks.setdefault(c.mesh, set()).add(c.network)
    exporting = _exporting_clusters(fleet)
    serving_remotes = {c.controlPlane.primary for c in fleet.clusters if c.controlPlane.primary}
    found = []
    for i, cluster in enumerate(fleet.clusters):
        reason = ""
        if cluster.name in serving_remotes and not cluster.gateways:
            reason = "it is the primary of remote clusters, whose sidecars reach istiod through its gateway"
        elif cluster.name in serving_remotes and _is_ipv6(cluster.gateways[0].address):
            found.append(Diagnostic("E205", f"cluster '{cluster.name}' serves remote clusters through its first "
                                            f"gateway address {cluster.gateways[0].address}, an IPv6 address: the "
                                            "istiod chart points a remote's webhook only at an IPv4 address or a "
                                            "DNS name", positions.span(("clusters", i, "gateways", 0, "address")),
                                    hint="list an IPv4 address or a DNS name of the gateway first"))
        elif not _has_gateway(fleet, cluster) and len(networks[cluster.mesh]) > 1:
            reason = f"mesh '{cluster.mesh}' spans several networks and no cluster on '{cluster.network}' has one"
        if reason:
            found.append(Diagnostic("E205", f"cluster '{cluster.name}' needs an east-west gateway address: {reason}",
                                    positions.span(("clusters", i)), hint="add `gateways: [{address: <LB IP or DNS name>}]`"))
        if cluster.name in exporting and not _has_gateway(fleet, cluster, "federationGateways"):
            found.append(Diagnostic("E205", f"cluster '{cluster.name}' needs a federation gateway address: it runs an "
                                            "exported service, and other meshes reach exported services only through "
                                            "federation gateways", positions.span(("clusters", i)),
                                    hint="add `federationGateways: [{address: <LB IP or DNS name>}]` to it or to a "
                                         "cluster of its mesh on its network"))
    return found


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def control_planes(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    by_name = {c.name: c for c in fleet.clusters}
    found = []
    for i, cluster in enumerate(fleet.clusters):
        primary = by_name.get(cluster.controlPlane.primary or "")
        if primary is None:
            continue
        problem = ""
        if primary.mesh != cluster.mesh:
            problem = f"is in mesh '{primary.mesh}', not '{cluster.mesh}'"
        elif primary.controlPlane.role != "primary":
            problem = "is itself a remote"
        if problem:
            found.append(Diagnostic("E206", f"remote cluster '{cluster.name}' names primary '{primary.name}', which {problem}",
                                    positions.span(("clusters", i, "controlPlane", "primary")),
                                    hint="a remote names a primary cluster of its own mesh"))
    for j, mesh in enumerate(fleet.meshes):
        members = [c for c in fleet.clusters if c.mesh == mesh.name]
        if members and not any(c.controlPlane.role == "primary" for c in members):
            found.append(Diagnostic("E206", f"mesh '{mesh.name}' has no primary cluster", positions.span(("meshes", j)),
                                    hint="give one of its clusters `controlPlane: {role: primary}`"))
    return found


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    return (cidr_overlaps(fleet, positions) + unchecked_cidrs(fleet, positions) + gateways(fleet, positions)
            + control_planes(fleet, positions))
