"""Istio's own rules, one small function each, as the control plane and the proxies apply them.

Sources are istio/istio at 86c9f01 (the commit docs/../shared/reference/istio-multicluster.md was
written from; its §0 keys are given in brackets) unless another source is named.
"""

from __future__ import annotations

from meshgen.explain.index import ROOT_NAMESPACE

DEFAULT_TRUST_DOMAIN = "cluster.local"  # [LB] pkg/config/mesh/mesh.go; also istiod's alias for "local"
AUTO_ALLOCATE_SINCE = 25  # PILOT_ENABLE_IP_AUTOALLOCATE defaults to true from 1.25 ([N125], [FEAT])
MTLS_ALPNS = "istio, istio-peer-exchange, istio-http/1.0, istio-http/1.1, istio-h2"  # [APGW] allIstioMtlsALPNs


# --- names and visibility --------------------------------------------------------------------------


def visible(body: dict, namespace: str) -> bool:
    """exportTo (reference §9 "exportTo", [VIS]): absent means every namespace (the mesh default
    ``*``); ``.`` the object's own namespace; ``~`` none; otherwise the namespaces listed."""
    export_to = body.get("spec", {}).get("exportTo")
    if not export_to:
        return True
    own = body.get("metadata", {}).get("namespace", "")
    return "*" in export_to or namespace in export_to or ("." in export_to and own == namespace)


def host_matches(service_host: str, pattern: str) -> bool:
    """A service host against a Gateway server host (``host.Name.SubsetOf``, pkg/config/host/name.go):
    ``*`` matches all, ``*.suffix`` by suffix, otherwise exactly. A ``ns/`` prefix is dropped first:
    it does not scope AUTO_PASSTHROUGH servers by namespace ([APGW] ``GetSNIHostsForServer``)."""
    pattern = pattern.split("/", 1)[1] if "/" in pattern else pattern
    if pattern.startswith("*"):
        return service_host.endswith(pattern[1:])
    return service_host == pattern


def sni(port: int, host: str, subset: str = "") -> str:
    """The SNI an Istio client sends and AUTO_PASSTHROUGH routes on: ``outbound_.<port>_.<subset>_.<host>``
    ([SNI] ``BuildDNSSrvSubsetKey``, reference §1 and §8.3)."""
    return f"outbound_.{port}_.{subset}_.{host}"


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels / workloadSelector.labels) selects pods carrying every pair."""
    return all(labels.get(k) == v for k, v in selector.items())


def auto_allocated(minor: int, dns_capture: bool, entry: dict) -> bool:
    """An address-less ServiceEntry gets an address a sidecar uses when istiod allocates one (1.25+,
    not for ``resolution: NONE``, not with the opt-out label: [AUTOIP]
    ``shouldV2AutoAllocateIPFromPieces``) and the sidecar captures DNS (pilot/pkg/model/service.go
    ``nodeUsesAutoallocatedIPs``)."""
    labels = entry.get("metadata", {}).get("labels", {})
    spec = entry.get("spec", {})
    return (minor >= AUTO_ALLOCATE_SINCE and dns_capture and not spec.get("addresses")
            and spec.get("resolution", "NONE") != "NONE"
            and labels.get("networking.istio.io/enable-autoallocate-ip", "").lower() != "false")


# --- traffic policy --------------------------------------------------------------------------------


def destination_rule(candidates: list, caller_namespace: str, service_namespace: str):
    """The DestinationRule a sidecar in ``caller_namespace`` applies to a host (pilot/pkg/model/
    push_context.go ``destinationRule``): one in the caller's own namespace, else one exported from
    the service's namespace, else one exported from the root namespace. Rules elsewhere do not apply."""
    for namespace in (caller_namespace, service_namespace, ROOT_NAMESPACE):
        for doc in candidates:
            if doc.body.get("metadata", {}).get("namespace") == namespace and visible(doc.body, caller_namespace):
                return doc
    return None


def tls_mode(rule: dict | None, port: int) -> str:
    """The client TLS mode a DestinationRule sets for a port ('' when unset: auto mTLS), port-level
    settings first ([EPF] mtls_checker.go ``trafficPolicyTLSModeForPort``)."""
    policy = (rule or {}).get("spec", {}).get("trafficPolicy", {})
    for settings in policy.get("portLevelSettings", []):
        if settings.get("port", {}).get("number") == port and "tls" in settings:
            return settings["tls"].get("mode", "")
    return policy.get("tls", {}).get("mode", "")


def peer_authentication(candidates: list, namespace: str, labels: dict, port: int) -> tuple[str, object]:
    """(mode, deciding document) for a workload port: workload policy over namespace policy over the
    root-namespace policy, UNSET inherits, PERMISSIVE when none (pilot/pkg/security/authn/
    policy_applier.go ``ComposePeerAuthentication``, reference §8.2)."""
    mode, decided = "PERMISSIVE", None
    for level in ("mesh", "namespace", "workload"):
        for doc in candidates:
            spec = doc.body.get("spec", {})
            if _pa_level(doc.body, namespace, labels) == level:
                found = spec.get("mtls", {}).get("mode", "UNSET")
                port_mode = spec.get("portLevelMtls", {}).get(port, spec.get("portLevelMtls", {}).get(str(port), {}))
                found = port_mode.get("mode", found) if level == "workload" and port_mode else found
                if found != "UNSET":
                    mode, decided = found, doc
                break
    return mode, decided


def _pa_level(body: dict, namespace: str, labels: dict) -> str:
    own = body.get("metadata", {}).get("namespace", "")
    selector = body.get("spec", {}).get("selector", {}).get("matchLabels", {})
    if not selector:
        return "mesh" if own == ROOT_NAMESPACE else ("namespace" if own == namespace else "")
    return "workload" if own == namespace and own != ROOT_NAMESPACE and selects(selector, labels) else ""


# --- identity --------------------------------------------------------------------------------------


def spiffe(trust_domain: str, namespace: str, service_account: str) -> str:
    """The workload identity (reference §1); AuthorizationPolicy principals omit ``spiffe://``."""
    return f"{trust_domain}/ns/{namespace}/sa/{service_account}"


def string_match(pattern: str, value: str) -> bool:
    """Istio's string match for principals (pilot/pkg/security/authz/matcher/string.go
    ``StringMatcherWithPrefix``): ``*`` any non-empty value, ``*x`` suffix, ``x*`` prefix, else exact."""
    if pattern == "*":
        return bool(value)
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def expand_aliases(principals: list[str], bundle: list[str]) -> list[str]:
    """istiod's rewrite of policy principals for a mesh with trust domain aliases (pilot/pkg/security/
    trustdomain/bundle.go ``ReplaceTrustDomainAliases``, reference §5.9): a five-part principal whose
    trust domain is in the bundle, matches one of it by ``*`` prefix/suffix, or is ``cluster.local``,
    becomes one principal per trust domain of the bundle; anything else stays as written."""
    out: list[str] = []
    for principal in principals:
        parts = principal.split("/")
        if len(parts) != 5 or parts[0] == "*":
            expanded = [principal]
        elif _td_match(parts[0], bundle) or parts[0] == DEFAULT_TRUST_DOMAIN:
            expanded = [principal if _suffix(td, parts[0]) else "/".join([td, *parts[1:]]) for td in bundle]
        else:
            expanded = [principal]
        out += [p for p in expanded if p not in out]
    return out


def _td_match(value: str, bundle: list[str]) -> bool:
    """trustdomain/util.go ``stringMatch``: equal, ``*``, or a ``*`` prefix/suffix either way."""
    return any(value == td or td == "*" or _prefix(value, td) or _prefix(td, value) or _suffix(value, td)
               or _suffix(td, value) for td in bundle)


def _prefix(value: str, pattern: str) -> bool:
    return pattern.endswith("*") and value.startswith(pattern[:-1])


def _suffix(value: str, pattern: str) -> bool:
    return pattern.startswith("*") and value.endswith(pattern[1:])


def trust_bundle(mesh_config: dict) -> list[str]:
    """The trust domain and its aliases: what principals are rewritten with ([TD] bundle.go ``NewBundle``)."""
    return [mesh_config.get("trustDomain") or DEFAULT_TRUST_DOMAIN, *mesh_config.get("trustDomainAliases", [])]


def accepted_trust_domains(mesh_config: dict) -> list[str]:
    """Trust domains a sidecar accepts client certificates from: its own, the aliases, and every
    ``caCertificates[].trustDomains`` (pilot/pkg/networking/plugin/authn/util.go
    ``TrustDomainsForValidation``, reference §5.9; unless PILOT_SKIP_VALIDATE_TRUST_DOMAIN)."""
    found = trust_bundle(mesh_config)
    for entry in mesh_config.get("caCertificates", []):
        found += entry.get("trustDomains", [])
    return list(dict.fromkeys(found))
