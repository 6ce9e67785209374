"""traffic.yaml: locality failover DestinationRules, always with outlier detection."""

from __future__ import annotations

from meshgen.conformance import validate_object
from meshgen.render import traffic
from tests.render.fleets import TWO_MESHES
from tests.render.helpers import bodies, by_name, model_from_yaml

REGION_LABELS = {"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"}


def test_rules_only_for_services_in_several_clusters_of_the_mesh():
    resources = traffic.render(model_from_yaml(TWO_MESHES))
    # ledger: one cluster; probe: one cluster in each of two meshes.
    assert {(b["metadata"]["namespace"], b["metadata"]["name"]) for b in bodies(resources, "east-1")} == {
        ("shop", "cart"), ("shop", "web")}


def test_rules_go_to_primaries_only():
    resources = traffic.render(model_from_yaml(TWO_MESHES))
    for primary in ("east-1", "east-2", "west-1"):
        assert set(by_name(resources, primary, "DestinationRule")) == {"cart", "web"}
    assert bodies(resources, "west-2") == []
    assert bodies(resources, "lab-1") == []


def test_default_is_failover_priority_with_outlier_detection():
    rule = by_name(traffic.render(model_from_yaml(TWO_MESHES)), "east-1", "DestinationRule")["cart"]
    assert rule["spec"]["host"] == "cart.shop.svc.cluster.local"
    policy = rule["spec"]["trafficPolicy"]
    assert policy["loadBalancer"]["localityLbSetting"] == {
        "enabled": True,
        "failoverPriority": ["topology.istio.io/network", "topology.kubernetes.io/region",
                             "topology.kubernetes.io/zone"],
    }
    assert policy["outlierDetection"] == {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"}


def test_named_failover_uses_region_pairs_and_keeps_outlier_detection():
    rule = by_name(traffic.render(model_from_yaml(TWO_MESHES)), "west-1", "DestinationRule")["web"]
    setting = rule["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"]
    assert setting["failover"] == [{"from": "us-east1", "to": "us-west1"}]
    assert not REGION_LABELS & set(setting.get("failoverPriority", []))
    assert rule["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 5


def test_failover_entry_for_another_mesh_is_ignored():
    # probe runs in both meshes; its failover entry names lab: prod's rule keeps the default priority
    spec = TWO_MESHES.replace("  - {service: shop/web, mesh: prod, regions: [us-east1, us-west1]}",
                              "  - {service: lab-tools/probe, mesh: lab, regions: [eu-west1]}")
    spec = spec.replace("    instances: [{cluster: lab-1}, {cluster: east-1}]",
                        "    instances: [{cluster: lab-1}, {cluster: east-1}, {cluster: west-1}]")
    rule = by_name(traffic.render(model_from_yaml(spec)), "east-1", "DestinationRule")["probe"]
    assert "failover" not in rule["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"]


def test_failover_chains_regions_in_order():
    spec = TWO_MESHES.replace("regions: [us-east1, us-west1]", "regions: [us-west1, us-east1]")
    rule = by_name(traffic.render(model_from_yaml(spec)), "east-1", "DestinationRule")["web"]
    assert rule["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"]["failover"] == [
        {"from": "us-west1", "to": "us-east1"}]


POLICY = TWO_MESHES.replace("""  - name: ledger
    namespace: payments
    ports: [{name: grpc, number: 8443, protocol: GRPC}]""", """  - name: ledger
    namespace: payments
    ports: [{name: grpc, number: 8443, protocol: GRPC}]
    trafficPolicy:
      outlierDetection: {consecutiveGatewayErrors: 3, interval: 5s}
      subsets: [{name: v1, labels: {version: v1}}]
      retryBudget: {percent: 20, minRetryConcurrency: 3}""").replace("""    instances: [{cluster: east-2}, {cluster: west-1}]""", """    instances: [{cluster: east-2}, {cluster: west-1}]
    trafficPolicy:
      distribute:
        - {from: us-east1/*, to: {"us-east1/*": 70, "us-west1/*": 30}}""")


def test_a_traffic_policy_gives_a_single_cluster_service_its_rule():
    rule = by_name(traffic.render(model_from_yaml(POLICY)), "east-1", "DestinationRule")["ledger"]
    policy = rule["spec"]["trafficPolicy"]
    assert "loadBalancer" not in policy  # one cluster: nothing to balance between localities
    assert policy["outlierDetection"] == {"consecutive5xxErrors": 5, "consecutiveGatewayErrors": 3,
                                          "interval": "5s", "baseEjectionTime": "30s"}
    assert policy["retryBudget"] == {"percent": 20.0, "minRetryConcurrency": 3}
    assert rule["spec"]["subsets"] == [{"name": "v1", "labels": {"version": "v1"}}]


def test_distribute_replaces_failover_priority():
    rule = by_name(traffic.render(model_from_yaml(POLICY)), "east-1", "DestinationRule")["cart"]
    assert rule["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"] == {
        "enabled": True, "distribute": [{"from": "us-east1/*", "to": {"us-east1/*": 70, "us-west1/*": 30}}]}


def test_rules_pass_conformance():
    for spec in (TWO_MESHES, POLICY):
        for resource in traffic.render(model_from_yaml(spec)):
            assert validate_object(resource.body) == [], resource.describe()
