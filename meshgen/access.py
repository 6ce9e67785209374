"""The access matrix a spec grants: who may call which service, under which name, on which port. Pure.

One ``Grant`` per (calling identity, service, name, service port), for every declared service:

* in its own mesh: the service's ``callers`` when it is closed (exported, or ``callers`` given:
  ``render/security.py`` renders an ALLOW policy for it), else ``*/*``, any in-mesh caller; each under
  the in-mesh name and every global name of the service;
* every consumer of an export, in its own mesh's trust domain, under the exported name: a consumer
  naming service accounts grants ``namespace/serviceAccount`` each; one naming namespaces grants
  ``namespace/*``; an open consumer grants ``*/*`` (every workload of its clusters).

This is what the AuthorizationPolicies enforce, in review-friendly rows. ``diff`` compares two
matrices and groups changes per identity and service, so adding one consumer is one ``+ grant`` line
whatever the number of ports, and a first export that closes a service shows the revocation of
"any in-mesh caller" beside the grants.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from meshgen.model import ExportNode, FleetModel
from meshgen.render.security import closed_services
from meshgen.spec.models import Service

ANY = "*"
COLUMNS = ("caller mesh", "caller clusters", "namespace", "service account", "service mesh",
           "host", "service", "port")


@dataclass(frozen=True, order=True)
class Grant:
    caller_mesh: str
    caller_clusters: tuple[str, ...]
    namespace: str
    service_account: str
    service_mesh: str
    host: str
    service: str  # namespace/name
    port: int
    port_name: str

    @property
    def identity_label(self) -> str:
        if self.caller_mesh == self.service_mesh and (self.namespace, self.service_account) == (ANY, ANY):
            return f"{self.caller_mesh} (any in-mesh caller)"
        return f"{self.caller_mesh} [{', '.join(self.caller_clusters)}] {self.namespace}/{self.service_account}"

    @property
    def target(self) -> tuple:
        """Everything but the port: the unit ``diff`` reports on."""
        return (self.caller_mesh, self.caller_clusters, self.namespace, self.service_account,
                self.service_mesh, self.host, self.service)


def access_matrix(model: FleetModel) -> list[Grant]:
    grants = set()
    for mesh in model.meshes:
        grants |= in_mesh_grants(model, mesh)
        for export in model.exports_of(mesh):
            for caller_mesh, clusters, namespace, account in consumer_identities(model, export):
                grants |= _for_ports(export.service, mesh, caller_mesh, clusters, namespace, account, export.host)
    return sorted(grants)


def in_mesh_grants(model: FleetModel, mesh: str) -> set[Grant]:
    closed = {(s.namespace, s.name) for s, _ in closed_services(model, mesh)}
    clusters = tuple(c.name for c in model.mesh_clusters(mesh))
    names: dict[tuple[str, str], list[str]] = {}
    for name in model.global_names_of(mesh):
        for service, _ in name.backends:
            names.setdefault((service.namespace, service.name), []).append(name.host)
    grants = set()
    for service in model.services_in_mesh(mesh):
        key = (service.namespace, service.name)
        callers = caller_identities(service) if key in closed else [(ANY, ANY)]
        for host in [model.host(service), *names.get(key, ())]:
            for namespace, account in callers:
                grants |= _for_ports(service, mesh, mesh, clusters, namespace, account, host)
    return grants


def consumer_identities(model: FleetModel, export: ExportNode):
    """(mesh, clusters, namespace, service account) for every consumer entry of an export."""
    for consumer in export.consumers:
        if consumer.cluster:
            mesh, clusters = model.clusters[consumer.cluster].mesh, (consumer.cluster,)
        else:
            mesh, clusters = consumer.mesh, tuple(c.name for c in model.mesh_clusters(consumer.mesh))
        if consumer.serviceAccounts:
            pairs = [tuple(item.split("/")) for item in consumer.serviceAccounts]
        elif consumer.namespaces:
            pairs = [(namespace, ANY) for namespace in consumer.namespaces]
        else:
            pairs = [(ANY, ANY)]
        for namespace, account in pairs:
            yield mesh, clusters, namespace, account


def caller_identities(service: Service) -> list[tuple[str, str]]:
    return [(caller.namespace, caller.serviceAccount or ANY) for caller in service.callers]


def _for_ports(service: Service, mesh: str, caller_mesh: str, clusters, namespace, account, host) -> set[Grant]:
    key = f"{service.namespace}/{service.name}"
    return {Grant(caller_mesh, clusters, namespace, account, mesh, host, key, port.number, port.name)
            for port in service.ports}


# --- formats -------------------------------------------------------------------------------------


def port_label(grant: Grant) -> str:
    return f"{grant.port}/{grant.port_name}"


def to_markdown(grants: list[Grant]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for g in grants:
        cells = (g.caller_mesh, ", ".join(g.caller_clusters), g.namespace, g.service_account,
                 g.service_mesh, g.host, g.service, port_label(g))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_json(grants: list[Grant]) -> list[dict]:
    return [{**asdict(g), "caller_clusters": list(g.caller_clusters)} for g in grants]


# --- diff ----------------------------------------------------------------------------------------


def diff(base: list[Grant], new: list[Grant]) -> list[tuple[str, Grant, list[str]]]:
    """('+' | '-', a representative grant, its ports) per changed identity and service, sorted."""
    added, removed = set(new) - set(base), set(base) - set(new)
    changes = _grouped("+", added) + _grouped("-", removed)
    return sorted(changes, key=lambda c: (c[1].target, c[0] != "-"))


def _grouped(sign: str, grants: set[Grant]) -> list[tuple[str, Grant, list[str]]]:
    groups: dict[tuple, list[Grant]] = {}
    for grant in sorted(grants):
        groups.setdefault(grant.target, []).append(grant)
    return [(sign, items[0], [port_label(g) for g in items]) for items in groups.values()]


def diff_lines(base: list[Grant], new: list[Grant]) -> list[str]:
    lines = []
    for sign, grant, ports in diff(base, new):
        verb = "grant" if sign == "+" else "revoke"
        lines.append(f"{sign} {verb} {grant.identity_label} -> {grant.service_mesh} {grant.host} ({grant.service}) "
                     f"port {', '.join(ports)}")
    return lines


def diff_json(base: list[Grant], new: list[Grant]) -> dict:
    changes = diff(base, new)
    rows = {"+": [], "-": []}
    for sign, grant, ports in changes:
        rows[sign].append({**to_json([grant])[0], "ports": ports})
    return {"grant": rows["+"], "revoke": rows["-"]}
