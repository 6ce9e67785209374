"""gateways.yaml (primaries only): what the east-west gateway serves (reference §5.5).

* ``cross-network-gateway``: in a mesh that spans several networks, the AUTO_PASSTHROUGH server on
  15443 through which other networks reach this mesh's services. A primary's Gateway also
  configures the gateways of its remotes.
* ``istiod-gateway`` + ``istiod-vs``: on a primary that serves remotes, istiod's xDS (15012) and
  injection webhook (15017) passed through the gateway to the remotes' sidecars and API server.
"""

from __future__ import annotations

from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.render.common import EASTWEST_SELECTOR, ISTIO_NAMESPACE, metadata, obj

FILE = "gateways.yaml"
NETWORKING = "networking.istio.io/v1"
CROSS_NETWORK_PORT = 15443
ISTIOD_HOST = f"istiod.{ISTIO_NAMESPACE}.svc.cluster.local"
# (server port name, gateway port, istiod service port)
ISTIOD_PORTS = (("tls-istiod", 15012, 15012), ("tls-istiodwebhook", 15017, 443))


def render(model: FleetModel) -> list[Resource]:
    resources = []
    for name in model.primary_names():
        path, origin = bundle_path(name, FILE), model.origin("clusters", name)
        mesh = model.clusters[name].mesh
        if model.multi_network(mesh):
            resources.append(Resource(path, cross_network_gateway(model, mesh), origin))
        if model.remotes_of(name):
            resources.append(Resource(path, istiod_gateway(), origin))
            resources.append(Resource(path, istiod_virtual_service(), origin))
    return resources


def cross_network_hosts(model: FleetModel, mesh: str) -> list[str]:
    """The in-mesh hosts other networks may reach, explicitly (reference §8.3: a wildcard exposes
    every ``*.local`` service to anyone who can reach the gateway).

    A mesh that declares no service falls back to the upstream sample's ``*.local``: meshgen then
    knows none of the workloads, and an empty host list is not a valid Gateway server, so this
    keeps cross-network traffic working as Istio documents it until services are declared.
    """
    hosts = sorted(model.host(service) for service in model.services_in_mesh(mesh))
    return hosts or ["*.local"]


def cross_network_gateway(model: FleetModel, mesh: str) -> dict:
    server = {
        "port": {"number": CROSS_NETWORK_PORT, "name": "tls", "protocol": "TLS"},
        "tls": {"mode": "AUTO_PASSTHROUGH"},
        "hosts": cross_network_hosts(model, mesh),
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


def istiod_virtual_service() -> dict:
    routes = [
        {
            "match": [{"port": port, "sniHosts": ["*"]}],
            "route": [{"destination": {"host": ISTIOD_HOST, "port": {"number": target}}}],
        }
        for _, port, target in ISTIOD_PORTS
    ]
    spec = {"hosts": ["*"], "gateways": ["istiod-gateway"], "tls": routes}
    return obj(NETWORKING, "VirtualService", metadata("istiod-vs", ISTIO_NAMESPACE), spec=spec)
