"""Mutants of a small, valid, feature-rich fleet spec, for property tests (hypothesis).

BASE has every feature present (two meshes with trust bundles both ways, a remote, federation
gateways, localities and CIDRs, revisions and releases, traffic policy, callers, a global name, an
export). `mutants()` replaces one to three values anywhere in it by values of the same shape at the
edges of what the spec allows, and a few beyond: long and odd names, hosts, labels, ports,
durations, weights, localities, URLs.
"""

from __future__ import annotations

import copy
import string

from hypothesis import strategies as st

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
    """A replacement of the same shape as ``current`` (what a user would plausibly write), now and then
    of another type that YAML makes easy to write by mistake (`'8080'`, `yes`, a scalar for a list)."""
    return st.one_of(same_shape(current), other_type(current)) if current is not None else st.none()


def same_shape(current):
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


def other_type(current):
    if isinstance(current, bool):
        return st.sampled_from(["yes", "true", "on", 1, 0])
    if isinstance(current, int):
        return st.sampled_from([str(current), float(current), True, [current]])
    if isinstance(current, str):
        return st.sampled_from([1, 1.28, True, [current], {current: current}])
    if isinstance(current, list):
        return st.sampled_from(["x", 1, {}, None])
    return st.sampled_from(["x", [], None])


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


def lookup(tree, path):
    for part in path:
        tree = tree[part]
    return tree


@st.composite
def mutants(draw) -> dict:
    """BASE with one to three values replaced."""
    tree = BASE
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from([p for p in paths(tree) if p]))
        tree = mutate(tree, path, draw(value_for(lookup(tree, path))))
    return tree
