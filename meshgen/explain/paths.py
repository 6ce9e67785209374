"""From the caller's sidecar to the destination pods: endpoints, networks and gateways.

A backend (``client.Backend``) is either an in-mesh service, whose pods run in clusters of the
caller's mesh, or a ServiceEntry with endpoints (an import), whose endpoints are the exporting mesh's
federation gateways. Each way to the pods is a ``Leg``: the hops it crosses and the pods it ends at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from meshgen.explain import istio
from meshgen.explain.client import Backend, _name
from meshgen.explain.fleet import Fleet, Origin
from meshgen.explain.hops import Hop, hop, ref
from meshgen.explain.index import ROOT_NAMESPACE, Bundle, Release
from meshgen.explain.reader import Document
from meshgen.spec.models import Service

GATEWAY_NAMESPACE = ROOT_NAMESPACE  # the gateway releases are installed in istio-system (render.gitops)


@dataclass(frozen=True, eq=False)
class Destination:
    """Pods of one service in one cluster, as the request reaches them."""

    cluster: str
    config: Bundle  # the istiod configuring these pods: policies, PeerAuthentication, cacerts, trust domain
    service: Service
    labels: dict
    target_port: int  # the port requests are sent to at the pods
    through_gateway: bool  # reached through an AUTO_PASSTHROUGH gateway (Istio mTLS only, [APGW])
    listens: int = 0  # the port these pods listen on for it (the spec's target port in their cluster)

    @cached_property
    def key(self) -> tuple:
        return (self.config.cluster, self.service.namespace, tuple(sorted(self.labels.items())), self.target_port)


@dataclass
class Leg:
    hops: list[Hop] = field(default_factory=list)
    destinations: list[Destination] = field(default_factory=list)


def legs(fleet: Fleet, origin: Origin, backend: Backend) -> tuple[Hop | None, list[Leg]]:
    """(the endpoints hop, one leg per way to the pods)."""
    if backend.service is not None:
        return None, in_mesh_legs(fleet, origin, backend, backend.service, origin.mesh)
    spec = backend.entry.body["spec"] if backend.entry is not None else {}
    if spec.get("workloadSelector"):
        return selected_legs(fleet, origin, backend)
    endpoints = spec.get("endpoints", [])
    if not endpoints:
        text = f"ServiceEntry {_name(backend.entry)} has no endpoints and no route: requests go to its address, " \
               "where no workload listens" if backend.entry is not None else f"{backend.host} is unknown here"
        return hop("endpoints", False, text, ref(backend.entry), spec=fleet.spec_of_host(backend.host)), []
    key = ("endpoints", id(backend.entry.body), backend.port)
    if key not in fleet.memo:  # the same import in every primary of a consumer mesh
        fleet.memo[key] = (_endpoints_hop(fleet, backend, endpoints), _distinct(endpoints))
    described, distinct = fleet.memo[key]
    return described, [import_leg(fleet, origin, backend, e) for e in distinct]


def selected_legs(fleet: Fleet, origin: Origin, backend: Backend) -> tuple[Hop, list[Leg]]:
    """A ServiceEntry selecting workloads: the pods of the declared services of its namespace that the
    selector selects, in the caller's mesh, on the entry port's target port."""
    entry = backend.entry.body
    selector = entry["spec"]["workloadSelector"].get("labels", {})
    services = fleet.selected_services(entry["metadata"].get("namespace", ""), selector, origin.mesh)
    port = next((p for p in entry["spec"].get("ports", []) if p.get("number") == backend.port), {})
    target = port.get("targetPort", backend.port)
    names = ", ".join(f"{s.namespace}/{s.name}" for s in services) or "no declared service"
    text = f"ServiceEntry {_name(backend.entry)} selects {', '.join(f'{k}={v}' for k, v in sorted(selector.items()))}: " \
           f"{names}, port {backend.port} -> {target}"
    found = hop("endpoints", bool(services), text, ref(backend.entry, "spec", "workloadSelector"),
                spec=fleet.spec_of_host(backend.host))
    return found, [leg for s in services for leg in in_mesh_legs(fleet, origin, backend, s, origin.mesh, target)]


# --- in-mesh services --------------------------------------------------------------------------


def in_mesh_legs(fleet: Fleet, origin: Origin, backend: Backend, service: Service, mesh: str,
                 target: int | None = None) -> list[Leg]:
    """One leg per cluster the service runs in; ``target``: the workload port a ServiceEntry maps to."""
    placements = fleet.model.placements(service, mesh)
    if not placements:
        return [Leg([hop("endpoints", False, f"{service.namespace}/{service.name} runs in no cluster of mesh {mesh}")])]
    return [_in_mesh_leg(fleet, origin, backend, service, p, target) for p in placements]


def _in_mesh_leg(fleet: Fleet, origin: Origin, backend: Backend, service: Service, placement, target: int | None) -> Leg:
    cluster = placement.cluster.name
    spec = fleet.spec_of_service(service)
    port = target if target is not None else _target_port(placement, service, backend.port)
    destination = _destination(fleet, cluster, service, placement, False, port, backend.port)
    where = f"{placement.count} pod(s) of {service.namespace}/{service.name} in {cluster}"
    if cluster not in origin.config.registered:
        text = f"{where}: {origin.config.cluster}'s istiod does not read {cluster} (no remote secret), so it never sees them"
        return Leg([hop("network", False, text, spec=spec)])
    network = fleet.index.bundle(cluster).network
    if network == origin.network:
        return Leg([hop("network", True, f"{where}, network {network}: same network as the caller, reached directly",
                        ref(fleet.index.bundle(cluster).namespaces.get(ROOT_NAMESPACE), "metadata", "labels"), spec=spec)],
                   [destination])
    crossing = east_west_hop(fleet, origin, backend, cluster, network, where)
    return Leg([crossing], [_through(destination)] if crossing.ok else [])


def east_west_hop(fleet: Fleet, origin: Origin, backend: Backend, cluster: str, network: str, where: str) -> Hop:
    """Another network's endpoints are replaced by that network's east-west gateways, those of the
    endpoint's own cluster first ([EPF] ``selectNetworkGateways``, reference §7.2); the gateway routes
    on the SNI with a Gateway server listing the host (AUTO_PASSTHROUGH, [APGW]). Only Istio mTLS
    endpoints cross: a DestinationRule TLS mode other than ISTIO_MUTUAL drops them ([EPF] mtls_checker)."""
    spec = fleet.spec_of_cluster(cluster)
    gateways = fleet.index.east_west_gateways(origin.config, network)
    own = [g for g in gateways if g.cluster == cluster]
    if not gateways:
        return hop("network", False, f"{where}, network {network}: no east-west gateway of that network is known to "
                                     f"{origin.config.cluster}'s istiod, so the pods are handed out as directly reachable, "
                                     "and another network does not route to them", spec=spec)
    mode = istio.tls_mode(backend.rule.body if backend.rule else None, backend.port)
    if mode not in ("", "ISTIO_MUTUAL"):
        return hop("network", False, f"{where}: DestinationRule {_name(backend.rule)} sets TLS {mode}; Istio sends only "
                                     "Istio-mTLS endpoints across networks, so these are dropped", ref(backend.rule), spec=spec)
    gateway = (own or gateways)[0]
    return gateway_hop(fleet, gateway, backend.host, backend.port, f"{where}, network {network}", cluster, "network")


def gateway_hop(fleet: Fleet, gateway: Release, host: str, port: int, where: str, pods_cluster: str | None,
                name: str, arrives: int | None = None) -> Hop:
    key = ("gateway", id(gateway), host, port, where, pods_cluster, name, arrives)
    if key not in fleet.memo:  # every caller crossing this gateway to this host
        fleet.memo[key] = _gateway_hop(fleet, gateway, host, port, where, pods_cluster, name, arrives)
    return fleet.memo[key]


def _gateway_hop(fleet: Fleet, gateway: Release, host: str, port: int, where: str, pods_cluster: str | None,
                 name: str, arrives: int | None) -> Hop:
    """The gateway release's configuration (its pods are configured by its cluster's primary) must
    hold an AUTO_PASSTHROUGH server on the target of the port the request arrives on, listing the host."""
    config = fleet.index.config(gateway.cluster)
    arrives = arrives if arrives is not None else gateway.tls_port
    target = dict(gateway.ports).get(arrives, arrives)
    server = passthrough_server(config, gateway, target, host)
    release = f"gateway release {gateway.name} of {gateway.cluster} (pods {_labels(gateway.labels)})"
    values = ref(gateway.doc, "networkGateway") if gateway.east_west else ref(gateway.doc, "env")
    if server is None:
        return hop(name, False, f"{where}: {release}: no Gateway in {config.cluster}'s configuration selects it with an "
                                f"AUTO_PASSTHROUGH server on {target} listing {host}: SNI {istio.sni(port, host)} has no "
                                "filter chain", values, spec=fleet.spec_of_cluster(gateway.cluster))
    doc, index, h = server
    if pods_cluster is not None and pods_cluster not in config.registered:
        return hop(name, False, f"{where}: {release} is configured by {config.cluster}, whose istiod does not read "
                                f"{pods_cluster}", values, spec=fleet.spec_of_cluster(gateway.cluster))
    text = f"{where}: through {release}; Gateway {_name(doc)} server {index} (AUTO_PASSTHROUGH, port {target}) lists " \
           f"{h}: SNI {istio.sni(port, host)} is routed, no authorization at the gateway"
    return hop(name, True, text, values, ref(doc, "spec", "servers", index, "hosts"), spec=fleet.spec_of_cluster(gateway.cluster))


def passthrough_server(config: Bundle, gateway: Release, target: int, host: str) -> tuple[Document, int, str] | None:
    for doc in config.of_kind("Gateway"):
        if not istio.selects(doc.body.get("spec", {}).get("selector", {}), gateway.labels):
            continue
        for index, server in enumerate(doc.body["spec"].get("servers", [])):
            if server.get("tls", {}).get("mode") != "AUTO_PASSTHROUGH" or server.get("port", {}).get("number") != target:
                continue
            matched = next((h for h in server.get("hosts", []) if istio.host_matches(host, h)), None)
            if matched is not None:
                return doc, index, matched
    return None


def _destination(fleet: Fleet, cluster: str, service: Service, placement, through: bool, target: int,
                 number: int) -> Destination:
    """Pods of ``placement`` reached on ``target`` for the service port ``number``."""
    return Destination(cluster, fleet.index.config(cluster), service, fleet.model.selector(service), target, through,
                       _target_port(placement, service, number))


def _target_port(placement, service: Service, number: int | None = None) -> int:
    ports = {p.number: p for p in placement.ports}
    port = ports.get(number) if number is not None else next(iter(ports.values()))
    return (port.targetPort or port.number) if port is not None else 0


def _through(destination: Destination) -> Destination:
    return Destination(destination.cluster, destination.config, destination.service, destination.labels,
                       destination.target_port, True, destination.listens)


# --- imports: endpoints at another mesh's federation gateways -----------------------------------


def _distinct(endpoints: list[dict]) -> list[dict]:
    """Each gateway once (imports list it again per subset, with the subset's labels)."""
    seen, out = set(), []
    for endpoint in endpoints:
        key = (endpoint.get("address"), tuple(sorted(endpoint.get("ports", {}).items())))
        if key not in seen:
            seen.add(key)
            out.append(endpoint)
    return out


def _endpoints_hop(fleet: Fleet, backend: Backend, endpoints: list[dict]) -> Hop:
    described = []
    for e in _distinct(endpoints):
        port = next(iter(e.get("ports", {}).values()), "?")
        facts = [e.get("network", "no network"), e.get("locality", ""), f"weight {e.get('weight', 1)}"]
        described.append(f"{e.get('address')}:{port} ({', '.join(f for f in facts if f)})")
    text = f"ServiceEntry {_name(backend.entry)} lists {len(described)} endpoint(s): {'; '.join(described)}"
    return hop("endpoints", True, text, ref(backend.entry, "spec", "endpoints"), spec=fleet.spec_of_host(backend.host))


def import_leg(fleet: Fleet, origin: Origin, backend: Backend, endpoint: dict) -> Leg:
    address, network = endpoint.get("address", ""), endpoint.get("network", "")
    port_name = next((p.get("name") for p in backend.entry.body["spec"].get("ports", []) if p.get("number") == backend.port), "")
    arrives = endpoint.get("ports", {}).get(port_name, backend.port)
    where = f"{address}:{arrives}"
    own = fleet.index.east_west_gateways(origin.config, network) if network != origin.network else []
    if own:
        text = f"{where}: network {network} has east-west gateways of the caller's mesh ({own[0].cluster}), so Istio " \
               f"replaces the endpoint by them instead of sending it to {address} ([EPF])"
        return Leg([hop("gateway", False, text, spec=fleet.spec_of_host(backend.host))])
    key = ("import-leg", address, arrives, backend.host, backend.port)
    if key not in fleet.memo:  # the exporter's side is the same for every consumer
        fleet.memo[key] = _exporter_leg(fleet, address, arrives, backend.host, backend.port)
    return fleet.memo[key]


def _exporter_leg(fleet: Fleet, address: str, arrives: int, host: str, port: int) -> Leg:
    where = f"{address}:{arrives}"
    gateway = fleet.federation_release(address) or next(iter(fleet.index.releases_by_address.get(address, [])), None)
    if gateway is None:
        return Leg([hop("gateway", False, f"{where}: no gateway release of the fleet serves {address}",
                        spec=fleet.spec_of_host(host))])
    crossing = gateway_hop(fleet, gateway, host, port, where, None, "gateway", arrives)
    if not crossing.ok:
        return Leg([crossing])
    export, destinations = exported_pods(fleet, gateway, host, port)
    return Leg([crossing, export], destinations)


def exported_pods(fleet: Fleet, gateway: Release, host: str, port: int) -> tuple[Hop, list[Destination]]:
    """Behind the gateway: the service its istiod knows under ``host`` and visible to the gateway's
    namespace (its SidecarScope, [APGW]), non-external, with the port; its pods in the gateway's network
    view (``ISTIO_META_REQUESTED_NETWORK_VIEW``, [NGW] proxy_view.go, reference §5.4)."""
    config = fleet.index.config(gateway.cluster)
    mesh = (config.istiod.body or {}).get("global", {}).get("meshID", "") if config.istiod else ""
    entries = [d for d in config.by_host.get(("ServiceEntry", host), []) if istio.visible(d.body, GATEWAY_NAMESPACE)]
    if entries:
        return _entry_pods(fleet, gateway, config, mesh, entries[0], host, port)
    service = fleet.in_mesh_service(host, mesh)
    if service is None:
        hidden = config.by_host.get(("ServiceEntry", host), [])
        text = f"{config.cluster}'s istiod knows no service {host} visible to {GATEWAY_NAMESPACE}" + \
               (f" ({_name(hidden[0])} is not exported there)" if hidden else "")
        return hop("export", False, text, ref(hidden[0]) if hidden else None, spec=fleet.spec_of_host(host)), []
    text = f"{host} is Service {service.namespace}/{service.name} of mesh {mesh}"
    return _pods(fleet, gateway, config, mesh, service, port, None, text, None, host)


def _entry_pods(fleet: Fleet, gateway: Release, config: Bundle, mesh: str, doc: Document, host: str, port: int):
    spec = doc.body["spec"]
    entry_port = next((p for p in spec.get("ports", []) if p.get("number") == port), None)
    if spec.get("location") != "MESH_INTERNAL" or entry_port is None:
        why = "is MESH_EXTERNAL: AUTO_PASSTHROUGH builds no chain for it" if spec.get("location") != "MESH_INTERNAL" \
            else f"has no port {port}"
        return hop("export", False, f"ServiceEntry {_name(doc)} {why}", ref(doc), spec=fleet.spec_of_host(host)), []
    selector = spec.get("workloadSelector", {}).get("labels", {})
    services = fleet.selected_services(doc.body["metadata"].get("namespace", ""), selector, mesh) if selector else []
    if not services:
        text = f"ServiceEntry {_name(doc)} selects no pods of a declared service ({_labels(selector) or 'no workloadSelector'})"
        return hop("export", False, text, ref(doc, "spec", "workloadSelector"), spec=fleet.spec_of_host(host)), []
    target = entry_port.get("targetPort", port)
    text = f"ServiceEntry {_name(doc)} (exported to {GATEWAY_NAMESPACE}) selects {_labels(selector)}: " \
           f"{services[0].namespace}/{services[0].name}, port {port} -> {target}"
    return _pods(fleet, gateway, config, mesh, services[0], port, target, text, ref(doc, "spec", "workloadSelector"), host)


def _pods(fleet: Fleet, gateway: Release, config: Bundle, mesh: str, service: Service, port: int, target: int | None,
          text: str, evidence, host: str) -> tuple[Hop, list[Destination]]:
    found = []
    for placement in fleet.model.placements(service, mesh):
        cluster = placement.cluster.name
        if cluster in config.registered and fleet.index.bundle(cluster).network == gateway.view:
            sent = target if target is not None else _target_port(placement, service, port)
            found.append(_destination(fleet, cluster, service, placement, True, sent, port))
    where = ", ".join(f"{d.cluster}" for d in found)
    if not found:
        return hop("export", False, f"{text}; none of its pods is in the gateway's network view {gateway.view}",
                   evidence, ref(gateway.doc), spec=fleet.spec_of_host(host)), []
    return hop("export", True, f"{text}; pods in {where} (network view {gateway.view})", evidence,
               spec=fleet.spec_of_host(host)), found


def _labels(labels: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
