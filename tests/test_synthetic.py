"""The benchmark's synthetic fleets stay valid, and the xl preset stays the fleet issue 16 asks for."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import synthetic  # noqa: E402

from meshgen.diagnostics import Severity  # noqa: E402
from meshgen.pipeline import Options, validate_spec  # noqa: E402


def test_the_xl_preset_is_a_thousand_clusters_in_fifty_meshes_with_sparse_exports():
    size = synthetic.SIZES["xl"]
    assert (size.meshes, size.meshes * size.clusters_per_mesh, size.meshes * size.services_per_mesh) == (50, 1000, 20000)
    assert size.consumers <= 3 < size.meshes  # each export to a few meshes


def test_the_small_synthetic_fleet_validates_without_errors(tmp_path):
    spec = synthetic.write_spec(synthetic.SIZES["small"], tmp_path / "fleet.yaml")
    diagnostics = validate_spec(Options(spec=spec))
    assert [d for d in diagnostics if d.severity is not Severity.WARNING] == []
