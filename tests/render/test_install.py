"""Helm values per cluster and per the cluster's Istio release: base, istiod (primary, primary serving
remotes, remote) and one gateway release per address (east-west and federation).

Each review finding on these values (../shared/reviews/istio-review-2026-12-03.md) has a test here
that fails on the renderer before the fix: R1, R5, F3, N1, N2, N3, N4."""

from __future__ import annotations

import pytest

from meshgen.conformance import validate_values
from meshgen.conformance.schemas import ISTIO_MINORS, values_read
from meshgen.render import install
from tests.render.fleets import FEDERATED, TWO_MESHES
from tests.render.helpers import model_from_yaml

# Paths every chart reads as a whole (the profile and defaults machinery): reading them proves nothing.
PASS_THROUGH = {"global", "defaults", "_internal_defaults_do_not_set"}


def values(resources, cluster: str, release: str) -> dict | None:
    found = [r for r in resources if r.path == f"clusters/{cluster}/helm/{release}-values.yaml"]
    assert all(not r.manifest for r in found)
    return found[0].body if found else None


def with_version(spec: str, version: str) -> str:
    if "settings: {" in spec:
        return spec.replace("settings: {", f"settings: {{istioVersion: '{version}', ", 1)
    return f"settings: {{istioVersion: '{version}'}}\n" + spec


@pytest.fixture(scope="module")
def rendered():
    return install.render(model_from_yaml(TWO_MESHES))


def test_every_primary_has_mesh_cluster_and_network(rendered):
    for cluster, mesh, network in (("east-2", "prod", "net-a"), ("west-1", "prod", "net-b"), ("lab-1", "lab", "net-c")):
        glob = values(rendered, cluster, "istiod")["global"]
        assert (glob["meshID"], glob["multiCluster"]["clusterName"], glob["network"]) == (mesh, cluster, network)


def test_primary_serving_remotes_is_external_istiod(rendered):
    assert values(rendered, "west-1", "istiod")["global"]["externalIstiod"] is True
    assert "externalIstiod" not in values(rendered, "east-1", "istiod")["global"]


def test_remote_values_hold_only_what_the_remote_profile_reads(rendered):
    """R5: the remote profile renders no mesh or injector ConfigMap: meshConfig, meshID and network
    would be ignored."""
    remote = values(rendered, "west-2", "istiod")
    assert remote["profile"] == "remote"
    assert set(remote) == {"profile", "global", "istiodRemote"}
    assert set(remote["global"]) == {"remotePilotAddress"}


def test_remote_reaches_a_dns_named_gateway_through_explicit_webhook_urls(rendered):
    """R1: with a DNS name the chart makes istiod an ExternalName on :443, where no gateway listens; the
    webhook and the validator go to :15017 by URL, and istiod's certificate carries the name."""
    remote = values(rendered, "west-2", "istiod")
    assert remote["global"]["remotePilotAddress"] == "gw.west-1.example"
    assert remote["istiodRemote"] == {
        "injectionPath": "/inject/cluster/west-2/net/net-b",
        "injectionURL": "https://gw.west-1.example:15017/inject/cluster/west-2/net/net-b",
    }
    assert values(rendered, "west-2", "istio-base")["base"]["validationURL"] == "https://gw.west-1.example:15017/validate"
    assert values(rendered, "west-1", "istiod")["env"] == {"ISTIOD_CUSTOM_HOST": "gw.west-1.example"}


def test_remote_of_an_ip_addressed_gateway_uses_the_charts_service():
    spec = TWO_MESHES.replace("gateways: [{address: gw.west-1.example}, {address: 198.51.100.9}]",
                              "gateways: [{address: 198.51.100.9}]")
    rendered = install.render(model_from_yaml(spec))
    remote = values(rendered, "west-2", "istiod")
    assert remote["istiodRemote"] == {"injectionPath": "/inject/cluster/west-2/net/net-b"}
    assert "validationURL" not in values(rendered, "west-2", "istio-base").get("base", {})
    assert "env" not in values(rendered, "west-1", "istiod")


@pytest.mark.parametrize(("version", "policy"), [("1.27", None), ("1.28", "Ignore")])
def test_remote_validator_fails_open_from_128(version, policy):
    """From 1.28 the base chart omits the validator's failurePolicy on upgrade (the API then defaults to
    Fail) unless it is given; nobody patches a remote validator's caBundle."""
    rendered = install.render(model_from_yaml(with_version(TWO_MESHES, version)))
    assert values(rendered, "west-2", "istio-base")["base"].get("validationFailurePolicy") == policy


def test_peer_trust_domains_are_accepted_without_aliasing():
    """F3: trustDomainAliases would make peer identities equal to the mesh's own in every policy."""
    rendered = install.render(model_from_yaml(FEDERATED))
    assert values(rendered, "a-1", "istiod")["meshConfig"] == {
        "trustDomain": "a.example",
        "caCertificates": [{"trustDomains": ["b.example"]}],
        "defaultConfig": {"proxyMetadata": {"ISTIO_META_DNS_CAPTURE": "true"}},
    }
    assert values(rendered, "b-1", "istiod")["meshConfig"]["caCertificates"] == [{"trustDomains": ["a.example"]}]
    lab = install.render(model_from_yaml(TWO_MESHES))
    assert "caCertificates" not in values(lab, "lab-1", "istiod")["meshConfig"]


def test_dns_capture_follows_the_mesh(rendered):
    proxy = values(rendered, "east-1", "istiod")["meshConfig"]["defaultConfig"]["proxyMetadata"]
    assert proxy == {"ISTIO_META_DNS_CAPTURE": "true"}
    assert "defaultConfig" not in values(rendered, "lab-1", "istiod")["meshConfig"]


def test_one_gateway_release_per_address(rendered):
    """N4: a release provisions one load balancer, so each address gets one; the releases after the
    first keep the selector the Gateways use."""
    first = values(rendered, "west-1", "istio-eastwestgateway")
    second = values(rendered, "west-1", "istio-eastwestgateway-2")
    assert "loadBalancerIP" not in first.get("service", {})  # a DNS name is not pinned
    assert second["service"] == {"loadBalancerIP": "198.51.100.9"}
    assert "labels" not in first and second["labels"] == {"istio": "eastwestgateway"}
    assert values(rendered, "east-2", "istio-eastwestgateway") is None  # no address: no release
    assert values(rendered, "lab-1", "istio-eastwestgateway") is None


@pytest.mark.parametrize("version", ISTIO_MINORS)
def test_east_west_gateway_on_the_default_port(version):
    """N1, N3: ``networkGateway`` labels the Service (and, from 1.26, the pods) with the network and
    fixes the ports: no label repeated, no ``service.ports`` the chart ignores."""
    rendered = install.render(model_from_yaml(with_version(TWO_MESHES, version)))
    gateway = values(rendered, "east-1", "istio-eastwestgateway")
    assert gateway == {"name": "istio-eastwestgateway", "networkGateway": "net-a",
                       "service": {"loadBalancerIP": "203.0.113.1"}}


@pytest.mark.parametrize("version", [v for v in ISTIO_MINORS if v != "1.30"])
def test_custom_port_before_130_sets_network_view_and_ports_itself(version):
    """N2: before 1.30 the chart ignores service.ports with networkGateway and its schema has no
    networkGatewayPorts (1.25+ refuse it): the release labels, views and maps the port itself."""
    spec = with_version(TWO_MESHES, version).replace("{address: 203.0.113.1}", "{address: 203.0.113.1, port: 443}")
    gateway = values(install.render(model_from_yaml(spec)), "east-1", "istio-eastwestgateway")
    assert "networkGateway" not in gateway and "networkGatewayPorts" not in gateway
    assert gateway["labels"] == {"topology.istio.io/network": "net-a", "networking.istio.io/gatewayPort": "443"}
    assert gateway["env"] == {"ISTIO_META_REQUESTED_NETWORK_VIEW": "net-a"}
    assert [(p["name"], p["port"], p["targetPort"]) for p in gateway["service"]["ports"]] == [
        ("status-port", 15021, 15021), ("tls", 443, 15443), ("tls-istiod", 15012, 15012),
        ("tls-webhook", 15017, 15017)]


def test_custom_port_on_130_uses_network_gateway_ports():
    spec = with_version(TWO_MESHES, "1.30").replace("{address: 203.0.113.1}", "{address: 203.0.113.1, port: 443}")
    gateway = values(install.render(model_from_yaml(spec)), "east-1", "istio-eastwestgateway")
    assert gateway["networkGateway"] == "net-a"
    assert gateway["networkGatewayPorts"] == {"tls": {"port": 443, "targetPort": 15443}}
    assert gateway["labels"] == {"networking.istio.io/gatewayPort": "443"}  # istiod reads the port here
    assert "ports" not in gateway["service"]


def test_federation_gateway_is_not_a_network_gateway():
    """F2: a federation gateway carries no network label (istiod would use it as an east-west gateway)
    and sees only its own network's endpoints."""
    gateway = values(install.render(model_from_yaml(FEDERATED)), "b-1", "istio-federationgateway")
    assert gateway == {
        "name": "istio-federationgateway",
        "env": {"ISTIO_META_REQUESTED_NETWORK_VIEW": "net-b"},
        "service": {"ports": [{"name": "status-port", "port": 15021, "targetPort": 15021},
                              {"name": "tls", "port": 443, "targetPort": 15443}],
                    "loadBalancerIP": "203.0.113.2"},
    }


def test_revision_names_istiod_and_reaches_base_and_gateways():
    spec = TWO_MESHES.replace("{name: west-1, network: net-b, mesh: prod,", "{name: west-1, network: net-b, mesh: prod, revision: canary,")
    rendered = install.render(model_from_yaml(spec))
    assert values(rendered, "west-1", "istiod") is None
    assert values(rendered, "west-1", "istiod-canary")["revision"] == "canary"
    assert values(rendered, "west-1", "istio-base")["defaultRevision"] == "canary"
    assert values(rendered, "west-1", "istio-eastwestgateway")["revision"] == "canary"
    assert values(rendered, "west-2", "istiod-canary")["revision"] == "canary"  # a remote follows its primary
    assert values(rendered, "east-1", "istiod")["global"]["meshID"] == "prod"


@pytest.mark.parametrize("version", ISTIO_MINORS)
@pytest.mark.parametrize("spec", [TWO_MESHES, FEDERATED], ids=["two-meshes", "federated"])
def test_gateway_values_validate_against_that_releases_chart_schema(spec, version):
    spec = with_version(spec, version)
    custom = spec.replace("{address: 203.0.113.1}", "{address: 203.0.113.1, port: 443}")
    for text in (spec, custom):
        for resource in install.render(model_from_yaml(text)):
            if "gateway" in resource.path:
                assert validate_values("gateway", resource.body, version) == [], resource.path


@pytest.mark.parametrize("version", ISTIO_MINORS)
def test_every_value_is_one_that_releases_chart_reads(version):
    """No key a template of that release ignores (what `helm install` silently drops)."""
    spec = with_version(TWO_MESHES, version).replace("{address: 203.0.113.1}", "{address: 203.0.113.1, port: 443}")
    model = model_from_yaml(spec)
    for cluster in model.clusters:
        for release in install.releases(model, cluster):
            read = values_read(version)[release.chart] - PASS_THROUGH
            for path in leaf_paths(release.values):
                assert any(path == r or path.startswith(r + ".") for r in read), (release.name, path)


def leaf_paths(values: dict, prefix: str = "") -> list[str]:
    found = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        found += leaf_paths(value, path + ".") if isinstance(value, dict) and value else [path]
    return found
