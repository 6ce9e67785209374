"""Resource keys are computed once; a ResourceSet sorts once, until the next add."""

from __future__ import annotations

import pytest

from meshgen.diagnostics import MeshgenError
from meshgen.render.resource import Resource, ResourceSet


def _obj(name: str, kind: str = "ConfigMap", namespace: str = "", api: str = "v1") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def test_id_and_sort_key():
    r = Resource("clusters/a/x.yaml", _obj("n", "Gateway", "ns", "networking.istio.io/v1"))
    assert r.id == ("clusters/a", "networking.istio.io", "Gateway", "ns", "n")
    assert r.sort_key() == ("clusters/a/x.yaml", 6, "Gateway", "ns", "n")
    assert r.sort_key() is r.sort_key() and r.id is r.id  # computed once
    unknown = Resource("clusters/a/x.yaml", _obj("n", "Zebra"))
    assert unknown.sort_key()[1] > r.sort_key()[1]


def test_non_manifests_are_keyed_by_path():
    text = Resource("README.md", "hello\n", manifest=False)
    assert text.id == ("README.md", "", "", "", "")
    assert text.sort_key() == ("README.md", text.sort_key()[1], "", "", "")
    values = Resource("clusters/a/helm/values.yaml", {"replicas": 2}, manifest=False)
    assert values.id == ("clusters/a/helm/values.yaml", "", "", "", "")


def test_a_manifest_needs_a_mapping_body():
    odd = Resource("clusters/a/x.yaml", "kind: ConfigMap\n")
    assert odd.sort_key()[0] == "clusters/a/x.yaml"
    with pytest.raises(TypeError):
        odd.id  # noqa: B018


def test_cached_keys_do_not_change_equality():
    body = _obj("n")
    a, b = Resource("p/x.yaml", body), Resource("p/x.yaml", body)
    a.sort_key()
    assert a == b


def test_iteration_is_sorted_and_follows_adds():
    resources = ResourceSet()
    resources.add(Resource("clusters/b/x.yaml", _obj("b")))
    resources.add(Resource("clusters/a/x.yaml", _obj("a")))
    assert [r.path for r in resources] == ["clusters/a/x.yaml", "clusters/b/x.yaml"]
    assert [r.path for r in resources] == ["clusters/a/x.yaml", "clusters/b/x.yaml"]
    resources.add(Resource("clusters/a/x.yaml", _obj("0", "Namespace")))
    assert [(r.path, r.kind) for r in resources] == [
        ("clusters/a/x.yaml", "Namespace"), ("clusters/a/x.yaml", "ConfigMap"), ("clusters/b/x.yaml", "ConfigMap")
    ]
    assert len(resources) == 3 and sorted(r.name for r in resources.values()) == ["0", "a", "b"]


def test_a_second_object_with_the_same_id_is_e401_and_changes_nothing():
    resources = ResourceSet()
    resources.add(Resource("clusters/a/x.yaml", _obj("a")))
    before = list(resources)
    with pytest.raises(MeshgenError) as err:
        resources.add(Resource("clusters/a/y.yaml", _obj("a")))  # same folder: same id
    assert err.value.diagnostics[0].code == "E401"
    assert list(resources) == before
