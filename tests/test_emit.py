"""Emit: canonical YAML that YAML 1.1 and 1.2 readers both read back, files, kustomizations."""

from __future__ import annotations

import io
import math
import random

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from meshgen.diagnostics import MeshgenError
from meshgen.emit import dump_yaml, emit, is_plain_safe
from meshgen.render.resource import Resource

SafeLoader11 = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NASTY = [
    "", "yes", "Yes", "NO", "y", "n", "on", "Off", "true", "False", "null", "Null", "~",
    "0x1F", "0o7", "07", "0b101", "1e3", "1E3", "1.5", ".5", "1.", "1_000", "+1", "-1", "1:20",
    "190:20:30.15", "2026-01-01", "2026-1-1 10:00:00", "2026-01-01T00:00:00Z", ".inf", "-.Inf",
    ".NaN", " lead", "trail ", "a: b", "a:", "#x", "a #b", "- x", "-", "?", ":", "? x", "*",
    "*.global", "&a", "!tag", "@x", "`x", "%x", "'", '"', "=", "<<", "|", ">", "[", "]", "{",
    "}", ",", "a,b", "\t", "a\tb", "\x85", "\u2028", "\u2029", "\ufeff", "\x7f", "\x00", "\x1b",
    "é", "日本", "😀", "\U0001d400", "a\nb", "\n", "\n\n", "a\n", "a\n\n", " a\nb", "\ta\nb",
    "a\n \nb", "a\r\nb", "a \nb", "a\n\tb", "\na", "\n a", "-\n", "_", "__", "0", "-0", ".",
    "..", "...", "... x", "...:", "---", "--- x", "/api/v1", "10.0.0.0/16", "5s", "1.2.3", "a\\b", "\\", "a/b", "a\u00a0b", "\u00a0",
]

strings = st.one_of(st.sampled_from(NASTY), st.text(max_size=12), st.text(alphabet="ab \n:#-.\t", max_size=8))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    strings,
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(strings, children, max_size=4),
    ),
    max_leaves=20,
)


def read_11(text: str):
    return yaml.load(text, Loader=SafeLoader11)


def read_12(text: str):
    pure = YAML(typ="safe", pure=True).load(io.StringIO(text))
    fast = YAML(typ="safe").load(io.StringIO(text))  # ruamel's C reader when installed
    assert_same(fast, pure)
    return pure


def assert_same(loaded, expected) -> None:
    if isinstance(expected, float) and isinstance(loaded, float):
        assert loaded == expected or (math.isnan(loaded) and math.isnan(expected))
        return
    assert type(loaded) is type(expected), (loaded, expected)
    if isinstance(expected, dict):
        assert list(loaded) == list(expected)
        for key in expected:
            assert_same(loaded[key], expected[key])
    elif isinstance(expected, list):
        assert len(loaded) == len(expected)
        for got, want in zip(loaded, expected):
            assert_same(got, want)
    else:
        assert loaded == expected


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
@example({"corefile": ".:53 {\n    errors\n}\n", "ports": [{"name": "http", "number": 80}]})
def test_every_document_reads_back_with_yaml_11_and_12(obj):
    text = dump_yaml(obj)
    assert text.endswith("\n") and "\r" not in text
    assert_same(read_11(text), obj)
    assert_same(read_12(text), obj)


@pytest.mark.parametrize("text", NASTY)
@pytest.mark.parametrize("where", ["value", "key", "item", "nested"])
def test_nasty_strings_read_back_everywhere(text, where):
    obj = {
        "value": {"k": text},
        "key": {text: 1},
        "item": [text, "x"],
        "nested": {"a": [{"b": text, "c": [text]}]},
    }[where]
    emitted = dump_yaml(obj)
    assert_same(read_11(emitted), obj)
    assert_same(read_12(emitted), obj)


@pytest.mark.parametrize("text", ["yes", "0x1F", "1e3", "2026-01-01", "null", "~", " lead", "a: b", "#x",
                                  "- x", "*", "&a", "!tag", "@x", "`x", "%x", "=", "<<", ".inf", ".NaN",
                                  "0o7", "1_000", "+1", "1:20", "\t", "\x85", "\u2028", "'", '"'])
def test_ambiguous_strings_are_quoted(text):
    assert not is_plain_safe(text)
    assert dump_yaml(text).startswith('"')


@pytest.mark.parametrize("text", ["reviews.prod.svc.cluster.local", "istio-system", "app.kubernetes.io/name",
                                  "5s", "10.0.0.0/16", "/api/v1", "ISTIO_MUTUAL", "1.2.3", "日本"])
def test_ordinary_strings_stay_plain(text):
    assert dump_yaml({"k": text}) == f"k: {text}\n"


def test_namespace_golden():
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "istio-system", "labels": {"topology.istio.io/network": "net-east"}},
    }
    assert dump_yaml(body) == (
        "apiVersion: v1\n"
        "kind: Namespace\n"
        "metadata:\n"
        "  name: istio-system\n"
        "  labels:\n"
        "    topology.istio.io/network: net-east\n"
    )


def test_block_styles_golden():
    body = {
        "data": {"Corefile": ".:53 {\n    errors\n}\n", "raw": "a\nb", "kept": "a\n\n", "lead": "  x\ny\n"},
        "ports": [{"name": "http", "number": 80}, {"name": "tls", "number": 443}],
        "hosts": ["*.global"],
        "empty": {"d": {}, "l": []},
        "flags": [True, False, None, 1.5, -3],
        "matrix": [[1, 2], []],
    }
    assert dump_yaml(body) == (
        "data:\n"
        "  Corefile: |\n"
        "    .:53 {\n"
        "        errors\n"
        "    }\n"
        "  raw: |-\n"
        "    a\n"
        "    b\n"
        "  kept: |+\n"
        "    a\n"
        "\n"
        "  lead: |2\n"
        "      x\n"
        "    y\n"
        "ports:\n"
        "  - name: http\n"
        "    number: 80\n"
        "  - name: tls\n"
        "    number: 443\n"
        "hosts:\n"
        '  - "*.global"\n'
        "empty:\n"
        "  d: {}\n"
        "  l: []\n"
        "flags:\n"
        "  - true\n"
        "  - false\n"
        "  - null\n"
        "  - 1.5\n"
        "  - -3\n"
        "matrix:\n"
        "  - - 1\n"
        "    - 2\n"
        "  - []\n"
    )


def test_insertion_order_is_kept():
    assert dump_yaml({"spec": 1, "apiVersion": 2, "kind": 3}) == "spec: 1\napiVersion: 2\nkind: 3\n"


def _ns(path: str, name: str, kind: str = "Namespace", **extra) -> Resource:
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, **extra}
    return Resource(path, body)


def _fleet() -> list[Resource]:
    return [
        _ns("clusters/east/namespaces.yaml", "b"),
        _ns("clusters/east/namespaces.yaml", "a"),
        _ns("clusters/east/namespaces.yaml", "cfg", kind="ConfigMap", data={"k": "v"}),
        _ns("clusters/east/istio/gateways.yaml", "gw", kind="Gateway"),
        _ns("clusters/west/namespaces.yaml", "a"),
        Resource("clusters/east/values/istiod.yaml", {"pilot": {"replicas": 2}}, manifest=False),
        Resource("fleet/argocd.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f"}}),
    ]


def test_multi_document_file_golden():
    tree = emit(_fleet())
    assert tree["clusters/east/namespaces.yaml"] == (
        b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"
        b"---\n"
        b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n"
        b"---\n"
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: v\n"
    )
    assert tree["clusters/east/values/istiod.yaml"] == b"pilot:\n  replicas: 2\n"


def test_emit_writes_exactly_the_rendered_files():
    """Kustomizations are rendered like any other file (render.bundles); emit adds none."""
    tree = emit(_fleet())
    assert sorted(tree) == [
        "clusters/east/istio/gateways.yaml",
        "clusters/east/namespaces.yaml",
        "clusters/east/values/istiod.yaml",
        "clusters/west/namespaces.yaml",
        "fleet/argocd.yaml",
    ]


def test_emitted_files_read_back_as_their_documents():
    fleet = _fleet()
    tree = emit(fleet)
    path = "clusters/east/namespaces.yaml"
    expected = [r.body for r in sorted(fleet, key=Resource.sort_key) if r.path == path]
    assert list(yaml.load_all(tree[path].decode(), Loader=SafeLoader11)) == expected
    assert list(YAML(typ="safe").load_all(tree[path].decode())) == expected


def test_emit_is_deterministic_across_runs_and_input_order():
    fleet = _fleet()
    first = emit(fleet)
    assert emit(fleet) == first
    for seed in range(5):
        shuffled = fleet[:]
        random.Random(seed).shuffle(shuffled)
        again = emit(shuffled)
        assert again == first and list(again) == list(first)


def test_files_of_the_same_documents_share_their_bytes():
    """The primaries of a mesh hold the same files: joined once, one bytes object in the tree."""
    shared = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}, "data": {"k": n}} for n in "ab"]
    own = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    fleet = [Resource(f"clusters/{c}/traffic.yaml", body) for c in ("east", "west") for body in shared]
    fleet.append(Resource("clusters/north/traffic.yaml", own))
    fleet.append(Resource("clusters/north/traffic.yaml", shared[0]))
    tree = emit(fleet)
    assert tree["clusters/east/traffic.yaml"] is tree["clusters/west/traffic.yaml"]
    assert tree["clusters/east/traffic.yaml"] == b"".join(
        dump_yaml(body).encode() + sep for body, sep in zip(shared, (b"---\n", b"")))
    assert tree["clusters/north/traffic.yaml"] == dump_yaml(shared[0]).encode() + b"---\n" + dump_yaml(own).encode()


def test_non_manifest_sharing_a_path_is_an_error():
    resources = [_ns("clusters/east/a.yaml", "x"), Resource("clusters/east/a.yaml", {"a": 1}, manifest=False)]
    with pytest.raises(MeshgenError) as err:
        emit(resources)
    assert err.value.diagnostics[0].code == "E404"


bodies = st.dictionaries(strings, trees, max_size=3)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["Namespace", "Gateway", "X"]), bodies),
                max_size=6, unique_by=lambda t: (t[0], t[1])),
       st.randoms(use_true_random=False))
def test_every_emitted_file_reads_back_in_sort_order(specs, rnd):
    resources = [
        Resource("clusters/c/all.yaml", {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": body})
        for name, kind, body in specs
    ]
    shuffled = resources[:]
    rnd.shuffle(shuffled)
    tree = emit(resources)
    assert emit(shuffled) == tree
    if not resources:
        assert tree == {}
        return
    expected = [r.body for r in sorted(resources, key=Resource.sort_key)]
    text = tree["clusters/c/all.yaml"].decode()
    for got, want in zip(list(yaml.load_all(text, Loader=SafeLoader11)), expected, strict=True):
        assert_same(got, want)
    for got, want in zip(list(YAML(typ="safe", pure=True).load_all(text)), expected, strict=True):
        assert_same(got, want)


def test_unsupported_values_are_rejected():
    with pytest.raises(TypeError):
        dump_yaml({"a": object()})


def test_resource_set_order_and_any_list_order_emit_the_same_tree():
    """A ResourceSet yields strictly increasing sort keys (emit then sorts nothing); any other order,
    or a run of equal sort keys, is sorted by key with the text breaking ties."""
    from meshgen.render.resource import ResourceSet

    shared = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}}
    fleet = _fleet() + [
        Resource("clusters/east/namespaces.yaml", shared),
        Resource("clusters/west/namespaces.yaml", shared),
        # same path, kind, namespace and name (so the same sort key), another API group: the text decides
        _ns("clusters/west/namespaces.yaml", "tie", kind="Thing", apiVersion="b.example/v1"),
        _ns("clusters/west/namespaces.yaml", "tie", kind="Thing", apiVersion="a.example/v1"),
    ]
    resources = ResourceSet()
    resources.extend(fleet)
    tree = emit(resources)
    for seed in range(5):
        shuffled = fleet[:]
        random.Random(seed).shuffle(shuffled)
        assert emit(shuffled) == tree
    west = tree["clusters/west/namespaces.yaml"].decode()
    assert west.index("a.example/v1") < west.index("b.example/v1")
    assert b"name: shared" in tree["clusters/east/namespaces.yaml"]
