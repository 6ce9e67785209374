"""Istio semantic rules for Gateway (GW1–GW12) and VirtualService basics (VS1–VS5), reference §9.2/§9.4."""

from __future__ import annotations

from meshgen.conformance.finding import WARNING, Finding, child
from meshgen.conformance.istio import _dict, _list, export_to
from meshgen.conformance.syntax import (
    TLS_FAMILY, is_dns1123_label, is_ip, is_partial_wildcard, is_port, protocol_valid, wildcard_domain_error,
)

CERT_FIELDS = ("serverCertificate", "privateKey", "caCertificates", "tlsCertificates", "credentialName", "credentialNames")


def gateway(spec: dict, meta: dict):
    name = meta.get("name")
    if name and not is_dns1123_label(name):
        yield Finding("metadata.name", f"Gateway name {name!r} must be a DNS-1123 label (no dots)", "GW1")
    servers = _list(spec.get("servers"))
    if not servers:
        yield Finding("spec.servers", "gateway must have at least one server", "GW2")
    port_names: set = set()
    for index, server in enumerate(servers):
        path = child("spec.servers", index)
        if not isinstance(server, dict):
            yield Finding(path, "server config must not be empty", "GW2")
            continue
        yield from _server_hosts(server, path)
        yield from _server_port(server, path, port_names)
        yield from _server_tls(server, path)


def gateway_host_error(host) -> str:
    """ValidateNamespaceSlashWildcardHostname for a Gateway: [ns/]host."""
    if not isinstance(host, str) or not host:
        return "host must not be empty"
    namespace, slash, name = host.partition("/")
    if not slash:
        namespace, name = "*", host
    if namespace not in ("*", ".") and not is_dns1123_label(namespace):
        return f"invalid namespace {namespace!r} in host: must be '*', '.' or a namespace name"
    if name == "*":
        return ""
    if "." not in name:
        return f"host {name!r} must be '*' or a FQDN"
    if is_partial_wildcard(name):
        return f"partial wildcard {name!r} is not allowed"
    if is_ip(name):
        return ""
    return wildcard_domain_error(name)


def _server_hosts(server: dict, path: str):
    hosts = _list(server.get("hosts"))
    if not hosts:
        yield Finding(child(path, "hosts"), "server must have at least one host", "GW3")
    for index, host in enumerate(hosts):
        if problem := gateway_host_error(host):
            yield Finding(child(child(path, "hosts"), index), problem, "GW3")


def _server_port(server: dict, path: str, port_names: set):
    port = server.get("port")
    if not isinstance(port, dict):
        yield Finding(child(path, "port"), "port is required", "GW4")
        return
    bind = server.get("bind") or ""
    number, name = port.get("number"), port.get("name")
    if not protocol_valid(port.get("protocol")) or not port.get("protocol"):
        yield Finding(child(path, "port.protocol"), f"invalid protocol {port.get('protocol')!r}", "GW4")
    if not (is_port(number) or (bind.startswith("unix://") and number == 0)):
        yield Finding(child(path, "port.number"), f"port number {number} must be between 1 and 65535", "GW4")
    if port.get("targetPort"):
        yield Finding(child(path, "port.targetPort"), "targetPort has no effect on a Gateway and must not be set", "GW4")
    if not name:
        yield Finding(child(path, "port.name"), "port name is required", "GW4")
    elif name in port_names:
        yield Finding(child(path, "port.name"), f"port names in servers must be unique: duplicate name {name}", "GW5")
    port_names.add(name)
    if bind.startswith("unix://"):
        if number != 0 or not bind[len("unix://"):].startswith("/"):
            yield Finding(child(path, "bind"), "unix:// bind needs an absolute path and port number 0", "GW6")
    elif bind and not is_ip(bind):
        yield Finding(child(path, "bind"), f"bind {bind!r} must be an IP address or unix:// path", "GW6")


def _server_tls(server: dict, path: str):
    protocol = str(_dict(server.get("port")).get("protocol") or "").upper()
    tls = server.get("tls")
    tls_path = child(path, "tls")
    if protocol in TLS_FAMILY and not isinstance(tls, dict):
        yield Finding(tls_path, f"server with protocol {protocol} must have tls settings", "GW7")
        return
    if not isinstance(tls, dict):
        return
    certs = [f for f in CERT_FIELDS if tls.get(f)]
    if protocol not in TLS_FAMILY and not (protocol == "HTTP" and tls.get("httpsRedirect") and not certs):
        yield Finding(tls_path, f"tls settings on a {protocol or 'non-TLS'} server are only allowed for an HTTP httpsRedirect", "GW8")
    yield from _tls_mode(tls, tls_path, certs)


def _tls_mode(tls: dict, path: str, certs: list):
    mode = tls.get("mode") or "PASSTHROUGH"
    if mode == "ISTIO_MUTUAL" and certs:
        yield Finding(path, f"ISTIO_MUTUAL TLS cannot have associated certificates ({', '.join(certs)})", "GW9")
    if mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH") and (certs or tls.get("caCrl")):
        yield Finding(path, f"{mode} mode does not use certificates; they are ignored", "GW10", WARNING)
    sources = [bool(tls.get("serverCertificate") or tls.get("privateKey")), bool(tls.get("credentialName")),
               bool(tls.get("credentialNames")), bool(tls.get("tlsCertificates"))]
    if sum(sources) > 1:
        yield Finding(path, "only one of serverCertificate/privateKey, credentialName, credentialNames or "
                      "tlsCertificates can be set", "GW11")
    if mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL") and not (tls.get("credentialName") or tls.get("credentialNames")):
        yield from _file_certs(tls, path, mode)


def _file_certs(tls: dict, path: str, mode: str):
    if tls.get("tlsCertificates"):
        return
    for field in ("serverCertificate", "privateKey"):
        if not tls.get(field):
            yield Finding(child(path, field), f"{mode} TLS requires {field} when no credentialName is set", "GW12")
    if mode != "SIMPLE" and not tls.get("caCertificates"):
        yield Finding(child(path, "caCertificates"), f"{mode} TLS requires caCertificates", "GW12")


# ---- VirtualService ------------------------------------------------------------------------------

def virtual_service(spec: dict, meta: dict):
    hosts, gateways = _list(spec.get("hosts")), _list(spec.get("gateways"))
    if not hosts and (gateways or spec.get("tls") or spec.get("tcp")):
        yield Finding("spec.hosts", "a delegate VirtualService (no hosts) must not set gateways, tls or tcp", "VS1")
    yield from _vs_hosts(hosts, gateways)
    if not any(spec.get(kind) for kind in ("http", "tcp", "tls")):
        yield Finding("spec", "http, tcp or tls must be provided in a VirtualService", "VS3")
    yield from _vs_gateways(gateways)
    for kind in ("http", "tcp", "tls"):
        for index, route in enumerate(_list(spec.get(kind))):
            yield from _vs_destinations(_dict(route).get("route"), child(child(child("spec", kind), index), "route"))
    yield from export_to(spec.get("exportTo"), meta.get("namespace", ""), "VS7")


def _vs_hosts(hosts: list, gateways: list):
    seen: set = set()
    bound_to_mesh = not gateways or "mesh" in gateways
    for index, host in enumerate(hosts):
        path = child("spec.hosts", index)
        if host == "*" and bound_to_mesh:
            yield Finding(path, "wildcard host * is not allowed for virtual services bound to the mesh gateway", "VS2")
        elif not is_ip(host) and (problem := wildcard_domain_error(host)):
            yield Finding(path, f"invalid host {host!r}: {problem}", "VS2")
        if host in seen:
            yield Finding(path, f"duplicate host {host!r}", "VS2")
        seen.add(host)


def _vs_gateways(gateways: list):
    for index, name in enumerate(gateways):
        path = child("spec.gateways", index)
        if name == "mesh":
            continue
        namespace, slash, short = str(name).partition("/")
        if slash and not (is_dns1123_label(namespace) and is_dns1123_label(short)):
            yield Finding(path, f"invalid gateway {name!r}: want <namespace>/<name> with DNS-1123 labels", "VS4")
        elif not slash and wildcard_domain_error(name):
            yield Finding(path, f"invalid gateway {name!r}: want <namespace>/<name>", "VS4")
        elif not slash and "." in name:
            yield Finding(path, f"gateway {name!r} uses the legacy FQDN form; prefer <namespace>/<name>", "VS4", WARNING)


def _vs_destinations(routes, path: str):
    routes = _list(routes)
    for index, route in enumerate(routes):
        destination = _dict(_dict(route).get("destination"))
        where = child(child(path, index), "destination")
        host = destination.get("host")
        if host == "*" or wildcard_domain_error(host):
            yield Finding(child(where, "host"), f"invalid destination host {host!r}", "VS5")
        if "subset" in destination and not is_dns1123_label(destination["subset"]):
            yield Finding(child(where, "subset"), f"subset {destination['subset']!r} must be a DNS-1123 label", "VS5")
        number = _dict(destination.get("port")).get("number")
        if number is not None and not is_port(number):
            yield Finding(child(where, "port.number"), f"port number {number} must be between 1 and 65535", "VS5")
        if (_dict(route).get("weight") or 0) < 0:
            yield Finding(child(child(path, index), "weight"), "weight must not be negative", "VS5")
    if len(routes) > 1 and sum(_dict(r).get("weight") or 0 for r in routes) == 0:
        yield Finding(path, "total destination weight is 0", "VS5")
