"""gateways.yaml (primaries only): what the east-west gateway serves (reference §5.5).

* ``cross-network-gateway``: in a mesh that spans several networks, the AUTO_PASSTHROUGH server on
  15443 through which other networks reach this mesh's services. A primary's Gateway configures the
  east-west gateways of the clusters it serves (itself and its remotes), so it lists exactly the
  hosts with instances behind those gateways: in their clusters, or in same-network clusters of the
  mesh that have no gateway of their own (Istio sends traffic for an endpoint to a gateway of the
  endpoint's own cluster first, then to any gateway of its network). A primary with none renders none.
* ``istiod-gateway`` + ``istiod-vs``: on a primary that serves remotes, istiod's xDS (15012) and
  injection webhook (15017) passed through the gateway to the remotes' sidecars and API server
  (Istio's ``expose-istiod.yaml``; with a revision, ``expose-istiod-rev.yaml.tmpl``: the VirtualService
  ``istiod-vs-<revision>`` matches the revision's istiod names and routes to ``istiod-<revision>``).
"""

from __future__ import annotations

import ipaddress

from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.render.bundles import MESH
from meshgen.render.common import EASTWEST_SELECTOR, ISTIO_NAMESPACE, metadata, obj

FILE = "gateways.yaml"
NETWORKING = "networking.istio.io/v1"
CROSS_NETWORK_PORT = 15443
# (server port name, gateway port, istiod service port)
ISTIOD_PORTS = (("tls-istiod", 15012, 15012), ("tls-istiodwebhook", 15017, 443))


def render(model: FleetModel) -> list[Resource]:
    resources = []
    for name in model.primary_names():
        path, origin = bundle_path(name, FILE, MESH), model.origin("clusters", name)
        hosts = cross_network_hosts(model, name)
        if model.multi_network(model.clusters[name].mesh) and hosts:
            resources.append(Resource(path, cross_network_gateway(hosts), origin))
        if model.remotes_of(name):
            resources.append(Resource(path, istiod_gateway(), origin))
            resources.append(Resource(path, istiod_virtual_service(model, name), origin))
    return resources


def fronted_clusters(model: FleetModel, primary: str) -> set[str]:
    """Clusters whose endpoints the east-west gateways configured by ``primary`` pass traffic to."""
    served = {primary, *(r.name for r in model.remotes_of(primary))}
    mesh = model.clusters[primary].mesh
    return {c.name for c in model.mesh_clusters(mesh)
            if any(owner.name in served for owner in model.gateway_owners(c.name))}


def cross_network_hosts(model: FleetModel, primary: str) -> list[str]:
    """The in-mesh hosts other networks reach through this primary's gateways, explicitly (reference
    §8.3: a wildcard exposes every ``*.local`` service to anyone who can reach the gateway)."""
    fronted = fronted_clusters(model, primary)
    mesh = model.clusters[primary].mesh
    return sorted(model.host(service) for service in model.services_in_mesh(mesh)
                  if any(p.cluster.name in fronted for p in model.placements(service, mesh)))


def cross_network_gateway(hosts: list[str]) -> dict:
    server = {
        "port": {"number": CROSS_NETWORK_PORT, "name": "tls", "protocol": "TLS"},
        "tls": {"mode": "AUTO_PASSTHROUGH"},
        "hosts": hosts,
    }
    spec = {"selector": dict(EASTWEST_SELECTOR), "servers": [server]}
    return obj(NETWORKING, "Gateway", metadata("cross-network-gateway", ISTIO_NAMESPACE), spec=spec)


def istiod_gateway() -> dict:
    servers = [
        {
            "port": {"number": port, "name": name, "protocol": "TLS"},
            "tls": {"mode": "PASSTHROUGH"},
            "hosts": ["*"],
        }
        for name, port, _ in ISTIOD_PORTS
    ]
    spec = {"selector": dict(EASTWEST_SELECTOR), "servers": servers}
    return obj(NETWORKING, "Gateway", metadata("istiod-gateway", ISTIO_NAMESPACE), spec=spec)


def istiod_service(revision: str | None) -> str:
    """istiod's Service: ``istiod``, or ``istiod-<revision>`` for a revisioned control plane."""
    return f"istiod-{revision}" if revision else "istiod"


def istiod_virtual_service(model: FleetModel, primary: str) -> dict:
    revision = model.revision(primary)
    service = istiod_service(revision)
    host = f"{service}.{ISTIO_NAMESPACE}.svc.cluster.local"
    sni = ["*"]
    if revision:
        sni = [f"{service}.{ISTIO_NAMESPACE}.svc", host, *injection_hosts(model, primary)]
    routes = [
        {
            "match": [{"port": port, "sniHosts": sni}],
            "route": [{"destination": {"host": host, "port": {"number": target}}}],
        }
        for _, port, target in ISTIOD_PORTS
    ]
    spec = {"hosts": ["*"], "gateways": ["istiod-gateway"], "tls": routes}
    name = f"istiod-vs-{revision}" if revision else "istiod-vs"
    return obj(NETWORKING, "VirtualService", metadata(name, ISTIO_NAMESPACE), spec=spec)


def injection_hosts(model: FleetModel, primary: str) -> list[str]:
    """The gateway's DNS name when remotes call the webhook by it (SNI of the API server's call)."""
    address = model.clusters[primary].gateways[0].address
    return [] if _is_ip(address) else [address]


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
