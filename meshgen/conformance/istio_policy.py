"""Istio semantic rules for DestinationRule (DR1–DR14), AuthorizationPolicy (AP1–AP10) and
PeerAuthentication (PA1–PA4), reference §9.3, §9.5, §9.6."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from meshgen.conformance.finding import WARNING, Finding, child, entry
from meshgen.conformance.istio import _dict, _list, export_to, label_map, selector_labels
from meshgen.conformance.syntax import is_dns1123_label, wildcard_domain_error

_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
POLICY_FIELDS = ("outlierDetection", "connectionPool", "loadBalancer", "tls", "portLevelSettings", "tunnel",
                 "proxyProtocol", "retryBudget")
TOPOLOGY_LABELS = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone")


@lru_cache(maxsize=4096)
def duration_error(value) -> str:
    """ValidateDuration: a Go/proto duration string of at least 1ms, in whole milliseconds."""
    text = str(value)
    if not text or _DURATION_PART.sub("", text) != "":
        return f"invalid duration {text!r}"
    nanos = sum(Fraction(number) * _NANOS[unit] for number, unit in _DURATION_PART.findall(text))
    if nanos < 10**6 or nanos % 10**6:
        return f"duration {text!r} must be at least 1ms and in whole milliseconds"
    return ""


# ---- DestinationRule -------------------------------------------------------------------------------

def destination_rule(spec: dict, meta: dict):
    host = spec.get("host")
    if host != "*" and (problem := wildcard_domain_error(host)):
        yield Finding("spec.host", f"invalid host {host!r}: {problem}", "DR1")
    if "trafficPolicy" in spec:
        yield from traffic_policy(spec["trafficPolicy"], "spec.trafficPolicy", meta)
    yield from _subsets(_list(spec.get("subsets")), meta)
    yield from export_to(spec.get("exportTo"), meta.get("namespace", ""), "DR14", selector="workloadSelector" in spec)
    if "workloadSelector" in spec:
        yield from selector_labels(_dict(spec["workloadSelector"]).get("matchLabels"),
                                   "spec.workloadSelector.matchLabels", "DR15", True)


def traffic_policy(policy, path: str, meta: dict, fields=POLICY_FIELDS):
    policy = _dict(policy)
    if not any(policy.get(name) is not None for name in fields):
        yield Finding(path, f"traffic policy must set at least one of {', '.join(fields)}", "DR2")
    if "tunnel" in policy and "proxyProtocol" in policy:
        yield Finding(path, "tunnel and proxyProtocol cannot be set together", "DR2")
    outlier = policy.get("outlierDetection")
    yield from _outlier(_dict(outlier), child(path, "outlierDetection"))
    locality = _dict(_dict(policy.get("loadBalancer")).get("localityLbSetting"))
    yield from _locality(locality, child(path, "loadBalancer.localityLbSetting"), outlier is not None)
    if "tls" in policy:
        yield from _tls(_dict(policy["tls"]), child(path, "tls"), meta)
    for index, settings in enumerate(_list(policy.get("portLevelSettings"))):
        where = child(child(path, "portLevelSettings"), index)
        if not _dict(settings).get("port"):
            yield Finding(child(where, "port"), "port is required in portLevelSettings", "DR12")
        yield from traffic_policy(settings, where, meta, ("outlierDetection", "connectionPool", "loadBalancer", "tls"))


def _outlier(outlier: dict, path: str):
    for name in ("baseEjectionTime", "interval"):
        if name in outlier and (problem := duration_error(outlier[name])):
            yield Finding(child(path, name), problem, "DR3")
    if (outlier.get("consecutiveLocalOriginFailures") or 0) > 0 and not outlier.get("splitExternalLocalOriginErrors"):
        yield Finding(child(path, "consecutiveLocalOriginFailures"),
                      "consecutiveLocalOriginFailures requires splitExternalLocalOriginErrors: true", "DR3")
    for name in ("maxEjectionPercent", "minHealthPercent"):
        if not 0 <= (outlier.get(name) or 0) <= 100:
            yield Finding(child(path, name), f"{name} must be between 0 and 100", "DR3")


def locality_error(locality) -> str:
    if not isinstance(locality, str) or not locality:
        return "empty locality"
    if locality.count("*") > 1 or ("*" in locality and not locality.endswith("*")):
        return f"locality {locality!r}: a wildcard is only allowed once, at the end"
    parts = locality.split("/")
    if len(parts) > 3 or any(not part for part in parts):
        return f"locality {locality!r} must be region[/zone[/subzone]] with no empty segment"
    return ""


def _locality(setting: dict, path: str, has_outlier: bool):
    distribute, failover = _list(setting.get("distribute")), _list(setting.get("failover"))
    priority = _list(setting.get("failoverPriority"))
    if distribute and failover:
        yield Finding(path, "distribute and failover cannot both be set", "DR8")
    if failover and any(label in TOPOLOGY_LABELS for label in priority):
        yield Finding(child(path, "failoverPriority"), "failover cannot be combined with topology labels in failoverPriority", "DR8")
    seen: set = set()
    for index, item in enumerate(distribute):
        yield from _distribute(_dict(item), child(child(path, "distribute"), index), seen)
    for index, item in enumerate(failover):
        where, source, target = child(child(path, "failover"), index), _dict(item).get("from"), _dict(item).get("to")
        if source == target:
            yield Finding(where, "failover 'from' and 'to' must differ", "DR8")
        if any("/" in str(v) or "*" in str(v) for v in (source, target)):
            yield Finding(where, "failover 'from' and 'to' are regions: no '/' or '*'", "DR8")
    if (failover or priority) and not has_outlier:
        yield Finding(path, "failover and failoverPriority only take effect with outlierDetection", "DR9", WARNING)


def _distribute(item: dict, path: str, seen: set):
    source = item.get("from")
    if problem := locality_error(source):
        yield Finding(child(path, "from"), problem, "DR8")
    if source in seen:
        yield Finding(child(path, "from"), f"locality {source!r} is distributed twice", "DR8")
    seen.add(source)
    weights = _dict(item.get("to"))
    for target, weight in weights.items():
        if problem := locality_error(target):
            yield Finding(entry(child(path, "to"), target), problem, "DR8")
        if not isinstance(weight, int) or not 1 <= weight <= 100:
            yield Finding(entry(child(path, "to"), target), "weight must be between 1 and 100", "DR8")
    if sum(w for w in weights.values() if isinstance(w, int)) != 100:
        yield Finding(child(path, "to"), "the weights of a distribute entry must add up to 100", "DR8")


def _tls(tls: dict, path: str, meta: dict):
    mode, credential = tls.get("mode"), tls.get("credentialName") or ""
    if tls.get("insecureSkipVerify"):
        clashing = ("caCertificates", "subjectAltNames") + (("credentialName",) if mode == "SIMPLE" else ())
        if mode in ("SIMPLE", "MUTUAL") and any(tls.get(f) for f in clashing):
            yield Finding(path, f"cannot set {'/'.join(clashing)} when insecureSkipVerify is true", "DR11")
    if mode in ("SIMPLE", "MUTUAL") and credential:
        if any(tls.get(f) for f in ("clientCertificate", "caCertificates", "privateKey", "caCrl")):
            yield Finding(path, "cannot specify client certificates, CA certificate or CA CRL if credentialName is set", "DR11")
    elif mode == "MUTUAL":
        for name in ("clientCertificate", "privateKey"):
            if not tls.get(name):
                yield Finding(child(path, name), f"{name} is required for MUTUAL TLS without credentialName", "DR11")
    namespace, slash, _ = credential.removeprefix("configmap://").partition("/")
    if credential.startswith("configmap://") and slash and namespace != meta.get("namespace"):
        yield Finding(child(path, "credentialName"), "a configmap:// credential must be in the DestinationRule's namespace", "DR11")


def _subsets(subsets: list, meta: dict):
    names: set = set()
    for index, subset in enumerate(subsets):
        path = child("spec.subsets", index)
        if not isinstance(subset, dict):
            yield Finding(path, "subset must not be null", "DR13")
            continue
        name = subset.get("name")
        if not is_dns1123_label(name):
            yield Finding(child(path, "name"), f"subset name {name!r} must be a DNS-1123 label", "DR13")
        if name in names:
            yield Finding(child(path, "name"), f"duplicate subset name {name!r}", "DR13")
        names.add(name)
        yield from label_map(subset.get("labels"), child(path, "labels"), "DR13")
        if "trafficPolicy" in subset:
            yield from traffic_policy(subset["trafficPolicy"], child(path, "trafficPolicy"), meta)
