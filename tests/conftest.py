"""Options and fixtures shared by the whole test suite (others may append fixtures below)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/<case>/expected/ from the current renderers (review the diff)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def example_with(tmp_path):
    """``example_with(old, new)``: fleet.example.yaml with one edit, and its lock, in tmp_path; the spec's path.
    The edit must apply (a test whose edit silently missed would test the unchanged example)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent

    def write(old: str, new: str) -> Path:
        text = (root / "fleet.example.yaml").read_text()
        assert old in text, f"the edit does not apply: {old!r}"
        spec = tmp_path / "fleet.yaml"
        spec.write_text(text.replace(old, new))
        (tmp_path / "meshgen.lock").write_text((root / "meshgen.lock").read_text())
        return spec

    return write
