"""The access matrix a spec grants: who may call which exported service, on which port. Pure.

One ``Grant`` per (calling identity, exported service, service port):

* every consumer of an export, in its own mesh's trust domain: a consumer naming service accounts
  grants ``namespace/serviceAccount`` each; one naming namespaces grants ``namespace/*``; an open
  consumer grants ``*/*`` (every workload of its clusters);
* every in-mesh ``callers`` entry of an exported service (the export's ALLOW policy admits them;
  they call the in-mesh name, so the row shows that host).

This is what ``render/security.py`` turns into AuthorizationPolicies, in review-friendly rows.
``diff`` compares two matrices and groups changes per identity and service, so adding one consumer
is one ``+ grant`` line whatever the number of ports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from meshgen.model import ExportNode, FleetModel

ANY = "*"
COLUMNS = ("consumer mesh", "consumer clusters", "namespace", "service account", "exporting mesh",
           "host", "service", "port")


@dataclass(frozen=True, order=True)
class Grant:
    consumer_mesh: str
    consumer_clusters: tuple[str, ...]
    namespace: str
    service_account: str
    exporting_mesh: str
    host: str
    service: str  # namespace/name
    port: int
    port_name: str

    @property
    def identity_label(self) -> str:
        return f"{self.consumer_mesh} [{', '.join(self.consumer_clusters)}] {self.namespace}/{self.service_account}"

    @property
    def target(self) -> tuple:
        """Everything but the port: the unit ``diff`` reports on."""
        return (self.consumer_mesh, self.consumer_clusters, self.namespace, self.service_account,
                self.exporting_mesh, self.host, self.service)


def access_matrix(model: FleetModel) -> list[Grant]:
    grants = set()
    for export in model.exports:
        for mesh, clusters, namespace, account in consumer_identities(model, export):
            grants |= _for_ports(export, mesh, clusters, namespace, account, export.host)
        for namespace, account in caller_identities(export):
            clusters = tuple(c.name for c in model.mesh_clusters(export.mesh.name))
            host = model.host(export.service)
            grants |= _for_ports(export, export.mesh.name, clusters, namespace, account, host)
    return sorted(grants)


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


def caller_identities(export: ExportNode):
    for caller in export.service.callers:
        yield caller.namespace, caller.serviceAccount or ANY


def _for_ports(export: ExportNode, mesh, clusters, namespace, account, host) -> set[Grant]:
    service = f"{export.service.namespace}/{export.service.name}"
    return {Grant(mesh, clusters, namespace, account, export.mesh.name, host, service, port.number, port.name)
            for port in export.service.ports}


# --- formats -------------------------------------------------------------------------------------


def port_label(grant: Grant) -> str:
    return f"{grant.port}/{grant.port_name}"


def to_markdown(grants: list[Grant]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for g in grants:
        cells = (g.consumer_mesh, ", ".join(g.consumer_clusters), g.namespace, g.service_account,
                 g.exporting_mesh, g.host, g.service, port_label(g))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_json(grants: list[Grant]) -> list[dict]:
    return [{**asdict(g), "consumer_clusters": list(g.consumer_clusters)} for g in grants]


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
        lines.append(f"{sign} {verb} {grant.identity_label} -> {grant.exporting_mesh} {grant.host} ({grant.service}) "
                     f"port {', '.join(ports)}")
    return lines


def diff_json(base: list[Grant], new: list[Grant]) -> dict:
    changes = diff(base, new)
    rows = {"+": [], "-": []}
    for sign, grant, ports in changes:
        rows[sign].append({**to_json([grant])[0], "ports": ports})
    return {"grant": rows["+"], "revoke": rows["-"]}
