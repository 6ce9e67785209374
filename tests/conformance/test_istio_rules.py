"""Unit tests of istiod's semantic rules (reference §9), one small spec per rule."""

from __future__ import annotations

import pytest

from meshgen.conformance import istio, istio_gateway, istio_policy, istio_security
from meshgen.conformance.syntax import fqdn_error, wildcard_domain_error

META = {"name": "x", "namespace": "ns"}


def rules_of(checker, spec, meta=META) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for finding in checker(spec, meta):
        out.setdefault(finding.rule, []).append(f"{finding.severity}:{finding.path}")
    return out


@pytest.mark.parametrize(("host", "ok"), [
    ("example.com", True), ("*.example.com", True), ("*", True), ("*-foo.example.com", True), ("foo", True),
    ("example.com.", True), ("1.2.3.4", False), ("foo.*.com", False), ("a_b.com", False), ("", False), ("a" * 64 + ".com", False),
])
def test_wildcard_domain(host, ok):
    assert (wildcard_domain_error(host) == "") is ok


def test_fqdn_rejects_wildcards():
    assert fqdn_error("*.example.com") and not fqdn_error("example.com")


SE = {"hosts": ["a.example.com"], "ports": [{"name": "http", "number": 80, "protocol": "HTTP"}], "resolution": "DNS"}


@pytest.mark.parametrize(("change", "rule", "path"), [
    ({"hosts": []}, "SE4", "spec.hosts"),
    ({"hosts": ["*"]}, "SE5", "spec.hosts[0]"),
    ({"hosts": ["1.2.3.4"]}, "SE6", "spec.hosts[0]"),
    ({"addresses": ["1.2.3.4/33"]}, "SE8", "spec.addresses[0]"),
    ({"addresses": ["10.0.0.0/8"]}, "SE9", "spec.addresses[0]"),
    ({"ports": [{"name": "a", "number": 1}, {"name": "a", "number": 2}]}, "SE10", "spec.ports[1].name"),
    ({"ports": [{"name": "a", "number": 1}, {"name": "b", "number": 1}]}, "SE10", "spec.ports[1].number"),
    ({"ports": [{"name": "a", "number": 1, "protocol": "QUIC"}]}, "SE10", "spec.ports[0].protocol"),
    ({"ports": [{"name": "a", "number": 1, "targetPort": 70000}]}, "SE10", "spec.ports[0].targetPort"),
    ({"resolution": "NONE", "endpoints": [{"address": "1.1.1.1"}]}, "SE12", "spec.endpoints"),
    ({"resolution": "STATIC", "endpoints": [{"address": "foo.example.com"}]}, "SE14", "spec.endpoints[0].address"),
    ({"resolution": "STATIC", "endpoints": [{"address": "1.1.1.1", "ports": {"grpc": 80}}]}, "SE14", "spec.endpoints[0].ports[grpc]"),
    ({"hosts": ["*.example.com"]}, "SE15", "spec.hosts[0]"),
    ({"resolution": "DNS_ROUND_ROBIN", "endpoints": [{"address": "a.com"}, {"address": "b.com"}]}, "SE16", "spec.endpoints"),
    ({"endpoints": [{"address": "bad_host"}]}, "SE17", "spec.endpoints[0].address"),
    ({"hosts": ["a.com", "b.com"], "ports": [{"name": "tcp", "number": 1, "protocol": "TCP"}]}, "SE21", "spec.ports[0].protocol"),
    ({"hosts": ["a.com", "b.com"], "ports": [{"name": "x", "number": 1}]}, "SE21", "spec.ports[0].protocol"),
    ({"exportTo": [".", "ns"]}, "SE22", "spec.exportTo[1]"),
    ({"exportTo": ["*", "other"]}, "SE22", "spec.exportTo"),
    ({"exportTo": ["Bad_NS"]}, "SE22", "spec.exportTo[0]"),
    ({"workloadSelector": {"labels": {"app": "*"}}, "endpoints": [{"address": "a.com"}]}, "SE1", "spec.workloadSelector.labels[app]"),
    ({"workloadSelector": {"labels": {"app": "a"}}, "endpoints": [{"address": "a.com"}]}, "SE3", "spec"),
])
def test_service_entry_rule(change, rule, path):
    found = rules_of(istio.service_entry, {**SE, **change})
    assert f"error:{path}" in found.get(rule, []), found


def test_service_entry_valid_and_warnings():
    assert rules_of(istio.service_entry, SE) == {}
    assert rules_of(istio.service_entry, {**SE, "exportTo": ["~"]}) == {}
    found = rules_of(istio.service_entry, {"hosts": ["*x.com"], "resolution": "NONE", "ports": [{"name": "t", "number": 1}]})
    assert found == {"SE7": ["warning:spec.hosts[0]"], "SE11": ["warning:spec.addresses"]}


def test_workload_entry_rules():
    assert rules_of(istio.workload_entry, {"address": "example.com", "ports": {"http": 80}}) == {}
    assert rules_of(istio.workload_entry, {"network": "n1"}) == {"WE1": ["warning:spec.address"]}
    assert rules_of(istio.workload_entry, {}) == {"WE1": ["error:spec.address"]}
    assert "WE2" in rules_of(istio.workload_entry, {"address": "unix://relative"})
    assert rules_of(istio.workload_entry, {"address": "1.1.1.1", "ports": {"Bad_Name": 0}})["WE3"] == ["error:spec.ports[Bad_Name]"] * 2


SERVER = {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["*/app.example.com"],
          "tls": {"mode": "SIMPLE", "credentialName": "app-cert"}}


@pytest.mark.parametrize(("server", "rule", "path"), [
    ({**SERVER, "hosts": []}, "GW3", "spec.servers[0].hosts"),
    ({**SERVER, "hosts": ["bad ns/app.example.com"]}, "GW3", "spec.servers[0].hosts[0]"),
    ({**SERVER, "hosts": ["app"]}, "GW3", "spec.servers[0].hosts[0]"),
    ({**SERVER, "port": {"number": 443, "protocol": "HTTPS"}}, "GW4", "spec.servers[0].port.name"),
    ({**SERVER, "port": {**SERVER["port"], "targetPort": 8443}}, "GW4", "spec.servers[0].port.targetPort"),
    ({**SERVER, "bind": "localhost"}, "GW6", "spec.servers[0].bind"),
    ({**SERVER, "tls": None}, "GW7", "spec.servers[0].tls"),
    ({**SERVER, "port": {"number": 80, "name": "http", "protocol": "HTTP"}}, "GW8", "spec.servers[0].tls"),
    ({**SERVER, "tls": {"mode": "ISTIO_MUTUAL", "credentialName": "x"}}, "GW9", "spec.servers[0].tls"),
    ({**SERVER, "tls": {"mode": "SIMPLE", "credentialName": "x", "serverCertificate": "a", "privateKey": "b"}}, "GW11", "spec.servers[0].tls"),
    ({**SERVER, "tls": {"mode": "MUTUAL", "serverCertificate": "a", "privateKey": "b"}}, "GW12", "spec.servers[0].tls.caCertificates"),
])
def test_gateway_rule(server, rule, path):
    assert f"error:{path}" in rules_of(istio_gateway.gateway, {"servers": [server]}).get(rule, [])


def test_gateway_valid_and_duplicate_port_names():
    assert rules_of(istio_gateway.gateway, {"servers": [SERVER]}) == {}
    redirect = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"], "tls": {"httpsRedirect": True}}
    assert rules_of(istio_gateway.gateway, {"servers": [SERVER, redirect]}) == {}
    found = rules_of(istio_gateway.gateway, {"servers": [SERVER, SERVER]})
    assert found == {"GW5": ["error:spec.servers[1].port.name"]}


def test_virtual_service_rules():
    route = [{"destination": {"host": "reviews.bookinfo.svc.cluster.local", "subset": "v1", "port": {"number": 9080}}}]
    assert rules_of(istio_gateway.virtual_service, {"hosts": ["reviews"], "http": [{"route": route}]}) == {}
    assert "VS1" in rules_of(istio_gateway.virtual_service, {"gateways": ["ns/gw"], "http": [{"route": route}]})
    assert "VS2" in rules_of(istio_gateway.virtual_service, {"hosts": ["*"], "http": [{"route": route}]})
    assert "VS3" in rules_of(istio_gateway.virtual_service, {"hosts": ["a.com"]})
    assert "VS4" in rules_of(istio_gateway.virtual_service, {"hosts": ["a.com"], "gateways": ["Bad/gw"], "http": [{"route": route}]})
    bad = [{"destination": {"host": "*", "subset": "V_1", "port": {"number": 0}}}]
    assert len(rules_of(istio_gateway.virtual_service, {"hosts": ["a.com"], "http": [{"route": bad}]})["VS5"]) == 3


DR_POLICY = {"outlierDetection": {"interval": "10s"}}


@pytest.mark.parametrize(("spec", "rule", "path"), [
    ({"host": "1.2.3.4"}, "DR1", "spec.host"),
    ({"host": "a.com", "trafficPolicy": {}}, "DR2", "spec.trafficPolicy"),
    ({"host": "a.com", "trafficPolicy": {"outlierDetection": {"interval": "1.5ms"}}}, "DR3", "spec.trafficPolicy.outlierDetection.interval"),
    ({"host": "a.com", "trafficPolicy": {"outlierDetection": {"consecutiveLocalOriginFailures": 2}}}, "DR3",
     "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures"),
    ({"host": "a.com", "trafficPolicy": {"outlierDetection": {"maxEjectionPercent": 101}}}, "DR3",
     "spec.trafficPolicy.outlierDetection.maxEjectionPercent"),
    ({"host": "a.com", "trafficPolicy": {**DR_POLICY, "loadBalancer": {"localityLbSetting": {"distribute": [{"from": "r/*", "to": {"r/z": 60}}]}}}},
     "DR8", "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to"),
    ({"host": "a.com", "trafficPolicy": {**DR_POLICY, "loadBalancer": {"localityLbSetting": {"distribute": [{"from": "r/*/z", "to": {"r": 100}}]}}}},
     "DR8", "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from"),
    ({"host": "a.com", "trafficPolicy": {"tls": {"mode": "MUTUAL"}}}, "DR11", "spec.trafficPolicy.tls.clientCertificate"),
    ({"host": "a.com", "trafficPolicy": {"tls": {"mode": "SIMPLE", "credentialName": "c", "caCertificates": "x"}}}, "DR11", "spec.trafficPolicy.tls"),
    ({"host": "a.com", "subsets": [{"name": "v1"}, {"name": "v1"}]}, "DR13", "spec.subsets[1].name"),
    ({"host": "a.com", "subsets": [{"name": "V_1", "labels": {"version": "v1"}}]}, "DR13", "spec.subsets[0].name"),
    ({"host": "a.com", "workloadSelector": {"matchLabels": {"app": "a"}}, "exportTo": ["*"]}, "DR14", "spec.exportTo"),
])
def test_destination_rule_rule(spec, rule, path):
    assert f"error:{path}" in rules_of(istio_policy.destination_rule, spec).get(rule, [])


def test_destination_rule_failover_without_outlier_detection_warns():
    spec = {"host": "a.com", "trafficPolicy": {"loadBalancer": {"localityLbSetting": {"failover": [{"from": "r1", "to": "r2"}]}}}}
    assert rules_of(istio_policy.destination_rule, spec) == {"DR9": ["warning:spec.trafficPolicy.loadBalancer.localityLbSetting"]}


@pytest.mark.parametrize(("duration", "ok"), [("1ms", True), ("10s", True), ("1m30s", True), ("0.001s", True),
                                              ("0s", False), ("1.5ms", False), ("ten", False), ("", False)])
def test_duration(duration, ok):
    assert (istio_policy.duration_error(duration) == "") is ok


SOURCE = {"principals": ["cluster.local/ns/a/sa/b"]}


@pytest.mark.parametrize(("spec", "rule"), [
    ({"selector": {"matchLabels": {"a": "b"}}, "targetRef": {"kind": "Service", "name": "s"}}, "AP1"),
    ({"selector": {"matchLabels": {"": "b"}}}, "AP2"),
    ({"targetRef": {"kind": "Deployment", "name": "s"}}, "AP3"),
    ({"targetRefs": [{"kind": "Service", "name": "s", "namespace": "other"}]}, "AP3"),
    ({"action": "ALLOW", "provider": {"name": "ext"}}, "AP4"),
    ({"action": "CUSTOM", "provider": {"name": "ext"}, "rules": [{"from": [{"source": SOURCE}]}]}, "AP4"),
    ({"action": "DENY"}, "AP5"),
    ({"rules": [{"from": []}]}, "AP6"),
    ({"rules": [{"to": [{"operation": {}}]}]}, "AP6"),
    ({"rules": [{"from": [{"source": {"serviceAccounts": ["a/b"], "namespaces": ["a"]}}]}]}, "AP7"),
    ({"rules": [{"from": [{"source": {"serviceAccounts": ["a/b/c"]}}]}]}, "AP7"),
    ({"rules": [{"from": [{"source": {"trustDomains": ["a*b"]}}]}]}, "AP8"),
    ({"rules": [{"from": [{"source": {"ipBlocks": ["300.1.1.1"]}}]}]}, "AP9"),
    ({"rules": [{"to": [{"operation": {"paths": ["/{**}/a/{**}"]}}]}]}, "AP9"),
    ({"rules": [{"when": [{"key": "source.ip"}]}]}, "AP10"),
    ({"rules": [{"when": [{"key": "destination.name", "values": ["x"]}]}]}, "AP10"),
])
def test_authorization_policy_rule(spec, rule):
    assert rule in rules_of(istio_security.authorization_policy, spec)


def test_authorization_policy_valid():
    spec = {"selector": {"matchLabels": {"app": "a"}}, "rules": [{"from": [{"source": SOURCE}],
            "to": [{"operation": {"ports": ["80"], "paths": ["/api/{*}"]}}], "when": [{"key": "request.headers[x-id]", "values": ["1"]}]}]}
    assert rules_of(istio_security.authorization_policy, spec) == {}
    assert rules_of(istio_security.authorization_policy, {}) == {}  # allow-nothing policy


@pytest.mark.parametrize(("spec", "rule", "path"), [
    ({"portLevelMtls": {"80": {"mode": "STRICT"}}}, "PA1", "spec.portLevelMtls"),
    ({"selector": {"matchLabels": {"a": "b"}}, "portLevelMtls": {}}, "PA2", "spec.portLevelMtls"),
    ({"selector": {"matchLabels": {"a": "b"}}, "portLevelMtls": {"0": {"mode": "STRICT"}}}, "PA3", "spec.portLevelMtls[0]"),
    ({"selector": {"matchLabels": {"a": "*"}}}, "PA4", "spec.selector.matchLabels[a]"),
])
def test_peer_authentication_rule(spec, rule, path):
    assert f"error:{path}" in rules_of(istio_security.peer_authentication, spec).get(rule, [])


def test_reserved_annotations():
    meta = {"annotations": {"internal.istio.io/parents": "x", "istio.io/dry-run": "true"}}
    found = {f.rule for f in istio.metadata_rules("ServiceEntry", meta, {})}
    assert found == {"M1", "M2"}
