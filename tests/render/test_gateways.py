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


def test_cross_network_gateway_lists_explicit_hosts_sorted():
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


def test_each_primary_lists_only_hosts_with_instances_behind_its_gateways():
    """A primary's Gateway configures the gateways of itself and its remotes: east-1's gateway also fronts
    east-2 (same network, no gateway of its own); west-1's fronts itself and its remote west-2."""
    resources = gateways.render(model_from_yaml(TWO_MESHES))
    hosts = {primary: by_name(resources, primary, "Gateway").get("cross-network-gateway")
             for primary in ("east-1", "east-2", "west-1")}
    assert hosts["east-2"] is None  # no gateway of its own: nothing to configure there
    assert hosts["east-1"]["spec"]["servers"][0]["hosts"] == [
        "cart.shop.svc.cluster.local", "ledger.payments.svc.cluster.local", "probe.lab-tools.svc.cluster.local",
        "web.shop.svc.cluster.local"]
    assert hosts["west-1"]["spec"]["servers"][0]["hosts"] == ["cart.shop.svc.cluster.local", "web.shop.svc.cluster.local"]
    assert bodies(resources, "west-2") == []  # remote: its primary's config covers it
    assert bodies(resources, "lab-1") == []  # single-network mesh, no remotes


def test_mesh_without_services_lists_nothing():
    """Nothing invented: with no declared service there is no host to pass through."""
    assert gateways.render(model_from_yaml(NO_SERVICES)) == []


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


def test_revisioned_istiod_is_exposed_under_its_revision_names():
    spec = TWO_MESHES.replace("{name: west-1, network: net-b, mesh: prod,", "{name: west-1, network: net-b, mesh: prod, revision: canary,")
    vs = by_name(gateways.render(model_from_yaml(spec)), "west-1", "VirtualService")["istiod-vs-canary"]
    for route in vs["spec"]["tls"]:
        assert route["match"][0]["sniHosts"] == [
            "istiod-canary.istio-system.svc", "istiod-canary.istio-system.svc.cluster.local",
            "gw.west-1.example"]  # the API server calls the webhook by the gateway's name (injectionURL)
        assert route["route"][0]["destination"]["host"] == "istiod-canary.istio-system.svc.cluster.local"


def test_gateway_objects_pass_conformance():
    for resource in gateways.render(model_from_yaml(TWO_MESHES)) + gateways.render(model_from_yaml(NO_SERVICES)):
        assert validate_object(resource.body) == [], resource.describe()
