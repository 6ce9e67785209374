"""Packaging metadata builds without setuptools' deprecation warnings (newcomer review, N: licence table)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_licence_is_an_spdx_expression_with_its_text_shipped():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["license"] == "Apache-2.0"  # a table here is deprecated by setuptools >= 77
    assert [ROOT / name for name in project["license-files"]] == [ROOT / "LICENSE"]
    assert (ROOT / "LICENSE").read_text("utf-8").split()[:2] == ["Apache", "License"]
