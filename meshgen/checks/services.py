"""Services: Istio merges endpoints of same-named services, so ports must agree everywhere."""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions


def _ports(ports) -> tuple:
    return tuple(sorted((p.name, p.number, p.protocol) for p in ports))


def _show(ports) -> str:
    return ", ".join(f"{name} {number}/{protocol}" for name, number, protocol in ports)


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
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
            ports = _ports(inst.ports if inst.ports is not None else service.ports)
            first = first_in_mesh.setdefault(mesh_of[inst.cluster], (inst.cluster, ports))
            if first[1] != ports:
                message = (f"service '{service.namespace}/{service.name}' declares ports [{_show(ports)}] in cluster "
                           f"'{inst.cluster}' but [{_show(first[1])}] in cluster '{first[0]}' of the same mesh")
                found.append(Diagnostic("E207", message, positions.span(("services", i, "instances", j, "ports")),
                                        hint="Istio merges endpoints by port name: use the same ports everywhere"))
    return found
