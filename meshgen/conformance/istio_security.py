"""Istio semantic rules for AuthorizationPolicy (AP1–AP10) and PeerAuthentication (PA1–PA4), §9.5–§9.6."""

from __future__ import annotations

import re
from functools import lru_cache

from meshgen.conformance.finding import Finding, child, entry
from meshgen.conformance.istio import _dict, _list, selector_labels
from meshgen.conformance.syntax import is_ip_or_cidr

TARGET_KINDS = {("", "Service"), ("networking.istio.io", "ServiceEntry"),
                ("gateway.networking.k8s.io", "Gateway"), ("gateway.networking.k8s.io", "GatewayClass")}
SOURCE_STRINGS = ("principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks")
OPERATION_STRINGS = ("ports", "methods", "paths", "hosts")
CUSTOM_FORBIDDEN = ("principals", "namespaces", "serviceAccounts", "trustDomains", "requestPrincipals")
_WHEN_KEYS = re.compile(
    r"^(request\.headers\[.+\]|source\.ip|remote\.ip|source\.namespace|source\.serviceAccount|source\.principal|"
    r"source\.trustDomain|request\.auth\.(principal|audiences|presenter|claims\[.+\])|destination\.ip|"
    r"destination\.port|connection\.sni|experimental\..+)$")


def authorization_policy(spec: dict, meta: dict):
    if sum(name in spec for name in ("selector", "targetRef", "targetRefs")) > 1:
        yield Finding("spec", "only one of targetRefs, targetRef or selector can be set", "AP1")
    if "selector" in spec:
        yield from selector_labels(_dict(spec["selector"]).get("matchLabels"), "spec.selector.matchLabels", "AP2", True)
    refs = [("spec.targetRef", spec["targetRef"])] if "targetRef" in spec else []
    refs += [(child("spec.targetRefs", i), ref) for i, ref in enumerate(_list(spec.get("targetRefs")))]
    for path, ref in refs:
        yield from _target_ref(_dict(ref), path)
    yield from _action(spec)
    for index, rule in enumerate(_list(spec.get("rules"))):
        yield from _rule(rule, child("spec.rules", index), spec.get("action") == "CUSTOM")


def _target_ref(ref: dict, path: str):
    if not ref.get("name"):
        yield Finding(child(path, "name"), "targetRef name is required", "AP3")
    if ref.get("namespace"):
        yield Finding(child(path, "namespace"), "cross namespace referencing is not currently supported", "AP3")
    if (ref.get("group") or "", ref.get("kind")) not in TARGET_KINDS:
        yield Finding(path, f"targetRef must be a Service, ServiceEntry, Gateway or GatewayClass, not "
                      f"{ref.get('group') or 'core'}/{ref.get('kind')}", "AP3")


def _action(spec: dict):
    action = spec.get("action") or "ALLOW"
    if "provider" in spec and action != "CUSTOM":
        yield Finding("spec.provider", "provider can only be used with action CUSTOM", "AP4")
    if action == "CUSTOM" and (not spec.get("rules") or not _dict(spec.get("provider")).get("name")):
        yield Finding("spec", "CUSTOM action needs rules and a non-empty provider.name", "AP4")
    if action == "DENY" and not spec.get("rules"):
        yield Finding("spec.rules", "DENY action without rules is not allowed (it would deny nothing)", "AP5")


def _rule(rule, path: str, custom: bool):
    if not isinstance(rule, dict):
        yield Finding(path, "rule must not be null", "AP6")
        return
    for name, inner in (("from", "source"), ("to", "operation")):
        if name in rule and not _list(rule[name]):
            yield Finding(child(path, name), f"'{name}' must not be empty when present", "AP6")
        for index, item in enumerate(_list(rule.get(name))):
            where = child(child(path, name), index)
            if not _dict(item).get(inner):
                yield Finding(child(where, inner), f"{inner} must not be empty", "AP6")
            elif inner == "source":
                yield from _source(_dict(item)[inner], child(where, inner), custom)
            else:
                yield from _operation(_dict(item)[inner], child(where, inner))
    for index, condition in enumerate(_list(rule.get("when"))):
        yield from _condition(_dict(condition), child(child(path, "when"), index), custom)


def _source(source: dict, path: str, custom: bool):
    accounts = [*_list(source.get("serviceAccounts")), *_list(source.get("notServiceAccounts"))]
    if accounts and any(source.get(n) for n in ("principals", "notPrincipals", "namespaces", "notNamespaces")):
        yield Finding(path, "Cannot set serviceAccounts with namespaces or principals", "AP7")
    for name in ("serviceAccounts", "notServiceAccounts"):
        yield from _service_accounts(_list(source.get(name)), child(path, name))
    for name in ("trustDomains", "notTrustDomains"):
        yield from _trust_domains(_list(source.get(name)), child(path, name))
    yield from _strings(source, path, SOURCE_STRINGS)
    for name in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
        for index, block in enumerate(_list(source.get(name))):
            if block and not is_ip_or_cidr(block):
                yield Finding(child(child(path, name), index), f"invalid IP address or CIDR {block!r}", "AP9")
    if custom:
        for name in CUSTOM_FORBIDDEN:
            not_name = "not" + name[0].upper() + name[1:]
            if source.get(name) or source.get(not_name):
                yield Finding(child(path, name), f"{name} is not supported with action CUSTOM", "AP4")


def _service_accounts(accounts: list, path: str):
    if len(accounts) > 16:
        yield Finding(path, "at most 16 service accounts", "AP7")
    for index, account in enumerate(accounts):
        parts = str(account).split("/")
        if "*" in str(account) or len(str(account)) > 320 or len(parts) > 2 or not all(parts):
            yield Finding(child(path, index), f"invalid service account {account!r}: want <sa> or <ns>/<sa>", "AP7")


def _trust_domains(domains: list, path: str):
    for index, domain in enumerate(domains):
        text = str(domain)
        star_ok = text.count("*") <= 1 and ("*" not in text or text.startswith("*") or text.endswith("*"))
        if not text or "/" in text or not star_ok:
            yield Finding(child(path, index), f"invalid trust domain {domain!r}", "AP8")


def _operation(operation: dict, path: str):
    yield from _strings(operation, path, OPERATION_STRINGS)
    for name in ("ports", "notPorts"):
        for index, port in enumerate(_list(operation.get(name))):
            if port and (not str(port).isdigit() or int(port) > 65535):
                yield Finding(child(child(path, name), index), f"invalid port {port!r}", "AP9")
    for name in ("paths", "notPaths"):
        for index, value in enumerate(_list(operation.get(name))):
            if "{" in str(value) and not _path_template_ok(str(value)):
                yield Finding(child(child(path, name), index), f"invalid path template {value!r}", "AP9")


def _path_template_ok(path: str) -> bool:
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if ("{" in segment or "}" in segment) and segment not in ("{*}", "{**}"):
            return False
        if segment == "{**}" and "{**}" in segments[index + 1:]:
            return False
    return True


def _strings(block: dict, path: str, names):
    for field in _with_negations(names):
        values = _list(block.get(field))
        if "" in values or None in values:  # one C-level scan; the loop below locates each empty entry
            for index, value in enumerate(values):
                if value in ("", None):
                    yield Finding(child(child(path, field), index), "empty value is not allowed", "AP9")


@lru_cache(maxsize=None)
def _with_negations(names: tuple[str, ...]) -> tuple[str, ...]:
    """("principals", ...) -> ("principals", "notPrincipals", ...)."""
    return tuple(field for name in names for field in (name, "not" + name[0].upper() + name[1:]))


def _condition(condition: dict, path: str, custom: bool):
    key = condition.get("key") or ""
    if not key:
        yield Finding(child(path, "key"), "key of condition must not be empty", "AP10")
    elif not _WHEN_KEYS.match(key):
        yield Finding(child(path, "key"), f"unknown attribute {key!r}", "AP10")
    elif custom and (key.startswith("request.auth.") or key in ("source.namespace", "source.serviceAccount",
                                                                   "source.trustDomain", "source.principal")):
        yield Finding(child(path, "key"), f"{key} is not supported with action CUSTOM", "AP4")
    if not condition.get("values") and not condition.get("notValues"):
        yield Finding(path, "at least one of values or notValues must be set", "AP10")


# ---- PeerAuthentication ----------------------------------------------------------------------------

def peer_authentication(spec: dict, meta: dict):
    labels = _dict(_dict(spec.get("selector")).get("matchLabels"))
    if "selector" in spec:
        yield from selector_labels(labels, "spec.selector.matchLabels", "PA4", False)
    if "portLevelMtls" not in spec:
        return
    ports = _dict(spec["portLevelMtls"])
    if not labels:
        yield Finding("spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS", "PA1")
    if not ports:
        yield Finding("spec.portLevelMtls", "port level mTLS, if defined, must have at least one element", "PA2")
    for port in ports:
        if not str(port).isdigit() or not 1 <= int(port) <= 65535:
            yield Finding(entry("spec.portLevelMtls", port), f"port {port!r} must be between 1 and 65535", "PA3")
