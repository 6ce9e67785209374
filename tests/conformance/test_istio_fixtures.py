"""Istio's own CRD fixtures (testdata/istio-crds, see its README) through the schema and CEL layers.

Upstream's openapi_test.go checks these documents against the CRD schema and CEL rules only, and
the valid ones are not all valid for istiod's webhook (e.g. ``hosts: ["*x"]`` with resolution
NONE, an endpoint FQDN with resolution DNS but a port-less ServiceEntry). So valid documents must
pass the ``schema`` and ``cel`` layers, and invalid ones must fail them with the ``_err`` text.

Several fixtures use ``v1alpha3``/``v1beta1``; meshgen only has ``v1`` schemas, and the CRD
serves all three versions with the same schema, so the apiVersion is mapped to ``v1`` here.

The fixtures are master's; they are checked against the newest release meshgen supports, 1.30. A
valid fixture that uses a field master added after 1.30 must be refused for 1.30 with exactly that
field named (so the per-release schemas are proven to differ where upstream differs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from meshgen.conformance import validate_object

FIXTURES = Path(__file__).parent / "testdata" / "istio-crds"
CRD_LAYERS = frozenset({"schema", "cel"})
NEWEST = "1.30"
AFTER_NEWEST = "http2KeepAlive"  # DestinationRule connectionPool.http field added on master after 1.30


def _documents(pattern: str):
    yaml = YAML(typ="safe", pure=True)  # YAML 1.2 rules; the C reader (libyaml) is YAML 1.1
    for path in sorted(FIXTURES.glob(pattern)):
        for index, doc in enumerate(yaml.load_all(path.read_text())):
            if doc:
                yield pytest.param(doc, id=f"{path.stem}[{index}]:{doc.get('metadata', {}).get('name')}")


def _as_v1(doc: dict) -> dict:
    group, _, _ = doc["apiVersion"].rpartition("/")
    return {**doc, "apiVersion": f"{group}/v1"}


@pytest.mark.parametrize("doc", list(_documents("*-valid.yaml")))
def test_valid_fixture_passes_schema_and_cel(doc):
    findings = validate_object(_as_v1(doc), layers=CRD_LAYERS, minor=NEWEST)
    if AFTER_NEWEST in repr(doc):
        assert [f.message for f in findings] == [f'unknown field "{AFTER_NEWEST}"']
    else:
        assert findings == []


@pytest.mark.parametrize("doc", list(_documents("*-invalid.yaml")))
def test_invalid_fixture_fails_with_upstream_message(doc):
    expected = doc.pop("_err")
    findings = validate_object(_as_v1(doc), layers=CRD_LAYERS, minor=NEWEST)
    assert findings, "expected the document to be rejected"
    assert any(expected in str(f) for f in findings), [str(f) for f in findings]


def test_fixture_counts():
    assert len(list(_documents("*-valid.yaml"))) >= 15
    assert len(list(_documents("*-invalid.yaml"))) >= 25
