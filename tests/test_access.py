"""`meshgen access`: the access matrix a spec grants, and `--diff` between two specs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_federation import FLEET, build_model, dump, spec_data

from meshgen import cli
from meshgen.access import Grant, access_matrix, diff_lines, to_markdown

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def write(folder: Path, name: str, data: dict) -> str:
    path = folder / name
    path.write_text(dump(data))
    return str(path)


def test_matrix_rows_per_identity_service_and_port():
    grants = access_matrix(build_model(addresses={}))
    orders = [g for g in grants if g.service == "api/orders" and g.caller_mesh == "b"]
    assert orders == [
        Grant("b", ("b-1", "b-2"), "web", "shop", "a", "orders.api.global", "api/orders", 80, "http"),
        Grant("b", ("b-1", "b-2"), "web", "shop", "a", "orders.api.global", "api/orders", 9090, "grpc"),
    ]
    pricing = [g for g in grants if g.service == "api/pricing"]
    assert [(g.caller_clusters, g.namespace, g.service_account) for g in pricing] == [(("b-2",), "web", "*")]
    callers = [g for g in grants if g.caller_mesh == g.service_mesh == "a" and g.service == "api/orders"]
    assert {(g.namespace, g.service_account, g.host) for g in callers} == {
        ("billing", "invoicer", "orders.api.svc.cluster.local"), ("ops", "*", "orders.api.svc.cluster.local")}
    # a service neither exported nor closed by `callers` is open to every in-mesh caller
    (internal,) = [g for g in grants if g.service == "api/internal"]
    assert (internal.caller_mesh, internal.namespace, internal.service_account) == ("a", "*", "*")
    assert grants == sorted(grants)


def test_open_consumer_is_every_workload_of_its_mesh():
    data = spec_data()
    data["exports"][2]["to"] = [{"mesh": "a"}]
    grants = access_matrix(build_model(dump(data), addresses={}))
    (shop,) = [g for g in grants if g.service == "web/shop"]
    assert (shop.caller_mesh, shop.caller_clusters, shop.namespace, shop.service_account) == (
        "a", ("a-1", "a-2", "a-3"), "*", "*")


def test_markdown_is_the_default_and_lists_every_row():
    result = invoke("access", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("| caller mesh | caller clusters | namespace | service account | service mesh "
                        "| host | service | port |")
    assert "| staging | staging-eu-1 | checkout | checkout | prod | ledger.payments.global | payments/ledger " \
           "| 8443/grpc |" in lines
    assert len(lines) == 2 + len(access_matrix(build_model(EXAMPLE.read_text(), addresses={})))


def test_json_rows():
    result = invoke("access", str(EXAMPLE), "--format-out", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    found = {(r["caller_mesh"], r["namespace"], r["service_account"], r["host"], r["port"]) for r in rows}
    assert {("prod", "shop", "frontend", "search.catalog.global", 8080),
            ("prod", "shop", "cart", "ledger.payments.svc.cluster.local", 8443),
            ("staging", "checkout", "checkout", "ledger.payments.global", 8443),
            ("prod", "*", "*", "frontend.prod.global", 80)} <= found


def test_diff_adding_one_consumer_prints_exactly_that_grant(tmp_path: Path):
    base = spec_data(EXAMPLE.read_text())
    changed = spec_data(EXAMPLE.read_text())
    changed["exports"][0]["to"][0]["serviceAccounts"].append("checkout/refunds")
    result = invoke("access", write(tmp_path, "new.yaml", changed), "--diff", write(tmp_path, "base.yaml", base))
    assert result.exit_code == 0, result.stdout
    assert result.stdout == ("+ grant staging [staging-eu-1] checkout/refunds -> prod ledger.payments.global "
                             "(payments/ledger) port 8443/grpc\n")


def test_diff_of_a_multi_port_service_is_still_one_line_per_consumer(tmp_path: Path):
    base = spec_data()
    changed = spec_data()
    changed["exports"][0]["to"].append({"cluster": "b-2", "serviceAccounts": ["batch/loader"]})
    result = invoke("access", write(tmp_path, "new.yaml", changed), "--diff", write(tmp_path, "base.yaml", base))
    assert result.exit_code == 0, result.stdout
    assert result.stdout == ("+ grant b [b-2] batch/loader -> a orders.api.global (api/orders) port 80/http, "
                             "9090/grpc\n")


def test_diff_prints_revokes_and_nothing_for_equal_specs(tmp_path: Path):
    base = spec_data()
    changed = spec_data()
    changed["exports"][1]["to"][0]["namespaces"] = ["admin"]
    new, old = write(tmp_path, "new.yaml", changed), write(tmp_path, "base.yaml", base)
    lines = invoke("access", new, "--diff", old).stdout.splitlines()
    assert lines == ["+ grant b [b-2] admin/* -> a pricing.api.global (api/pricing) port 5432/tcp",
                     "- revoke b [b-2] web/* -> a pricing.api.global (api/pricing) port 5432/tcp"]
    same = invoke("access", old, "--diff", old)
    assert (same.exit_code, same.stdout) == (0, "")


def test_diff_json(tmp_path: Path):
    base = spec_data()
    changed = spec_data()
    del changed["exports"][2]
    result = invoke("access", write(tmp_path, "new.yaml", changed), "--diff", write(tmp_path, "base.yaml", base),
                    "--format-out", "json")
    data = json.loads(result.stdout)
    # web/shop is no longer exported: the export's grant goes, and every in-mesh caller gets it back
    assert [(r["caller_mesh"], r["namespace"], r["host"]) for r in data["grant"]] == [("b", "*", "shop.web.svc.cluster.local")]
    assert [(r["host"], r["ports"]) for r in data["revoke"]] == [("shop.web.global", ["8080/http"])]


def test_diff_of_a_first_export_shows_the_in_mesh_callers_it_shuts_out(tmp_path: Path):
    """M2: exporting a service without `callers` closes it to every in-mesh caller; the diff says so."""
    base = spec_data()
    changed = spec_data()
    changed["exports"].append({"service": "api/internal", "mesh": "a", "to": [{"mesh": "b", "namespaces": ["web"]}]})
    result = invoke("access", write(tmp_path, "new.yaml", changed), "--diff", write(tmp_path, "base.yaml", base))
    assert result.stdout.splitlines() == [
        "- revoke a (any in-mesh caller) -> a internal.api.svc.cluster.local (api/internal) port 80/http",
        "+ grant b [b-1, b-2] web/* -> a internal.api.global (api/internal) port 80/http",
    ]


def test_spec_errors_exit_2(tmp_path: Path):
    broken = spec_data()
    broken["exports"][0]["mesh"] = "nope"
    result = CliRunner().invoke(cli.main, ["access", write(tmp_path, "bad.yaml", broken)])
    assert result.exit_code == 2


def test_library_formats_are_pure_strings():
    grants = access_matrix(build_model(FLEET, addresses={}))
    assert to_markdown(grants).endswith("|\n")
    assert diff_lines(grants, grants) == []


def test_diff_summary_counts_grants_and_revocations_apart(tmp_path):
    from meshgen.cli_tools import _access_summary

    lines = ["+ grant a", "- revoke b", "+ grant c"]
    assert _access_summary([1, 2], lines, "new.yaml", "base.yaml") == \
        "access: 2 grants in new.yaml; against base.yaml: 2 granted, 1 revoked"
    assert _access_summary([1], None, "fleet.yaml", None) == "access: 1 grant"
