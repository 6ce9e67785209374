"""At the destination: mutual TLS both ways, the roots and trust domains, then authorization."""

from __future__ import annotations

from meshgen.explain import istio
from meshgen.explain.authz import Request, applicable, decide
from meshgen.explain.client import INJECTION_LABELS, Backend, _name
from meshgen.explain.fleet import Fleet, Origin
from meshgen.explain.hops import Hop, hop, ref
from meshgen.explain.index import ROOT_NAMESPACE, Bundle
from meshgen.explain.paths import Destination
from meshgen.explain.reader import Document


# --- mutual TLS --------------------------------------------------------------------------------


def peer_mode(destination: Destination) -> tuple[str, Document | None]:
    namespace = destination.service.namespace
    candidates = destination.config.by_namespace.get(("PeerAuthentication", ROOT_NAMESPACE), []) + \
        (destination.config.by_namespace.get(("PeerAuthentication", namespace), []) if namespace != ROOT_NAMESPACE else [])
    return istio.peer_authentication(candidates, namespace, destination.labels, destination.target_port)


def tls_hop(fleet: Fleet, backend: Backend, destination: Destination) -> tuple[Hop, bool]:
    """(the hop, whether the connection is Istio mTLS, so the server sees the caller's principal)."""
    spec = fleet.spec_of_host(backend.host)
    where = f"at {destination.cluster}"
    injected = _injected(fleet, destination)
    if injected is not None:
        return hop("tls", False, f"{where}: {injected}", spec=spec), False
    mode = istio.tls_mode(backend.rule.body if backend.rule else None, backend.port)
    peer, peer_doc = peer_mode(destination)
    server = f"PeerAuthentication {_name(peer_doc)} {peer}" if peer_doc else f"no PeerAuthentication ({peer})"
    evidence = (ref(backend.rule, "spec", "trafficPolicy", "tls") if backend.rule else None, ref(peer_doc, "spec", "mtls"))
    if mode in ("ISTIO_MUTUAL", "") and peer != "DISABLE":
        return _istio_mutual(fleet, backend, destination, mode, server, evidence, spec)
    if destination.through_gateway:
        return hop("tls", False, f"{where}: the client would not send Istio mTLS (DestinationRule TLS {mode or 'auto'}, "
                                 f"{server}); an AUTO_PASSTHROUGH gateway only matches Istio mTLS ALPNs ({istio.MTLS_ALPNS})",
                   *evidence, spec=spec), False
    if peer == "STRICT" or mode == "ISTIO_MUTUAL":
        return hop("tls", False, f"{where}: client TLS {mode or 'auto'} against {server}: the handshake fails",
                   *evidence, spec=spec), False
    return hop("tls", True, f"{where}: plain text (client TLS {mode or 'auto'}, {server}): no peer identity",
               *evidence, spec=spec), False


def _istio_mutual(fleet: Fleet, backend: Backend, destination: Destination, mode: str, server: str, evidence, spec):
    trust_domain = destination.config.mesh_config.get("trustDomain") or istio.DEFAULT_TRUST_DOMAIN
    expected = [f"spiffe://{istio.spiffe(trust_domain, destination.service.namespace, sa)}"
                for sa in fleet.model.service_accounts(destination.service)]
    names = _subject_alt_names(backend)
    how = f"DestinationRule {_name(backend.rule)}: ISTIO_MUTUAL" if mode else "auto mTLS (no TLS mode set): Istio mTLS"
    where = f"at {destination.cluster}"
    if names and not set(expected) <= set(names):
        missing = ", ".join(sorted(set(expected) - set(names)))
        return hop("tls", False, f"{where}: {how}, but the server presents {missing}, not in subjectAltNames "
                                 f"{', '.join(names)}: the client refuses it", *evidence, spec=spec), False
    check = f"server identity {', '.join(expected)} in subjectAltNames" if names else \
        f"server identity {', '.join(expected)} from istiod (the pods' service accounts)"
    return hop("tls", True, f"{where}: {how}; {check}; {server}", *evidence, spec=spec), True


def _subject_alt_names(backend: Backend) -> list[str]:
    """The DestinationRule's subjectAltNames, else the ServiceEntry's (networking v1 API docs)."""
    rule = (backend.rule.body if backend.rule else {}).get("spec", {}).get("trafficPolicy", {}).get("tls", {})
    if rule.get("subjectAltNames"):
        return rule["subjectAltNames"]
    return (backend.entry.body["spec"].get("subjectAltNames", []) if backend.entry is not None else [])


def _injected(fleet: Fleet, destination: Destination) -> str | None:
    """Why the destination pods have no sidecar, or None when their namespace injects one."""
    namespace = destination.service.namespace
    doc = fleet.index.bundle(destination.cluster).namespaces.get(namespace) if destination.cluster in fleet.index.bundles else None
    if doc is None:
        return f"namespace {namespace} is not rendered in {destination.cluster}"
    labels = doc.body.get("metadata", {}).get("labels", {})
    return None if any(k in labels for k in INJECTION_LABELS) else f"namespace {namespace} injects no sidecar"


# --- trust -------------------------------------------------------------------------------------


def trust_hop(fleet: Fleet, origin: Origin, destination: Destination) -> Hop:
    key = ("trust", origin.config.cluster, destination.config.cluster)
    if key not in fleet.memo:
        fleet.memo[key] = _trust_hop(fleet, origin, destination)
    return fleet.memo[key]


def _trust_hop(fleet: Fleet, origin: Origin, destination: Destination) -> Hop:
    """Each side verifies the other's certificate against its root-cert.pem (reference §5.8, review F3:
    istiod hands the whole file to its proxies as trust anchors), and the server accepts the client's
    trust domain (``istio.accepted_trust_domains``, [TD])."""
    client, server = origin.config, destination.config
    spec = fleet.spec_of_mesh(fleet.model.clusters[destination.cluster].mesh)
    problems = _trusts(client, server, "client") + _trusts(server, client, "server")
    client_domain = origin.trust_domain
    accepted = istio.accepted_trust_domains(server.mesh_config)
    if client_domain not in accepted:
        problems.append(f"{server.cluster} accepts trust domains {', '.join(accepted)} only, not {client_domain}")
    evidence = (ref(client.cacerts, "spec", "target", "template", "data", "root-cert.pem"),
                ref(server.cacerts, "spec", "target", "template", "data", "root-cert.pem"),
                ref(server.istiod, "meshConfig"))
    if problems:
        return hop("trust", False, "; ".join(problems), *evidence, spec=spec)
    how = "the same root" if client.trust_roots[1] == server.trust_roots[1] else "each other's roots"
    text = f"{client.cluster} and {server.cluster} trust {how} (cacerts root-cert.pem); {server.cluster} accepts " \
           f"trust domain {client_domain}"
    return hop("trust", True, text, *evidence, spec=spec)


def accepts(origin: Origin, destination: Destination) -> bool:
    """Whether the server accepts the caller's certificate: its root and its trust domain (a client
    that does not check the server's certificate needs nothing more)."""
    server = destination.config
    return not _trusts(server, origin.config, "server") and \
        origin.trust_domain in istio.accepted_trust_domains(server.mesh_config)


def _trusts(holder: Bundle, peer: Bundle, side: str) -> list[str]:
    trusted, _ = holder.trust_roots
    _, signing = peer.trust_roots
    if holder.cacerts is None or signing is None:
        who = holder.cluster if holder.cacerts is None else peer.cluster
        return [f"{who} has no cacerts: its istiod signs with a self-signed root nobody else trusts"]
    if any(source[1:] == signing[1:] for source in trusted.values()):
        return []
    return [f"the {side} ({holder.cluster}) root-cert.pem does not hold {peer.cluster}'s root {signing[1]}"]


# --- authorization -----------------------------------------------------------------------------


def authorization_hop(fleet: Fleet, destination: Destination, principal: str | None) -> Hop:
    namespace = destination.service.namespace
    config = destination.config
    policies = config.by_namespace.get(("AuthorizationPolicy", ROOT_NAMESPACE), []) + \
        (config.by_namespace.get(("AuthorizationPolicy", namespace), []) if namespace != ROOT_NAMESPACE else [])
    request = Request(principal, destination.target_port, tuple(istio.trust_bundle(config.mesh_config)))
    decision = decide(applicable(policies, namespace, destination.labels), request)
    where = f"at {destination.cluster} ({namespace}/{destination.service.name}, configured by {config.cluster}): "
    keys = ("spec", "rules", decision.rule) if decision.rule is not None else ("spec",)
    return hop("authorization", decision.allowed, where + decision.text, ref(decision.doc, *keys),
               spec=fleet.spec_of_service(destination.service))
