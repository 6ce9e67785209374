"""Federation between meshes: the exporter's SNI route and exposure, the consumer's import objects.

Modern manual-discovery federation (reference §5.10), one host per ServiceEntry:

* Exporter, every primary of the exporting mesh -> ``federation-exports.yaml``:
  a ``ServiceEntry`` for the exported name selecting the service's workloads, so a federation
  gateway builds an SNI filter chain ``outbound_.<port>_._.<host>`` for it (the gateway builds chains
  from the services its namespace sees, reference §8.3), exported to ``istio-system`` only and with
  the host's allocated address: no sidecar of the mesh sees it, and even where one did, it would not
  capture traffic on its port (an address-less TCP entry matches every destination on that port
  where IP auto-allocation is off, as in 1.24: IST0134, review F4). An
  export under the service's own in-mesh name needs no entry: the gateway passes the Service
  through. A ``DestinationRule`` of the same visibility carries the service's subsets, so the
  gateway also has a chain per subset. One Gateway ``federation-exports`` selects the federation
  gateways (``istio: federationgateway``, never the east-west gateways, review F2) and lists exactly
  the exported hosts on 15443, AUTO_PASSTHROUGH.
* Consumer, every primary configuring a consumer cluster -> ``federation-imports.yaml``:
  a ``ServiceEntry`` with the allocated address, the exporter's federation gateways as endpoints
  (weighted by the instances each fronts, labelled ``security.istio.io/tlsMode: istio`` so Istio keeps
  them as mTLS endpoints; once more per subset, with the subset's labels) and the exporter's SPIFFE
  identities as ``subjectAltNames``; and a ``DestinationRule`` forcing ISTIO_MUTUAL (the gateway
  passes the stream through, so the sidecar's mTLS is what reaches the workload), always with outlier
  detection (a dead gateway address is ejected, review N4), locality rules when the endpoints span
  localities, and the service's subsets.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from meshgen.diagnostics import Diagnostic, MeshgenError
from meshgen.model import ExportNode, FleetModel
from meshgen.render import bundle_path
from meshgen.render.bundles import MESH
from meshgen.render.common import FEDERATION_SELECTOR, ISTIO_NAMESPACE, metadata, obj
from meshgen.render.resource import Resource
from meshgen.render.traffic import subsets, traffic_policy

NETWORKING = "networking.istio.io/v1"
EXPORTS_FILE = "federation-exports.yaml"
IMPORTS_FILE = "federation-imports.yaml"
EXPOSURE_GATEWAY = "federation-exports"
EXPOSURE_PORT = {"number": 15443, "name": "tls-federation", "protocol": "TLS"}
GATEWAY_ONLY = [ISTIO_NAMESPACE]  # exportTo: the namespace the federation gateways run in
# The caller is never on the exporter's network, so the network label is not a useful priority here.
FAILOVER_PRIORITY = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone")
MTLS_ENDPOINT = {"security.istio.io/tlsMode": "istio"}


def render(model: FleetModel) -> list[Resource]:
    check_addresses(model)
    out: list[Resource] = []
    for mesh in model.meshes:
        out += exporter_resources(model, mesh)
    for export in model.exports:
        out += importer_resources(model, export)
    return out


def check_addresses(model: FleetModel) -> None:
    """E403 for every imported host or global name without an allocated address (all of them)."""
    missing = [e for e in model.exports if e.host not in model.addresses]
    missing += [g for g in model.global_names if g.host not in model.addresses]
    if missing:
        raise MeshgenError([
            Diagnostic("E403", f"no address allocated for host '{e.host}'", e.origin,
                       hint="the address allocator assigns one from `settings.addressRange` (or pin `address:`)")
            for e in missing
        ])


# --- exporter side ---------------------------------------------------------------------------------


def exporter_resources(model: FleetModel, mesh: str) -> list[Resource]:
    """The same objects in every primary of the mesh, unless the workload ports a primary sees
    differ: each distinct body is built once and shared between primaries (as the imports are)."""
    exports = model.exports_of(mesh)
    if not exports:
        return []
    gateway = exposure_gateway(exports)
    gateway_origin = model.origin("meshes", mesh)
    entries: dict[tuple, dict] = {}  # (export index, ports) -> ServiceEntry body
    rules = {i: exporter_destination_rule(export) for i, export in enumerate(exports) if subsets(export.service)}
    out = []
    for primary in model.primaries(mesh):
        path = bundle_path(primary.name, EXPORTS_FILE, MESH)
        for i, export in enumerate(exports):
            if i in rules:
                out.append(Resource(path, rules[i], export.origin))
            if export.host == model.host(export.service):
                continue  # exported under its own in-mesh name: the gateway passes its Service through
            ports = _port_fields(model, export.service, primary.name)
            body = entries.get((i, ports))
            if body is None:
                body = entries[(i, ports)] = _export_service_entry(model, export, ports)
            out.append(Resource(path, body, export.origin))
        out.append(Resource(path, gateway, gateway_origin))
    return out


def _port_fields(model: FleetModel, service, primary: str) -> tuple[tuple, ...]:
    ports = workload_ports(model, service, primary)
    return tuple((p.name, p.number, p.protocol, p.targetPort or p.number) for p in ports)


def _export_service_entry(model: FleetModel, export: ExportNode, ports: tuple[tuple, ...]) -> dict:
    service = export.service
    spec = {
        "hosts": [export.host],
        "addresses": [model.addresses[export.host]],
        "ports": [{"name": name, "number": number, "protocol": protocol, "targetPort": target}
                  for name, number, protocol, target in ports],
        "location": "MESH_INTERNAL",
        "resolution": "STATIC",
        "workloadSelector": {"labels": model.selector(service)},
        "exportTo": list(GATEWAY_ONLY),
    }
    return obj(NETWORKING, "ServiceEntry", metadata(export.host, service.namespace), spec=spec)


def exporter_destination_rule(export: ExportNode) -> dict:
    """Subsets of the exported host, so the federation gateway has an SNI chain per subset."""
    spec = {"host": export.host, "subsets": subsets(export.service), "exportTo": list(GATEWAY_ONLY)}
    return obj(NETWORKING, "DestinationRule", metadata(export.host, export.service.namespace), spec=spec)


def workload_ports(model: FleetModel, service, primary: str) -> list:
    """Ports as deployed in the first cluster this primary configures (itself or a remote)."""
    return deployed_ports(model, service, primary)[0]


def deployed_ports(model: FleetModel, service, primary: str) -> list[list]:
    """Port lists of every placement this primary configures (itself and its remotes), or the spec's
    ports when none of them runs the service. Names, numbers and protocols agree within a mesh
    (E207); only target ports may differ per cluster."""
    found = [list(p.ports) for p in model.placements(service) if model.config_cluster(p.cluster.name) == primary]
    return found or [list(service.ports)]


def exposure_gateway(exports: list[ExportNode]) -> dict:
    server = {"port": dict(EXPOSURE_PORT), "tls": {"mode": "AUTO_PASSTHROUGH"},
              "hosts": sorted(e.host for e in exports)}
    spec = {"selector": dict(FEDERATION_SELECTOR), "servers": [server]}
    return obj(NETWORKING, "Gateway", metadata(EXPOSURE_GATEWAY, ISTIO_NAMESPACE), spec=spec)


# --- consumer side ---------------------------------------------------------------------------------


def importer_resources(model: FleetModel, export: ExportNode) -> list[Resource]:
    """The same two objects in every importing primary: built once, their bodies shared (nothing
    after render mutates a body)."""
    if not export.config_clusters:
        return []
    bodies = (import_service_entry(model, export), import_destination_rule(model, export))
    return [Resource(bundle_path(cluster, IMPORTS_FILE, MESH), body, export.origin)
            for cluster in export.config_clusters for body in bodies]


def import_service_entry(model: FleetModel, export: ExportNode) -> dict:
    service = export.service
    spec = {
        "hosts": [export.host],
        "addresses": [model.addresses[export.host]],
        "ports": [{"name": p.name, "number": p.number, "protocol": p.protocol} for p in service.ports],
        "location": "MESH_INTERNAL",
        "resolution": resolution(export),
        "endpoints": import_endpoints(export),
        "subjectAltNames": subject_alt_names(model, export),
    }
    meta = metadata(export.host, model.fleet.settings.importNamespace)
    return obj(NETWORKING, "ServiceEntry", meta, spec=spec)


def resolution(export: ExportNode) -> str:
    """STATIC when every gateway address is an IP (SE14 rejects names there), else DNS (SE17)."""
    return "STATIC" if all(_is_ip(e.address) for e in export.endpoints) else "DNS"


@lru_cache(maxsize=4096)  # a fleet has few gateway addresses, each in many imports
def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def import_endpoints(export: ExportNode) -> list[dict]:
    """Each gateway once, then once more per subset with the subset's labels, so a subset's cluster
    selects gateway endpoints (its SNI names the subset; the exporter's gateway picks the pods)."""
    variants = [MTLS_ENDPOINT] + [{**MTLS_ENDPOINT, **s["labels"]} for s in subsets(export.service)]
    return [_endpoint(export.service, e, labels) for labels in variants for e in export.endpoints]


def _endpoint(service, endpoint, labels: dict) -> dict:
    found = {
        "address": endpoint.address,
        "ports": {p.name: endpoint.port for p in service.ports},
        "labels": dict(sorted(labels.items())),
        "network": endpoint.network,
    }
    if endpoint.locality:
        found["locality"] = endpoint.locality
    found["weight"] = endpoint.weight
    return found


def subject_alt_names(model: FleetModel, export: ExportNode) -> list[str]:
    """The exported workloads' SPIFFE identities, in the exporting mesh's trust domain."""
    domain = export.mesh.trustDomain
    namespace = export.service.namespace
    return [f"spiffe://{domain}/ns/{namespace}/sa/{sa}" for sa in model.service_accounts(export.service)]


def import_destination_rule(model: FleetModel, export: ExportNode) -> dict:
    policy = traffic_policy(model, export.service, export.mesh.name, spans_localities(export), FAILOVER_PRIORITY)
    policy["tls"] = {"mode": "ISTIO_MUTUAL", "subjectAltNames": subject_alt_names(model, export)}
    spec: dict = {"host": export.host, "trafficPolicy": policy}
    if subsets(export.service):
        spec["subsets"] = subsets(export.service)
    meta = metadata(export.host, model.fleet.settings.importNamespace)
    return obj(NETWORKING, "DestinationRule", meta, spec=spec)


def spans_localities(export: ExportNode) -> bool:
    """Locality rules need endpoints in more than one known locality."""
    return len({e.locality for e in export.endpoints if e.locality}) > 1
