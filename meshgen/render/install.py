"""Helm values: ``helm/istiod-values.yaml`` (chart ``istiod``) for every cluster and
``helm/eastwest-gateway-values.yaml`` (chart ``gateway``) for every cluster with gateway addresses.

istiod (reference §5.2, §5.7, §5.9): ``global.meshID`` / ``multiCluster.clusterName`` /
``network`` in every cluster; ``meshConfig`` carries the mesh's trust domain, the trust domains
of federation peers as aliases, and DNS proxying. A primary that serves remotes sets
``global.externalIstiod``; a remote installs the chart with ``profile: remote``, points its
sidecars at the primary's east-west gateway (``global.remotePilotAddress``) and has its own
injection path, from which the injector sets the pods' cluster and network.

gateway (reference §5.4): ``networkGateway`` makes the chart label the Service and pods with the
network and set ``ISTIO_META_REQUESTED_NETWORK_VIEW``; the ports are those of
``gen-eastwest-gateway.sh``.
"""

from __future__ import annotations

import ipaddress

from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.spec.models import GatewayAddress

ISTIOD_VALUES = "helm/istiod-values.yaml"
GATEWAY_VALUES = "helm/eastwest-gateway-values.yaml"
GATEWAY_NAME = "istio-eastwestgateway"
DEFAULT_GATEWAY_PORT = 15443
GATEWAY_PORT_LABEL = "networking.istio.io/gatewayPort"


def render(model: FleetModel) -> list[Resource]:
    resources = []
    for name, cluster in model.clusters.items():
        origin = model.origin("clusters", name)
        resources.append(Resource(bundle_path(name, ISTIOD_VALUES), istiod_values(model, name), origin, manifest=False))
        if cluster.gateways:
            values = gateway_values(cluster.network, cluster.gateways)
            resources.append(Resource(bundle_path(name, GATEWAY_VALUES), values, origin, manifest=False))
    return resources


# --- istiod -----------------------------------------------------------------------------------


def istiod_values(model: FleetModel, cluster: str) -> dict:
    values: dict = {}
    if not model.is_primary(cluster):
        values["profile"] = "remote"
    values["global"] = _global_values(model, cluster)
    values["meshConfig"] = _mesh_config(model, model.clusters[cluster].mesh)
    if not model.is_primary(cluster):
        network = model.clusters[cluster].network
        values["istiodRemote"] = {"injectionPath": f"/inject/cluster/{cluster}/net/{network}"}
    return values


def _global_values(model: FleetModel, cluster: str) -> dict:
    spec = model.clusters[cluster]
    values: dict = {
        "meshID": spec.mesh,
        "multiCluster": {"clusterName": cluster},
        "network": spec.network,
    }
    if model.is_primary(cluster) and model.remotes_of(cluster):
        values["externalIstiod"] = True
    if not model.is_primary(cluster):
        primary = model.clusters[model.config_cluster(cluster)]
        # The checks (E205) guarantee that a primary serving remotes has its own gateway.
        values["remotePilotAddress"] = primary.gateways[0].address
    return values


def _mesh_config(model: FleetModel, mesh_name: str) -> dict:
    mesh = model.meshes[mesh_name]
    config: dict = {"trustDomain": mesh.trustDomain}
    aliases = model.trust_domain_aliases(mesh_name)
    if aliases:
        config["trustDomainAliases"] = aliases
    if mesh.dns.capture:
        config["defaultConfig"] = {"proxyMetadata": {"ISTIO_META_DNS_CAPTURE": "true"}}
    return config


# --- east-west gateway ------------------------------------------------------------------------


def gateway_values(network: str, gateways: list[GatewayAddress]) -> dict:
    """Values of the ``gateway`` chart. One release is one Service with one load balancer, so the
    first gateway address decides the load-balancer IP and the cross-network port."""
    first = gateways[0]
    custom_port = first.port != DEFAULT_GATEWAY_PORT
    labels = {"istio": "eastwestgateway", "app": GATEWAY_NAME, "topology.istio.io/network": network}
    if custom_port:
        labels[GATEWAY_PORT_LABEL] = str(first.port)  # istiod reads the gateway port from this label
    service: dict = {"ports": gateway_ports(first.port)}
    ip = _ip_address(first.address)
    if ip:
        service["loadBalancerIP"] = ip
    values: dict = {"name": GATEWAY_NAME, "labels": labels, "networkGateway": network, "service": service}
    if custom_port:
        # With networkGateway set, the chart (1.30+) builds the Service ports from networkGatewayPorts.
        values["networkGatewayPorts"] = {"tls": {"port": first.port, "targetPort": DEFAULT_GATEWAY_PORT}}
    return values


def gateway_ports(tls_port: int = DEFAULT_GATEWAY_PORT) -> list[dict]:
    """status (15021), cross-network mTLS (15443), istiod xDS (15012) and webhook (15017)."""
    return [
        {"name": "status-port", "port": 15021, "targetPort": 15021},
        {"name": "tls", "port": tls_port, "targetPort": DEFAULT_GATEWAY_PORT},
        {"name": "tls-istiod", "port": 15012, "targetPort": 15012},
        {"name": "tls-webhook", "port": 15017, "targetPort": 15017},
    ]


def _ip_address(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
