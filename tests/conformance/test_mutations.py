"""Start from a valid object, break one thing, and expect a finding that names the field path."""

from __future__ import annotations

import pytest

from meshgen.conformance import validate_object
from tests.conformance.conftest import VALID


@pytest.mark.parametrize("kind", sorted(VALID))
def test_starting_objects_are_valid(kind, valid):
    assert validate_object(valid(kind)) == []


def _set(obj: dict, path: str, value):
    *parents, last = path.split(".")
    node = obj
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return obj


DELETE = object()

MUTATIONS = [
    # (kind, dotted field to set, value, expected finding path, expected message part)
    ("ServiceEntry", "spec.resolution", "DNZ", "spec.resolution", "Unsupported value"),
    ("ServiceEntry", "spec.location", "MESH_OUTSIDE", "spec.location", "Unsupported value"),
    ("ServiceEntry", "spec.hostz", ["x.example.com"], "spec", 'unknown field "hostz"'),
    ("ServiceEntry", "metadata.owner", "me", "metadata", 'unknown field "owner"'),
    ("ServiceEntry", "extra", 1, "", 'unknown field "extra"'),
    ("ServiceEntry", "spec.ports.0.number", 0, "spec.ports[0].number", "port must be between 1-65535"),
    ("ServiceEntry", "spec.ports.0.name", "HTTP_web", "spec.ports[0].name", "DNS-1123"),
    ("ServiceEntry", "spec.hosts.0", "*", "spec.hosts[0]", "hostname cannot be wildcard"),
    ("ServiceEntry", "spec.hosts.0", "bad_host.example.com", "spec.hosts[0]", "invalid host"),
    ("ServiceEntry", "spec.hosts.0", "10.0.0.1", "spec.hosts[0]", "all-numeric"),
    ("ServiceEntry", "spec.addresses.0", "not-an-ip", "spec.addresses[0]", "IP or a CIDR"),
    ("ServiceEntry", "spec.hosts", DELETE, "spec.hosts", "Required value"),
    ("ServiceEntry", "metadata.name", "Reviews", "metadata.name", "DNS-1123 subdomain"),
    ("ServiceEntry", "metadata.labels.app.kubernetes.io/managed-by", "x" * 64, "metadata.labels[app.kubernetes.io/managed-by]", "at most 63"),
    ("Gateway", "spec.servers", [], "spec.servers", "at least one server"),
    ("Gateway", "spec.servers.0.port.number", 0, "spec.servers[0].port.number", "between 1 and 65535"),
    ("Gateway", "spec.servers.0.port.protocol", "QUIC", "spec.servers[0].port.protocol", "invalid protocol"),
    ("Gateway", "spec.servers.0.hosts.0", "ns/bad*host.local", "spec.servers[0].hosts[0]", "partial wildcard"),
    ("Gateway", "spec.servers.0.tls.mode", "SIMPLEST", "spec.servers[0].tls.mode", "Unsupported value"),
    ("Gateway", "spec.servers.0.tls", DELETE, "spec.servers[0].tls", "must have tls"),
    ("Gateway", "metadata.name", "cross.network", "metadata.name", "DNS-1123 label"),
    ("DestinationRule", "spec.trafficPolicy.tls.mode", "STRICT", "spec.trafficPolicy.tls.mode", "Unsupported value"),
    ("DestinationRule", "spec.trafficPolicy.outlierDetection.interval", "0.5ms",
     "spec.trafficPolicy.outlierDetection.interval", "must be a valid duration greater than 1ms"),
    ("DestinationRule", "spec.host", "10.1.2.3", "spec.host", "invalid host"),
    ("DestinationRule", "spec.trafficPolicy.loadBalancer.localityLbSetting.failover.0.to", "us-east",
     "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]", "must differ"),
    ("DestinationRule", "spec.trafficPolicy.tlz", {}, "spec.trafficPolicy", 'unknown field "tlz"'),
    ("AuthorizationPolicy", "spec.action", "PERMIT", "spec.action", "Unsupported value"),
    ("AuthorizationPolicy", "spec.rules.0.to.0.operation.ports.0", "http", "spec.rules[0].to[0].operation.ports[0]", "invalid port"),
    ("AuthorizationPolicy", "spec.rules.0.from.0.source.namespaces", [""], "spec.rules[0].from[0].source.namespaces[0]", "empty value"),
    ("AuthorizationPolicy", "spec.selector.matchLabels.app", "*", "spec.selector.matchLabels[app]", "wildcard"),
    ("AuthorizationPolicy", "spec.rules.0.when", [{"key": "destination.labels[app]", "values": ["x"]}],
     "spec.rules[0].when[0].key", "unknown attribute"),
    ("Namespace", "metadata.name", "istio.system", "metadata.name", "DNS-1123 label"),
    ("Namespace", "metadata.labels.topology.istio.io/network", "n" * 64, "metadata.labels[topology.istio.io/network]", "at most 63"),
    ("Namespace", "metadata.labels.bad key", "x", "metadata.labels[bad key]", "Invalid label key"),
    ("Namespace", "spec", {"finalizerz": []}, "spec", 'unknown field "finalizerz"'),
    ("Namespace", "metadata.annotations", {"a": "x" * (256 * 1024)}, "metadata.annotations", "Too long"),
]


def _mutate(obj: dict, field: str, value):
    if field.startswith("metadata.labels.") or field.startswith("spec.selector.matchLabels."):
        head, _, key = field.partition(".labels.") if ".labels." in field else field.partition(".matchLabels.")
        target = head + (".labels" if field.startswith("metadata.labels.") else ".matchLabels")
        node = obj
        for part in target.split("."):
            node = node[part]
        node[key] = value
        return obj
    return _set(obj, field, value)


@pytest.mark.parametrize(("kind", "field", "value", "path", "message"), MUTATIONS, ids=[f"{m[0]}:{m[1]}={str(m[2])[:20]}" for m in MUTATIONS])
def test_mutation_is_rejected_naming_the_field(kind, field, value, path, message, valid):
    findings = validate_object(_mutate(valid(kind), field, value))
    errors = [f for f in findings if f.severity == "error"]
    assert any(f.path == path and message in f.message for f in errors), [str(f) for f in findings]
