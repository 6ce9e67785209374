"""The documentation stays true: every test, broken spec and file it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
TEST_SOURCES = {p: p.read_text("utf-8") for p in (ROOT / "tests").rglob("*.py")}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_cited_test_exists(doc):
    text = doc.read_text("utf-8")
    for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text):
        assert f"def {name}(" in (ROOT / path).read_text("utf-8"), f"{doc.name}: {path}::{name}"
    for name in set(re.findall(r"`(test_\w+)`", text)):
        assert any(f"def {name}(" in source for source in TEST_SOURCES.values()), f"{doc.name}: {name}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_cited_broken_spec_and_repository_path_exists(doc):
    text = doc.read_text("utf-8")
    for prefix in re.findall(r"`tests/specs/broken/(\d+)-", text):
        assert list((ROOT / "tests" / "specs" / "broken").glob(f"{prefix}-*.yaml")), f"{doc.name}: broken spec {prefix}"
    for path in re.findall(r"`((?:tests|meshgen|schema|bench|tools|docs)/[\w./-]+\.(?:py|md|yaml|json))`", text):
        assert (ROOT / path).exists(), f"{doc.name}: {path}"
    for target in re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]+)?\)", text):
        assert (doc.parent / target).exists(), f"{doc.name}: link {target}"
