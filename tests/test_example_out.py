"""The repository commits out/ rendered from fleet.example.yaml; this fails when it is stale."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from meshgen import cli

ROOT = Path(__file__).resolve().parent.parent


def test_committed_out_matches_the_example_spec():
    result = CliRunner().invoke(
        cli.main, ["check", str(ROOT / "fleet.example.yaml"), "-o", str(ROOT / "out")], catch_exceptions=False
    )
    assert result.exit_code == 0, f"out/ is stale; run `meshgen render fleet.example.yaml -o out`\n{result.output}"


def test_committed_out_passes_lint():
    result = CliRunner().invoke(cli.main, ["lint", str(ROOT / "out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
