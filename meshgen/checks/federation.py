"""Exports: the service runs in the exporting mesh, consumers are outside it, names do not collide."""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic, Severity
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
    return (exports(fleet, positions) + network_clashes(fleet, positions) + names(fleet, positions)
            + trust_domains(fleet, positions) + dns_paths(fleet, positions) + identities(fleet, positions))


def exports(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    services = {f"{s.namespace}/{s.name}": s for s in fleet.services}
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
                found.append(Diagnostic("E209", f"consumer {what} is inside the exporting mesh '{export.mesh}': an "
                                                "export crosses mesh boundaries",
                                        positions.span(("exports", i, "to", j)),
                                        hint="for one name in every cluster of the mesh, declare it under "
                                             "`globalNames`; to admit in-mesh callers, list them under the "
                                             "service's `callers`"))
    return found


# --- names: exported hosts and global names ------------------------------------------------------

KUBE_DOMAIN = ".svc.cluster.local"


def named_hosts(fleet: Fleet) -> list[tuple[str, tuple, str]]:
    """(host, spec path of the name, mesh that owns it) for every export and global name, in spec order."""
    found = [(export_host(fleet, e), _host_path(e, i), e.mesh) for i, e in enumerate(fleet.exports)]
    found += [(g.host, ("globalNames", i, "host"), g.mesh) for i, g in enumerate(fleet.globalNames)]
    return found


def names(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """E211 for a name two exports or global names share, or that collides with a Kubernetes Service
    where it is resolved; W208 for a name under the cluster domain that collides with nothing meshgen knows.
    E220 for a name longer than DNS allows."""
    first: dict[str, tuple] = {}
    found = []
    for host, path, mesh in sorted(named_hosts(fleet), key=lambda named: positions.span(named[1]).line):
        where = positions.span(path)
        if len(host.rstrip(".")) > 253:
            found.append(Diagnostic("E220", f"name '{host[:40]}...' is {len(host)} characters long; a DNS name is at "
                                            "most 253", where, hint="shorten `exportSuffix`, or set a shorter `host:`"))
        if host in first:
            line = positions.span(first[host]).line
            found.append(Diagnostic("E211", f"name '{host}' is already used at line {line}", where,
                                    hint="set `host:` on one of them to a distinct name"))
        first.setdefault(host, path)
        if host.endswith(".cluster.local") or host.endswith(".svc"):
            found += _kube_name(fleet, host, path, mesh, where)
    return found


def _kube_name(fleet: Fleet, host: str, path: tuple, mesh: str, where) -> list[Diagnostic]:
    """A name in the cluster domain works where no Kubernetes Service has it: Istio prefers the Service."""
    clash = _shadowing_service(fleet, host, path, mesh)
    if clash is not None:
        service, where_it_runs = clash
        return [Diagnostic("E211", f"name '{host}' is the in-mesh name of service '{service}' in mesh "
                                   f"'{where_it_runs}', where the name is resolved: its Kubernetes Service would "
                                   "take precedence", where,
                           hint="set `host:` to a name no Service there has, e.g. under `.global`")]
    if not host.endswith(KUBE_DOMAIN):
        return [Diagnostic("E211", f"name '{host}' is in the cluster domain but is not `<name>.<namespace>"
                                   f"{KUBE_DOMAIN}`", where, hint="use a distinct suffix such as `.global`")]
    importers = _resolving_meshes(fleet, path, mesh, _mesh_of(fleet)) - ({mesh} if path[0] == "exports" else set())
    meshes = ", ".join(sorted(importers))
    return [Diagnostic("W208", f"name '{host}' is in the cluster domain of mesh(es) {meshes}: it works only where "
                               "no Kubernetes Service of that name exists", where, Severity.WARNING,
                       hint="meshgen knows no such Service there; make sure none exists in those clusters")]


def _resolving_meshes(fleet: Fleet, path: tuple, mesh: str, mesh_of: dict[str, str]) -> set[str]:
    """Meshes whose clusters resolve the name: the exporter and the consumers of an export, the mesh of a
    global name."""
    if path[0] == "globalNames":
        return {mesh}
    return _consumer_meshes(fleet.exports[path[1]], mesh_of) | {mesh}


def _shadowing_service(fleet: Fleet, host: str, path: tuple, mesh: str) -> tuple[str, str] | None:
    """(service, mesh) of a declared service whose in-mesh name is ``host`` in a mesh resolving the name,
    other than an exported service in its own mesh (its gateway passes its own Service through)."""
    mesh_of = _mesh_of(fleet)
    exported = fleet.exports[path[1]].service if path[0] == "exports" else None
    for service in fleet.services:
        key = f"{service.namespace}/{service.name}"
        if host != f"{service.name}.{service.namespace}{KUBE_DOMAIN}":
            continue
        for runs_in in sorted({mesh_of[i.cluster] for i in service.instances} & _resolving_meshes(fleet, path, mesh, mesh_of)):
            if not (key == exported and runs_in == mesh):
                return key, runs_in
    return None


def _consumer_meshes(export, mesh_of: dict[str, str]) -> set[str]:
    return {c.mesh or mesh_of[c.cluster] for c in export.to}


def _mesh_of(fleet: Fleet) -> dict[str, str]:
    """Cluster -> its mesh. Built once per check, not per export: a fleet has a thousand clusters."""
    return {c.name: c.mesh for c in fleet.clusters}


# --- trust domains, DNS, identities ---------------------------------------------------------------


def trust_domains(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """E218: meshes joined by an export need distinct trust domains, or no policy can tell them apart."""
    meshes, mesh_of = {m.name: m for m in fleet.meshes}, _mesh_of(fleet)
    found = []
    for i, export in enumerate(fleet.exports):
        domain = meshes[export.mesh].trustDomain
        for peer in sorted(_consumer_meshes(export, mesh_of) - {export.mesh}):
            if meshes[peer].trustDomain == domain:
                found.append(Diagnostic("E218", f"meshes '{export.mesh}' and '{peer}' share the trust domain "
                                                f"'{domain}': their workload identities cannot be told apart",
                                        positions.span(("exports", i)),
                                        hint="give each federated mesh its own `trustDomain`"))
    return found


def dns_paths(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """E219: a mesh that resolves an imported or global name needs DNS capture, or CoreDNS for names
    outside the cluster domain (CoreDNS cannot answer inside it)."""
    meshes, mesh_of = {m.name: m for m in fleet.meshes}, _mesh_of(fleet)
    found = []
    for host, path, mesh in sorted(named_hosts(fleet), key=lambda named: positions.span(named[1]).line):
        resolving = _resolving_meshes(fleet, path, mesh, mesh_of) - ({mesh} if path[0] == "exports" else set())
        for name in sorted(resolving):
            dns = meshes[name].dns
            if dns.capture or (dns.coreDNS and not host.endswith(".cluster.local")):
                continue
            what = "neither captures DNS nor renders CoreDNS records" if not dns.coreDNS else \
                "does not capture DNS, and CoreDNS cannot answer a name in the cluster domain"
            found.append(Diagnostic("E219", f"mesh '{name}' resolves '{host}' but {what}: the name would not "
                                            "resolve", positions.span(path),
                                    hint=f"set `dns: {{capture: true}}` on mesh '{name}'"))
    return found


def identities(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """W206: consumers verify an exported service by its service accounts; W207: the first export of a
    service without `callers` closes it to every in-mesh caller."""
    services = {f"{s.namespace}/{s.name}": (i, s) for i, s in enumerate(fleet.services)}
    found, seen = [], set()
    for i, export in enumerate(fleet.exports):
        index, service = services[export.service]
        if export.service in seen:
            continue
        seen.add(export.service)
        if not service.serviceAccounts:
            found.append(Diagnostic("W206", f"exported service '{export.service}' declares no `serviceAccounts`: "
                                            f"consumers expect its pods to run as '{service.name}'",
                                    positions.span(("services", index)), Severity.WARNING,
                                    hint="list the service accounts its pods run as; a mismatch fails every call"))
        if not service.callers:
            found.append(Diagnostic("W207", f"exporting '{export.service}' closes it to every in-mesh caller: its "
                                            "authorization policy admits only the export's consumers",
                                    positions.span(("exports", i)), Severity.WARNING,
                                    hint="list the in-mesh callers that must keep access under the service's "
                                         "`callers`"))
    return found


def _host_path(export, i: int) -> tuple:
    """The `host:` value when it is spelled out, else the export whose default name is at fault."""
    return ("exports", i, "host") if export.host else ("exports", i)
