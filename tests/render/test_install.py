"""Helm values: istiod (primary, primary serving remotes, remote) and the east-west gateway."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from meshgen.conformance import validate_values
from meshgen.render import install
from tests.render.fleets import FEDERATED, TWO_MESHES
from tests.render.helpers import model_from_yaml

GATEWAY_SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "helm" / "gateway" / "values.schema.json"


def values(resources, cluster: str, file: str) -> dict | None:
    found = [r for r in resources if r.path == f"clusters/{cluster}/helm/{file}"]
    assert all(not r.manifest for r in found)
    return found[0].body if found else None


@pytest.fixture(scope="module")
def rendered():
    return install.render(model_from_yaml(TWO_MESHES))


def test_every_cluster_has_mesh_cluster_and_network(rendered):
    for cluster, mesh, network in (("east-2", "prod", "net-a"), ("west-2", "prod", "net-b"), ("lab-1", "lab", "net-c")):
        glob = values(rendered, cluster, "istiod-values.yaml")["global"]
        assert (glob["meshID"], glob["multiCluster"]["clusterName"], glob["network"]) == (mesh, cluster, network)


def test_primary_serving_remotes_is_external_istiod(rendered):
    assert values(rendered, "west-1", "istiod-values.yaml")["global"]["externalIstiod"] is True
    assert "externalIstiod" not in values(rendered, "east-1", "istiod-values.yaml")["global"]


def test_remote_profile_pilot_address_and_injection_path(rendered):
    remote = values(rendered, "west-2", "istiod-values.yaml")
    assert remote["profile"] == "remote"
    assert remote["global"]["remotePilotAddress"] == "gw.west-1.example"  # the primary's first gateway
    assert remote["istiodRemote"] == {"injectionPath": "/inject/cluster/west-2/net/net-b"}
    primary = values(rendered, "west-1", "istiod-values.yaml")
    assert "profile" not in primary and "istiodRemote" not in primary and "remotePilotAddress" not in primary["global"]


def test_mesh_config_trust_domain_and_dns_capture(rendered):
    prod = values(rendered, "east-1", "istiod-values.yaml")["meshConfig"]
    assert prod == {
        "trustDomain": "prod.example",
        "defaultConfig": {"proxyMetadata": {"ISTIO_META_DNS_CAPTURE": "true"}},
    }
    assert values(rendered, "lab-1", "istiod-values.yaml")["meshConfig"] == {"trustDomain": "lab.example"}


def test_trust_domain_aliases_are_the_federation_peers():
    rendered = install.render(model_from_yaml(FEDERATED))
    assert values(rendered, "a-1", "istiod-values.yaml")["meshConfig"]["trustDomainAliases"] == ["b.example"]
    assert values(rendered, "b-1", "istiod-values.yaml")["meshConfig"]["trustDomainAliases"] == ["a.example"]


def test_gateway_values_only_where_the_spec_has_gateways(rendered):
    with_gateway = {c for c in ("east-1", "east-2", "west-1", "west-2", "lab-1")
                    if values(rendered, c, "eastwest-gateway-values.yaml")}
    assert with_gateway == {"east-1", "west-1"}


def test_gateway_values_network_labels_and_ports(rendered):
    gateway = values(rendered, "east-1", "eastwest-gateway-values.yaml")
    assert gateway["name"] == "istio-eastwestgateway"
    assert gateway["networkGateway"] == "net-a"
    assert gateway["labels"] == {"istio": "eastwestgateway", "app": "istio-eastwestgateway",
                                 "topology.istio.io/network": "net-a"}
    ports = {(p["name"], p["port"], p["targetPort"]) for p in gateway["service"]["ports"]}
    assert ports == {("status-port", 15021, 15021), ("tls", 15443, 15443),
                     ("tls-istiod", 15012, 15012), ("tls-webhook", 15017, 15017)}
    assert gateway["service"]["loadBalancerIP"] == "203.0.113.1"


def test_no_load_balancer_ip_when_the_first_gateway_is_a_dns_name(rendered):
    assert "loadBalancerIP" not in values(rendered, "west-1", "eastwest-gateway-values.yaml")["service"]


def test_custom_gateway_port_is_labelled_and_mapped_to_15443():
    gateway = values(install.render(model_from_yaml(FEDERATED)), "b-1", "eastwest-gateway-values.yaml")
    assert gateway["labels"]["networking.istio.io/gatewayPort"] == "443"
    assert {"name": "tls", "port": 443, "targetPort": 15443} in gateway["service"]["ports"]
    assert gateway["networkGatewayPorts"] == {"tls": {"port": 443, "targetPort": 15443}}


@pytest.mark.parametrize("spec", [TWO_MESHES, FEDERATED])
def test_gateway_values_validate_against_the_chart_schema(spec):
    schema = json.loads(GATEWAY_SCHEMA.read_text())
    gateways = [r.body for r in install.render(model_from_yaml(spec)) if "eastwest-gateway" in r.path]
    assert gateways
    for body in gateways:
        assert validate_values("gateway", body) == []
        jsonschema.Draft7Validator(schema).validate(body)  # the schema names no draft; the chart uses 7
