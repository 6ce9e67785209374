"""`meshgen init`: a commented starter spec that validates and renders, never overwriting a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen.cli import main
from meshgen.init import STARTER
from meshgen.pipeline import Options, build, read_spec


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_init_writes_a_starter_that_validates_and_renders(tmp_path):
    target = tmp_path / "fleet.yaml"
    result = invoke("init", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text() == STARTER
    assert [d for d in read_spec(target).diagnostics] == []
    assert invoke("validate", str(target)).exit_code == 0
    built = build(Options(spec=target, out=tmp_path / "out"))  # every rendered object passes conformance
    assert "clusters/east-1/kustomization.yaml" in built.tree and "README.md" in built.tree


def test_starter_is_commented():
    comments = [line for line in STARTER.splitlines() if line.lstrip().startswith("#")]
    assert STARTER.startswith("# yaml-language-server: $schema=")
    assert len(comments) >= 10


def test_init_into_a_folder_writes_fleet_yaml(tmp_path):
    assert invoke("init", str(tmp_path)).exit_code == 0
    assert (tmp_path / "fleet.yaml").read_text() == STARTER


def test_init_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("init").exit_code == 0
    assert Path("fleet.yaml").is_file()


def test_init_refuses_to_overwrite(tmp_path):
    target = tmp_path / "fleet.yaml"
    target.write_text("mine\n")
    result = invoke("init", str(target))
    assert result.exit_code == 4
    assert "E512" in result.output and "already exists" in result.output
    assert target.read_text() == "mine\n"


def test_init_reports_an_unwritable_path(tmp_path):
    (tmp_path / "file").write_text("x\n")
    result = invoke("init", str(tmp_path / "file" / "fleet.yaml"))
    assert result.exit_code == 4 and "E512" in result.output


@pytest.mark.parametrize("path", ["newdir/", "deploy/prod/", "deploy/prod/fleet.yaml"])
def test_init_creates_the_folders_it_needs(tmp_path, monkeypatch, path):
    """A trailing '/' names a folder: `init newdir/` wrote a *file* named newdir; `init deploy/prod/` failed."""
    monkeypatch.chdir(tmp_path)
    result = invoke("init", path)
    assert result.exit_code == 0, result.output
    target = Path(path) / "fleet.yaml" if path.endswith("/") else Path(path)
    assert target.read_text() == STARTER
    assert result.stderr == f"starter spec: written to {target}; next: `meshgen validate {target}`, then " \
                            f"`meshgen render {target}`\n"


def test_init_to_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "-")
    assert result.exit_code == 0 and result.stdout == STARTER and list(tmp_path.iterdir()) == []


def test_no_hint_points_at_the_repository_example():
    """A packaged install has no fleet.example.yaml: hints and the starter point at `meshgen init`."""
    assert "fleet.example.yaml" not in STARTER


def test_the_per_cluster_options_shown_commented_validate_when_uncommented(tmp_path):
    lines = STARTER.splitlines()
    start = lines.index("    # istioVersion: \"1.29\"                    # this cluster's own Istio minor (an upgrade in progress)")
    for i in range(start, start + 4):
        lines[i] = lines[i].replace("# ", "", 1)
    target = tmp_path / "fleet.yaml"
    target.write_text("\n".join(lines) + "\n")
    assert 'istioVersion: "1.28"' in STARTER
    assert [d.format() for d in read_spec(target).diagnostics] == []
    tree = build(Options(spec=target, out=tmp_path / "out")).tree
    assert any("federationgateway" in path for path in tree if path.startswith("clusters/east-1/"))
    assert "clusters/east-1/helm/istiod-1-29-values.yaml" in tree
