"""CLI contract: exit codes of render/check/diff, and failed renders leave out/ untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen import cli
from meshgen.diagnostics import Diagnostic, Span

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE, tmp_path / "fleet.yaml")
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_validate_example_exits_zero():
    result = invoke("validate", str(EXAMPLE))
    assert result.exit_code == 0, result.output


def test_check_is_clean_right_after_render_and_stale_after_a_spec_change(workspace: Path):
    spec, out = str(workspace / "fleet.yaml"), str(workspace / "out")
    assert invoke("render", spec, "-o", out).exit_code == 0
    assert invoke("check", spec, "-o", out).exit_code == 0
    assert invoke("diff", spec, "-o", out).exit_code == 0

    text = (workspace / "fleet.yaml").read_text()
    (workspace / "fleet.yaml").write_text(text.replace("count: 4", "count: 5").replace("zone: us-east1-c", "zone: us-east1-d"))
    checked = invoke("check", spec, "-o", out)
    assert checked.exit_code == 1
    assert "update:" in checked.output
    diffed = invoke("diff", spec, "-o", out)
    assert diffed.exit_code == 1
    assert "+++ b/" in diffed.output


def test_render_twice_changes_nothing(workspace: Path):
    spec, out = str(workspace / "fleet.yaml"), workspace / "out"
    invoke("render", spec, "-o", str(out))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    result = invoke("render", spec, "-o", str(out))
    assert result.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_failed_validation_leaves_out_unchanged(workspace: Path, monkeypatch):
    spec, out = str(workspace / "fleet.yaml"), workspace / "out"
    invoke("render", spec, "-o", str(out))
    (workspace / "fleet.yaml").write_text((workspace / "fleet.yaml").read_text().replace("count: 4", "count: 7"))
    before = snapshot(workspace)

    import meshgen.conformance as conformance

    def reject(resources, release_of=None):
        return [Diagnostic("E402", "Gateway istio-system/x: spec.servers: rejected for the test", Span("fleet.yaml"))]

    monkeypatch.setattr(conformance, "validate_resources", reject)
    result = invoke("render", spec, "-o", str(out))
    assert result.exit_code == 3
    assert "E402" in result.output
    assert snapshot(workspace) == before


def test_spec_error_exits_2_and_writes_nothing(workspace: Path):
    (workspace / "fleet.yaml").write_text("apiVersion: meshgen.dev/v1alpha1\nkind: Fleet\nmetadata: {name: x}\n")
    result = invoke("render", str(workspace / "fleet.yaml"), "-o", str(workspace / "out"))
    assert result.exit_code == 2
    assert "error[E102]" in result.output
    assert not (workspace / "out").exists()


def test_missing_spec_is_an_io_error(tmp_path: Path):
    result = invoke("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 4
    assert "E501" in result.output
    assert "Traceback" not in result.output


def test_validate_checks_pinned_addresses_against_the_range(workspace: Path):
    spec = workspace / "fleet.yaml"
    spec.write_text(spec.read_text().replace("  - service: payments/ledger\n", "  - service: payments/ledger\n    address: 127.0.0.9\n"))
    result = invoke("validate", str(spec))
    assert result.exit_code == 2, result.output
    assert "error[E301]" in result.output
    assert not (workspace / "meshgen.lock").exists()


def test_version_subcommand_names_meshgen_and_the_istio_releases_it_renders_for():
    import json

    from meshgen import __version__

    result = CliRunner().invoke(cli.main, ["version"])
    assert (result.exit_code, result.stdout) == (0, f"meshgen {__version__} (Istio 1.24 to 1.30)\n")
    document = json.loads(CliRunner().invoke(cli.main, ["version", "--format", "json"]).stdout)
    assert document["version"] == {"meshgen": __version__, "istio": [f"1.{m}" for m in range(24, 31)]}
