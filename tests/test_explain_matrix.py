"""`meshgen explain --matrix`: what the rendered output allows is exactly what the spec grants.

For every golden fleet, the example and generated fleets (seeded variations of the example, and the
benchmark's own generator), every probe identity of every cluster against every target, and every
call made straight to a federation gateway, must agree with `meshgen access`. Renderers broken on
purpose (an AuthorizationPolicy dropped, a host added to the exposure Gateway) must make it fail.
"""

from __future__ import annotations

import json
import random
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from meshgen import cli
from meshgen.access import Grant
from meshgen.emit import dump_yaml
from meshgen.explain import load_fleet
from meshgen.explain.exposure import Exposure
from meshgen.explain.matrix import reachability
from meshgen.explain.probes import Probe, covered
from meshgen.pipeline import Options, build
from meshgen.render import federation, security

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"
GOLDEN = ROOT / "tests" / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "fleet.yaml").is_file())


def matrix_of(spec: Path, shortcuts: bool = True):
    built = build(Options(spec=spec))
    return reachability(load_fleet(built.tree, built.model), shortcuts=shortcuts)


def assert_equal(found) -> None:
    wrong = [m for m in found.mismatches if not m.documented]
    assert not wrong and not found.exposed, (wrong[:10], found.exposed[:10])
    assert found.cells, "nothing allowed at all: the comparison would be empty"


@pytest.mark.parametrize("case", CASES)
def test_golden_fleets_allow_exactly_what_they_grant(case: str):
    assert_equal(matrix_of(GOLDEN / case / "fleet.yaml"))


def test_the_example_allows_exactly_what_it_grants():
    found = matrix_of(EXAMPLE)
    assert_equal(found)
    assert not found.mismatches
    reachable = found.reachable
    assert reachable[("staging", "checkout", "checkout", "ledger.payments.global", 8443)] == ["staging-eu-1"]
    assert reachable[("prod", "shop", "frontend", "search.catalog.global", 8080)] == ["prod-east-1"]
    assert ("staging", "checkout", "(other)", "ledger.payments.global", 8443) not in reachable
    assert reachable[("prod", "(other)", "(other)", "frontend.prod.global", 80)] == [
        "prod-east-1", "prod-east-2", "prod-west-1", "prod-west-2"]
    assert ("staging", "checkout", "checkout", "ledger.payments.global via 203.0.113.20", 8443) not in reachable
    assert found.direct[("staging", "ledger.payments.global via 203.0.113.20", 8443)].count(2) == 1  # checkout/checkout


def test_shared_work_gives_the_same_matrix_as_evaluating_every_cluster_alone():
    for spec in [EXAMPLE, GOLDEN / "mixed" / "fleet.yaml", GOLDEN / "federation-two-roots" / "fleet.yaml"]:
        fast, plain = matrix_of(spec), matrix_of(spec, shortcuts=False)
        assert (fast.cells, fast.direct, fast.mismatches) == (plain.cells, plain.direct, plain.mismatches), spec


# --- generated fleets ----------------------------------------------------------------------------


LEDGER_CONSUMERS = [
    {"mesh": "staging"}, {"mesh": "staging", "namespaces": ["checkout"]},
    {"mesh": "staging", "serviceAccounts": ["checkout/checkout", "catalog/search"]},
    {"cluster": "staging-eu-1", "namespaces": ["catalog", "checkout"]},
]
SEARCH_CONSUMERS = [
    {"cluster": "prod-east-1", "serviceAccounts": ["shop/frontend"]}, {"mesh": "prod"},
    {"mesh": "prod", "namespaces": ["shop", "payments"]}, {"cluster": "prod-west-2"},
    {"cluster": "prod-east-2", "serviceAccounts": ["shop/cart"]},
]
CALLERS = [[], [{"namespace": "shop", "serviceAccount": "cart"}], [{"namespace": "shop"}],
           [{"namespace": "payments"}, {"namespace": "shop", "serviceAccount": "frontend"}]]


def variant(seed: int) -> dict:
    """The example with consumers, callers, DNS, mTLS and a third export chosen by ``seed``; valid by
    construction (every mesh keeps a way to resolve imports, every exporter cluster a federation gateway)."""
    rng = random.Random(seed)
    data = YAML(typ="safe").load(EXAMPLE.read_text())
    meshes = {m["name"]: m for m in data["meshes"]}
    services = {f"{s['namespace']}/{s['name']}": s for s in data["services"]}
    data["exports"][0]["to"] = [rng.choice(LEDGER_CONSUMERS)]
    data["exports"][1]["to"] = rng.sample(SEARCH_CONSUMERS, rng.choice([1, 2]))
    services["payments/ledger"]["callers"] = rng.choice(CALLERS)
    services["shop/frontend"]["callers"] = rng.choice(CALLERS)
    meshes["prod"]["dns"] = rng.choice([{"capture": True, "coreDNS": True}, {"capture": False, "coreDNS": True},
                                        {"capture": True, "coreDNS": False}])
    meshes["staging"]["dns"] = rng.choice([{"capture": True}, {"capture": False, "coreDNS": True}])
    meshes["staging"]["mtls"] = rng.choice(["STRICT", "PERMISSIVE"])
    if rng.random() < 0.5:
        data["exports"].append({"service": "shop/cart", "mesh": "prod", "to": [rng.choice(LEDGER_CONSUMERS)]})
    return {k: v for k, v in data.items() if v is not None}


def write(folder: Path, data: dict) -> Path:
    spec = folder / "fleet.yaml"
    spec.write_text(dump_yaml(data))
    return spec


@pytest.mark.parametrize("seed", range(6))
def test_generated_variants_of_the_example_allow_exactly_what_they_grant(tmp_path: Path, seed: int):
    found = matrix_of(write(tmp_path, variant(seed)))
    assert_equal(found)


def test_a_consumer_narrowed_to_a_remote_widens_to_its_primary_and_is_reported_as_documented(tmp_path: Path):
    """The primary holds the remote's imports, so its own workloads have the route too."""
    data = variant(0)
    data["meshes"][0]["dns"] = {"capture": True}  # the primary's sidecars answer from the import it holds
    data["exports"][1]["to"] = [{"cluster": "prod-west-2", "serviceAccounts": ["shop/frontend"]}]
    found = matrix_of(write(tmp_path, data))
    assert_equal(found)
    widened = {(m.probe.cluster, m.probe.namespace, m.probe.service_account, m.host) for m in found.mismatches}
    assert widened == {("prod-west-1", "shop", "frontend", "search.catalog.global")}
    assert all(m.documented and m.allowed for m in found.mismatches)


def test_the_benchmark_generator_allows_exactly_what_it_grants(tmp_path: Path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import synthetic
    finally:
        sys.path.remove(str(ROOT / "bench"))
    data = synthetic.fleet_spec(synthetic.SIZES["small"])
    for i, cluster in enumerate(data["clusters"]):  # federation gateways where a release of the generator has none
        if "gateways" in cluster:
            cluster.setdefault("federationGateways", [{"address": str(IPv4Address("10.255.0.1") + i)}])
    found = matrix_of(write(tmp_path, data))
    assert_equal(found)
    assert len(found.probes) == 4 and found.pairs > 10_000


def test_an_open_cluster_consumer_widens_a_narrowed_one_of_the_same_mesh(tmp_path: Path):
    """search is exported to prod-east-1's shop/frontend, and to every workload of prod-west-2: the ALLOW
    policy then admits ``prod.corp.example/*``, and every prod-east-1 workload has the route of the first
    entry. The output allows them; the grants say only shop/frontend. Documented (limitations.md), and
    what `meshgen access` prints as caller clusters hides it."""
    data = variant(0)
    data["meshes"][0]["dns"] = {"capture": True}
    data["exports"][1]["to"] = [{"cluster": "prod-east-1", "serviceAccounts": ["shop/frontend"]}, {"cluster": "prod-west-2"}]
    found = matrix_of(write(tmp_path, data))
    assert_equal(found)
    east = {(m.probe.namespace, m.probe.service_account, m.probe.members) for m in found.mismatches
            if m.probe.cluster == "prod-east-1"}
    assert ("shop", "(other)", ("cart",)) in east and ("(other)", "(other)", ()) in east
    assert not [m for m in east if m[:2] == ("shop", "frontend")]


# --- renderers broken on purpose -----------------------------------------------------------------


def test_dropping_an_allow_policy_opens_the_service_to_callers_never_granted(monkeypatch):
    original = security.render
    monkeypatch.setattr(security, "render", lambda model: [r for r in original(model) if r.name != "ledger-allow"])
    found = matrix_of(EXAMPLE)
    assert not found.equal
    opened = {(m.probe.cluster, m.probe.namespace, m.probe.service_account) for m in found.mismatches
              if m.host == "ledger.payments.svc.cluster.local" and m.allowed and not m.documented}
    assert ("prod-east-1", "shop", "frontend") in opened and ("prod-west-2", "(other)", "(other)") in opened
    assert ("prod-east-1", "shop", "cart") not in opened  # granted: not a mismatch


def test_an_extra_host_on_the_exposure_gateway_is_caught(monkeypatch):
    original = federation.exposure_gateway

    def exposing(exports):
        body = original(exports)
        hosts = body["spec"]["servers"][0]["hosts"]
        if "ledger.payments.global" in hosts:
            body["spec"]["servers"][0]["hosts"] = hosts + ["ledger.payments.svc.cluster.local"]
        return body

    monkeypatch.setattr(federation, "exposure_gateway", exposing)
    found = matrix_of(EXAMPLE)
    assert not found.equal
    assert Exposure("prod-east-1", "istio-federationgateway", "ledger.payments.svc.cluster.local") in found.exposed
    direct = {(m.probe.mesh, m.probe.namespace, m.probe.service_account, m.host) for m in found.mismatches}
    assert direct == {("staging", "checkout", "checkout", "ledger.payments.svc.cluster.local via 203.0.113.20"),
                      ("staging", "checkout", "checkout", "ledger.payments.svc.cluster.local via "
                                                          "federation.prod-west-1.corp.example")}


def test_a_grant_the_output_refuses_is_a_mismatch(monkeypatch):
    original = federation.import_service_entry
    monkeypatch.setattr(federation, "import_service_entry", lambda model, export: {
        **original(model, export), "spec": {**original(model, export)["spec"], "exportTo": ["istio-system"]}})
    found = matrix_of(EXAMPLE)
    refused = {(m.probe.cluster, m.probe.namespace, m.probe.service_account, m.host) for m in found.mismatches
               if not m.allowed}
    assert refused == {("staging-eu-1", "checkout", "checkout", "ledger.payments.global"),
                       ("prod-east-1", "shop", "frontend", "search.catalog.global")}


# --- the coverage rule, the command ---------------------------------------------------------------


def test_a_grant_row_covers_its_mesh_clusters_namespace_and_account():
    rows = [Grant("b", ("b-1",), "web", "*", "a", "h", "api/x", 80, "http"),
            Grant("b", ("b-1", "b-2"), "ops", "probe", "a", "h", "api/x", 80, "http")]
    index = {}
    for g in rows:
        for c in g.caller_clusters:
            index.setdefault((g.host, g.port, g.caller_mesh, c), set()).add((g.namespace, g.service_account))
    assert covered(index, "h", 80, Probe("b-1", "b", "web", "anyone"))
    assert not covered(index, "h", 80, Probe("b-2", "b", "web", "anyone"))  # not one of the row's clusters
    assert covered(index, "h", 80, Probe("b-2", "b", "ops", "probe"))
    assert not covered(index, "h", 80, Probe("b-2", "b", "ops", "other"))
    assert not covered(index, "h", 81, Probe("b-1", "b", "web", "anyone"))
    assert not covered(index, "h", 80, Probe("b-1", "c", "web", "anyone"))


def test_matrix_command_prints_the_table_and_exits_0_when_equal(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli.main, ["explain", "fleet.example.yaml", "--matrix"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "| caller mesh | caller clusters | namespace | service account | host | port |"
    assert "| staging | staging-eu-1 | checkout | checkout | ledger.payments.global | 8443 |" in lines
    assert "| staging | any cluster of staging | checkout | checkout | ledger.payments.global via 203.0.113.20 | 8443 |" in lines
    assert lines[-1].endswith("equal to the access matrix the spec grants")
    document = json.loads(CliRunner().invoke(cli.main, ["--format", "json", "explain", "fleet.example.yaml", "--matrix"]).stdout)
    data = document["matrix"]
    assert data["equal"] is True and data["mismatches"] == [] and data["exposed"] == []
    assert ["staging", ["staging-eu-1"], "checkout", "checkout", "ledger.payments.global", 8443] in data["allowed"]


def test_matrix_command_exits_1_and_lists_mismatches(monkeypatch):
    original = security.render
    monkeypatch.setattr(security, "render", lambda model: [r for r in original(model) if r.name != "ledger-allow"])
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli.main, ["explain", "fleet.example.yaml", "--matrix"])
    assert result.exit_code == 1
    assert "mismatch: prod-east-1/shop/frontend -> ledger.payments.svc.cluster.local:8443: allowed by the output, " \
           "granted by no row of `meshgen access`" in result.output.splitlines()
    assert "differ from the access matrix the spec grants" in result.output.splitlines()[-1]


def test_a_trust_domain_alias_in_the_istiod_values_is_caught(monkeypatch):
    """Review F3: with staging an alias of prod, istiod rewrites every five-part principal of prod's
    policies to both domains ([TD] bundle.go). ledger's ALLOW policy names staging's checkout/checkout,
    so prod's own checkout/checkout (a namespace prod does not even have) gets in; and with meshgen's DENY
    of foreign trust domains gone, staging's shop/cart passes as prod's."""
    from meshgen.render import install

    original_values = install.istiod_values

    def aliased(model, cluster):
        values = original_values(model, cluster)
        if values.get("meshConfig", {}).get("trustDomain") == "prod.corp.example":
            values = {**values, "meshConfig": {**values["meshConfig"], "trustDomainAliases": ["staging.corp.example"]}}
        return values

    monkeypatch.setattr(install, "istiod_values", aliased)
    found = matrix_of(EXAMPLE)
    opened = {(m.probe.cluster, m.probe.namespace, m.probe.service_account, m.host) for m in found.mismatches}
    assert not found.equal
    assert ("prod-east-1", "checkout", "checkout", "ledger.payments.svc.cluster.local") in opened
    assert ("staging-eu-1", "shop", "cart", "ledger.payments.global") not in opened  # the DENY still holds
    monkeypatch.setattr(security, "foreign_denials", lambda model, mesh: [])
    opened = {(m.probe.cluster, m.probe.namespace, m.probe.service_account, m.host) for m in matrix_of(EXAMPLE).mismatches}
    assert ("staging-eu-1", "shop", "cart", "ledger.payments.global") in opened


def test_an_exporter_entry_visible_to_the_mesh_is_caught(monkeypatch):
    """Review F4: the exporter-side ServiceEntry selects the exported pods under the exported name; if
    the mesh's own sidecars see it (exportTo everything), prod workloads reach ledger under a name the
    spec grants only to staging."""
    original = federation._export_service_entry

    def everywhere(model, export, ports):
        body = original(model, export, ports)
        return {**body, "spec": {k: v for k, v in body["spec"].items() if k != "exportTo"}}

    monkeypatch.setattr(federation, "_export_service_entry", everywhere)
    found = matrix_of(EXAMPLE)
    opened = {(m.probe.cluster, m.probe.namespace, m.probe.service_account, m.host) for m in found.mismatches}
    assert ("prod-east-2", "shop", "cart", "ledger.payments.global") in opened
    assert not [m for m in found.mismatches if not m.allowed]
