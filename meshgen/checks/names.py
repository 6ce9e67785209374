"""Names unique per kind; every reference resolves (with a did-you-mean hint)."""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic
from meshgen.spec.loader import did_you_mean
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions


def _key(kind: str, item) -> str:
    if kind == "services":
        return f"{item.namespace}/{item.name}"
    if kind == "exports":
        return f"{item.mesh}/{item.service}"
    if kind == "globalNames":
        return item.host
    return item.name


def _name_path(kind: str, i: int) -> tuple:
    """Where an entry's identity is spelled: its `name` value, or the entry for composite keys."""
    if kind == "globalNames":
        return (kind, i, "host")
    return (kind, i) if kind in ("services", "exports") else (kind, i, "name")


def duplicates(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    found = []
    for kind in ("networks", "rootsOfTrust", "meshes", "clusters", "services", "globalNames", "exports"):
        seen: dict[str, int] = {}
        for i, item in enumerate(getattr(fleet, kind)):
            key = _key(kind, item)
            if key in seen:
                first = positions.span(_name_path(kind, seen[key]))
                found.append(Diagnostic("E201", f"{kind} entry '{key}' is declared twice",
                                        positions.span(_name_path(kind, i)),
                                        hint=f"first declared at line {first.line}; names are unique per kind"))
            seen.setdefault(key, i)
    return found


def references(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    known = {
        "network": {n.name for n in fleet.networks},
        "mesh": {m.name for m in fleet.meshes},
        "cluster": {c.name for c in fleet.clusters},
        "root of trust": {r.name for r in fleet.rootsOfTrust},
        "service": {f"{s.namespace}/{s.name}" for s in fleet.services},
    }
    found = []
    for kind, name, path in _references(fleet):
        if name is not None and name not in known[kind]:
            found.append(Diagnostic("E202", f"unknown {kind} '{name}'", positions.span(path),
                                    hint=did_you_mean(name, sorted(known[kind])) or _choices(known[kind]),
                                    path=".".join(map(str, path))))
    return found


def _choices(names) -> str:
    return "known: " + ", ".join(sorted(names)[:8]) if names else "none is declared"


def _references(fleet: Fleet):
    for i, mesh in enumerate(fleet.meshes):
        yield "root of trust", mesh.rootOfTrust, ("meshes", i, "rootOfTrust")
        for j, bundle in enumerate(mesh.trustBundles):
            yield "mesh", bundle.mesh, ("meshes", i, "trustBundles", j, "mesh")
    for i, cluster in enumerate(fleet.clusters):
        yield "network", cluster.network, ("clusters", i, "network")
        yield "mesh", cluster.mesh, ("clusters", i, "mesh")
        yield "cluster", cluster.controlPlane.primary, ("clusters", i, "controlPlane", "primary")
        yield "root of trust", cluster.rootOfTrust, ("clusters", i, "rootOfTrust")
    for i, service in enumerate(fleet.services):
        for j, inst in enumerate(service.instances):
            yield "cluster", inst.cluster, ("services", i, "instances", j, "cluster")
    for i, name in enumerate(fleet.globalNames):
        yield "mesh", name.mesh, ("globalNames", i, "mesh")
        for j, service in enumerate(name.services):
            yield "service", service, ("globalNames", i, "services", j)
    for i, export in enumerate(fleet.exports):
        yield "mesh", export.mesh, ("exports", i, "mesh")
        yield "service", export.service, ("exports", i, "service")
        for j, consumer in enumerate(export.to):
            yield "mesh", consumer.mesh, ("exports", i, "to", j, "mesh")
            yield "cluster", consumer.cluster, ("exports", i, "to", j, "cluster")
    for i, failover in enumerate(fleet.failover):
        yield "service", failover.service, ("failover", i, "service")
        yield "mesh", failover.mesh, ("failover", i, "mesh")


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    return duplicates(fleet, positions) + references(fleet, positions)
