"""Services: Istio merges endpoints of same-named services, so ports must agree everywhere; a port is
declared once; a global name joins services that run in its mesh and agree on their ports; pods behind
one exporter ServiceEntry listen on one target port per port."""

from __future__ import annotations

from meshgen.checks.federation import KUBE_DOMAIN
from meshgen.diagnostics import Diagnostic
from meshgen.spec.hosts import export_host
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions


def _ports(ports) -> tuple:
    return tuple(sorted((p.name, p.number, p.protocol) for p in ports))


def _deployed(service, inst) -> list:
    """The ports of ``service`` as its instances in ``inst.cluster`` declare them."""
    return inst.ports if inst.ports is not None else service.ports


def _show(ports) -> str:
    return ", ".join(f"{name} {number}/{protocol}" for name, number, protocol in ports)


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    return (ports_agree(fleet, positions) + unique_ports(fleet, positions) + global_names(fleet, positions)
            + export_target_ports(fleet, positions))


def unique_ports(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """A port name or number twice in one list: the ServiceEntry port list is keyed by both."""
    found = []
    for i, service in enumerate(fleet.services):
        lists = [(("services", i, "ports"), service.ports)]
        lists += [(("services", i, "instances", j, "ports"), inst.ports)
                  for j, inst in enumerate(service.instances) if inst.ports is not None]
        for path, ports in lists:
            found += _repeated(ports, path, positions, f"{service.namespace}/{service.name}")
    return found


def _repeated(ports, path: tuple, positions: Positions, service: str) -> list[Diagnostic]:
    found, names, numbers = [], set(), set()
    for k, port in enumerate(ports):
        for what, value, seen in (("name", port.name, names), ("number", port.number, numbers)):
            if value in seen:
                found.append(Diagnostic("E201", f"service '{service}' declares port {what} {value} twice",
                                        positions.span((*path, k, what)), hint="each port has its own name and number"))
            seen.add(value)
    return found


def global_names(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """Each service behind a global name runs in its mesh; all of them declare the same ports."""
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    services = {f"{s.namespace}/{s.name}": s for s in fleet.services}
    found = []
    for i, name in enumerate(fleet.globalNames):
        first = None
        for j, ref in enumerate(name.services):
            service = services[ref]
            where = positions.span(("globalNames", i, "services", j))
            if name.mesh not in {mesh_of[inst.cluster] for inst in service.instances}:
                found.append(Diagnostic("E208", f"global name '{name.host}' of mesh '{name.mesh}' names '{ref}', which "
                                                "has no instances in that mesh", where,
                                        hint="a global name joins services of its own mesh"))
            ports = _ports(service.ports)
            first = first or (ref, ports)
            if ports != first[1]:
                found.append(Diagnostic("E207", f"global name '{name.host}' joins '{ref}' with ports [{_show(ports)}] "
                                                f"and '{first[0]}' with ports [{_show(first[1])}]", where,
                                        hint="callers use one set of ports for the name: declare the same ports"))
    return found


def ports_agree(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    found = []
    for i, service in enumerate(fleet.services):
        first_in_mesh: dict[str, tuple] = {}
        seen_clusters: set[str] = set()
        for j, inst in enumerate(service.instances):
            where = positions.span(("services", i, "instances", j))
            if inst.cluster in seen_clusters:
                found.append(Diagnostic("E201", f"service '{service.namespace}/{service.name}' lists cluster "
                                                f"'{inst.cluster}' twice", where, hint="merge the two entries"))
            seen_clusters.add(inst.cluster)
            ports = _ports(_deployed(service, inst))
            first = first_in_mesh.setdefault(mesh_of[inst.cluster], (inst.cluster, ports))
            if first[1] != ports:
                message = (f"service '{service.namespace}/{service.name}' declares ports [{_show(ports)}] in cluster "
                           f"'{inst.cluster}' but [{_show(first[1])}] in cluster '{first[0]}' of the same mesh")
                found.append(Diagnostic("E207", message, positions.span(("services", i, "instances", j, "ports")),
                                        hint="Istio merges endpoints by port name: use the same ports everywhere"))
    return found


def export_target_ports(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """An exported name's ServiceEntry in a primary selects the pods of that cluster and its remotes and
    sends each port to one ``targetPort``: pods there that listen on another one would get no traffic."""
    control = {c.name: c.controlPlane.primary or c.name for c in fleet.clusters}  # the istiod configuring it
    exported = {e.service for e in fleet.exports if export_host(fleet, e) != _in_mesh_host(e.service)}
    found = []
    for i, service in enumerate(fleet.services):
        if f"{service.namespace}/{service.name}" not in exported:
            continue  # exported under its in-mesh name, the gateway passes its own Service through
        first: dict[str, tuple] = {}
        for j, inst in enumerate(service.instances):
            targets = {p.name: p.targetPort or p.number for p in _deployed(service, inst)}
            seen = first.setdefault(control[inst.cluster], (inst.cluster, targets))
            for name, target in sorted(targets.items()):
                if seen[1].get(name, target) != target:
                    found.append(Diagnostic(
                        "E207", f"exported service '{service.namespace}/{service.name}' listens on {target} for port "
                                f"'{name}' in cluster '{inst.cluster}' but on {seen[1][name]} in cluster '{seen[0]}', "
                                f"both configured by the istiod of '{control[inst.cluster]}'",
                        positions.span(("services", i, "instances", j, "ports")),
                        hint="its exported ServiceEntry has one targetPort per port: use the same target port in "
                             "every cluster one istiod configures"))
    return found


def _in_mesh_host(ref: str) -> str:
    namespace, name = ref.split("/")
    return f"{name}.{namespace}{KUBE_DOMAIN}"
