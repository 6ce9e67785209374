"""Helm values of Istio's charts, per cluster and per the cluster's Istio release: ``istio-base``
(chart ``base``), ``istiod`` or ``istiod-<revision>`` (chart ``istiod``) and one gateway release per
address (chart ``gateway``). The GitOps family installs them with these values inline; the same values
are written to ``clusters/<cluster>/helm/<release>-values.yaml`` for teams that install by other means.
Facts per chart version are in docs/istio-versions.md (sources: each minor's chart templates).

istiod, primary (reference §5.2, §5.7, §5.9): ``global.meshID`` / ``multiCluster.clusterName`` /
``network``; ``meshConfig`` carries the trust domain, the peer trust domains that inbound mTLS accepts
(``caCertificates[].trustDomains``: never ``trustDomainAliases``, which would make peer identities
equal to the mesh's own, review F3) and DNS proxying. A primary that serves remotes sets
``global.externalIstiod``; when remotes reach it by a DNS name, ``ISTIOD_CUSTOM_HOST`` puts that name in
istiod's serving certificate.

istiod, remote: ``profile: remote`` renders no mesh or injector ConfigMap, so ``meshConfig``,
``global.meshID`` and ``global.network`` would be ignored and are not written (review R5). Sidecars
reach istiod at ``global.remotePilotAddress`` (the primary's first east-west gateway address). For an
IPv4 address the chart points the webhook at an Endpoints object; for a DNS name it would make an
ExternalName on :443, where no gateway listens (review R1), so the webhook and the base chart's
validator get explicit URLs on :15017 instead. IPv6 is refused by the checks (E205).

gateway (reference §5.4): an east-west release sets ``networkGateway``, which labels its Service with
the network and its pods' network view; from 1.26 the chart also labels the pods (review N1: meshgen
never repeats the label). A non-default port: 1.30's ``networkGatewayPorts`` plus the
``networking.istio.io/gatewayPort`` label istiod reads; before 1.30 the chart ignores ``service.ports``
with ``networkGateway`` and its schema refuses ``networkGatewayPorts`` (review N2), so the release sets
the network label, view and ports itself. A federation release has no network label at all (istiod
would register it as an east-west gateway) and keeps to its network's endpoints through
``ISTIO_META_REQUESTED_NETWORK_VIEW``. One release per address: each provisions one load balancer, so
only addresses that exist are advertised (review N4).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.spec.models import GatewayAddress

DEFAULT_GATEWAY_PORT = 15443
GATEWAY_PORT_LABEL = "networking.istio.io/gatewayPort"
NETWORK_LABEL = "topology.istio.io/network"
NETWORK_VIEW = "ISTIO_META_REQUESTED_NETWORK_VIEW"
WEBHOOK_PORT = 15017
NETWORK_GATEWAY_PORTS_SINCE = 30  # gateway chart `networkGatewayPorts`
VALIDATION_POLICY_SINCE = 28  # base chart `base.validationFailurePolicy`
GATEWAY_KINDS = (("gateways", "istio-eastwestgateway", "eastwestgateway"),
                 ("federationGateways", "istio-federationgateway", "federationgateway"))


@dataclass(frozen=True)
class Release:
    """One Helm release of one cluster: its name, chart and values (the values dict is shared with the
    values file and the GitOps objects: never mutated after render)."""

    cluster: str
    name: str
    chart: str
    values: dict

    @property
    def values_path(self) -> str:
        return bundle_path(self.cluster, f"helm/{self.name}-values.yaml")


def render(model: FleetModel) -> list[Resource]:
    return [Resource(r.values_path, r.values, model.origin("clusters", r.cluster), manifest=False)
            for name in model.clusters for r in releases(model, name)]


def releases(model: FleetModel, cluster: str) -> list[Release]:
    """In install order: base (CRDs), istiod, then the gateways."""
    return [Release(cluster, "istio-base", "base", base_values(model, cluster)),
            Release(cluster, istiod_release(model, cluster), "istiod", istiod_values(model, cluster)),
            *gateway_releases(model, cluster)]


def istiod_release(model: FleetModel, cluster: str) -> str:
    revision = model.revision(cluster)
    return f"istiod-{revision}" if revision else "istiod"


def chart_version(model: FleetModel, cluster: str) -> tuple[str, str]:
    """(Argo CD targetRevision, Flux version) of the cluster's Istio charts: a minor is a range."""
    version = model.istio_version(cluster)
    if version.count(".") == 2:
        return version, version
    return f"{version}.*", f"{version}.x"


# --- base -------------------------------------------------------------------------------------


def base_values(model: FleetModel, cluster: str) -> dict:
    values: dict = {}
    revision = model.revision(cluster)
    if revision:
        values["defaultRevision"] = revision  # the default validator calls istiod-<revision>
    if not model.is_primary(cluster):
        base: dict = {}
        host = _pilot_host(model, cluster)
        if not _is_ip(host):
            base["validationURL"] = f"https://{host}:{WEBHOOK_PORT}/validate"
        if model.istio_minor(cluster) >= VALIDATION_POLICY_SINCE:
            # Nobody patches a remote validator's caBundle; from 1.28 an upgrade would default it to Fail.
            base["validationFailurePolicy"] = "Ignore"
        if base:
            values["base"] = base
    return values


# --- istiod -----------------------------------------------------------------------------------


def istiod_values(model: FleetModel, cluster: str) -> dict:
    if not model.is_primary(cluster):
        return _remote_values(model, cluster)
    values: dict = {}
    revision = model.revision(cluster)
    if revision:
        values["revision"] = revision
    values["global"] = _global_values(model, cluster)
    values["meshConfig"] = _mesh_config(model, model.clusters[cluster].mesh)
    custom_host = _custom_host(model, cluster)
    if custom_host:
        values["env"] = {"ISTIOD_CUSTOM_HOST": custom_host}
    return values


def _global_values(model: FleetModel, cluster: str) -> dict:
    spec = model.clusters[cluster]
    values: dict = {"meshID": spec.mesh, "multiCluster": {"clusterName": cluster}, "network": spec.network}
    if model.remotes_of(cluster):
        values["externalIstiod"] = True
    return values


def _remote_values(model: FleetModel, cluster: str) -> dict:
    values: dict = {"profile": "remote"}
    revision = model.revision(cluster)
    if revision:
        values["revision"] = revision
    host = _pilot_host(model, cluster)
    values["global"] = {"remotePilotAddress": host}
    path = f"/inject/cluster/{cluster}/net/{model.clusters[cluster].network}"
    remote = {"injectionPath": path}
    if not _is_ip(host):
        remote["injectionURL"] = f"https://{host}:{WEBHOOK_PORT}{path}"
    values["istiodRemote"] = remote
    return values


def _pilot_host(model: FleetModel, remote: str) -> str:
    """The primary's first east-west gateway address (E205 guarantees one, IPv4 or a DNS name)."""
    return model.clusters[model.config_cluster(remote)].gateways[0].address


def _custom_host(model: FleetModel, primary: str) -> str:
    """The DNS name remotes reach istiod by, when they do."""
    spec = model.clusters[primary]
    if not model.remotes_of(primary) or _is_ip(spec.gateways[0].address):
        return ""
    return spec.gateways[0].address


def _mesh_config(model: FleetModel, mesh_name: str) -> dict:
    mesh = model.meshes[mesh_name]
    config: dict = {"trustDomain": mesh.trustDomain}
    peers = model.peer_trust_domains(mesh_name)
    if peers:
        config["caCertificates"] = [{"trustDomains": peers}]
    if mesh.dns.capture:
        config["defaultConfig"] = {"proxyMetadata": {"ISTIO_META_DNS_CAPTURE": "true"}}
    return config


# --- gateways ---------------------------------------------------------------------------------


def gateway_releases(model: FleetModel, cluster: str) -> list[Release]:
    spec = model.clusters[cluster]
    found = []
    for kind, name, selector in GATEWAY_KINDS:
        for i, address in enumerate(getattr(spec, kind)):
            release = name if i == 0 else f"{name}-{i + 1}"
            east_west = kind == "gateways"
            values = gateway_values(model, cluster, release, selector, address, east_west)
            found.append(Release(cluster, release, "gateway", values))
    return found


def gateway_values(model: FleetModel, cluster: str, release: str, selector: str, address: GatewayAddress,
                   east_west: bool) -> dict:
    """Values of one ``gateway`` chart release: one Service, one load balancer, one address."""
    network = model.clusters[cluster].network
    custom = address.port != DEFAULT_GATEWAY_PORT
    native = east_west and (not custom or model.istio_minor(cluster) >= NETWORK_GATEWAY_PORTS_SINCE)
    values: dict = {"name": release}
    revision = model.revision(cluster)
    if revision:
        values["revision"] = revision
    labels = {} if release.endswith(selector) else {"istio": selector}  # 2nd+ release: same selector
    if east_west and not native:
        labels[NETWORK_LABEL] = network
    if east_west and custom:
        labels[GATEWAY_PORT_LABEL] = str(address.port)  # istiod reads the gateway port from this label
    if labels:
        values["labels"] = labels
    if native:
        values["networkGateway"] = network
    else:
        values["env"] = {NETWORK_VIEW: network}
    if native and custom:
        values["networkGatewayPorts"] = {"tls": {"port": address.port, "targetPort": DEFAULT_GATEWAY_PORT}}
    service: dict = {}
    if not native:
        service["ports"] = gateway_ports(address.port, istiod=east_west)
    ip = _ip_address(address.address)
    if ip:
        service["loadBalancerIP"] = ip
    if service:
        values["service"] = service
    return values


def gateway_ports(tls_port: int = DEFAULT_GATEWAY_PORT, istiod: bool = True) -> list[dict]:
    """status (15021), cross-network mTLS (15443) and, for east-west gateways, istiod's xDS (15012)
    and webhook (15017): the ports ``networkGateway`` gives the chart's Service."""
    ports = [
        {"name": "status-port", "port": 15021, "targetPort": 15021},
        {"name": "tls", "port": tls_port, "targetPort": DEFAULT_GATEWAY_PORT},
    ]
    if istiod:
        ports += [{"name": "tls-istiod", "port": 15012, "targetPort": 15012},
                  {"name": "tls-webhook", "port": WEBHOOK_PORT, "targetPort": WEBHOOK_PORT}]
    return ports


def _ip_address(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _is_ip(address: str) -> bool:
    return _ip_address(address) is not None
