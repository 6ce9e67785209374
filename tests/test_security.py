"""Closed by default: STRICT PeerAuthentication everywhere, every exported workload or workload with
`callers` accepts exactly its consumers and in-mesh callers (principals derived here from the raw
spec), and no identity of a peer trust domain is admitted except by an explicit grant."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_federation import FLEET, build_model, dump, spec_data

from meshgen.conformance import validate_object
from meshgen.render import security

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "fleet.example.yaml").read_text()


def expected_principals(data: dict) -> dict[tuple[str, str], set[str]]:
    """(mesh, 'ns/name') -> principals, straight from the spec's exports and callers, for every service
    that is exported or lists callers, in every mesh it runs in."""
    domain = {m["name"]: m["trustDomain"] for m in data["meshes"]}
    mesh_of = {c["name"]: c["mesh"] for c in data["clusters"]}
    found: dict[tuple[str, str], set[str]] = {}
    for service in data["services"]:
        key = f"{service['namespace']}/{service['name']}"
        for mesh in {mesh_of[i["cluster"]] for i in service["instances"]} if service.get("callers") else ():
            allowed = found.setdefault((mesh, key), set())
            for caller in service["callers"]:
                sa = caller.get("serviceAccount")
                allowed.add(f"{domain[mesh]}/ns/{caller['namespace']}/" + (f"sa/{sa}" if sa else "*"))
    for export in data["exports"]:
        allowed = found.setdefault((export["mesh"], export["service"]), set())
        for consumer in export["to"]:
            td = domain[consumer.get("mesh") or mesh_of[consumer["cluster"]]]
            if consumer.get("serviceAccounts"):
                allowed |= {f"{td}/ns/{ns}/sa/{sa}" for ns, sa in (x.split("/") for x in consumer["serviceAccounts"])}
            elif consumer.get("namespaces"):
                allowed |= {f"{td}/ns/{ns}/*" for ns in consumer["namespaces"]}
            else:
                allowed.add(f"{td}/*")
    return found


def rendered_principals(model, resources) -> dict[tuple[str, str], list[set[str]]]:
    """(mesh of the cluster, 'ns/name' of the selected service) -> principals, one set per policy."""
    by_selector = {(s.namespace, tuple(model.selector(s).items())): f"{s.namespace}/{s.name}"
                   for s in model.services.values()}
    found: dict[tuple[str, str], list[set[str]]] = {}
    for r in resources:
        if r.kind != "AuthorizationPolicy" or r.body["spec"]["action"] != "ALLOW":
            continue
        spec = r.body["spec"]
        selected = by_selector[(r.namespace, tuple(sorted(spec["selector"]["matchLabels"].items())))]
        principals = {p for rule in spec["rules"] for f in rule["from"] for p in f["source"]["principals"]}
        mesh = model.mesh_of(r.path.split("/")[1]).name
        found.setdefault((mesh, selected), []).append(principals)
    return found


@pytest.mark.parametrize("text", [FLEET, EXAMPLE], ids=["unit", "example"])
def test_allowed_principals_are_exactly_the_consumers_and_callers(text):
    data = spec_data(text)
    model = build_model(text, {e.host: f"240.10.0.{i + 1}" for i, e in enumerate(build_model(text, {}).exports)})
    resources = security.render(model)
    expected = expected_principals(data)
    rendered = rendered_principals(model, resources)
    assert set(rendered) == set(expected)
    for key, policies in rendered.items():
        primaries = model.primaries(key[0])
        assert len(policies) == len(primaries), key  # one policy in every primary of the exporting mesh
        assert all(p == expected[key] for p in policies), key


def test_policy_fields_and_workload_ports():
    resources = security.render(build_model())
    (policy,) = [r for r in resources if r.kind == "AuthorizationPolicy" and r.path == "clusters/a-1/mesh/security.yaml"
                 and r.name == "orders-allow"]
    assert policy.namespace == "api"
    assert policy.body["spec"] == {
        "selector": {"matchLabels": {"app": "orders"}},
        "action": "ALLOW",
        "rules": [{
            "from": [{"source": {"principals": [
                "a.example/ns/billing/sa/invoicer", "a.example/ns/ops/*", "b.example/ns/web/sa/shop"]}}],
            "to": [{"operation": {"ports": ["8080", "9090"]}}],  # target ports, not Service port 80
        }],
    }
    assert all(validate_object(r.body) == [] for r in resources)


def test_open_namespace_consumer_is_a_namespace_prefix():
    resources = security.render(build_model())
    (policy,) = [r.body for r in resources if r.name == "pricing-allow" and "/a-2/" in r.path]
    assert policy["spec"]["rules"][0]["from"][0]["source"]["principals"] == ["b.example/ns/web/*"]


def test_peer_authentication_in_every_primary_with_the_mesh_mode():
    data = spec_data()
    data["meshes"][1]["mtls"] = "PERMISSIVE"
    resources = security.render(build_model(dump(data)))
    modes = {r.path: r.body["spec"]["mtls"]["mode"] for r in resources if r.kind == "PeerAuthentication"}
    assert modes == {"clusters/a-1/mesh/security.yaml": "STRICT", "clusters/a-2/mesh/security.yaml": "STRICT",
                     "clusters/b-1/mesh/security.yaml": "PERMISSIVE"}
    assert {(r.name, r.namespace) for r in resources if r.kind == "PeerAuthentication"} == {("default", "istio-system")}


def test_nothing_selects_the_eastwest_gateway_and_remotes_get_no_policy():
    resources = security.render(build_model())
    for r in resources:
        assert "/a-3/" not in r.path and "/b-2/" not in r.path
        selector = r.body["spec"].get("selector", {}).get("matchLabels", {})
        assert selector.get("istio") != "eastwestgateway"


def test_unexported_service_without_callers_gets_no_policy():
    resources = security.render(build_model())
    assert not [r for r in resources if r.name.startswith("internal")]


def test_callers_close_a_service_whether_or_not_it_is_exported():
    """M2: `callers` is honoured for every declared service, not only exported ones."""
    data = spec_data()
    data["services"][2]["callers"] = [{"namespace": "ops", "serviceAccount": "probe"}]  # api/internal
    resources = security.render(build_model(dump(data)))
    (policy,) = [r.body for r in resources if r.name == "internal-allow" and "/a-1/" in r.path]
    assert policy["spec"]["rules"][0]["from"][0]["source"]["principals"] == ["a.example/ns/ops/sa/probe"]


def test_foreign_trust_domains_are_denied_except_explicit_grants():
    """F2/F3 defense in depth: in every namespace of a mesh's services, a DENY of every peer trust domain
    but the principals granted to that namespace's exports; DENY never widens what else allows."""
    resources = security.render(build_model())
    denials = {(r.path.split("/")[1], r.namespace): r.body["spec"] for r in resources
               if r.kind == "AuthorizationPolicy" and r.body["spec"]["action"] == "DENY"}
    assert set(denials) == {("a-1", "api"), ("a-2", "api"), ("b-1", "web")}
    assert denials[("a-1", "api")] == {"action": "DENY", "rules": [{"from": [{"source": {
        "principals": ["b.example/*"], "notPrincipals": ["b.example/ns/web/*", "b.example/ns/web/sa/shop"]}}]}]}
    assert denials[("b-1", "web")]["rules"][0]["from"][0]["source"] == {
        "principals": ["a.example/*"], "notPrincipals": ["a.example/ns/front/sa/ui"]}
    assert all(validate_object(r.body) == [] for r in resources)


def test_a_peer_principal_never_matches_a_policy_written_for_the_mesh_itself():
    """F3: with `trustDomainAliases`, istiod rewrites `a.example/ns/x/sa/y` into one principal per domain
    of the bundle, so `b.example/ns/x/sa/y` matched it too. The rendered istiod values now list no
    alias, so istiod's expansion (trustdomain/bundle.go ReplaceTrustDomainAliases) keeps own
    principals own."""
    from meshgen.render import install

    model = build_model()
    values = install.istiod_values(model, "a-1")["meshConfig"]
    bundle = [values["trustDomain"], *values.get("trustDomainAliases", [])]
    for r in security.render(model):
        if "/a-1/" not in r.path or r.kind != "AuthorizationPolicy" or r.body["spec"]["action"] != "ALLOW":
            continue
        own = [p for p in r.body["spec"]["rules"][0]["from"][0]["source"]["principals"] if p.startswith("a.example/")]
        expanded = [q for p in own for q in replace_trust_domain_aliases(p, bundle)]
        for principal in own:
            peer = "b.example/" + principal.split("/", 1)[1]
            assert not any(matches(pattern, peer.replace("*", "x")) for pattern in expanded), (principal, expanded)


def replace_trust_domain_aliases(principal: str, bundle: list[str]) -> list[str]:
    """istiod's expansion of one principal (pilot/pkg/security/trustdomain/bundle.go, 1.24-1.30): a
    five-part principal in a bundle domain (or cluster.local) becomes one per bundle domain."""
    parts = principal.split("/")
    if len(parts) != 5 or parts[0] == "*" or (parts[0] not in bundle and parts[0] != "cluster.local"):
        return [principal]
    return ["/".join([domain, *parts[1:]]) for domain in bundle]


def matches(pattern: str, value: str) -> bool:
    """Istio's string match for principals: exact, `*`, prefix `x*` or suffix `*x`."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def test_namespace_mtls_overrides_get_their_own_peer_authentication():
    data = spec_data(FLEET)
    data["meshes"][0]["mtls"] = "PERMISSIVE"
    data["meshes"][0]["namespaceMtls"] = {"payments": "STRICT"}
    resources = security.render(build_model(dump(data)))
    modes = {(r.namespace, r.path.split("/")[1]): r.body["spec"]["mtls"]["mode"]
             for r in resources if r.kind == "PeerAuthentication"}
    mesh = data["meshes"][0]["name"]
    primaries = [c["name"] for c in data["clusters"]
                 if c["mesh"] == mesh and c.get("controlPlane", {}).get("role", "primary") == "primary"]
    assert primaries
    for primary in primaries:
        assert modes[("istio-system", primary)] == "PERMISSIVE"
        assert modes[("payments", primary)] == "STRICT"
    for r in resources:
        if r.kind == "PeerAuthentication":
            assert validate_object(r.body) == []
