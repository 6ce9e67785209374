"""API-server metadata rules: names per kind, namespaces, label keys and values, annotations."""

from __future__ import annotations

import pytest

from meshgen.conformance import kube


@pytest.mark.parametrize(("kind", "name", "ok"), [
    ("ConfigMap", "istio-ca-root-cert", True), ("ConfigMap", "a.b.c", True), ("ConfigMap", "a" * 253, True),
    ("ConfigMap", "a" * 254, False), ("ConfigMap", "Upper", False), ("ConfigMap", "-a", False), ("ConfigMap", "", False),
    ("Namespace", "istio-system", True), ("Namespace", "a.b", False), ("Namespace", "a" * 64, False),
    ("Service", "a" * 63, True), ("Service", "a.b", False), ("ServiceEntry", "reviews.global", True),
])
def test_names(kind, name, ok):
    assert (kube.name_findings(kind, name) == []) is ok


def test_namespace():
    assert kube.namespace_findings("Secret", "istio-system") == []
    assert kube.namespace_findings("Secret", "istio.system")[0].path == "metadata.namespace"
    assert kube.namespace_findings("Namespace", "x")[0].severity == "warning"


@pytest.mark.parametrize(("key", "value", "ok"), [
    ("app", "reviews", True), ("app.kubernetes.io/name", "x", True), ("topology.istio.io/network", "", True),
    ("a/b/c", "x", False), ("Bad_Prefix.io/x", "x", False), ("-app", "x", False), ("a" * 64, "x", False),
    ("app", "a" * 64, False), ("app", "has space", False), ("app", "-x", False), ("app", "a_b.c-d", True),
    ("example.com/" + "a" * 63, "x", True), ("a" * 254 + "/x", "x", False),
])
def test_labels(key, value, ok):
    findings = kube.labels_findings({key: value}, "metadata.labels")
    assert (findings == []) is ok
    assert all(f.path == f"metadata.labels[{key}]" for f in findings)


def test_annotations():
    assert kube.annotations_findings({"meshgen.io/source": "fleet.yaml:3"}) == []
    assert kube.annotations_findings({"bad key": "x"})[0].path == "metadata.annotations[bad key]"
    big = kube.annotations_findings({"a": "x" * (256 * 1024)})
    assert big and big[0].path == "metadata.annotations" and "Too long" in big[0].message


def test_metadata_required():
    assert kube.metadata_findings({"kind": "Secret"})[0].path == "metadata"
    assert kube.metadata_findings({"kind": "Secret", "metadata": {}})[0].path == "metadata.name"
