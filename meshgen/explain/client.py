"""The caller's side: who calls, how the name resolves, which service and route the sidecar picks.

All of it depends on the caller's cluster and namespace only (never its service account), which
lets the matrix share it between every identity of a namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.explain import istio
from meshgen.explain.fleet import CLUSTER_DOMAIN, Fleet, Origin
from meshgen.explain.hops import Hop, hop, ref
from meshgen.explain.index import COREDNS_KEY
from meshgen.explain.reader import Document
from meshgen.spec.models import Service

INJECTION_LABELS = ("istio-injection", "istio.io/rev")
TCP_LISTENER_PROTOCOLS = ("", "TCP")  # SE11: an address-less entry with these gets a 0.0.0.0 listener


@dataclass(frozen=True)
class Resolution:
    address: str
    entry: Document | None = None  # the ServiceEntry the name belongs to
    service: Service | None = None  # the in-mesh service the name belongs to


@dataclass(frozen=True)
class Backend:
    """One upstream the caller's sidecar sends the request to (a cluster in Envoy's terms)."""

    host: str
    port: int
    weight: int  # percent of the requests (a VirtualService split), 100 without one
    entry: Document | None
    service: Service | None
    rule: Document | None  # the DestinationRule the sidecar applies to this host


# --- caller ------------------------------------------------------------------------------------


def caller_hop(fleet: Fleet, origin: Origin, namespace: str, account: str) -> Hop:
    principal = istio.spiffe(origin.trust_domain, namespace, account)
    spec = fleet.spec_of_cluster(origin.cluster)
    doc = origin.bundle.namespaces.get(namespace)
    identity = f"{origin.cluster} {namespace}/{account} is spiffe://{principal} (mesh {origin.mesh or '?'}, " \
               f"network {origin.network or '?'})"
    trust = ref(origin.config.istiod, "meshConfig", "trustDomain")
    if doc is None:
        return hop("caller", True, f"{identity}; namespace {namespace} is not rendered by meshgen: its owner "
                                   "injects the sidecar", trust, spec=spec)
    labels = doc.body.get("metadata", {}).get("labels", {})
    injection = next((f"{k}: {labels[k]}" for k in INJECTION_LABELS if k in labels), "")
    if not injection:
        return hop("caller", False, f"{identity}; namespace {namespace} has no injection label: its pods run "
                                    "without a sidecar, so they have no mesh identity", ref(doc), spec=spec)
    return hop("caller", True, f"{identity}; namespace {namespace} injects sidecars ({injection})",
               ref(doc, "metadata", "labels"), trust, spec=spec)


# --- name resolution ---------------------------------------------------------------------------


def visible_entries(origin: Origin, namespace: str, host: str) -> list[Document]:
    return [d for d in origin.config.by_host.get(("ServiceEntry", host), []) if istio.visible(d.body, namespace)]


def resolve(fleet: Fleet, origin: Origin, namespace: str, host: str) -> tuple[Hop, Resolution | None]:
    """DNS: the sidecar's DNS proxy, else the cluster's CoreDNS block, else Kubernetes DNS."""
    spec = fleet.spec_of_host(host)
    entries = visible_entries(origin, namespace, host)
    found = _from_sidecar(origin, entries, host, spec) or _from_coredns(origin, entries, host, spec) \
        or _from_kubernetes(fleet, origin, host, spec)
    if found is not None:
        return found
    return _unresolved(fleet, origin, namespace, host, spec), None


def _from_sidecar(origin: Origin, entries: list[Document], host: str, spec):
    """With DNS capture the sidecar answers for ServiceEntry hosts that have an address (reference §5.7,
    [DDNS]), an auto-allocated one included (``istio.auto_allocated``)."""
    if not origin.dns_capture:
        return None
    capture = ref(origin.config.istiod, "meshConfig", "defaultConfig", "proxyMetadata")
    for doc in entries:
        addresses = doc.body["spec"].get("addresses", [])
        if addresses:
            text = f"the sidecar's DNS proxy answers {host} with {addresses[0]} (ServiceEntry {_name(doc)}, " \
                   "ISTIO_META_DNS_CAPTURE=true)"
            return hop("dns", True, text, ref(doc, "spec", "addresses", 0), capture, spec=spec), \
                Resolution(addresses[0], entry=doc)
        if istio.auto_allocated(origin.config.istio_minor, True, doc.body):
            text = f"the sidecar's DNS proxy answers {host} with the address istiod allocated to ServiceEntry " \
                   f"{_name(doc)} (240.240.0.0/16, Istio 1.{origin.config.istio_minor})"
            return hop("dns", True, text, ref(doc, "spec", "hosts"), capture, spec=spec), Resolution("auto", entry=doc)
    return None


def _from_coredns(origin: Origin, entries: list[Document], host: str, spec):
    """CoreDNS answers a name its server block's template matches (coredns ``template`` plugin)."""
    coredns = origin.bundle.coredns
    address = coredns.answer(host)
    if address is None:
        return None
    entry = next((e for e in entries if address in e.body["spec"].get("addresses", [])), entries[0] if entries else None)
    text = f"CoreDNS of {origin.cluster} answers {host} with {address} (ConfigMap kube-system/coredns-custom, " \
           "loaded where CoreDNS imports it: docs/dns.md)"
    return hop("dns", True, text, ref(coredns.doc, "data", COREDNS_KEY), spec=spec), Resolution(address, entry=entry)


def _from_kubernetes(fleet: Fleet, origin: Origin, host: str, spec):
    """An in-mesh name: the Service exists in every cluster of the mesh (namespace sameness, reference
    §1 [DDM]) in its namespace, which meshgen renders in every cluster of the mesh."""
    service = fleet.in_mesh_service(host, origin.mesh)
    if service is None:
        return None
    doc = origin.bundle.namespaces.get(service.namespace)
    if doc is None:
        text = f"{host} is service {service.namespace}/{service.name} of mesh {origin.mesh}, but namespace " \
               f"{service.namespace} does not exist in {origin.cluster}: no Service, no DNS record"
        return hop("dns", False, text, spec=spec), None
    who = "the sidecar's DNS proxy or kube-dns" if origin.dns_capture else "kube-dns"
    text = f"{who} answers {host} with the ClusterIP of Service {service.namespace}/{service.name} (namespace " \
           f"sameness: one Service in every cluster of mesh {origin.mesh})"
    return hop("dns", True, text, ref(doc), spec=spec), Resolution("ClusterIP", service=service)


def _unresolved(fleet: Fleet, origin: Origin, namespace: str, host: str, spec) -> Hop:
    """Why nothing answers: an entry exported elsewhere, an authoritative CoreDNS zone, what the spec says."""
    visible = visible_entries(origin, namespace, host)
    hidden = [d for d in origin.config.by_host.get(("ServiceEntry", host), []) if d not in visible]
    reason = f"no ServiceEntry for {host} is visible to namespace {namespace} in {origin.config.cluster}'s configuration"
    if hidden:
        reason += f" ({_name(hidden[0])} is exported to {', '.join(hidden[0].body['spec'].get('exportTo', []))} only)"
    reasons = [reason]
    coredns = origin.bundle.coredns
    name = host.rstrip(".")
    zone = next((z for z in coredns.zones if name == z.rstrip(".") or name.endswith("." + z.rstrip("."))), None)
    if zone:
        reasons.append(f"CoreDNS of {origin.cluster} answers NXDOMAIN for it (authoritative zone {zone})")
    if host.endswith(CLUSTER_DOMAIN):
        reasons.append(f"no declared service of mesh {origin.mesh} has this name")
    known = fleet.why_not_imported(host, origin.cluster)
    if known is not None:
        reasons.append(known[0])
        spec = spec or known[1]
    evidence = ref(hidden[0]) if hidden else (ref(coredns.doc, "data", COREDNS_KEY) if zone else None)
    return hop("dns", False, "; ".join(reasons), evidence, spec=spec)


# --- service and route -------------------------------------------------------------------------


def port_of(entry: Document | None, service: Service | None, port: int) -> tuple[str, str] | None:
    """(port name, protocol) of the host's port ``port``, or None when it has no such port."""
    ports = entry.body["spec"].get("ports", []) if entry is not None else \
        [{"name": p.name, "number": p.number, "protocol": p.protocol} for p in service.ports]
    return next(((p.get("name", ""), p.get("protocol", "")) for p in ports if p.get("number") == port), None)


def ports_of(entry: Document | None, service: Service | None) -> list[int]:
    if entry is not None:
        return [p.get("number") for p in entry.body["spec"].get("ports", [])]
    return [p.number for p in service.ports] if service is not None else []


def service_hop(fleet: Fleet, origin: Origin, namespace: str, found: Resolution, host: str, port: int) -> Hop:
    spec = fleet.spec_of_host(host)
    if found.entry is None and found.service is None:
        return hop("service", False, f"no ServiceEntry visible to namespace {namespace} holds {host} or {found.address}: "
                                     f"the sidecar passes the request through to {found.address}, where no workload "
                                     "listens (an imported address is not routable)", spec=spec)
    named = port_of(found.entry, found.service, port)
    what = f"ServiceEntry {_name(found.entry)}" if found.entry is not None else \
        f"Service {found.service.namespace}/{found.service.name} (declared in the spec; the application team deploys it)"
    if named is None:
        listed = ", ".join(str(p) for p in ports_of(found.entry, found.service))
        return hop("service", False, f"{what} has no port {port} (ports: {listed})", ref(found.entry, "spec", "ports"), spec=spec)
    text = f"{what}, port {port}/{named[0]} ({named[1] or 'no protocol'})"
    if found.entry is not None:
        body = found.entry.body["spec"]
        text += f", {body.get('location', 'MESH_EXTERNAL')}, resolution {body.get('resolution', 'NONE')}"
        return _listener(origin, namespace, found, port, named[1], hop("service", True, text, ref(found.entry), spec=spec))
    return hop("service", True, text, spec=spec)


def _listener(origin: Origin, namespace: str, found: Resolution, port: int, protocol: str, ok: Hop) -> Hop:
    """An address-less ServiceEntry on a TCP port (protocol unset or TCP) gets the listener
    0.0.0.0:<port>, which matches every destination on that port where IP auto-allocation is off
    (reference §9.1 SE11, Istio analyzer IST0134, review F4). A host with an address of its own has
    its own listener and is not affected; one without shares the wildcard with every such entry."""
    body = found.entry.body
    if body["spec"].get("addresses") or protocol.upper() not in TCP_LISTENER_PROTOCOLS \
            or istio.auto_allocated(origin.config.istio_minor, origin.dns_capture, body):
        return ok
    wild = [d for docs in origin.config.by_host.values() for d in docs if _wildcard_tcp(origin, namespace, d, port)]
    if len(wild) > 1:
        names = ", ".join(_name(d) for d in wild)
        return hop("service", False, f"{ok.text}; it has no address, and the TCP listener 0.0.0.0:{port} is shared by "
                                     f"address-less ServiceEntries {names}: one of them takes every destination",
                   *ok.refs, spec=ok.spec)
    return hop("service", True, f"{ok.text}; it has no address: its TCP listener 0.0.0.0:{port} also captures every "
                                f"other destination on port {port} (IST0134)", *ok.refs, spec=ok.spec)


def _wildcard_tcp(origin: Origin, namespace: str, doc: Document, port: int) -> bool:
    spec = doc.body.get("spec", {})
    return doc.body.get("kind") == "ServiceEntry" and not spec.get("addresses") and istio.visible(doc.body, namespace) \
        and not istio.auto_allocated(origin.config.istio_minor, origin.dns_capture, doc.body) \
        and any(p.get("number") == port and p.get("protocol", "").upper() in TCP_LISTENER_PROTOCOLS
                for p in spec.get("ports", []))


def backends(fleet: Fleet, origin: Origin, namespace: str, found: Resolution, host: str, port: int) -> tuple[Hop | None, list[Backend]]:
    """The VirtualService's destinations for the port when one applies, else the host itself."""
    routes = [d for d in origin.config.by_host.get(("VirtualService", host), []) if istio.visible(d.body, namespace)]
    if not routes:
        return None, [_backend(fleet, origin, namespace, host, port, 100, found.entry, found.service)]
    doc = routes[0]
    matched = _route_for(doc.body.get("spec", {}), port)
    if matched is None:
        return hop("route", False, f"VirtualService {_name(doc)} has no route for port {port}", ref(doc), spec=fleet.spec_of_host(host)), []
    kind, index, destinations = matched
    found_backends = [_destination_backend(fleet, origin, namespace, d, port) for d in destinations]
    text = f"VirtualService {_name(doc)} routes port {port} to " + ", ".join(
        f"{b.host}:{b.port} ({b.weight}%)" for b in found_backends)
    return hop("route", True, text, ref(doc, "spec", kind, index), spec=fleet.spec_of_host(host)), found_backends


def _route_for(spec: dict, port: int):
    for kind in ("http", "tls", "tcp"):
        for index, route in enumerate(spec.get(kind, [])):
            matches = route.get("match") or [{}]
            if any(m.get("port") in (None, port) for m in matches):
                return kind, index, route.get("route", [])
    return None


def _destination_backend(fleet: Fleet, origin: Origin, namespace: str, destination: dict, port: int) -> Backend:
    target = destination.get("destination", {})
    host = target.get("host", "")
    number = target.get("port", {}).get("number", port)
    entries = visible_entries(origin, namespace, host)
    service = None if entries else fleet.in_mesh_service(host, origin.mesh)
    return _backend(fleet, origin, namespace, host, number, destination.get("weight", 100),
                    entries[0] if entries else None, service)


def _backend(fleet, origin: Origin, namespace: str, host: str, port: int, weight: int, entry, service) -> Backend:
    service_namespace = entry.body["metadata"].get("namespace", "") if entry is not None else \
        (service.namespace if service is not None else "")
    rule = istio.destination_rule(origin.config.by_host.get(("DestinationRule", host), []), namespace, service_namespace)
    return Backend(host, port, weight, entry, service, rule)


def _name(doc: Document | None) -> str:
    if doc is None:
        return "?"
    meta = doc.body.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
