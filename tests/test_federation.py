"""Federation rendering: exporter ServiceEntry + exposure Gateway, consumer ServiceEntry + DestinationRule,
CoreDNS block. Inline specs in, expected objects out; every object also passes conformance."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from meshgen.checks import run_checks
from meshgen.conformance import validate_object
from meshgen.diagnostics import MeshgenError
from meshgen.pipeline import Options, build
from meshgen.render import dns, federation
from meshgen.render.install import istiod_release
from meshgen.resolve import resolve
from meshgen.spec.loader import load

# Mesh a: two networks (a-1 with remote a-3 on net-a1; a-2 on net-a2 behind a DNS-named gateway).
# Mesh b: one network, primary b-1 with remote b-2. Different roots, trusted both ways.
FLEET = """
apiVersion: meshgen.dev/v1alpha1
kind: Fleet
metadata: {name: unit}
networks: [{name: net-a1}, {name: net-a2}, {name: net-b}]
rootsOfTrust:
  - {name: root-a, store: {name: pki}, certificatePath: pki/a}
  - {name: root-b, store: {name: pki}, certificatePath: pki/b}
meshes:
  - name: a
    trustDomain: a.example
    rootOfTrust: root-a
    secretStore: {name: vault}
    dns: {coreDNS: true}
    trustBundles: [{mesh: b, store: {name: pki}, certificatePath: pki/b}]
  - name: b
    trustDomain: b.example
    rootOfTrust: root-b
    secretStore: {name: vault}
    dns: {coreDNS: true}
    trustBundles: [{mesh: a, store: {name: pki}, certificatePath: pki/a}]
clusters:
  - {name: a-1, network: net-a1, mesh: a, locality: {region: r1, zone: z1}, podCIDRs: [10.1.0.0/16],
     serviceCIDRs: [10.101.0.0/20], gateways: [{address: 192.0.2.1}], federationGateways: [{address: 192.0.2.2}]}
  - {name: a-2, network: net-a2, mesh: a, locality: {region: r2, zone: z2}, podCIDRs: [10.2.0.0/16],
     serviceCIDRs: [10.102.0.0/20], gateways: [{address: gw.a-2.example}],
     federationGateways: [{address: fed.a-2.example}]}
  - {name: a-3, network: net-a1, mesh: a, locality: {region: r1, zone: z3}, podCIDRs: [10.3.0.0/16],
     serviceCIDRs: [10.103.0.0/20], controlPlane: {role: remote, primary: a-1}}
  - {name: b-1, network: net-b, mesh: b, locality: {region: r1, zone: z1}, podCIDRs: [10.11.0.0/16],
     serviceCIDRs: [10.111.0.0/20], gateways: [{address: 192.0.2.10}], federationGateways: [{address: 192.0.2.11}]}
  - {name: b-2, network: net-b, mesh: b, locality: {region: r1, zone: z2}, podCIDRs: [10.12.0.0/16],
     serviceCIDRs: [10.112.0.0/20], controlPlane: {role: remote, primary: b-1}}
services:
  - name: orders
    namespace: api
    serviceAccounts: [orders, orders-admin]
    ports:
      - {name: http, number: 80, protocol: HTTP, targetPort: 8080}
      - {name: grpc, number: 9090, protocol: GRPC}
    instances: [{cluster: a-1, count: 2}, {cluster: a-3, count: 2}, {cluster: a-2, count: 1}]
    callers: [{namespace: billing, serviceAccount: invoicer}, {namespace: ops}]
  - name: pricing
    namespace: api
    ports: [{name: tcp, number: 5432, protocol: TCP}]
    instances: [{cluster: a-1, count: 1}]
  - name: internal
    namespace: api
    ports: [{name: http, number: 80, protocol: HTTP}]
    instances: [{cluster: a-1, count: 1}]
  - name: shop
    namespace: web
    ports: [{name: http, number: 8080, protocol: HTTP}]
    instances: [{cluster: b-1, count: 1}, {cluster: b-2, count: 1}]
exports:
  - service: api/orders
    mesh: a
    to: [{mesh: b, serviceAccounts: [web/shop]}]
  - service: api/pricing
    mesh: a
    to: [{cluster: b-2, namespaces: [web]}]
  - service: web/shop
    mesh: b
    to: [{cluster: a-1, serviceAccounts: [front/ui]}]
"""

ADDRESSES = {"orders.api.global": "240.10.0.1", "pricing.api.global": "240.10.0.2", "shop.web.global": "240.10.0.3"}


def spec_data(text: str = FLEET) -> dict:
    return YAML(typ="safe").load(text)


def dump(data: dict) -> str:
    import io

    stream = io.StringIO()
    YAML(typ="safe").dump(data, stream)
    return stream.getvalue()


def build_model(text: str = FLEET, addresses: dict | None = None):
    """A resolved model from inline YAML; fails the test on any spec error."""
    loaded = load(text.encode(), "fleet.yaml")
    assert loaded.fleet is not None, [d.format() for d in loaded.diagnostics]
    problems = [d.format() for d in run_checks(loaded.fleet, loaded.positions) if d.is_error]
    assert not problems, problems
    return resolve(loaded.fleet, loaded.positions, ADDRESSES if addresses is None else addresses)


def objects(resources, kind: str, path_part: str = "") -> list[dict]:
    return [r.body for r in resources if r.kind == kind and path_part in r.path]


def by_path(resources, kind: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for r in resources:
        if r.kind == kind:
            found.setdefault(r.path, []).append(r.body)
    return found


@pytest.fixture(scope="module")
def rendered():
    return federation.render(build_model())


# --- conformance -------------------------------------------------------------------------------------


def test_every_federation_and_dns_object_passes_conformance(rendered):
    model = build_model()
    for body in [r.body for r in rendered] + [r.body for r in dns.render(model)]:
        assert validate_object(body) == [], body["metadata"]["name"]


# --- exporter side -----------------------------------------------------------------------------------


def test_exporter_objects_go_to_every_primary_of_the_exporting_mesh_only(rendered):
    gateways = by_path(rendered, "Gateway")
    assert sorted(gateways) == ["clusters/a-1/mesh/federation-exports.yaml", "clusters/a-2/mesh/federation-exports.yaml",
                                "clusters/b-1/mesh/federation-exports.yaml"]


def test_exposure_gateway_lists_exactly_the_exported_hosts(rendered):
    (gateway,) = objects(rendered, "Gateway", "/a-1/")
    assert gateway["metadata"]["name"] == "federation-exports"
    assert gateway["metadata"]["namespace"] == "istio-system"
    assert gateway["spec"]["selector"] == {"istio": "federationgateway"}  # F2: never the east-west gateways
    (server,) = gateway["spec"]["servers"]
    assert server["port"] == {"number": 15443, "name": "tls-federation", "protocol": "TLS"}
    assert server["tls"] == {"mode": "AUTO_PASSTHROUGH"}
    assert server["hosts"] == ["orders.api.global", "pricing.api.global"]


def test_no_non_exported_host_appears_in_any_exposure_gateway(rendered):
    model = build_model()
    exported_by_mesh = {m: {e.host for e in model.exports_of(m)} for m in model.meshes}
    for path, gateways in by_path(rendered, "Gateway").items():
        mesh = model.mesh_of(path.split("/")[1]).name
        hosts = {h for g in gateways for s in g["spec"]["servers"] for h in s["hosts"]}
        assert hosts == exported_by_mesh[mesh]
        assert not any("*" in h or h.endswith(".cluster.local") for h in hosts)
        assert model.host(model.services[("api", "internal")]) not in hosts


def test_exporter_service_entry_routes_the_exported_name_to_the_workloads(rendered):
    entries = {e["metadata"]["name"]: e for e in objects(rendered, "ServiceEntry", "/a-1/mesh/federation-exports")}
    orders = entries["orders.api.global"]
    assert orders["metadata"]["namespace"] == "api"
    assert orders["spec"] == {
        "hosts": ["orders.api.global"],
        "addresses": ["240.10.0.1"],
        "ports": [{"name": "http", "number": 80, "protocol": "HTTP", "targetPort": 8080},
                  {"name": "grpc", "number": 9090, "protocol": "GRPC", "targetPort": 9090}],
        "location": "MESH_INTERNAL",
        "resolution": "STATIC",
        "workloadSelector": {"labels": {"app": "orders"}},
        "exportTo": ["istio-system"],
    }


def test_exporter_service_entry_is_seen_by_the_gateways_only_and_has_an_address(rendered):
    """F4: an address-less TCP ServiceEntry visible mesh-wide makes every sidecar send all traffic on its
    port to the export where IP auto-allocation is off (1.24, or without DNS capture): IST0134."""
    for entry in objects(rendered, "ServiceEntry", "federation-exports"):
        assert entry["spec"]["exportTo"] == ["istio-system"]
        assert entry["spec"]["addresses"]
    pricing = next(e for e in objects(rendered, "ServiceEntry", "/a-1/mesh/federation-exports")
                   if e["metadata"]["name"] == "pricing.api.global")
    assert validate_object(pricing, minor="1.24") == []  # no SE11 warning where auto-allocation is off


def test_an_export_under_its_own_in_mesh_name_needs_no_exporter_entry():
    data = spec_data()
    data["exports"][1]["host"] = "pricing.api.svc.cluster.local"
    resources = federation.render(build_model(dump(data), {**ADDRESSES, "pricing.api.svc.cluster.local": "240.10.0.8"}))
    hosts = {e["spec"]["hosts"][0] for e in objects(resources, "ServiceEntry", "federation-exports")}
    assert hosts == {"orders.api.global", "shop.web.global"}
    (gateway,) = objects(resources, "Gateway", "/a-1/")
    assert gateway["spec"]["servers"][0]["hosts"] == ["orders.api.global", "pricing.api.svc.cluster.local"]


def test_exporter_target_ports_follow_the_clusters_the_primary_configures():
    data = spec_data()
    orders = data["services"][0]
    orders["instances"][1]["ports"] = [{"name": "http", "number": 80, "protocol": "HTTP", "targetPort": 8081},
                                       {"name": "grpc", "number": 9090, "protocol": "GRPC"}]
    orders["instances"][0]["ports"] = copy.deepcopy(orders["instances"][1]["ports"])
    resources = federation.render(build_model(dump(data)))
    entry = next(e for e in objects(resources, "ServiceEntry", "/a-1/mesh/federation-exports")
                 if e["metadata"]["name"] == "orders.api.global")
    assert entry["spec"]["ports"][0]["targetPort"] == 8081
    entry = next(e for e in objects(resources, "ServiceEntry", "/a-2/mesh/federation-exports")
                 if e["metadata"]["name"] == "orders.api.global")
    assert entry["spec"]["ports"][0]["targetPort"] == 8080


# --- consumer side -----------------------------------------------------------------------------------


def imported(resources, cluster: str, kind: str, host: str) -> dict:
    (found,) = [b for b in objects(resources, kind, f"/{cluster}/mesh/federation-imports") if b["metadata"]["name"] == host]
    return found


def test_imports_go_to_the_primaries_configuring_consumer_clusters(rendered):
    paths = by_path(rendered, "ServiceEntry")
    imports = {p: sorted(e["spec"]["hosts"][0] for e in es) for p, es in paths.items() if "imports" in p}
    # pricing is consumed by remote b-2 only: its primary b-1 holds the config.
    assert imports == {"clusters/a-1/mesh/federation-imports.yaml": ["shop.web.global"],
                       "clusters/b-1/mesh/federation-imports.yaml": ["orders.api.global", "pricing.api.global"]}


def test_import_service_entry_fields(rendered):
    entry = imported(rendered, "b-1", "ServiceEntry", "orders.api.global")
    assert entry["metadata"]["namespace"] == "istio-system"
    # F7: with explicit addresses Istio never auto-allocates; the opt-out label would be noise.
    assert "networking.istio.io/enable-autoallocate-ip" not in entry["metadata"]["labels"]
    spec = entry["spec"]
    assert spec["hosts"] == ["orders.api.global"]
    assert spec["addresses"] == ["240.10.0.1"]
    assert spec["location"] == "MESH_INTERNAL"
    assert spec["ports"] == [{"name": "http", "number": 80, "protocol": "HTTP"},
                             {"name": "grpc", "number": 9090, "protocol": "GRPC"}]
    assert spec["subjectAltNames"] == ["spiffe://a.example/ns/api/sa/orders",
                                       "spiffe://a.example/ns/api/sa/orders-admin"]


def test_import_endpoints_are_the_exporters_federation_gateways_weighted_by_instances(rendered):
    """F2: peers get the federation gateways, never the east-west ones; F6: no cluster label, which
    istiod overwrites with the importing cluster's ID."""
    spec = imported(rendered, "b-1", "ServiceEntry", "orders.api.global")["spec"]
    # a-1's gateway fronts a-1 (2) and its same-network remote a-3 (2); a-2's fronts 1.
    assert spec["endpoints"] == [
        {"address": "192.0.2.2", "ports": {"http": 15443, "grpc": 15443},
         "labels": {"security.istio.io/tlsMode": "istio"}, "network": "net-a1", "locality": "r1/z1", "weight": 4},
        {"address": "fed.a-2.example", "ports": {"http": 15443, "grpc": 15443},
         "labels": {"security.istio.io/tlsMode": "istio"}, "network": "net-a2", "locality": "r2/z2", "weight": 1},
    ]


def test_import_endpoints_carry_no_locality_the_spec_does_not_give():
    data = spec_data()
    for cluster in data["clusters"]:
        cluster.pop("locality")
    rendered = federation.render(build_model(dump(data)))
    entry = imported(rendered, "b-1", "ServiceEntry", "orders.api.global")
    assert all("locality" not in endpoint for endpoint in entry["spec"]["endpoints"])
    rule = imported(rendered, "b-1", "DestinationRule", "orders.api.global")
    assert "loadBalancer" not in rule["spec"]["trafficPolicy"]  # nothing known to balance between


def test_subsets_reach_imports_through_labelled_endpoints_and_the_exporter_rule():
    data = spec_data()
    data["services"][1]["trafficPolicy"] = {"subsets": [{"name": "v1", "labels": {"version": "v1"}}]}
    rendered = federation.render(build_model(dump(data)))
    entry = imported(rendered, "b-1", "ServiceEntry", "pricing.api.global")
    assert [e["labels"] for e in entry["spec"]["endpoints"]] == [
        {"security.istio.io/tlsMode": "istio"}, {"security.istio.io/tlsMode": "istio", "version": "v1"}]
    rule = imported(rendered, "b-1", "DestinationRule", "pricing.api.global")
    assert rule["spec"]["subsets"] == [{"name": "v1", "labels": {"version": "v1"}}]
    (exporter,) = [r for r in objects(rendered, "DestinationRule", "/a-1/mesh/federation-exports")]
    assert exporter["spec"] == {"host": "pricing.api.global", "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
                                "exportTo": ["istio-system"]}


def test_resolution_is_dns_when_a_gateway_is_a_name_and_static_when_all_are_ips(rendered):
    assert imported(rendered, "b-1", "ServiceEntry", "orders.api.global")["spec"]["resolution"] == "DNS"  # fed.a-2.example
    assert imported(rendered, "b-1", "ServiceEntry", "pricing.api.global")["spec"]["resolution"] == "STATIC"
    assert imported(rendered, "a-1", "ServiceEntry", "shop.web.global")["spec"]["resolution"] == "STATIC"


def test_single_locality_import_gets_mutual_tls_and_outlier_detection(rendered):
    """N4: outlier detection ejects a dead gateway address even where there is no failover."""
    rule = imported(rendered, "b-1", "DestinationRule", "pricing.api.global")
    assert rule["metadata"]["namespace"] == "istio-system"
    assert rule["spec"] == {"host": "pricing.api.global", "trafficPolicy": {
        "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
        "tls": {"mode": "ISTIO_MUTUAL", "subjectAltNames": ["spiffe://a.example/ns/api/sa/pricing"]}}}


def test_multi_locality_import_gets_failover_with_outlier_detection(rendered):
    policy = imported(rendered, "b-1", "DestinationRule", "orders.api.global")["spec"]["trafficPolicy"]
    assert policy["tls"]["mode"] == "ISTIO_MUTUAL"
    assert policy["loadBalancer"] == {"localityLbSetting": {
        "enabled": True, "failoverPriority": ["topology.kubernetes.io/region", "topology.kubernetes.io/zone"]}}
    assert policy["outlierDetection"] == {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"}


def test_failover_regions_of_the_spec_become_failover_rules():
    data = spec_data()
    data["failover"] = [{"service": "api/orders", "mesh": "a", "regions": ["r2", "r1"]}]
    resources = federation.render(build_model(dump(data)))
    rule = imported(resources, "b-1", "DestinationRule", "orders.api.global")
    assert rule["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"] == {
        "enabled": True, "failover": [{"from": "r2", "to": "r1"}]}
    assert validate_object(rule) == []


def test_missing_address_is_a_render_error_listing_every_host():
    with pytest.raises(MeshgenError) as caught:
        federation.render(build_model(addresses={"shop.web.global": "240.10.0.3"}))
    assert [d.code for d in caught.value.diagnostics] == ["E403", "E403"]
    assert "orders.api.global" in caught.value.diagnostics[0].message + caught.value.diagnostics[1].message


def test_render_is_deterministic_whatever_the_order_of_exports():
    data = spec_data()
    data["exports"].reverse()
    first = [(r.path, r.body) for r in federation.render(build_model())]
    second = [(r.path, r.body) for r in federation.render(build_model(dump(data)))]
    assert sorted(first, key=repr) == sorted(second, key=repr)


# --- DNS ---------------------------------------------------------------------------------------------


def test_coredns_block_goes_to_every_cluster_of_a_mesh_that_asks_for_it():
    resources = dns.render(build_model())
    blocks = {r.path: r.body["data"]["meshgen.server"] for r in resources}
    assert sorted(blocks) == ["clusters/a-1/mesh/dns.yaml", "clusters/a-2/mesh/dns.yaml", "clusters/a-3/mesh/dns.yaml",
                              "clusters/b-1/mesh/dns.yaml", "clusters/b-2/mesh/dns.yaml"]
    assert blocks["clusters/b-2/mesh/dns.yaml"] == (
        "global:53 {\n    errors\n    cache 30\n"
        "    template IN A {\n        match \"^orders[.]api[.]global[.]$\"\n"
        "        answer \"{{ .Name }} 30 IN A 240.10.0.1\"\n    }\n"
        "    template IN A {\n        match \"^pricing[.]api[.]global[.]$\"\n"
        "        answer \"{{ .Name }} 30 IN A 240.10.0.2\"\n    }\n"
        "    template ANY ANY {\n        match \"^(?:orders[.]api[.]global[.]|pricing[.]api[.]global[.])$\"\n    }\n"
        "    template ANY ANY {\n        rcode NXDOMAIN\n    }\n}\n")
    assert "pricing" not in blocks["clusters/b-1/mesh/dns.yaml"]  # b-1 itself does not consume pricing
    configmap = resources[0].body
    assert (configmap["metadata"]["name"], configmap["metadata"]["namespace"]) == ("coredns-custom", "kube-system")
    assert configmap["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"


def test_names_under_the_suffix_that_are_not_imported_get_nxdomain():
    """D4: `.global` is a public top-level domain: the block answers for the whole zone, not only the
    imported names, so nothing under it is forwarded to the internet (a2 imports nothing)."""
    blocks = {r.path: r.body["data"]["meshgen.server"] for r in dns.render(build_model())}
    assert blocks["clusters/a-2/mesh/dns.yaml"] == (
        "global:53 {\n    errors\n    cache 30\n    template ANY ANY {\n        rcode NXDOMAIN\n    }\n}\n")
    assert all("forward" not in block and "fallthrough" not in block for block in blocks.values())


def test_coredns_block_only_when_the_mesh_asks_for_it_and_custom_hosts_get_their_own_zone():
    data = spec_data()
    data["meshes"][0]["dns"] = {"coreDNS": False}
    data["exports"][0]["host"] = "orders.a.example.com"
    resources = dns.render(build_model(dump(data), {**ADDRESSES, "orders.a.example.com": "240.10.0.9"}))
    blocks = {r.path: r.body["data"]["meshgen.server"] for r in resources}
    assert "clusters/a-1/mesh/dns.yaml" not in blocks
    assert blocks["clusters/b-1/mesh/dns.yaml"].startswith("global:53 {\n")
    assert "orders.a.example.com:53 {\n" in blocks["clusters/b-1/mesh/dns.yaml"]


# --- trust: every federation edge is trusted both ways in the rendered output -------------------------

GOLDEN = Path(__file__).resolve().parent / "golden"
TRUST_SPECS = ["federation-two-roots", "mixed"]


def rendered_tree(spec: Path) -> dict[str, list]:
    """path -> parsed YAML documents of the whole rendered tree (nothing written)."""
    tree = build(Options(spec=spec)).tree
    return {path: [d for d in YAML(typ="safe").load_all(data.decode()) if d]
            for path, data in tree.items() if path.endswith(".yaml")}


def federation_edges(model) -> set[tuple[str, str]]:
    """(holder mesh, peer mesh) for both directions of every export between two meshes."""
    edges = set()
    for export in model.exports:
        for cluster in export.consumer_clusters:
            consumer = model.mesh_of(cluster).name
            edges |= {(export.mesh.name, consumer), (consumer, export.mesh.name)}
    return edges


def cacerts_keys(documents: list) -> set[tuple[str, str]]:
    (cacerts,) = [d for d in documents if d["kind"] == "ExternalSecret" and d["metadata"]["name"] == "cacerts"]
    return {(item["remoteRef"]["key"], item["remoteRef"].get("property", "")) for item in cacerts["spec"]["data"]}


@pytest.mark.parametrize("case", TRUST_SPECS)
def test_every_federation_edge_is_trusted_both_ways(case, tmp_path):
    spec = tmp_path / "fleet.yaml"
    spec.write_bytes((GOLDEN / case / "fleet.yaml").read_bytes())
    model = build_model(spec.read_text(), addresses={})
    tree = rendered_tree(spec)
    edges = federation_edges(model)
    assert edges
    for holder, peer in sorted(edges):
        peer_mesh, holder_mesh = model.meshes[peer], model.meshes[holder]
        for primary in model.primaries(holder):
            values = tree[f"clusters/{primary.name}/helm/{istiod_release(model, primary.name)}-values.yaml"][0]
            (accepted,) = values["meshConfig"]["caCertificates"]
            assert peer_mesh.trustDomain in accepted["trustDomains"], (holder, peer, primary.name)
            assert "trustDomainAliases" not in values["meshConfig"]
            if peer_mesh.rootOfTrust == holder_mesh.rootOfTrust:
                continue
            (bundle,) = [b for b in holder_mesh.trustBundles if b.mesh == peer]
            keys = cacerts_keys(tree[f"clusters/{primary.name}/bootstrap/secrets.yaml"])
            assert (bundle.certificatePath, bundle.property) in keys, (holder, peer, primary.name)


def test_unit_fleet_edges_are_trusted_both_ways(tmp_path):
    spec = tmp_path / "fleet.yaml"
    spec.write_text(FLEET)
    tree = rendered_tree(spec)
    for cluster, peer_domain, peer_root in (("a-1", "b.example", "pki/b"), ("a-2", "b.example", "pki/b"),
                                            ("b-1", "a.example", "pki/a")):
        (values,) = tree[f"clusters/{cluster}/helm/istiod-values.yaml"]
        assert values["meshConfig"]["caCertificates"] == [{"trustDomains": [peer_domain]}]
        assert (peer_root, "root-cert.pem") in cacerts_keys(tree[f"clusters/{cluster}/bootstrap/secrets.yaml"])


# --- the boundary, for every golden fleet: peers pass through exactly the exported hosts ---------------

BOUNDARY_SPECS = [p.parent.name for p in sorted(GOLDEN.glob("*/fleet.yaml"))] + ["example"]


def boundary_tree(case: str) -> tuple[object, dict[str, list]]:
    spec = GOLDEN.parent.parent / "fleet.example.yaml" if case == "example" else GOLDEN / case / "fleet.yaml"
    built = build(Options(spec=spec))
    return built.model, {path: [d for d in YAML(typ="safe").load_all(data.decode()) if d]
                         for path, data in built.tree.items() if path.endswith(".yaml")}


@pytest.mark.parametrize("case", BOUNDARY_SPECS)
def test_peers_are_given_only_federation_gateways_which_pass_only_exported_hosts(case):
    """F2: what a peer is given (import endpoints) are federation gateway addresses, never an east-west
    gateway's; the Gateways selecting federation gateways list exactly the exporting mesh's exported
    hosts; no Gateway selecting east-west gateways lists an exported name."""
    model, tree = boundary_tree(case)
    federation_addresses = {g.address for c in model.clusters.values() for g in c.federationGateways}
    east_west_addresses = {g.address for c in model.clusters.values() for g in c.gateways}
    for path, docs in tree.items():
        for doc in docs:
            if doc.get("kind") == "ServiceEntry" and "federation-imports" in path:
                addresses = {e["address"] for e in doc["spec"]["endpoints"]}
                assert addresses <= federation_addresses and not addresses & (east_west_addresses - federation_addresses)
            if doc.get("kind") != "Gateway":
                continue
            hosts = {h for server in doc["spec"]["servers"] for h in server["hosts"]}
            mesh = model.mesh_of(path.split("/")[1]).name
            if doc["spec"]["selector"] == {"istio": "federationgateway"}:
                assert hosts == {e.host for e in model.exports_of(mesh)}, path
            else:
                assert not hosts & {e.host for e in model.exports}, path


@pytest.mark.parametrize("case", BOUNDARY_SPECS)
def test_exporter_service_entries_are_invisible_to_sidecars(case):
    """F4, for every golden fleet: an exporter-side entry is exported to the gateways' namespace only."""
    _, tree = boundary_tree(case)
    for path, docs in tree.items():
        if "federation-exports" in path:
            for doc in docs:
                if doc["kind"] in ("ServiceEntry", "DestinationRule"):
                    assert doc["spec"]["exportTo"] == ["istio-system"], (path, doc["metadata"]["name"])


@pytest.mark.parametrize("case", BOUNDARY_SPECS)
def test_principals_are_in_forms_istiod_keeps_as_written(case):
    """S2: istiod rewrites only five-part principals (td/ns/x/sa/y) against the trust-domain bundle; a
    namespace wildcard (td/ns/x/*, four parts) or td/* is kept as written, with no log
    (trustdomain/bundle.go isTrustDomainBeingEnforced, 1.24-1.30). meshgen writes exactly these forms."""
    _, tree = boundary_tree(case)
    for docs in tree.values():
        for doc in docs:
            if doc.get("kind") != "AuthorizationPolicy":
                continue
            for rule in doc["spec"]["rules"]:
                for source in rule.get("from", []):
                    for principal in [*source["source"].get("principals", []), *source["source"].get("notPrincipals", [])]:
                        parts = principal.split("/")
                        exact = len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa" and "*" not in principal
                        namespace = len(parts) == 4 and parts[1] == "ns" and parts[3] == "*"
                        domain = len(parts) == 2 and parts[1] == "*"
                        assert exact or namespace or domain, principal


GOLDEN_CASES = [p.parent.name for p in sorted(GOLDEN.glob("*/fleet.yaml"))]


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_no_output_value_is_invented(case):
    """Issue 13: every locality and endpoint address in the output comes from the spec, and no
    Gateway lists a wildcard host meshgen made up (the old `*.local` fallback, `locality: unspecified`)."""
    model, tree = boundary_tree(case)
    localities = {model.locality(c) for c in model.clusters} - {None}
    addresses = {g.address for c in model.clusters.values() for g in [*c.gateways, *c.federationGateways]}
    for path, docs in tree.items():
        for doc in docs:
            text = repr(doc)
            assert "unspecified" not in text and "'*.local'" not in text, path
            if doc.get("kind") == "ServiceEntry":
                for endpoint in doc["spec"].get("endpoints", []):
                    assert endpoint["address"] in addresses, path
                    if "locality" in endpoint:
                        assert endpoint["locality"] in localities, path
