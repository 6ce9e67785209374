"""Validate means render: every spec `meshgen validate` accepts renders with no error (issue 14, item 2).

The output rules (schemas, CEL, Istio's webhook rules, Kubernetes names) are the truth; the spec's
own checks must imply them. Hypothesis mutates a small valid fleet (every feature present) and
generates values at the edges of what the spec allows: long and odd names, hosts, labels, ports,
durations, weights, localities, URLs. Whenever the loader and the checks accept the mutant, the
whole build (render, validation of every object, emit) must succeed. A fixed seed and a budget of a
few thousand examples keep it deterministic in CI.
"""

from __future__ import annotations

import copy
import string

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from meshgen.checks import run_checks
from meshgen.diagnostics import MeshgenError
from meshgen.emit import dump_yaml, emit
from meshgen.render import render
from meshgen.resolve import resolve
from meshgen.addresses import allocate_fleet
from meshgen.conformance import validate_resources
from meshgen.pipeline import release_of
from meshgen.spec.loader import load

BASE = {
    "apiVersion": "meshgen.dev/v1alpha1",
    "kind": "Fleet",
    "metadata": {"name": "prop"},
    "settings": {"istioVersion": "1.28", "exportSuffix": "global",
                 "gitops": {"repoURL": "https://git.corp.example/fleet.git", "path": "out", "secretRef": "git"}},
    "networks": [{"name": "n1"}, {"name": "n2"}, {"name": "n3"}],
    "rootsOfTrust": [{"name": "r1", "store": {"name": "pki"}, "certificatePath": "pki/r1"},
                     {"name": "r2", "store": {"name": "pki"}, "certificatePath": "pki/r2"}],
    "meshes": [
        {"name": "a", "trustDomain": "a.example", "rootOfTrust": "r1", "secretStore": {"name": "store"},
         "dns": {"capture": True, "coreDNS": True},
         "trustBundles": [{"mesh": "b", "store": {"name": "pki"}, "certificatePath": "pki/r2"}]},
        {"name": "b", "trustDomain": "b.example", "rootOfTrust": "r2", "secretStore": {"name": "store"},
         "trustBundles": [{"mesh": "a", "store": {"name": "pki"}, "certificatePath": "pki/r1"}]},
    ],
    "clusters": [
        {"name": "a1", "network": "n1", "mesh": "a", "locality": {"region": "r-east", "zone": "z1"},
         "podCIDRs": ["10.1.0.0/16"], "serviceCIDRs": ["10.101.0.0/20"],
         "gateways": [{"address": "192.0.2.1"}], "federationGateways": [{"address": "192.0.2.2"}]},
        {"name": "a2", "network": "n2", "mesh": "a", "locality": {"region": "r-west"},
         "controlPlane": {"role": "remote", "primary": "a1"},
         "gateways": [{"address": "gw.a2.example", "port": 443}], "federationGateways": [{"address": "fed.a2.example"}]},
        {"name": "b1", "network": "n3", "mesh": "b", "istioVersion": "1.30", "revision": "canary",
         "gateways": [{"address": "192.0.2.9"}]},
    ],
    "services": [
        {"name": "api", "namespace": "shop", "serviceAccounts": ["api"], "selector": {"app": "api"},
         "ports": [{"name": "http", "number": 8080, "protocol": "HTTP", "targetPort": 9080},
                   {"name": "tcp", "number": 5432, "protocol": "TCP"}],
         "instances": [{"cluster": "a1", "count": 2}, {"cluster": "a2"}],
         "callers": [{"namespace": "shop", "serviceAccount": "web"}],
         "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s"},
                           "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
                           "distribute": [{"from": "r-east/*", "to": {"r-east/*": 80, "r-west/*": 20}}]}},
        {"name": "web", "namespace": "front", "ports": [{"name": "http", "number": 80, "protocol": "HTTP"}],
         "instances": [{"cluster": "b1"}]},
    ],
    "globalNames": [{"host": "api.a.global", "mesh": "a", "services": ["shop/api"]}],
    "exports": [{"service": "shop/api", "mesh": "a", "to": [{"mesh": "b", "serviceAccounts": ["front/web"]}]}],
    "failover": [],
}

# Values at the edges of what the spec's types allow, and a few beyond.
LABEL_CHARS = string.ascii_lowercase + string.digits + "-"
EDGE_STRINGS = st.one_of(
    st.text(alphabet=LABEL_CHARS, min_size=1, max_size=70),
    st.text(alphabet=LABEL_CHARS + ".", min_size=1, max_size=300),
    st.text(alphabet=string.ascii_letters + string.digits + "-_./:*", min_size=0, max_size=80),
    st.sampled_from(["1.24", "1.30", "1.28.3", "10s", "1m30s", "0.5ms", "us-east1/*", "*", "a/b", "x.y", "0",
                     "12345", "192.0.2.77", "2001:db8::1", "10.0.0.0/8", "https://h.example/r.git",
                     "git@h.example:r.git", "oci://h.example/charts", "a" * 63, "a" * 64, "b" * 46, "b" * 47]),
)
EDGE_INTS = st.one_of(st.sampled_from([0, 1, 2, 46, 53, 63, 64, 100, 101, 253, 254, 15443, 65535, 65536]),
                     st.integers(min_value=-1, max_value=70000))


def variants(current: str):
    """Strings near ``current``: longer, repeated, with a suffix, dotted, upper-cased."""
    return st.one_of(
        st.builds(lambda n: (current * 70)[:n], st.integers(min_value=1, max_value=260)),
        st.builds(lambda extra: current + extra, st.text(alphabet=LABEL_CHARS + ".", max_size=70)),
        st.builds(lambda head: head + current, st.text(alphabet=LABEL_CHARS + ".", max_size=70)),
        st.just(current.upper()), st.just(current.replace(".", "")), st.just(current + "." + current),
    )


def value_for(current):
    """A replacement of the same shape as ``current`` (what a user would plausibly write)."""
    if isinstance(current, bool):
        return st.booleans()
    if isinstance(current, int):
        return EDGE_INTS
    if isinstance(current, str):
        return st.one_of(EDGE_STRINGS, variants(current))
    if isinstance(current, list) and current:
        return st.one_of(st.just([]), st.just(current[:-1]), st.just(current + current[-1:]),
                         st.just(list(reversed(current))))
    if isinstance(current, dict) and current:
        return st.sampled_from([{k: v for k, v in current.items() if k != key} for key in current])
    return st.none()


def paths(node, prefix=()):
    """Every key path of the tree (to a scalar, list or mapping)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def mutate(tree: dict, path: tuple, value) -> dict:
    tree = copy.deepcopy(tree)
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return tree


ALL_PATHS = [p for p in paths(BASE) if p]


def accepted(tree: dict):
    """The model when the loader and every check accept the spec (warnings allowed), else None."""
    loaded = load(dump_yaml(tree).encode(), "fleet.yaml")
    if loaded.fleet is None or any(d.is_error for d in run_checks(loaded.fleet, loaded.positions)):
        return None
    lock, problems = allocate_fleet(loaded.fleet, loaded.positions, "", "meshgen.lock")
    if problems:
        return None
    return resolve(loaded.fleet, loaded.positions, {e.host: str(e.address) for e in lock.entries})


def assert_renders(model) -> None:
    try:
        resources = render(model)
        errors = [d for d in validate_resources(resources, release_of(model)) if d.is_error]
        emit(resources)
    except MeshgenError as exc:
        errors = exc.diagnostics
    assert not errors, "validate accepted a spec that render refuses:\n" + "\n".join(d.format() for d in errors[:5])


def test_the_base_is_accepted_and_renders():
    model = accepted(BASE)
    assert model is not None
    assert_renders(model)


def lookup(tree, path):
    for part in path:
        tree = tree[part]
    return tree


@seed(20261203)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_every_accepted_mutant_renders(data):
    tree = BASE
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from([p for p in paths(tree) if p]))
        tree = mutate(tree, path, data.draw(value_for(lookup(tree, path))))
    model = accepted(tree)
    if model is not None:
        assert_renders(model)
