"""The CEL layer's result cache and walk shortcuts never change a finding (see cel.py's docstring)."""

from __future__ import annotations

from meshgen.conformance import cel, validate_object
from meshgen.conformance.cel import Rule, presence_fields, self_fields


def _cel(obj) -> list[str]:
    return [str(f) for f in validate_object(obj, {"cel"})]


def test_presence_fields_are_only_has_tests():
    rules = (Rule("(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1", "m"),
             Rule("has(self.b) ? self.b.size() > 0 : true", "m"), Rule("has(self.c.d) || has(self.e)", "m"))
    fields = self_fields(rules)
    assert fields == {"a", "b", "c", "e"}
    assert presence_fields(rules, fields) == {"a", "e"}  # b's value is read; has(self.c.d) reads c


def test_cache_keys_keep_types_apart():
    keys = {cel._cache_key(1, value) for value in ("1", 1, True, 1.0, -0.0, 0.0, "True", None, "None", [1], ["1"])}
    assert len(keys) == 11


def test_presence_only_fields_share_a_cache_entry_but_keep_their_findings(valid):
    first, second = valid("ServiceEntry"), valid("ServiceEntry")
    for obj, app in ((first, "a"), (second, "b")):
        obj["spec"]["resolution"] = "STATIC"
        obj["spec"]["workloadSelector"] = {"labels": {"app": app}}
    assert _cel(first) == _cel(second)
    assert any("only one of WorkloadSelector or Endpoints" in text for text in _cel(first))  # both set: rule broken
    del second["spec"]["endpoints"]
    assert _cel(second) == []


def test_scalar_leaf_shortcut_after_a_failure_and_a_pass(valid):
    obj = valid("ServiceEntry")
    obj["spec"]["hosts"] = ["ok.example.com", "*", "ok.example.com", "*"]
    found = _cel(obj)
    assert [text.split(":")[0] for text in found] == ["spec.hosts[1]", "spec.hosts[3]"]
    assert _cel(obj) == found  # warm cache: same findings


def test_list_type_duplicates_fast_path(valid):
    obj = valid("ServiceEntry")
    obj["spec"]["ports"] = [{"name": "http", "number": 80}, {"name": "tcp", "number": 81}]
    assert not any("Duplicate" in text for text in _cel(obj))
    obj["spec"]["ports"].append({"name": "http", "number": 82})
    assert any(text.startswith('spec.ports[2]: Duplicate value: {"name": "http"}') for text in _cel(obj))
    obj["spec"]["ports"] = [{"name": 1, "number": 80}, {"name": 1, "number": 81}]  # not strings: JSON path
    assert any("Duplicate value" in text for text in _cel(obj))
