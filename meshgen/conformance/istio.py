"""Istio's semantic webhook rules (istiod ``ValidateServiceEntry`` etc., reference §9) for the
networking kinds meshgen emits; the policy kinds are in ``istio_policy``. Each check is a small
generator of Findings naming the JSON path of the field; rule ids are the reference's (SE10, GW3)."""

from __future__ import annotations

from meshgen.conformance.finding import ERROR, WARNING, Finding, child, entry
from meshgen.conformance.syntax import (
    HTTP_FAMILY, TLS_FAMILY, fqdn_error, is_cidr, is_dns1123_label, is_ip, is_ip_or_cidr,
    is_partial_wildcard, is_port, label_key_error, label_value_error, protocol_valid, wildcard_domain_error,
)

REJECTED_ANNOTATIONS = ("internal.istio.io/webhook-always-reject", "internal.istio.io/parent-namespace",
                        "internal.istio.io/parents")


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


# ---- shared helpers --------------------------------------------------------------------------------

def metadata_rules(kind: str, meta: dict, spec: dict):
    """M1, M2: annotations istiod reserves."""
    annotations = _dict(meta.get("annotations"))
    for key in REJECTED_ANNOTATIONS:
        if key in annotations:
            yield Finding(entry("metadata.annotations", key), f"annotation {key} is reserved by istiod", "M2")
    if "istio.io/dry-run" in annotations:
        value = str(annotations["istio.io/dry-run"]).lower()
        if kind != "AuthorizationPolicy" or value not in ("true", "false", "1", "0", "t", "f"):
            yield Finding(entry("metadata.annotations", "istio.io/dry-run"),
                          "istio.io/dry-run is only for AuthorizationPolicy and must be a boolean", "M1")
        elif spec.get("action", "ALLOW") not in ("ALLOW", "DENY"):
            yield Finding("spec.action", "istio.io/dry-run is only supported for ALLOW and DENY", "M1")


def label_map(labels, path: str, rule: str):
    """labels.Instance.Validate: Kubernetes label keys and values."""
    for key, value in _dict(labels).items():
        if problem := label_key_error(key) or label_value_error(value):
            yield Finding(entry(path, key), f"invalid label {key}={value}: {problem}", rule)


def selector_labels(labels, path: str, rule: str, present: bool):
    """Workload selector: no empty key, no '*' in key or value (E); a selector without labels (W)."""
    labels = _dict(labels)
    if present and not labels:
        yield Finding(path, "selector has no labels: it selects every workload in the namespace", rule, WARNING)
    for key, value in labels.items():
        if not key:
            yield Finding(path, "empty label key in selector", rule)
        elif "*" in key or "*" in str(value):
            yield Finding(entry(path, key), "wildcard is not supported in selector", rule)


def export_to(values, namespace: str, rule: str, allow_none: bool = False, selector: bool = False):
    """validateExportTo: no duplicates ('.' is the own namespace); '.', '*', a label, or '~' (SE)."""
    seen: set[str] = set()
    for index, value in enumerate(_list(values)):
        path = child("spec.exportTo", index)
        key = namespace if value == "." and namespace else value
        if key in seen:
            yield Finding(path, f"duplicate entries in exportTo: {value}", rule)
        elif not (value in (".", "*") or (allow_none and value == "~") or is_dns1123_label(value)):
            yield Finding(path, f"invalid exportTo {value!r}: must be '.', '*'{', ~' if allow_none else ''} or a namespace", rule)
        seen.add(key)
    for only in ("*", "~"):
        if only in seen and len(seen) > 1:
            yield Finding("spec.exportTo", f"exportTo '{only}' must be the only entry", rule)
    if selector and seen and seen != {namespace or "."}:
        yield Finding("spec.exportTo", "destination rule with workload selector cannot have exportTo beyond current namespace", rule)


def address_error(address: str, fqdn_allowed: bool) -> str:
    """SE14/WE2: unix:// absolute path or @abstract, not a dir; otherwise an IP (or FQDN)."""
    if address.startswith("unix://"):
        path = address[len("unix://"):]
        if not path.startswith(("/", "@")) or path.endswith("/"):
            return f"invalid unix domain socket address {address!r}: must be an absolute path or @abstract, not a dir"
        return ""
    if is_ip(address) or (fqdn_allowed and not fqdn_error(address)):
        return ""
    return f"invalid address {address!r}: must be an IP" + (" or FQDN" if fqdn_allowed else "")


def endpoint_ports(ports, path: str, port_names: set | None, rule: str):
    for name, number in _dict(ports).items():
        if port_names is not None and name not in port_names:
            yield Finding(entry(path, name), f"endpoint port {name!r} is not a port name of the ServiceEntry", rule)
        if not is_dns1123_label(name):
            yield Finding(entry(path, name), f"invalid port name {name!r}: must be a DNS-1123 label", rule)
        if not is_port(number):
            yield Finding(entry(path, name), f"port number {number} must be between 1 and 65535", rule)


# ---- ServiceEntry ----------------------------------------------------------------------------------

def service_entry(spec: dict, meta: dict, auto_allocation: bool = True):
    """``auto_allocation``: whether istiod allocates addresses (PILOT_ENABLE_IP_AUTOALLOCATE)."""
    resolution = spec.get("resolution") or "NONE"
    hosts = _list(spec.get("hosts"))
    yield from _se_selector(spec)
    yield from _se_hosts(hosts, resolution)
    yield from _se_addresses(_list(spec.get("addresses")), resolution)
    yield from _se_ports(_list(spec.get("ports")))
    yield from _se_resolution(spec, resolution, hosts, meta, auto_allocation)
    yield from export_to(spec.get("exportTo"), meta.get("namespace", ""), "SE22", allow_none=True)


def _se_selector(spec: dict):
    if "workloadSelector" not in spec:
        return
    yield from selector_labels(_dict(spec["workloadSelector"]).get("labels"), "spec.workloadSelector.labels", "SE1", False)
    if not _dict(spec["workloadSelector"]).get("labels"):
        yield Finding("spec.workloadSelector", "workloadSelector has no labels", "SE2", WARNING)
    if "endpoints" in spec:
        yield Finding("spec", "only one of workloadSelector or endpoints can be set", "SE3")


def _se_hosts(hosts: list, resolution: str):
    if not hosts:
        yield Finding("spec.hosts", "ServiceEntry must have at least one host", "SE4")
    for index, host in enumerate(hosts):
        path = child("spec.hosts", index)
        if host == "*":
            yield Finding(path, "hostname cannot be wildcard '*'", "SE5")
        elif problem := wildcard_domain_error(host):
            yield Finding(path, f"invalid host {host!r}: {problem}", "SE6")
        elif is_partial_wildcard(host) and resolution != "DYNAMIC_DNS":
            yield Finding(path, f"partial wildcard host {host!r} is only meaningful with DYNAMIC_DNS", "SE7", WARNING)


def _se_addresses(addresses: list, resolution: str):
    for index, address in enumerate(addresses):
        path = child("spec.addresses", index)
        if not is_ip_or_cidr(address):
            yield Finding(path, f"invalid address {address!r}: must be an IP or a CIDR", "SE8")
        elif is_cidr(address) and resolution not in ("NONE", "STATIC"):
            yield Finding(path, "CIDR addresses are allowed only for NONE/STATIC resolution types", "SE9")


def _se_ports(ports: list):
    names, numbers = set(), set()
    for index, port in enumerate(ports):
        path = child("spec.ports", index)
        if not isinstance(port, dict):
            yield Finding(path, "port must not be null", "SE10")
            continue
        name, number = port.get("name"), port.get("number")
        if name in names:
            yield Finding(child(path, "name"), f"duplicate port name {name!r}", "SE10")
        if number in numbers:
            yield Finding(child(path, "number"), f"duplicate port number {number}", "SE10")
        names.add(name)
        numbers.add(number)
        if not is_dns1123_label(name):
            yield Finding(child(path, "name"), f"invalid port name {name!r}: must be a DNS-1123 label", "SE10")
        if not protocol_valid(port.get("protocol")):
            yield Finding(child(path, "protocol"), f"unrecognized protocol {port.get('protocol')!r}", "SE10")
        if not is_port(number):
            yield Finding(child(path, "number"), f"port number {number} must be between 1 and 65535", "SE10")
        if port.get("targetPort") not in (None, 0) and not is_port(port.get("targetPort")):
            yield Finding(child(path, "targetPort"), f"targetPort {port['targetPort']} must be between 1 and 65535", "SE10")


def _se_resolution(spec: dict, resolution: str, hosts: list, meta: dict, auto_allocation: bool = True):
    endpoints = _list(spec.get("endpoints"))
    protocols = [str(_dict(p).get("protocol") or "").upper() for p in _list(spec.get("ports"))]
    if resolution == "NONE" and "endpoints" in spec:
        yield Finding("spec.endpoints", "NONE mode cannot set endpoints", "SE12")
    if resolution == "NONE" and "workloadSelector" in spec:
        yield Finding("spec.workloadSelector", "workloadSelector is ignored with resolution NONE", "SE13", WARNING)
    if resolution == "STATIC":
        yield from _se_endpoints(spec, endpoints, fqdn_allowed=False)
    if resolution in ("DNS", "DNS_ROUND_ROBIN"):
        yield from _se_dns(spec, resolution, hosts, endpoints, protocols)
    if resolution == "DYNAMIC_DNS":
        yield from _se_dynamic_dns(spec, hosts, protocols)
    if resolution != "NONE" and len(hosts) > 1:
        for index, protocol in enumerate(protocols):
            if protocol not in HTTP_FAMILY | TLS_FAMILY:
                yield Finding(child(child("spec.ports", index), "protocol"),
                              "multiple hosts provided with non-HTTP, non-TLS ports", "SE21")
    opted_out = _dict(meta.get("labels")).get("networking.istio.io/enable-autoallocate-ip") == "false"
    auto_allocate = auto_allocation and resolution != "NONE" and not opted_out
    if not spec.get("addresses") and not auto_allocate and any(p in ("", "TCP") for p in protocols):
        yield Finding("spec.addresses", "addresses are required for TCP ports without IP auto-allocation", "SE11", WARNING)


def _se_dns(spec: dict, resolution: str, hosts: list, endpoints: list, protocols: list):
    if not endpoints:
        for index, host in enumerate(hosts):
            if isinstance(host, str) and (problem := fqdn_error(host)):
                yield Finding(child("spec.hosts", index), f"hosts must be FQDNs with {resolution} and no endpoints: {problem}", "SE15")
    if resolution == "DNS_ROUND_ROBIN" and len(endpoints) > 1:
        yield Finding("spec.endpoints", "DNS_ROUND_ROBIN mode cannot have multiple endpoints", "SE16")
    yield from _se_endpoints(spec, endpoints, fqdn_allowed=True)
    if spec.get("addresses") and len(hosts) > 1 and any(p in TLS_FAMILY | {"TCP", "MONGO", "REDIS", "MYSQL"} for p in protocols):
        yield Finding("spec.addresses", "addresses with several hosts and TCP-family ports route by SNI only", "SE18", WARNING)


def _se_dynamic_dns(spec: dict, hosts: list, protocols: list):
    if not hosts or any(isinstance(h, str) and not h.startswith("*") for h in hosts):
        yield Finding("spec.hosts", "DYNAMIC_DNS requires every host to be a wildcard", "SE19")
    for field in ("addresses", "endpoints"):
        if spec.get(field):
            yield Finding(child("spec", field), f"DYNAMIC_DNS cannot set {field}", "SE19")
    if any(p not in ("HTTP", "TLS", "GRPC", "HTTP2") for p in protocols):
        yield Finding("spec.ports", "DYNAMIC_DNS supports only HTTP and TLS ports", "SE19")


def _se_endpoints(spec: dict, endpoints: list, fqdn_allowed: bool):
    port_names = {_dict(p).get("name") for p in _list(spec.get("ports"))}
    rule = "SE17" if fqdn_allowed else "SE14"
    for index, endpoint in enumerate(endpoints):
        path = child("spec.endpoints", index)
        if not isinstance(endpoint, dict):
            yield Finding(path, "endpoint must not be null", rule)
            continue
        yield from workload_address(endpoint, path, fqdn_allowed, rule, single_port=len(port_names) == 1)
        yield from endpoint_ports(endpoint.get("ports"), child(path, "ports"), port_names, rule)
        yield from label_map(endpoint.get("labels"), child(path, "labels"), rule)


def workload_address(workload: dict, path: str, fqdn_allowed: bool, rule: str, single_port: bool = True,
                     missing_rule: str = ""):
    address = workload.get("address") or ""
    if not address:
        severity = WARNING if workload.get("network") else ERROR
        yield Finding(child(path, "address"), "address is required unless network is set", missing_rule or rule, severity)
        return
    if problem := address_error(address, fqdn_allowed):
        yield Finding(child(path, "address"), problem, rule)
    if address.startswith("unix://") and (workload.get("ports") or not single_port):
        yield Finding(child(path, "address"), "unix domain socket endpoints take no ports and exactly one service port", rule)


# ---- WorkloadEntry ---------------------------------------------------------------------------------

def workload_entry(spec: dict, meta: dict):
    yield from workload_address(spec, "spec", fqdn_allowed=True, rule="WE2", missing_rule="WE1")
    yield from endpoint_ports(spec.get("ports"), "spec.ports", None, "WE3")
    yield from label_map(spec.get("labels"), "spec.labels", "WE3")
