"""The Istio rules explain applies, each on a small input, and each on the rendered example where it decides
something (a tree edited in memory, so the rule is what flips the verdict)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshgen.emit import dump_yaml
from meshgen.explain import Caller, explain_call, istio, load_fleet
from meshgen.explain.authz import Request, decide
from meshgen.explain.reader import Document
from meshgen.pipeline import Options, build

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"
FEDERATED = ("staging-eu-1/checkout/checkout", "ledger.payments.global", 8443)


@pytest.fixture(scope="module")
def built():
    return build(Options(spec=EXAMPLE))


def explain(built, tree: dict[str, bytes], caller: str, host: str, port: int):
    return explain_call(load_fleet(tree, built.model), Caller.parse(caller), host, port)


def edited(tree: dict[str, bytes], path: str, old: str, new: str) -> dict[str, bytes]:
    text = tree[path].decode()
    assert old in text, (path, old)
    return {**tree, path: text.replace(old, new).encode()}


def policy(body: dict, namespace: str = "payments") -> Document:
    full = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "p", "namespace": namespace}, "spec": body}
    return Document("clusters/x/mesh/security.yaml", 1, full, dump_yaml(full))


# --- string matching, identities, trust domains --------------------------------------------------


@pytest.mark.parametrize("pattern, value, expected", [
    ("*", "td/ns/a/sa/b", True), ("td/*", "td/ns/a/sa/b", True), ("td/*", "other/ns/a/sa/b", False),
    ("*/sa/b", "td/ns/a/sa/b", True), ("td/ns/a/sa/b", "td/ns/a/sa/b", True), ("td/ns/a/sa/b", "td/ns/a/sa/bc", False),
    ("*", "", False),
])
def test_principal_string_match(pattern, value, expected):
    assert istio.string_match(pattern, value) is expected


def test_alias_expansion_rewrites_five_part_principals_of_the_bundle_only():
    bundle = ["prod.example", "old.example"]
    assert istio.expand_aliases(["prod.example/ns/shop/sa/cart"], bundle) == [
        "prod.example/ns/shop/sa/cart", "old.example/ns/shop/sa/cart"]
    assert istio.expand_aliases(["cluster.local/ns/shop/sa/cart"], bundle) == [
        "prod.example/ns/shop/sa/cart", "old.example/ns/shop/sa/cart"]
    assert istio.expand_aliases(["peer.example/ns/x/sa/y", "prod.example/ns/shop/*", "*/ns/a/sa/b"], bundle) == [
        "peer.example/ns/x/sa/y", "prod.example/ns/shop/*", "*/ns/a/sa/b"]


def test_an_alias_makes_a_peer_principal_match_a_policy_written_for_the_mesh():
    allow = policy({"action": "ALLOW", "rules": [{"from": [{"source": {"principals": ["prod.example/ns/shop/sa/cart"]}}]}]})
    peer = "staging.example/ns/shop/sa/cart"
    assert not decide([allow], Request(peer, 9443, ("prod.example",))).allowed
    assert decide([allow], Request(peer, 9443, ("prod.example", "staging.example"))).allowed


def test_accepted_trust_domains_are_own_aliases_and_ca_certificates():
    config = {"trustDomain": "prod.example", "trustDomainAliases": ["old.example"],
              "caCertificates": [{"trustDomains": ["staging.example"]}, {"pem": "..."}]}
    assert istio.accepted_trust_domains(config) == ["prod.example", "old.example", "staging.example"]
    assert istio.accepted_trust_domains({}) == ["cluster.local"]


# --- visibility, hosts, traffic policy -----------------------------------------------------------


@pytest.mark.parametrize("export_to, namespace, expected", [
    (None, "shop", True), (["*"], "shop", True), (["istio-system"], "shop", False),
    (["istio-system"], "istio-system", True), (["."], "payments", True), (["."], "shop", False), (["~"], "shop", False),
])
def test_export_to(export_to, namespace, expected):
    body = {"metadata": {"namespace": "payments"}, "spec": {} if export_to is None else {"exportTo": export_to}}
    assert istio.visible(body, namespace) is expected


def test_gateway_hosts_match_exactly_or_by_suffix_and_ignore_the_namespace_part():
    assert istio.host_matches("a.b.global", "a.b.global") and istio.host_matches("a.b.global", "*.global")
    assert istio.host_matches("a.b.global", "shop/a.b.global")  # ns/ does not scope AUTO_PASSTHROUGH
    assert not istio.host_matches("a.b.global", "b.global") and not istio.host_matches("a.b.local", "*.global")


def test_sni_of_a_port_and_host():
    assert istio.sni(8443, "ledger.payments.global") == "outbound_.8443_._.ledger.payments.global"


def rule(namespace: str, name: str = "r", export_to=None, mode="ISTIO_MUTUAL") -> Document:
    spec = {"host": "h.global", "trafficPolicy": {"tls": {"mode": mode}}}
    if export_to:
        spec["exportTo"] = export_to
    body = {"kind": "DestinationRule", "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    return Document("p", 1, body, "")


def test_destination_rule_precedence_caller_namespace_then_service_then_root():
    own, service, root = rule("shop"), rule("payments"), rule("istio-system")
    assert istio.destination_rule([root, service, own], "shop", "payments") is own
    assert istio.destination_rule([root, service], "shop", "payments") is service
    assert istio.destination_rule([root, rule("elsewhere")], "shop", "payments") is root
    assert istio.destination_rule([rule("elsewhere")], "shop", "payments") is None
    assert istio.destination_rule([rule("payments", export_to=["."]), root], "shop", "payments") is root


def test_tls_mode_port_level_first():
    body = {"spec": {"trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"},
                                        "portLevelSettings": [{"port": {"number": 80}, "tls": {"mode": "DISABLE"}}]}}}
    assert istio.tls_mode(body, 80) == "DISABLE" and istio.tls_mode(body, 81) == "ISTIO_MUTUAL" and istio.tls_mode(None, 80) == ""


def pa(namespace: str, mode: str, selector: dict | None = None, ports: dict | None = None) -> Document:
    spec: dict = {"mtls": {"mode": mode}}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = ports
    return Document("p", 1, {"kind": "PeerAuthentication", "metadata": {"name": "x", "namespace": namespace},
                             "spec": spec}, "")


def test_peer_authentication_workload_over_namespace_over_mesh_unset_inherits():
    mesh, namespace = pa("istio-system", "STRICT"), pa("payments", "PERMISSIVE")
    workload = pa("payments", "UNSET", {"app": "ledger"}, {9443: {"mode": "DISABLE"}})
    assert istio.peer_authentication([mesh], "payments", {"app": "ledger"}, 9443)[0] == "STRICT"
    assert istio.peer_authentication([mesh, namespace], "payments", {"app": "ledger"}, 9443)[0] == "PERMISSIVE"
    assert istio.peer_authentication([mesh, namespace, workload], "payments", {"app": "ledger"}, 9443)[0] == "DISABLE"
    assert istio.peer_authentication([mesh, namespace, workload], "payments", {"app": "ledger"}, 80)[0] == "PERMISSIVE"
    assert istio.peer_authentication([], "payments", {}, 80) == ("PERMISSIVE", None)


def test_auto_allocation_needs_1_25_dns_capture_a_resolution_and_no_opt_out():
    entry = {"metadata": {"labels": {}}, "spec": {"resolution": "STATIC"}}
    assert istio.auto_allocated(25, True, entry)
    assert not istio.auto_allocated(24, True, entry) and not istio.auto_allocated(25, False, entry)
    assert not istio.auto_allocated(25, True, {"metadata": {}, "spec": {"resolution": "NONE"}})
    assert not istio.auto_allocated(25, True, {"metadata": {"labels": {"networking.istio.io/enable-autoallocate-ip": "false"}},
                                               "spec": {"resolution": "DNS"}})


# --- authorization order ------------------------------------------------------------------------


def test_deny_before_allow_and_no_allow_means_allowed():
    deny = policy({"action": "DENY", "rules": [{"from": [{"source": {"principals": ["staging/*"],
                                                                    "notPrincipals": ["staging/ns/a/sa/b"]}}]}]})
    allow = policy({"action": "ALLOW", "selector": {"matchLabels": {"app": "ledger"}},
                    "rules": [{"from": [{"source": {"principals": ["staging/*"]}}], "to": [{"operation": {"ports": ["9443"]}}]}]})
    assert decide([deny, allow], Request("staging/ns/a/sa/b", 9443, ("prod",))).allowed
    assert not decide([deny, allow], Request("staging/ns/a/sa/c", 9443, ("prod",))).allowed
    assert not decide([allow], Request("staging/ns/a/sa/b", 8443, ("prod",))).allowed  # the workload port counts
    assert decide([deny], Request("prod/ns/x/sa/y", 1, ("prod",))).text.startswith("no ALLOW policy")
    assert not decide([allow], Request(None, 9443, ("prod",))).allowed  # plain text has no principal


def test_unread_fields_make_a_deny_match_and_an_allow_not_match():
    deny = policy({"action": "DENY", "rules": [{"to": [{"operation": {"methods": ["POST"]}}]}]})
    allow = policy({"action": "ALLOW", "rules": [{"to": [{"operation": {"paths": ["/x"]}}]}]})
    assert "taken as matching" in decide([deny], Request("a/ns/b/sa/c", 1, ("a",))).text
    found = decide([allow], Request("a/ns/b/sa/c", 1, ("a",)))
    assert not found.allowed and "taken as not matching" in found.text


def test_namespaces_and_service_accounts_sources():
    by_namespace = policy({"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": ["sh*"]}}]}]})
    by_account = policy({"action": "ALLOW", "rules": [{"from": [{"source": {"serviceAccounts": ["cart", "shop/front"]}}]}]})
    assert decide([by_namespace], Request("td/ns/shop/sa/x", 1, ("td",))).allowed
    assert not decide([by_namespace], Request("td/ns/payments/sa/x", 1, ("td",))).allowed
    assert decide([by_account], Request("td/ns/payments/sa/cart", 1, ("td",))).allowed  # policy's namespace
    assert decide([by_account], Request("other/ns/shop/sa/front", 1, ("td",))).allowed
    assert not decide([by_account], Request("td/ns/shop/sa/cart", 1, ("td",))).allowed


# --- rules deciding a call of the rendered example -----------------------------------------------


def test_no_authorization_at_an_auto_passthrough_gateway(built):
    """[APGW] "We do not want any authz here": a DENY-all selecting the federation gateway changes nothing."""
    deny_all = dump_yaml({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                          "metadata": {"name": "deny-all", "namespace": "istio-system"},
                          "spec": {"selector": {"matchLabels": {"istio": "federationgateway"}}, "action": "DENY",
                                   "rules": [{}]}})
    path = "clusters/prod-east-1/mesh/security.yaml"
    tree = {**built.tree, path: built.tree[path] + b"---\n" + deny_all.encode()}
    assert explain(built, tree, *FEDERATED).allowed


def test_a_root_namespace_policy_selecting_the_workload_applies(built):
    deny = dump_yaml({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                      "metadata": {"name": "deny-staging", "namespace": "istio-system"},
                      "spec": {"selector": {"matchLabels": {"app": "ledger"}}, "action": "DENY",
                               "rules": [{"from": [{"source": {"principals": ["staging.corp.example/*"]}}]}]}})
    path = "clusters/prod-east-1/mesh/security.yaml"
    found = explain(built, {**built.tree, path: built.tree[path] + b"---\n" + deny.encode()}, *FEDERATED)
    assert found.failed.name == "authorization" and "istio-system/deny-staging" in found.failed.text


def test_a_host_missing_from_the_exposure_gateway_has_no_filter_chain(built):
    tree = edited(built.tree, "clusters/prod-west-1/mesh/federation-exports.yaml", "        - ledger.payments.global\n",
                  "        - other.payments.global\n")
    found = explain(built, tree, *FEDERATED)
    assert found.failed.name == "gateway" and "federation.prod-west-1" in found.failed.text
    assert "SNI outbound_.8443_._.ledger.payments.global has no filter chain" in found.failed.text


def test_an_exporter_entry_not_exported_to_the_gateway_namespace_hides_the_service(built):
    tree = edited(built.tree, "clusters/prod-east-1/mesh/federation-exports.yaml", "    - istio-system\n", "    - payments\n")
    found = explain(built, tree, *FEDERATED)
    assert found.failed.name == "export" and "not exported there" in found.failed.text


def test_the_client_checks_the_server_identity(built):
    tree = edited(built.tree, "clusters/staging-eu-1/mesh/federation-imports.yaml",
                  "        - spiffe://prod.corp.example/ns/payments/sa/ledger\n",
                  "        - spiffe://prod.corp.example/ns/payments/sa/someone-else\n")
    found = explain(built, tree, *FEDERATED)
    assert found.failed.name == "tls" and "not in subjectAltNames" in found.failed.text


def test_a_peer_root_missing_from_root_cert_pem_fails_trust(built):
    tree = edited(built.tree, "clusters/prod-east-1/bootstrap/secrets.yaml", '\n          {{ index . "peer-root-staging" }}', "")
    found = explain(built, tree, *FEDERATED)
    assert found.failed.name == "trust" and "does not hold staging-eu-1's root pki/staging-root/ca" in found.failed.text


def test_an_unaccepted_trust_domain_fails_trust(built):
    tree = edited(built.tree, "clusters/prod-west-1/helm/istiod-values.yaml", "        - staging.corp.example\n",
                  "        - someone.example\n")
    found = explain(built, tree, *FEDERATED)
    assert [h.ok for h in found.hops if h.name == "trust"] == [True, False]
    assert "accepts trust domains prod.corp.example, someone.example only" in found.failed.text


def test_an_east_west_gateway_of_the_consumer_on_the_exporter_network_steals_the_endpoint(built):
    """[EPF]: endpoints of a network with known gateways are replaced by those gateways (E214 guards the spec)."""
    values = b"name: istio-eastwestgateway\nnetworkGateway: net-us-east\n"
    tree = {**built.tree, "clusters/staging-eu-1/helm/istio-eastwestgateway-values.yaml": values}
    found = explain(built, tree, *FEDERATED)
    assert found.failed.name == "gateway" and "replaces the endpoint" in found.failed.text


def address_less_tcp_import(built) -> dict[str, bytes]:
    """prod-east-1 on Istio 1.24 (no IP auto-allocation) with its import of search.catalog.global made a
    TCP port without an address: CoreDNS still answers the name (prod has a CoreDNS block)."""
    path = "clusters/prod-east-1/mesh/federation-imports.yaml"
    tree = edited(built.tree, path, "  addresses:\n    - 240.10.78.122\n", "")
    tree = edited(tree, path, "      protocol: HTTP\n", "      protocol: TCP\n")
    return edited(tree, "clusters/prod-east-1/kustomization.yaml", "meshgen.dev/istio-version: \"1.28\"",
                  "meshgen.dev/istio-version: \"1.24\"")


def test_an_address_less_tcp_entry_listens_on_every_destination_of_its_port(built):
    """SE11 / IST0134: without an address and without auto-allocation a TCP port listens on 0.0.0.0."""
    found = explain(built, address_less_tcp_import(built), "prod-east-1/shop/frontend", "search.catalog.global", 8080)
    dns, service = found.hops[1], found.hops[2]
    assert "CoreDNS of prod-east-1 answers search.catalog.global with 240.10.78.122" in dns.text
    assert service.ok and "0.0.0.0:8080 also captures every other destination on port 8080 (IST0134)" in service.text
    assert found.allowed


def test_two_address_less_tcp_entries_on_one_port_collide(built):
    tree = address_less_tcp_import(built)
    other = dump_yaml({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                       "metadata": {"name": "db", "namespace": "shop"},
                       "spec": {"hosts": ["db.example.com"], "ports": [{"name": "tcp", "number": 8080, "protocol": "TCP"}],
                                "location": "MESH_EXTERNAL", "resolution": "DNS"}})
    path = "clusters/prod-east-1/mesh/federation-imports.yaml"
    tree = {**tree, path: tree[path] + b"---\n" + other.encode()}
    found = explain(built, tree, "prod-east-1/shop/frontend", "search.catalog.global", 8080)
    assert found.failed.name == "service" and "shop/db" in found.failed.text and "shared by" in found.failed.text
    with_address = edited(tree, path, "  hosts:\n    - db.example.com\n", "  hosts:\n    - db.example.com\n  addresses:\n    - 10.9.9.9\n")
    assert explain(built, with_address, "prod-east-1/shop/frontend", "search.catalog.global", 8080).allowed


def test_injection_missing_on_the_caller_namespace(built):
    path = "clusters/staging-eu-1/bootstrap/namespaces.yaml"
    text = built.tree[path].decode()
    start = text.index("  name: checkout\n")
    text = text[:start] + text[start:].replace("    istio.io/rev: 1-30\n", "", 1)
    found = explain(built, {**built.tree, path: text.encode()}, *FEDERATED)
    assert found.failed.name == "caller" and "no injection label" in found.failed.text


def test_authorization_sees_the_target_port_of_the_port_called(example_with):
    """`to.operation.ports` are the ports at the workload (reference §8.1): each Service port maps to its own."""
    spec = example_with(
        "      - {name: grpc, number: 8443, protocol: GRPC, targetPort: 9443}",
        "      - {name: grpc, number: 8443, protocol: GRPC, targetPort: 9443}\n"
        "      - {name: metrics, number: 9090, protocol: HTTP, targetPort: 9091}")
    built = build(Options(spec=spec))
    tree = edited(built.tree, "clusters/prod-east-1/mesh/security.yaml", '              - "9091"\n', "")
    grpc = explain(built, tree, "prod-east-2/shop/cart", "ledger.payments.svc.cluster.local", 8443)
    metrics = explain(built, tree, "prod-east-2/shop/cart", "ledger.payments.svc.cluster.local", 9090)
    assert grpc.allowed
    assert metrics.failed.name == "authorization" and "on port 9091" in metrics.failed.text
    assert "at prod-east-1" in metrics.failed.text  # prod-west-1's policy still lists 9091
