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
    spec = TWO_MESHES.replace("{service: shop/web, mesh: prod,", "{service: shop/web, mesh: lab,")
    rule = by_name(traffic.render(model_from_yaml(spec)), "east-1", "DestinationRule")["web"]
    assert "failover" not in rule["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"]


def test_locality_setting_chains_regions_in_order():
    assert traffic.locality_setting(["a", "b", "c"])["failover"] == [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]
    assert "failoverPriority" in traffic.locality_setting(["a"])


def test_rules_pass_conformance():
    for resource in traffic.render(model_from_yaml(TWO_MESHES)):
        assert validate_object(resource.body) == [], resource.describe()
