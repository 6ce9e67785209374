"""`meshgen explain --from --to`: one call walked hop by hop over the output of fleet.example.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen import cli
from meshgen.explain import Caller, explain_call, load_fleet
from meshgen.pipeline import Options, build

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"
REF = re.compile(r"\[out/([^\]:]+):(\d+)\]")


@pytest.fixture(scope="module")
def fleet():
    built = build(Options(spec=EXAMPLE))
    return load_fleet(built.tree, built.model)


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def call(fleet, caller: str, target: str):
    host, _, port = target.partition(":")
    return explain_call(fleet, Caller.parse(caller), host, int(port) if port else None)


def test_federated_call_walks_every_hop_in_order(fleet):
    found = call(fleet, "staging-eu-1/checkout/checkout", "ledger.payments.global:8443")
    assert found.allowed and found.failed is None
    names = [h.name for h in found.hops]
    assert names == ["caller", "dns", "service", "endpoints",
                     "gateway", "export", "tls", "trust", "authorization",  # through prod-east-1's gateway
                     "gateway", "export", "tls", "trust", "authorization"]  # through prod-west-1's
    dns, gateway = found.hops[1], found.hops[4]
    assert "240.10.8.14" in dns.text and "ISTIO_META_DNS_CAPTURE" in dns.text
    assert "outbound_.8443_._.ledger.payments.global" in gateway.text and "no authorization" in gateway.text
    assert "ledger-allow rule 0" in found.hops[8].text and "port 9443" in found.hops[8].text
    assert all(h.refs for h in found.hops) and all(h.spec is not None for h in found.hops)


def test_every_hop_of_the_federated_call_points_into_the_committed_out():
    result = invoke("explain", str(EXAMPLE), "--from", "staging-eu-1/checkout/checkout", "--to",
                    "ledger.payments.global:8443")
    assert result.exit_code == 0, result.output
    hops = result.output.splitlines()[:-1]
    assert len(hops) == 14
    for line in hops:
        refs = REF.findall(line)
        assert refs, line
        for path, number in refs:
            text = (ROOT / "out" / path).read_text().splitlines()
            assert 1 <= int(number) <= len(text), (path, number)
            assert text[int(number) - 1].strip() and text[int(number) - 1] != "---", (path, number)
    assert result.output.splitlines()[-1] == "allowed: staging-eu-1/checkout/checkout -> ledger.payments.global:8443"


def test_the_refs_name_the_deciding_lines(fleet):
    found = call(fleet, "staging-eu-1/checkout/checkout", "ledger.payments.global:8443")
    out = {h.name + str(i): [r.where() for r in h.refs] for i, h in enumerate(found.hops)}
    lines = {p: (ROOT / "out" / p).read_text().splitlines() for h in found.hops for p, _ in (r.where() for r in h.refs)}
    (path, line), _ = out["dns1"]
    assert lines[path][line - 1].strip() == "- 240.10.8.14"
    path, line = out["gateway4"][1]
    assert lines[path][line - 1].strip() == "hosts:" and lines[path][line].strip() == "- ledger.payments.global"
    (path, line), = out["authorization8"]
    assert path == "clusters/prod-east-1/mesh/security.yaml" and lines[path][line - 1].strip() == "- from:"


def test_denied_by_authorization_names_the_policy_and_rule(fleet):
    found = call(fleet, "staging-eu-1/catalog/search", "ledger.payments.global:8443")
    assert not found.allowed
    assert found.failed.name == "authorization"
    assert "DENY policy payments/deny-foreign-trust-domains rule 0 matches staging.corp.example/ns/catalog/sa/search" \
        in found.failed.text
    assert [h.ok for h in found.hops if h.name != "authorization"] == [True] * 12


def test_in_mesh_caller_not_listed_is_refused_by_the_allow_policy(fleet):
    found = call(fleet, "prod-east-1/shop/frontend", "ledger.payments.svc.cluster.local:8443")
    assert found.failed.name == "authorization"
    assert "no rule of the ALLOW policies (payments/ledger-allow)" in found.failed.text


def test_nothing_exported_fails_at_dns_and_says_why(fleet):
    found = call(fleet, "prod-east-1/shop/frontend", "checkout.checkout.global:8080")
    assert [h.name for h in found.hops] == ["caller", "dns"]
    assert "NXDOMAIN" in found.failed.text and "checkout/checkout is a service of mesh staging that no export names" \
        in found.failed.text
    narrowed = call(fleet, "prod-east-2/shop/frontend", "search.catalog.global:8080")
    assert "to no consumer in prod-east-2" in narrowed.failed.text


def test_cross_network_in_mesh_call_crosses_the_east_west_gateway(fleet):
    found = call(fleet, "prod-east-2/shop/cart", "ledger.payments.svc.cluster.local:8443")
    assert found.allowed
    network = [h for h in found.hops if h.name == "network"]
    assert "same network as the caller" in network[0].text
    assert "istio-eastwestgateway of prod-west-1" in network[1].text
    assert "cross-network-gateway" in network[1].text and "outbound_.8443_._.ledger.payments.svc.cluster.local" in network[1].text


def test_global_name_follows_the_virtual_service_to_every_cluster(fleet):
    found = call(fleet, "prod-west-2/payments/ledger", "frontend.prod.global")
    assert found.allowed and found.port == 80
    route = next(h for h in found.hops if h.name == "route")
    assert "frontend.shop.svc.cluster.local:80 (100%)" in route.text
    clusters = [h.text.split(":")[0] for h in found.hops if h.name == "authorization"]
    assert clusters == ["at prod-east-1 (shop/frontend, configured by prod-east-1)",
                        "at prod-east-2 (shop/frontend, configured by prod-east-2)",
                        "at prod-west-2 (shop/frontend, configured by prod-west-1)"]


def test_json_format_and_exit_codes(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke("--format", "json", "explain", "fleet.example.yaml", "--from", "staging-eu-1/catalog/search",
                    "--to", "ledger.payments.global:8443")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["command"], document["exit_code"]) == ("explain", 1)
    data = document["explanation"]
    assert (data["allowed"], data["failed"], data["port"]) == (False, "authorization", 8443)
    assert data["hops"][1] == {"hop": "dns", "ok": True, "text": data["hops"][1]["text"],
                               "where": ["out/clusters/staging-eu-1/mesh/federation-imports.yaml:12",
                                         "out/clusters/staging-eu-1/helm/istiod-1-30-values.yaml:13",
                                         "fleet.example.yaml:159"]}


@pytest.mark.parametrize("args, message", [
    (["--from", "prod-east-1/shop"], "both --from"),
    (["--from", "prod-east-1/shop", "--to", "x:80"], "CLUSTER/NAMESPACE/SERVICEACCOUNT"),
    (["--matrix", "--to", "x:80"], "give either --matrix"),
    (["--from", "nowhere/shop/x", "--to", "x:80"], "unknown cluster 'nowhere'"),
    (["--from", "prod-east-1/shop/x", "--to", "x:http"], "not a number"),
])
def test_usage_errors_exit_2(args, message):
    result = CliRunner().invoke(cli.main, ["explain", str(EXAMPLE), *args])
    assert result.exit_code == 2
    assert message in result.output + (result.stderr if result.stderr_bytes else "")


def test_a_host_with_several_ports_needs_one(example_with):
    spec = example_with(
        "      - {name: http, number: 80, protocol: HTTP, targetPort: 8080}",
        "      - {name: http, number: 80, protocol: HTTP, targetPort: 8080}\n"
        "      - {name: metrics, number: 9090, protocol: HTTP}")
    result = CliRunner().invoke(cli.main, ["explain", str(spec), "--from", "prod-east-1/shop/cart", "--to",
                                           "frontend.shop.svc.cluster.local"])
    assert result.exit_code == 2
    assert "has ports 80, 9090: name one as HOST:PORT" in result.output


def test_per_cluster_target_ports_behind_one_exporter_entry_are_caught(example_with, monkeypatch):
    """The exporter ServiceEntry carries one targetPort per port; pods of another cluster configured by
    the same primary that listen elsewhere would get the federated requests on the wrong port.
    `meshgen validate` refuses the spec (E207); with that check switched off, explain names the pods."""
    from meshgen.checks import services

    spec = example_with(
        "      - {cluster: prod-west-1, count: 2}\n    callers:",
        "      - {cluster: prod-west-1, count: 2}\n"
        "      - {cluster: prod-west-2, count: 2, ports: [{name: grpc, number: 8443, protocol: GRPC, targetPort: 9444}]}\n"
        "    callers:")
    refused = invoke("validate", str(spec))
    assert refused.exit_code == 2
    assert ("error[E207]: exported service 'payments/ledger' listens on 9444 for port 'grpc' in cluster "
            "'prod-west-2' but on 9443 in cluster 'prod-west-1', both configured by the istiod of 'prod-west-1'"
            in refused.stderr)
    monkeypatch.setattr(services, "export_target_ports", lambda fleet, positions: [])
    built = build(Options(spec=spec))
    found = call(load_fleet(built.tree, built.model), "staging-eu-1/checkout/checkout", "ledger.payments.global:8443")
    assert found.failed.name == "export"
    assert found.failed.text == ("at prod-west-2: requests are sent to port 9443, but the pods of payments/ledger there "
                                 "listen on 9444")
    result = invoke("explain", str(spec), "--matrix")
    assert result.exit_code == 1
    assert ("mismatch: staging-eu-1/checkout/checkout -> ledger.payments.global:8443: granted by `meshgen access`, "
            "refused by the output on some of the ways a request may take") in result.output.splitlines()
