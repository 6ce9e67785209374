"""What-if prototypes of changes proposed for code the benchmark's author does not own.

``render_bench.py --proposals`` installs them (monkeypatching, in the benchmark process only)
so their gain is measured in the same run as the baseline. They are measurement aids, not
library code: each names the file and function it stands in for.

* ``fast_load`` for ``meshgen.spec.loader.load``: the YAML text is composed by libyaml (PyYAML's
  C parser) instead of ruamel's pure-Python round-trip parser; one walk of the node tree builds
  the plain data pydantic validates *and* the key-path positions, with YAML 1.2 core-schema
  scalars (as ruamel resolves them) and duplicate keys reported. ``check_equivalent`` asserts
  that data and positions equal what the real loader produces.
* ``validate_resources`` for ``meshgen.conformance.lint.validate_resources``: findings computed
  once per distinct body object (renderers share one body between the importing primaries).
* ``ResourceSet.__iter__`` for ``meshgen.render.resource``: the sorted order computed once and
  reused until the next ``add`` (validate, emit and the README summary each iterate the set).
"""

from __future__ import annotations

import re

import yaml

from meshgen.diagnostics import Diagnostic, Span
from meshgen.spec import loader
from meshgen.spec.positions import Positions

# --- loader: libyaml compose + one walk --------------------------------------------------------------

_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_INT = re.compile(r"[-+]?[0-9]+\Z|0o[0-7]+\Z|0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z|[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z")


_MERGE = "tag:yaml.org,2002:merge"


class _Duplicate(Exception):
    def __init__(self, key, mark):
        self.key, self.mark = key, mark


def _scalar(node: yaml.ScalarNode):
    """YAML 1.2 core schema for plain scalars; quoted and block scalars are strings."""
    value = node.value
    if node.style:
        return value  # quoted or block: a string (explicit tags on plain scalars are not honoured)
    if _NULL.match(value):
        return None
    if _BOOL.match(value):
        return value[0] in "tT"
    if _INT.match(value):
        return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
    if _FLOAT.match(value):
        special = value.lower().lstrip("+-") in (".inf", ".nan")
        return float(value.replace(".", "", 1) if special else value)
    return value


def _walk(node, path: tuple, values: dict, keys: dict):
    mark = node.start_mark
    values[path] = (mark.line, mark.column)
    if isinstance(node, yaml.MappingNode):
        out, merged = {}, []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # '<<: *anchor' (or a list of them): keys not set here
                merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                continue
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in out:
                raise _Duplicate(key, key_node.start_mark)
            child = (*path, key)
            keys[child] = (key_node.start_mark.line, key_node.start_mark.column)
            out[key] = _walk(value_node, child, values, keys)
        for source in merged:
            for key_node, value_node in source.value:
                key = _scalar(key_node)
                if key not in out:
                    child = (*path, key)
                    keys[child] = (key_node.start_mark.line, key_node.start_mark.column)
                    out[key] = _walk(value_node, child, values, keys)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), values, keys) for i, item in enumerate(node.value)]
    return _scalar(node)


def located(text: str, file: str):
    """(plain tree, Positions) or raise yaml.YAMLError / _Duplicate."""
    root = yaml.compose(text, Loader=yaml.CSafeLoader)
    positions = Positions(file)
    tree = _walk(root, (), positions.values, positions.keys) if root is not None else None
    return tree, positions


def fast_load(data: bytes, file: str) -> loader.Loaded:
    """Stand-in for ``loader.load`` on the benchmark's valid specs (no multi-document or size handling)."""
    text, problem = loader._decode(data, file)
    if problem:
        return loader.Loaded(None, Positions(file), [problem])
    try:
        tree, positions = located(text, file)
    except _Duplicate as exc:
        span = Span(file, exc.mark.line + 1, exc.mark.column + 1)
        return loader.Loaded(None, Positions(file), [Diagnostic("E003", f"duplicate key: key '{exc.key}' appears twice", span)])
    diagnostics = loader.find_secret_material(tree, positions)
    fleet, schema_errors = loader._validate(tree, positions)
    diagnostics += schema_errors
    return loader.Loaded(fleet if not any(d.is_error for d in diagnostics) else None, positions, diagnostics)


def check_equivalent(data: bytes, file: str) -> None:
    """The prototype yields the same plain data and positions as ruamel's round-trip loader."""
    text = data.decode("utf-8")
    tree, positions = located(text, file)
    reference, _ = loader._parse(text, file)
    expected = loader.index(reference, file)
    assert tree == loader._plain(reference), "plain data differs"
    assert positions.values == expected.values, "value positions differ"
    assert positions.keys == expected.keys, "key positions differ"


# --- conformance: one validation per distinct body ---------------------------------------------------


def validate_resources(resources) -> list[Diagnostic]:
    from meshgen.conformance import lint

    memo: dict[tuple, tuple] = {}
    out = []
    for resource in resources:
        key = (id(resource.body), resource.manifest, None if resource.manifest else resource.path)
        found = memo.get(key)
        if found is None:
            found = memo[key] = (resource.body, lint._resource_findings(resource))
        span = resource.origin or Span(resource.path)
        out += [lint._diagnostic(resource.describe(), f, span) for f in found[1]]
    return out


# --- ResourceSet: sort once ------------------------------------------------------------------------


def install() -> None:
    import meshgen.conformance
    import meshgen.pipeline
    from meshgen.render.resource import Resource, ResourceSet

    meshgen.pipeline.load = fast_load
    meshgen.conformance.validate_resources = validate_resources
    original_add = ResourceSet.add

    def add(self, resource):
        original_add(self, resource)
        self.__dict__.pop("_sorted", None)

    def iterate(self):
        if "_sorted" not in self.__dict__:
            self.__dict__["_sorted"] = sorted(self._by_id.values(), key=Resource.sort_key)
        return iter(self.__dict__["_sorted"])

    ResourceSet.add = add
    ResourceSet.__iter__ = iterate
