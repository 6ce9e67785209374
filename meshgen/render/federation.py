"""Federation between meshes: the exporter's SNI route and exposure, the consumer's import objects.

Modern manual-discovery federation (reference §5.10), one host per ServiceEntry:

* Exporter, every primary of the exporting mesh -> ``federation-exports.yaml``:
  a ``ServiceEntry`` for the exported name selecting the service's workloads, so the east-west
  gateway builds an SNI filter chain ``outbound_.<port>_._.<host>`` for it; and one Gateway
  ``federation-exports`` that exposes exactly the exported hosts through AUTO_PASSTHROUGH on 15443
  (never a wildcard: every host a gateway lists is reachable by anyone who reaches its address).
* Consumer, every primary configuring a consumer cluster -> ``federation-imports.yaml``:
  a ``ServiceEntry`` with the allocated address, the exporter's gateways as endpoints (weighted by
  the instances each fronts, labelled ``security.istio.io/tlsMode: istio`` so Istio keeps them
  as mTLS endpoints) and the exporter's SPIFFE identities as ``subjectAltNames``; and a
  ``DestinationRule`` forcing ISTIO_MUTUAL (the gateway passes the stream through, so the sidecar's
  mTLS is what reaches the workload), with locality failover when the host has several localities.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from meshgen.diagnostics import Diagnostic, MeshgenError
from meshgen.model import ExportNode, FleetModel
from meshgen.render import bundle_path
from meshgen.render.common import EASTWEST_SELECTOR, ISTIO_NAMESPACE, OUTLIER_DETECTION, metadata, obj
from meshgen.render.resource import Resource
from meshgen.render.traffic import failover_regions, locality_setting

NETWORKING = "networking.istio.io/v1"
EXPORTS_FILE = "federation-exports.yaml"
IMPORTS_FILE = "federation-imports.yaml"
EXPOSURE_GATEWAY = "federation-exports"
EXPOSURE_PORT = {"number": 15443, "name": "tls-federation", "protocol": "TLS"}
# meshgen allocates import addresses itself; Istio's auto-allocation must not add a second one.
NO_AUTOALLOCATE = {"networking.istio.io/enable-autoallocate-ip": "false"}
# The caller is never on the exporter's network, so the network label is not a useful priority here.
FAILOVER_PRIORITY = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone")


def render(model: FleetModel) -> list[Resource]:
    check_addresses(model)
    out: list[Resource] = []
    for mesh in model.meshes:
        out += exporter_resources(model, mesh)
    for export in model.exports:
        out += importer_resources(model, export)
    return out


def check_addresses(model: FleetModel) -> None:
    """E403 for every imported host without an allocated address (all of them, not the first)."""
    missing = [e for e in model.exports if e.config_clusters and e.host not in model.addresses]
    if missing:
        raise MeshgenError([
            Diagnostic("E403", f"no address allocated for imported host '{e.host}'", e.origin,
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
    out = []
    for primary in model.primaries(mesh):
        path = bundle_path(primary.name, EXPORTS_FILE)
        for i, export in enumerate(exports):
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
        "ports": [{"name": name, "number": number, "protocol": protocol, "targetPort": target}
                  for name, number, protocol, target in ports],
        "location": "MESH_INTERNAL",
        "resolution": "STATIC",
        "workloadSelector": {"labels": model.selector(service)},
    }
    return obj(NETWORKING, "ServiceEntry", metadata(export.host, service.namespace), spec=spec)


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
    spec = {"selector": dict(EASTWEST_SELECTOR), "servers": [server]}
    return obj(NETWORKING, "Gateway", metadata(EXPOSURE_GATEWAY, ISTIO_NAMESPACE), spec=spec)


# --- consumer side ---------------------------------------------------------------------------------


def importer_resources(model: FleetModel, export: ExportNode) -> list[Resource]:
    """The same two objects in every importing primary: built once, their bodies shared (nothing
    after render mutates a body)."""
    if not export.config_clusters:
        return []
    bodies = (import_service_entry(model, export), import_destination_rule(model, export))
    return [Resource(bundle_path(cluster, IMPORTS_FILE), body, export.origin)
            for cluster in export.config_clusters for body in bodies]


def import_service_entry(model: FleetModel, export: ExportNode) -> dict:
    service = export.service
    spec = {
        "hosts": [export.host],
        "addresses": [model.addresses[export.host]],
        "ports": [{"name": p.name, "number": p.number, "protocol": p.protocol} for p in service.ports],
        "location": "MESH_INTERNAL",
        "resolution": resolution(export),
        "endpoints": [_endpoint(service, e) for e in export.endpoints],
        "subjectAltNames": subject_alt_names(model, export),
    }
    meta = metadata(export.host, model.fleet.settings.importNamespace, labels=NO_AUTOALLOCATE)
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


def _endpoint(service, endpoint) -> dict:
    return {
        "address": endpoint.address,
        "ports": {p.name: endpoint.port for p in service.ports},
        "labels": {"security.istio.io/tlsMode": "istio", "topology.istio.io/cluster": endpoint.cluster},
        "network": endpoint.network,
        "locality": endpoint.locality,
        "weight": endpoint.weight,
    }


def subject_alt_names(model: FleetModel, export: ExportNode) -> list[str]:
    """The exported workloads' SPIFFE identities, in the exporting mesh's trust domain."""
    domain = export.mesh.trustDomain
    namespace = export.service.namespace
    return [f"spiffe://{domain}/ns/{namespace}/sa/{sa}" for sa in model.service_accounts(export.service)]


def import_destination_rule(model: FleetModel, export: ExportNode) -> dict:
    policy: dict = {}
    if spans_localities(export):
        regions = failover_regions(model, export.service, export.mesh.name)
        policy["loadBalancer"] = {"localityLbSetting": locality_setting(regions, FAILOVER_PRIORITY)}
        policy["outlierDetection"] = dict(OUTLIER_DETECTION)  # failover does nothing without it
    policy["tls"] = {"mode": "ISTIO_MUTUAL", "subjectAltNames": subject_alt_names(model, export)}
    spec = {"host": export.host, "trafficPolicy": policy}
    meta = metadata(export.host, model.fleet.settings.importNamespace)
    return obj(NETWORKING, "DestinationRule", meta, spec=spec)


def spans_localities(export: ExportNode) -> bool:
    return len({(e.locality, e.cluster) for e in export.endpoints}) > 1
