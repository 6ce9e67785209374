"""validate_object never raises, whatever a renderer (or a hand-edited file) hands it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshgen.conformance import validate_object
from tests.conformance.conftest import VALID

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 70000) | st.text(max_size=8) | st.sampled_from(["*", "a.b", "1.2.3.4", "unix://x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_fields = st.sampled_from(["hosts", "ports", "servers", "host", "rules", "selector", "portLevelMtls", "endpoints",
                           "addresses", "trafficPolicy", "subsets", "exportTo", "resolution", "action", "http"])


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(VALID)), field=_fields, value=_json)
def test_any_spec_field_value_is_reported_not_raised(kind, field, value):
    obj = {**VALID[kind], "spec": {**VALID[kind].get("spec", {}), field: value}}
    for finding in validate_object(obj):
        assert finding.severity in ("error", "warning") and isinstance(finding.path, str)
