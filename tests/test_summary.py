"""out/README.md: the fleet summary written by render, and raw-text documents in the emitter."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from meshgen.emit import emit
from meshgen.pipeline import read_spec, resolve_model
from meshgen.render import Resource, render
from test_graph import check_mermaid  # tests/ is on sys.path (rootdir-relative test modules)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"


@pytest.fixture(scope="module")
def rendered():
    model = resolve_model(read_spec(EXAMPLE))
    resources = list(render(model))
    return model, resources, emit(resources)


def test_emitter_writes_a_str_body_as_it_is():
    text = "# Title\n\n| a | b |\n|---|---|\n| --- | yes |\n"
    tree = emit([Resource("README.md", text, manifest=False)])
    assert tree == {"README.md": text.encode()}


def test_readme_is_part_of_the_rendered_tree_and_not_of_a_kustomization(rendered):
    _, _, tree = rendered
    readme = tree["README.md"].decode()
    assert readme.startswith("# Fleet example\n")
    assert readme.endswith("\n") and not readme.endswith("\n\n")
    assert all(b"README" not in data for path, data in tree.items() if path.endswith("kustomization.yaml"))


def test_readme_embeds_a_valid_mermaid_picture(rendered):
    readme = rendered[2]["README.md"].decode()
    [block] = re.findall(r"```mermaid\n(.*?)```", readme, re.S)
    nodes, groups, _ = check_mermaid(block)
    assert "mesh_prod" in groups and "cluster_staging_eu_1" in nodes


def test_cluster_rows_count_what_each_bundle_holds(rendered):
    model, resources, tree = rendered
    readme = tree["README.md"].decode()
    section = readme.split("## Clusters\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ")[0][2:]: line for line in section.splitlines() if line.startswith("| ")}
    for name in model.clusters:
        total = sum(1 for r in resources if r.manifest and r.path.startswith(f"clusters/{name}/"))
        assert rows[name].endswith(f" | {total} |"), rows[name]
    assert "| prod-west-2 | remote of prod-west-1 | prod | net-us-west | us-west1/us-west1-b |" in readme


def test_per_kind_table_matches_the_manifests(rendered):
    _, resources, tree = rendered
    lines = tree["README.md"].decode().splitlines()
    start = lines.index("## Objects per kind")
    header = [c.strip() for c in lines[start + 2].strip("|").split("|")]
    for line in lines[start + 4 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        cluster = cells[0]
        kinds = Counter(r.kind for r in resources if r.manifest and r.path.startswith(f"clusters/{cluster}/"))
        assert {k: int(n) for k, n in zip(header[1:], cells[1:]) if int(n)} == dict(kinds)


def test_readme_lists_exports_and_gitops_entry_points(rendered):
    readme = rendered[2]["README.md"].decode()
    assert "| ledger.payments.global | prod | payments/ledger | mesh staging (checkout/checkout) |" in readme
    assert "`kubectl apply -k gitops/argocd`" in readme and "`kubectl apply -k gitops/flux`" in readme


def test_readme_is_stable(rendered):
    model, _, tree = rendered
    assert emit(render(model))["README.md"] == tree["README.md"]
