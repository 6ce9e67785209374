"""gateways.yaml: cross-network exposure with explicit hosts, istiod exposure for remotes."""

from __future__ import annotations

from meshgen.conformance import validate_object
from meshgen.render import gateways
from tests.render.fleets import TWO_MESHES
from tests.render.helpers import bodies, by_name, model_from_yaml

NO_SERVICES = """
networks: [{name: n1}, {name: n2}]
rootsOfTrust: [{name: root, store: {name: pki}, certificatePath: pki/root}]
meshes: [{name: m, trustDomain: m.example, rootOfTrust: root, secretStore: {name: store}}]
clusters:
  - {name: c1, network: n1, mesh: m, locality: {region: r1}, podCIDRs: [10.1.0.0/16],
     serviceCIDRs: [10.101.0.0/20], gateways: [{address: 203.0.113.1}]}
  - {name: c2, network: n2, mesh: m, locality: {region: r1}, podCIDRs: [10.2.0.0/16],
     serviceCIDRs: [10.102.0.0/20], gateways: [{address: 203.0.113.2}]}
"""


def test_cross_network_gateway_lists_every_mesh_service_sorted():
    resources = gateways.render(model_from_yaml(TWO_MESHES))
    gateway = by_name(resources, "east-1", "Gateway")["cross-network-gateway"]
    assert gateway["metadata"]["namespace"] == "istio-system"
    assert gateway["spec"]["selector"] == {"istio": "eastwestgateway"}
    (server,) = gateway["spec"]["servers"]
    assert server["port"] == {"number": 15443, "name": "tls", "protocol": "TLS"}
    assert server["tls"] == {"mode": "AUTO_PASSTHROUGH"}
    assert server["hosts"] == [
        "cart.shop.svc.cluster.local",
        "ledger.payments.svc.cluster.local",
        "probe.lab-tools.svc.cluster.local",
        "web.shop.svc.cluster.local",
    ]


def test_cross_network_gateway_on_every_primary_of_a_multi_network_mesh_only():
    resources = gateways.render(model_from_yaml(TWO_MESHES))
    for primary in ("east-1", "east-2", "west-1"):
        assert "cross-network-gateway" in by_name(resources, primary, "Gateway")
    assert bodies(resources, "west-2") == []  # remote: its primary's config covers it
    assert bodies(resources, "lab-1") == []  # single-network mesh, no remotes


def test_mesh_without_services_falls_back_to_star_local():
    resources = gateways.render(model_from_yaml(NO_SERVICES))
    gateway = by_name(resources, "c1", "Gateway")["cross-network-gateway"]
    assert gateway["spec"]["servers"][0]["hosts"] == ["*.local"]


def test_istiod_exposure_only_on_a_primary_serving_remotes():
    resources = gateways.render(model_from_yaml(TWO_MESHES))
    assert "istiod-gateway" not in by_name(resources, "east-1", "Gateway")
    gateway = by_name(resources, "west-1", "Gateway")["istiod-gateway"]
    servers = {(s["port"]["name"], s["port"]["number"], s["tls"]["mode"], tuple(s["hosts"]))
               for s in gateway["spec"]["servers"]}
    assert servers == {
        ("tls-istiod", 15012, "PASSTHROUGH", ("*",)),
        ("tls-istiodwebhook", 15017, "PASSTHROUGH", ("*",)),
    }


def test_istiod_virtual_service_routes_both_ports_to_istiod():
    resources = gateways.render(model_from_yaml(TWO_MESHES))
    vs = by_name(resources, "west-1", "VirtualService")["istiod-vs"]
    assert vs["spec"]["gateways"] == ["istiod-gateway"]
    routes = {r["match"][0]["port"]: r["route"][0]["destination"] for r in vs["spec"]["tls"]}
    assert routes == {
        15012: {"host": "istiod.istio-system.svc.cluster.local", "port": {"number": 15012}},
        15017: {"host": "istiod.istio-system.svc.cluster.local", "port": {"number": 443}},
    }


def test_gateway_objects_pass_conformance():
    for resource in gateways.render(model_from_yaml(TWO_MESHES)) + gateways.render(model_from_yaml(NO_SERVICES)):
        assert validate_object(resource.body) == [], resource.describe()
