"""Semantic checks, one family at a time: inline YAML in, (code, line, col) and messages out."""

from __future__ import annotations

from meshgen.checks import federation, names, network, run_checks, services, trust
from meshgen.diagnostics import Severity
from meshgen.spec.loader import did_you_mean, load

FILE = "fleet.yaml"

# Two meshes with one root, each on its own network; prod exports ledger to staging's checkout namespace.
BASE = """\
apiVersion: meshgen.dev/v1alpha1
kind: Fleet
metadata:
  name: unit
networks:
  - name: net-a
  - name: net-b
rootsOfTrust:
  - name: corp-root
    store: {name: vault-pki}
    certificatePath: pki/corp-root/ca
  - name: lab-root
    store: {name: vault-pki}
    certificatePath: pki/lab-root/ca
meshes:
  - name: prod
    trustDomain: prod.corp.example
    rootOfTrust: corp-root
    secretStore: {name: vault-istio}
  - name: staging
    trustDomain: staging.corp.example
    rootOfTrust: corp-root
    secretStore: {name: vault-istio}
clusters:
  - name: prod-1
    network: net-a
    mesh: prod
    locality: {region: us-east1}
    podCIDRs: [10.1.0.0/16]
    serviceCIDRs: [10.101.0.0/20]
    federationGateways:
      - address: 10.0.0.10
  - name: staging-1
    network: net-b
    mesh: staging
    locality: {region: eu-west1}
    podCIDRs: [10.2.0.0/16]
    serviceCIDRs: [10.102.0.0/20]
    federationGateways:
      - address: 10.0.0.20
services:
  - name: ledger
    namespace: payments
    serviceAccounts: [ledger]
    ports:
      - {name: grpc, number: 8443, protocol: GRPC}
    instances:
      - {cluster: prod-1, count: 2}
    callers:
      - {namespace: payments}
exports:
  - service: payments/ledger
    mesh: prod
    to:
      - mesh: staging
        namespaces: [checkout]
"""

PROD_2 = """\
  - name: prod-2
    network: net-a
    mesh: prod
    locality: {region: us-east1}
    podCIDRs: [10.3.0.0/16]
    serviceCIDRs: [10.103.0.0/20]
"""


def edited(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def with_prod_2(extra: str = "") -> tuple[str, str]:
    """An edit that adds cluster prod-2 (mesh prod, network net-a) before staging-1."""
    return ("  - name: staging-1\n", PROD_2 + extra + "  - name: staging-1\n")


def loaded(text: str):
    result = load(text.encode(), FILE)
    assert result.fleet is not None, [d.format() for d in result.diagnostics]
    return result


def run(check, text: str) -> list[tuple[str, int, int]]:
    spec = loaded(text)
    return sorted((d.code, d.span.line, d.span.col) for d in check(spec.fleet, spec.positions))


def messages(check, text: str) -> list[str]:
    spec = loaded(text)
    return sorted(d.message + (f" ({d.hint})" if d.hint else "") for d in check(spec.fleet, spec.positions))


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line of ``text`` that contains ``needle``."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return found[occurrence - 1]


def test_the_base_is_clean():
    spec = loaded(BASE)
    # its two federated meshes share one root, which is worth a warning and nothing else
    assert [d.code for d in run_checks(spec.fleet, spec.positions)] == ["W205"]


# --- names ------------------------------------------------------------------------------------


def test_duplicate_names_point_at_the_second_name():
    text = edited(("  - name: net-b\n", "  - name: net-a\n"), ("    network: net-b\n", "    network: net-a\n"))
    assert messages(names.duplicates, text) == [
        "networks entry 'net-a' is declared twice (first declared at line 6; names are unique per kind)"
    ]
    assert run(names.duplicates, text) == [("E201", 7, 11)]


def test_names_are_unique_per_kind_not_across_kinds():
    text = edited(("  - name: net-b\n", "  - name: prod\n"), ("    network: net-b\n", "    network: prod\n"))
    assert run(names.check, text) == []


def test_services_are_unique_by_namespace_and_name():
    same_name_other_namespace = ("exports:\n", "  - name: ledger\n    namespace: audit\n    ports:\n"
                                               "      - {name: http, number: 80}\n    instances:\n"
                                               "      - {cluster: prod-1}\nexports:\n")
    assert run(names.duplicates, edited(same_name_other_namespace)) == []
    clash = (same_name_other_namespace[0], same_name_other_namespace[1].replace("audit", "payments"))
    text = edited(clash)
    assert run(names.duplicates, text) == [("E201", line_of(text, "  - name: ledger", 2), 5)]


def test_unknown_reference_with_did_you_mean():
    text = edited(("    network: net-b\n", "    network: net-c\n"))
    assert messages(names.references, text) == ["unknown network 'net-c' (did you mean 'net-b'?)"]
    assert run(names.references, text) == [("E202", line_of(text, "network: net-c"), 14)]


def test_unknown_reference_without_a_close_match_lists_known_names():
    text = edited(("    mesh: staging\n    locality", "    mesh: qa\n    locality"))
    assert messages(names.references, text) == ["unknown mesh 'qa' (known: prod, staging)"]


def test_every_kind_of_reference_is_resolved():
    text = edited(
        ("    rootOfTrust: corp-root\n    secretStore: {name: vault-istio}\n  - name: staging",
         "    rootOfTrust: corp-rot\n    secretStore: {name: vault-istio}\n  - name: staging"),
        ("{cluster: prod-1, count: 2}", "{cluster: prod-one, count: 2}"),
        ("  - service: payments/ledger\n", "  - service: payment/ledger\n"),
        ("      - mesh: staging\n", "      - mesh: stagin\n"),
    )
    assert messages(names.references, text) == [
        "unknown cluster 'prod-one' (did you mean 'prod-1'?)",
        "unknown mesh 'stagin' (did you mean 'staging'?)",
        "unknown root of trust 'corp-rot' (did you mean 'corp-root'?)",
        "unknown service 'payment/ledger' (did you mean 'payments/ledger'?)",
    ]


def test_did_you_mean_wording():
    assert did_you_mean("stagin", ["prod", "staging"]) == "did you mean 'staging'?"
    assert did_you_mean("qa", ["prod", "staging"]) == ""


def test_later_checks_wait_for_references_to_resolve():
    text = edited(("{cluster: prod-1, count: 2}", "{cluster: prod-one, count: 2}"))
    spec = loaded(text)
    assert [d.code for d in run_checks(spec.fleet, spec.positions)] == ["E202"]


# --- network ----------------------------------------------------------------------------------


def test_cidr_overlap_on_one_network():
    text = edited(("    network: net-b\n", "    network: net-a\n"), ("podCIDRs: [10.2.0.0/16]", "podCIDRs: [10.1.128.0/17]"))
    assert messages(network.cidr_overlaps, text) == [
        "podCIDRs 10.1.128.0/17 of cluster 'staging-1' overlaps podCIDRs 10.1.0.0/16 of cluster 'prod-1' on network "
        "'net-a' (clusters on one network need disjoint pod and service CIDRs; put them on different networks if "
        "they are not routable)"
    ]
    assert run(network.cidr_overlaps, text) == [("E204", line_of(text, "podCIDRs: [10.1.128.0/17]"), 16)]


def test_pod_and_service_cidrs_may_not_overlap_each_other_either():
    text = edited(("    network: net-b\n", "    network: net-a\n"), ("podCIDRs: [10.2.0.0/16]", "podCIDRs: [10.101.0.0/24]"))
    assert [c for c, _, _ in run(network.cidr_overlaps, text)] == ["E204"]


def test_cidrs_may_overlap_across_networks():
    text = edited(("podCIDRs: [10.2.0.0/16]", "podCIDRs: [10.1.0.0/16]"),
                  ("serviceCIDRs: [10.102.0.0/20]", "serviceCIDRs: [10.101.0.0/20]"))
    assert run(network.check, text) == []


def test_ipv4_and_ipv6_blocks_never_overlap():
    text = edited(("    network: net-b\n", "    network: net-a\n"), ("podCIDRs: [10.2.0.0/16]", "podCIDRs: ['fd00::/64']"))
    assert run(network.cidr_overlaps, text) == []


def test_multi_network_mesh_needs_gateways():
    text = edited(("    mesh: staging\n    locality", "    mesh: prod\n    locality"),
                  ("    serviceCIDRs: [10.102.0.0/20]\n    federationGateways:\n      - address: 10.0.0.20\n",
                   "    serviceCIDRs: [10.102.0.0/20]\n"))
    text = text.replace("    federationGateways:\n      - address: 10.0.0.10", "    gateways:\n      - address: 10.0.0.10\n"
                        "    federationGateways:\n      - address: 10.0.0.11")
    assert messages(network.gateways, text) == [
        "cluster 'staging-1' needs an east-west gateway address: mesh 'prod' spans several networks and no cluster "
        "on 'net-b' has one (add `gateways: [{address: <LB IP or DNS name>}]`)"
    ]


def test_a_gateway_on_the_same_network_serves_its_neighbours():
    text = edited(with_prod_2(), ("{cluster: prod-1, count: 2}", "{cluster: prod-2, count: 2}"))
    assert run(network.gateways, text) == []  # prod-2 runs the export; prod-1's federation gateway fronts it


def test_an_exporting_cluster_needs_a_federation_gateway():
    """F2: peers reach exports through federation gateways only; an east-west gateway is not one."""
    text = edited(("    serviceCIDRs: [10.101.0.0/20]\n    federationGateways:\n      - address: 10.0.0.10\n",
                   "    serviceCIDRs: [10.101.0.0/20]\n    gateways:\n      - address: 10.0.0.10\n"))
    assert run(network.gateways, text) == [("E205", line_of(text, "  - name: prod-1"), 5)]
    assert "needs a federation gateway address" in messages(network.gateways, text)[0]


def test_a_primary_serving_remotes_by_ipv6_is_refused():
    """R6: the istiod chart points a remote's webhook only at an IPv4 address or a DNS name."""
    text = edited(with_prod_2("    controlPlane: {role: remote, primary: prod-1}\n"),
                  ("    federationGateways:\n      - address: 10.0.0.10\n",
                   "    federationGateways:\n      - address: 10.0.0.10\n    gateways:\n      - address: '2001:db8::10'\n"))
    assert run(network.gateways, text) == [("E205", line_of(text, "2001:db8::10"), 18)]


def test_remote_names_a_primary_of_its_own_mesh():
    text = edited(("    mesh: staging\n    locality: {region: eu-west1}\n",
                   "    mesh: staging\n    locality: {region: eu-west1}\n    controlPlane: {role: remote, primary: prod-1}\n"))
    assert messages(network.control_planes, text) == [
        "mesh 'staging' has no primary cluster (give one of its clusters `controlPlane: {role: primary}`)",
        "remote cluster 'staging-1' names primary 'prod-1', which is in mesh 'prod', not 'staging' "
        "(a remote names a primary cluster of its own mesh)",
    ]


def test_remote_of_a_remote_is_refused():
    remote = "    controlPlane: {role: remote, primary: prod-1}\n"
    third = PROD_2.replace("prod-2", "prod-3").replace("10.3.", "10.4.").replace("10.103.", "10.104.")
    third = third.replace("    podCIDRs", "    controlPlane: {role: remote, primary: prod-2}\n    podCIDRs")
    text = edited(with_prod_2(""), ("  - name: staging-1\n", third + "  - name: staging-1\n"))
    text = text.replace("    serviceCIDRs: [10.103.0.0/20]\n", "    serviceCIDRs: [10.103.0.0/20]\n" + remote, 1)
    assert [m.split(",")[0] for m in messages(network.control_planes, text)] == [
        "remote cluster 'prod-3' names primary 'prod-2'"
    ]


# --- services ---------------------------------------------------------------------------------


def test_ports_must_agree_across_clusters_of_a_mesh():
    text = edited(with_prod_2(), ("      - {cluster: prod-1, count: 2}\n",
                                  "      - {cluster: prod-1, count: 2}\n      - cluster: prod-2\n"
                                  "        ports:\n          - {name: grpc, number: 8443, protocol: HTTP2}\n"))
    assert messages(services.check, text) == [
        "service 'payments/ledger' declares ports [grpc 8443/HTTP2] in cluster 'prod-2' but [grpc 8443/GRPC] in "
        "cluster 'prod-1' of the same mesh (Istio merges endpoints by port name: use the same ports everywhere)"
    ]


def test_same_ports_restated_per_cluster_are_fine():
    text = edited(with_prod_2(), ("      - {cluster: prod-1, count: 2}\n",
                                  "      - {cluster: prod-1, count: 2}\n      - cluster: prod-2\n"
                                  "        ports:\n          - {name: grpc, number: 8443, protocol: GRPC}\n"))
    assert run(services.check, text) == []


def test_a_cluster_listed_twice_under_instances():
    text = edited(("      - {cluster: prod-1, count: 2}\n", "      - {cluster: prod-1, count: 2}\n      - {cluster: prod-1}\n"))
    assert run(services.check, text) == [("E201", line_of(text, "{cluster: prod-1}"), 9)]


# --- federation -------------------------------------------------------------------------------


def test_export_names_a_service_running_in_the_exporting_mesh():
    text = edited(("    mesh: prod\n    to:\n      - mesh: staging\n", "    mesh: staging\n    to:\n      - mesh: prod\n"))
    assert run(federation.exports, text) == [("E208", line_of(text, "    mesh: staging", 2), 11)]


def test_consumers_are_outside_the_exporting_mesh():
    text = edited(("        namespaces: [checkout]\n", "        namespaces: [checkout]\n      - cluster: prod-1\n"))
    assert messages(federation.exports, text) == [
        "consumer cluster 'prod-1' is inside the exporting mesh 'prod': an export crosses mesh boundaries (for one "
        "name in every cluster of the mesh, declare it under `globalNames`; to admit in-mesh callers, list them "
        "under the service's `callers`)"
    ]


def test_exported_names_do_not_collide():
    text = edited(
        ("exports:\n", "  - name: invoices\n    namespace: billing\n    ports:\n      - {name: grpc, number: 8443}\n"
                       "    instances:\n      - {cluster: prod-1}\nexports:\n"),
        ("        namespaces: [checkout]\n", "        namespaces: [checkout]\n  - service: billing/invoices\n"
                                             "    mesh: prod\n    host: ledger.payments.global\n    to:\n"
                                             "      - mesh: staging\n        namespaces: [checkout]\n"))
    first = line_of(text, "  - service: payments/ledger")
    assert messages(federation.names, text) == [
        f"name 'ledger.payments.global' is already used at line {first} (set `host:` on one of them to a distinct name)"
    ]
    assert run(federation.names, text) == [("E211", line_of(text, "host: ledger.payments.global"), 11)]  # host: value


def test_exported_names_stay_clear_of_kubernetes_names():
    text = edited(("    mesh: prod\n    to:\n", "    mesh: prod\n    host: ledger.payments.svc\n    to:\n"))
    assert run(federation.names, text) == [("E211", line_of(text, "host: ledger.payments.svc"), 11)]


# --- trust ------------------------------------------------------------------------------------


STAGING_LAB = ("    trustDomain: staging.corp.example\n    rootOfTrust: corp-root\n",
               "    trustDomain: staging.corp.example\n    rootOfTrust: lab-root\n")


def bundle(mesh: str, path: str) -> str:
    return f"    trustBundles:\n      - mesh: {mesh}\n        store: {{name: vault-pki}}\n        certificatePath: {path}\n"


def test_cluster_root_must_equal_mesh_root():
    text = edited(("    mesh: prod\n    locality: {region: us-east1}\n",
                   "    mesh: prod\n    locality: {region: us-east1}\n    rootOfTrust: lab-root\n"))
    assert run(trust.roots, text) == [("E212", line_of(text, "rootOfTrust: lab-root"), 18)]
    assert run(trust.roots, text.replace("    rootOfTrust: lab-root\n    podCIDRs", "    rootOfTrust: corp-root\n    podCIDRs")) == []


def test_different_roots_need_bundles_both_ways():
    text = edited(STAGING_LAB)
    assert [m.split(";")[1].split(" (")[0] for m in messages(trust.edges, text)] == [
        " mesh 'prod' has no trust bundle for 'staging'",
        " mesh 'staging' has no trust bundle for 'prod'",
    ]


def test_a_bundle_one_way_is_not_enough():
    text = edited(STAGING_LAB, ("    rootOfTrust: lab-root\n    secretStore: {name: vault-istio}\n",
                                "    rootOfTrust: lab-root\n    secretStore: {name: vault-istio}\n"
                                + bundle("prod", "pki/corp-root/ca")))
    assert len(run(trust.edges, text)) == 1


def test_bundles_both_ways_are_enough():
    text = edited(
        STAGING_LAB,
        ("    rootOfTrust: lab-root\n    secretStore: {name: vault-istio}\n",
         "    rootOfTrust: lab-root\n    secretStore: {name: vault-istio}\n" + bundle("prod", "pki/corp-root/ca")),
        ("    rootOfTrust: corp-root\n    secretStore: {name: vault-istio}\n  - name: staging",
         "    rootOfTrust: corp-root\n    secretStore: {name: vault-istio}\n" + bundle("staging", "pki/lab-root/ca")
         + "  - name: staging"),
    )
    assert run(trust.check, text) == []


def test_warnings_are_warnings():
    text = edited(("      - mesh: staging\n        namespaces: [checkout]\n", "      - mesh: staging\n"),
                  ("address: 10.0.0.20", "address: 8.8.4.4"),
                  ("    secretStore: {name: vault-istio}\n  - name: staging",
                   "    secretStore: {name: vault-istio}\n    mtls: PERMISSIVE\n  - name: staging"))
    spec = loaded(text)
    found = trust.warnings(spec.fleet, spec.positions)
    export = line_of(text, "  - service: payments/ledger")
    assert sorted((d.code, d.span.line, d.span.col) for d in found) == [
        ("W201", export, 5), ("W202", line_of(text, "8.8.4.4"), 18), ("W203", line_of(text, "mtls: PERMISSIVE"), 11),
        ("W205", export, 5)]
    assert all(d.severity is Severity.WARNING for d in found)


def test_open_export_warning_ignores_narrowed_and_in_mesh_consumers():
    narrowed_plus_inside = edited(("        namespaces: [checkout]\n", "        namespaces: [checkout]\n      - cluster: prod-1\n"))
    assert [c for c, _, _ in run(trust.warnings, narrowed_plus_inside)] == ["W205"]  # E209's business, not W201's
    open_to_one_cluster = edited(("      - mesh: staging\n        namespaces: [checkout]\n", "      - cluster: staging-1\n"))
    assert [c for c, _, _ in run(trust.warnings, open_to_one_cluster)] == ["W201", "W205"]


def test_private_or_dns_gateways_do_not_warn():
    text = edited(("address: 10.0.0.20", "address: federation.staging.corp.example"))
    assert [c for c, _, _ in run(trust.warnings, text)] == ["W205"]
