"""explain.reader: meshgen's canonical YAML read back exactly as a YAML 1.2 reader reads it, with lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from meshgen.emit import dump_yaml
from meshgen.explain.reader import _split, load, parse, read_tree

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
TREES = [ROOT / "out"] + sorted(p / "expected" for p in GOLDEN.iterdir() if (p / "expected").is_dir())


def tree_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.yaml"))}


@pytest.mark.parametrize("folder", TREES, ids=lambda p: p.parent.name if p.name == "expected" else p.name)
def test_every_document_reads_as_ruamel_reads_it(folder: Path):
    yaml = YAML(typ="safe", pure=True)
    checked = 0
    for path, data in tree_of(folder).items():
        for chunk in _split(data):
            text = chunk.decode("utf-8")
            assert parse(text) == yaml.load(text), path
            checked += 1
    assert checked > 50


def test_documents_carry_their_path_and_first_line():
    tree = tree_of(ROOT / "out")
    documents = read_tree(tree)
    assert {d.path.split("/")[0] for d in documents} == {"clusters"}  # gitops/ is not read
    for doc in documents:
        lines = tree[doc.path].decode().splitlines()
        assert lines[doc.line - 1] == ("apiVersion: " + doc.body["apiVersion"] if "apiVersion" in doc.body
                                       else lines[doc.line - 1])
        assert doc.line == 1 or lines[doc.line - 2] == "---"


def test_line_of_points_at_the_key_or_item():
    tree = tree_of(ROOT / "out")
    (entry,) = [d for d in read_tree(tree) if d.path == "clusters/staging-eu-1/mesh/federation-imports.yaml"
                and d.body["kind"] == "ServiceEntry"]
    lines = tree[entry.path].decode().splitlines()
    assert lines[entry.line_of("spec", "endpoints", 1, "address") - 1].strip() == \
        "- address: federation.prod-west-1.corp.example"
    assert lines[entry.line_of("spec", "addresses", 0) - 1].strip() == "- 240.10.8.14"
    assert entry.line_of("spec", "no-such-key") == entry.line_of("spec")  # the nearest parent


def test_identical_documents_are_parsed_once():
    tree = tree_of(ROOT / "out")
    bodies = {}
    for doc in read_tree(tree):
        bodies.setdefault(doc.text, set()).add(id(doc.body))
    assert all(len(ids) == 1 for ids in bodies.values())
    assert any(len([d for d in read_tree(tree) if d.text == text]) > 1 for text in bodies)


def test_a_document_not_in_meshgen_form_falls_back_to_ruamel():
    text = "a: {b: [1, 2]}\nc: 'quoted'\n"
    assert load(text) == {"a": {"b": [1, 2]}, "c": "quoted"}


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=30),
                    st.floats(allow_nan=False, width=32))
keys = st.text(min_size=1, max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=5))
def test_any_emitted_document_reads_back_to_what_was_emitted(body):
    assert load(dump_yaml(body)) == body
