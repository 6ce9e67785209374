"""Trust: one root per mesh; a federation edge between different roots is trusted both ways.
Also warns about risky choices: exports open to everyone, public federation gateways, PERMISSIVE mTLS."""

from __future__ import annotations

import ipaddress

from meshgen.diagnostics import Diagnostic, Severity
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions


def roots(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    meshes = {m.name: m for m in fleet.meshes}
    found = []
    for i, cluster in enumerate(fleet.clusters):
        mesh = meshes[cluster.mesh]
        if cluster.rootOfTrust and cluster.rootOfTrust != mesh.rootOfTrust:
            found.append(Diagnostic("E212", f"cluster '{cluster.name}' uses root '{cluster.rootOfTrust}' but its mesh "
                                            f"'{mesh.name}' uses '{mesh.rootOfTrust}'",
                                    positions.span(("clusters", i, "rootOfTrust")),
                                    hint="every cluster of a mesh chains to the mesh's root"))
    return found


def edges(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """Exporter and consumer verify each other's certificates: each needs the other's root."""
    meshes = {m.name: m for m in fleet.meshes}
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    found = []
    for i, export in enumerate(fleet.exports):
        exporter = meshes[export.mesh]
        consumers = sorted({c.mesh or mesh_of[c.cluster] for c in export.to} - {export.mesh})
        for name in consumers:
            consumer = meshes[name]
            if consumer.rootOfTrust == exporter.rootOfTrust:
                continue
            for holder, peer in ((consumer, exporter), (exporter, consumer)):
                if not any(b.mesh == peer.name for b in holder.trustBundles):
                    message = (f"meshes '{exporter.name}' and '{consumer.name}' have different roots; mesh "
                               f"'{holder.name}' has no trust bundle for '{peer.name}'")
                    found.append(Diagnostic("E213", message, positions.span(("exports", i)),
                                            hint=f"add `trustBundles: [{{mesh: {peer.name}, store: ..., "
                                                 f"certificatePath: ...}}]` to mesh '{holder.name}'"))
    return found


def warnings(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    found = []
    for i, mesh in enumerate(fleet.meshes):
        if mesh.mtls == "PERMISSIVE":
            found.append(_warn("W203", f"mesh '{mesh.name}' accepts plain-text traffic (mTLS PERMISSIVE)",
                               positions.span(("meshes", i, "mtls")), "use STRICT once every workload has a sidecar"))
        for namespace, mode in sorted(mesh.namespaceMtls.items()):
            if mode == "PERMISSIVE":
                found.append(_warn("W203", f"namespace '{namespace}' of mesh '{mesh.name}' accepts plain-text traffic "
                                           "(mTLS PERMISSIVE)", positions.span(("meshes", i, "namespaceMtls", namespace)),
                                   "use STRICT once every workload has a sidecar"))
    members: dict[str, set[str]] = {}
    for c in fleet.clusters:
        members.setdefault(c.mesh, set()).add(c.name)
    every = {c.name for c in fleet.clusters}
    for i, export in enumerate(fleet.exports):
        outside = every - members.get(export.mesh, set())
        if outside and _open_clusters(members, export) >= outside:
            found.append(_warn("W201", f"export of '{export.service}' reaches every workload of every other mesh",
                               positions.span(("exports", i)), "narrow consumers with `namespaces` or `serviceAccounts`"))
    for i, cluster in enumerate(fleet.clusters):
        for j, gw in enumerate(cluster.federationGateways):
            if _is_public_ip(gw.address):
                found.append(_warn("W202", f"federation gateway of cluster '{cluster.name}' has a public address "
                                           f"{gw.address}",
                                   positions.span(("clusters", i, "federationGateways", j, "address")),
                                   "prefer a private address reached over peering or VPN"))
    return found + shared_roots(fleet, positions) + widened_consumers(fleet, positions)


def widened_consumers(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """W211: a consumer narrowed to identities, beside an open entry of the same mesh. Authorization
    cannot tell the clusters of a mesh apart (one trust domain), so the open entry admits every workload
    of that mesh wherever an entry renders the import: the narrowing holds nowhere."""
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    found = []
    for i, export in enumerate(fleet.exports):
        meshes = [consumer.mesh or mesh_of[consumer.cluster] for consumer in export.to]
        open_entries = {}
        for mesh, consumer in zip(meshes, export.to):
            if not _narrowed(consumer):
                open_entries.setdefault(mesh, consumer)
        for j, (mesh, consumer) in enumerate(zip(meshes, export.to)):
            wide = open_entries.get(mesh)
            if wide is None or not _narrowed(consumer):
                continue
            what = f"cluster '{wide.cluster}'" if wide.cluster else f"mesh '{wide.mesh}'"
            found.append(_warn("W211", f"this consumer of '{export.service}' is narrowed to identities, but the entry "
                                       f"for {what} admits every workload of mesh '{mesh}'"
                                       ": authorization cannot tell the clusters of a mesh apart, so the narrowing "
                                       "holds nowhere", positions.span(("exports", i, "to", j)),
                               "narrow the open entry too, or drop the narrowed one"))
    return found


def shared_roots(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """W205: meshes joined by an export that chain to one root trust each other's every identity at the
    TLS layer; only their distinct trust domains and authorization keep them apart."""
    meshes = {m.name: m for m in fleet.meshes}
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    found, seen = [], set()
    for i, export in enumerate(fleet.exports):
        for peer in sorted({c.mesh or mesh_of[c.cluster] for c in export.to} - {export.mesh}):
            pair = tuple(sorted((export.mesh, peer)))
            if pair in seen or meshes[peer].rootOfTrust != meshes[export.mesh].rootOfTrust:
                continue
            seen.add(pair)
            found.append(_warn("W205", f"federated meshes '{pair[0]}' and '{pair[1]}' share the root of trust "
                                       f"'{meshes[peer].rootOfTrust}': a certificate of either mesh passes mutual TLS "
                                       "in the other", positions.span(("exports", i)),
                               "give each mesh its own root and exchange trust bundles, or rely on authorization"))
    return found


def _narrowed(consumer) -> bool:
    """A consumer entry limited to some namespaces or service accounts of its mesh."""
    return bool(consumer.namespaces or consumer.serviceAccounts)


def _open_clusters(members: dict[str, set[str]], export) -> set[str]:
    """Clusters every workload of which may call the export: consumers not narrowed to identities
    (``members``: mesh -> its cluster names)."""
    found = set()
    for consumer in export.to:
        if _narrowed(consumer):
            continue
        found |= members.get(consumer.mesh, set()) if consumer.mesh else {consumer.cluster}
    return found


def _is_public_ip(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def _warn(code: str, message: str, span, hint: str) -> Diagnostic:
    return Diagnostic(code, message, span, severity=Severity.WARNING, hint=hint)


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    return roots(fleet, positions) + edges(fleet, positions) + warnings(fleet, positions)
