"""Exports: the service runs in the exporting mesh, consumers are outside it, names do not collide."""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic
from meshgen.spec.hosts import export_host
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions


def network_clashes(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """Imported endpoints carry the exporter's network name. If a consumer mesh spans several networks
    and runs its own gateway on a network of that name, its istiod replaces the endpoint with its own
    gateway (split-horizon EDS), which has no route for the import: traffic would fail."""
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    network_of = {c.name: c.network for c in fleet.clusters}
    mesh_networks: dict[str, set] = {}
    gateway_networks: dict[str, set] = {}
    for c in fleet.clusters:
        mesh_networks.setdefault(c.mesh, set()).add(c.network)
        if c.gateways:
            gateway_networks.setdefault(c.mesh, set()).add(c.network)
    services = {f"{s.namespace}/{s.name}": s for s in fleet.services}
    found = []
    for i, export in enumerate(fleet.exports):
        served = {network_of[x.cluster] for x in services[export.service].instances if mesh_of[x.cluster] == export.mesh}
        consumers = {c.mesh or mesh_of[c.cluster] for c in export.to} - {export.mesh}
        for mesh in sorted(consumers):
            if len(mesh_networks.get(mesh, ())) < 2:
                continue
            for network in sorted(served & gateway_networks.get(mesh, set())):
                message = (f"export of '{export.service}' is served from network '{network}', where consumer mesh "
                           f"'{mesh}' runs its own east-west gateway: its istiod would send the import there")
                found.append(Diagnostic("E214", message, positions.span(("exports", i)),
                                        hint="give each mesh's networks distinct names"))
    return found


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    return exports(fleet, positions) + network_clashes(fleet, positions)


def exports(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    services = {f"{s.namespace}/{s.name}": s for s in fleet.services}
    hosts: dict[str, int] = {}
    found = []
    for i, export in enumerate(fleet.exports):
        service = services[export.service]
        meshes = sorted({mesh_of[inst.cluster] for inst in service.instances})
        if export.mesh not in meshes:
            found.append(Diagnostic("E208", f"export of '{export.service}' from mesh '{export.mesh}': the service "
                                            f"runs only in mesh(es) {', '.join(meshes)}",
                                    positions.span(("exports", i, "mesh")),
                                    hint="export it from a mesh where it has instances"))
        for j, consumer in enumerate(export.to):
            consumer_mesh = consumer.mesh or mesh_of[consumer.cluster]
            if consumer_mesh == export.mesh:
                what = f"mesh '{consumer.mesh}'" if consumer.mesh else f"cluster '{consumer.cluster}'"
                found.append(Diagnostic("E209", f"consumer {what} is inside the exporting mesh '{export.mesh}'",
                                        positions.span(("exports", i, "to", j)),
                                        hint="in-mesh callers reach the service directly; list them under `callers`"))
        host = export_host(fleet, export)
        where = positions.span(_host_path(export, i))
        if host in hosts:
            first = positions.span(_host_path(fleet.exports[hosts[host]], hosts[host]))
            found.append(Diagnostic("E211", f"exported name '{host}' is already used by the export at line {first.line}",
                                    where, hint="set `host:` on one of them to a distinct name"))
        hosts.setdefault(host, i)
        if host.endswith(".cluster.local") or host.endswith(".svc"):
            found.append(Diagnostic("E211", f"exported name '{host}' collides with in-mesh Kubernetes names",
                                    where, hint="use a distinct suffix such as `.global`"))
    return found


def _host_path(export, i: int) -> tuple:
    """The `host:` value when it is spelled out, else the export whose default name is at fault."""
    return ("exports", i, "host") if export.host else ("exports", i)
