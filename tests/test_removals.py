"""What a render takes away from a bundle: listed before writing; namespaces are never pruned."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from meshgen.pipeline import Options, build
from meshgen.removals import Removed, removed_objects

GOLDEN = Path(__file__).resolve().parent / "golden"


def render(tmp_path: Path, text: str, name: str) -> dict[str, bytes]:
    spec = tmp_path / name / "fleet.yaml"
    spec.parent.mkdir()
    spec.write_text(text)
    return build(Options(spec=spec, lock=tmp_path / name / "meshgen.lock")).tree


def changes(old: dict[str, bytes], new: dict[str, bytes]) -> tuple[dict, dict]:
    paths = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
    return {p: old.get(p) for p in paths}, {p: new.get(p) for p in paths}


def test_removing_a_namespaces_last_service_lists_it_and_never_prunes_the_namespace(tmp_path):
    text = (GOLDEN / "single-network-two-primaries" / "fleet.yaml").read_text()
    without = text[: text.index("  - name: reports")]
    old, new = changes(render(tmp_path, text, "a"), render(tmp_path, without, "b"))
    removed = removed_objects(old, new)
    namespaces = [r for r in removed if r.kind == "Namespace"]
    assert {(r.folder, r.name) for r in namespaces} == {("clusters/alpha", "backoffice"), ("clusters/beta", "backoffice")}
    assert all(r.kept for r in namespaces)
    assert namespaces[0].describe() == "clusters/alpha: Namespace backoffice (kept: the controllers do not prune it)"


@pytest.mark.parametrize("case", ["mixed", "primary-remote", "two-networks"])
def test_removing_a_cluster_lists_its_objects_and_prunes_no_namespace(tmp_path, case):
    """M1: a removed cluster's folder goes; every Namespace in it is kept by both controllers, and its
    GitOps objects orphan what they applied (tests/test_gitops.py)."""
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load((GOLDEN / case / "fleet.yaml").read_text())
    victim = next(c for c in data["clusters"] if c.get("controlPlane", {}).get("role") == "remote") \
        if any(c.get("controlPlane", {}).get("role") == "remote" for c in data["clusters"]) else data["clusters"][-1]
    data["clusters"] = [c for c in data["clusters"] if c is not victim]
    for service in data.get("services", []):
        service["instances"] = [i for i in service["instances"] if i["cluster"] != victim["name"]]
    data["services"] = [s for s in data.get("services", []) if s["instances"]]
    kept_names = {f"{s['namespace']}/{s['name']}" for s in data["services"]}
    data["exports"] = [e for e in data.get("exports", []) if e["service"] in kept_names]
    data["failover"] = []  # its regions may be the removed cluster's
    import io

    buffer = io.StringIO()
    yaml.dump(data, buffer)
    old, new = changes(render(tmp_path, (GOLDEN / case / "fleet.yaml").read_text(), "a"),
                       render(tmp_path, buffer.getvalue(), "b"))
    removed = removed_objects(old, new)
    gone = [r for r in removed if r.folder == f"clusters/{victim['name']}"]
    assert any(r.kind == "Namespace" and r.name == "istio-system" for r in gone)
    assert all(r.kept for r in removed if r.kind == "Namespace")


def test_moved_objects_are_not_listed():
    body = b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
    old = {"clusters/a/namespaces.yaml": body, "clusters/a/bootstrap/namespaces.yaml": None}
    new = {"clusters/a/namespaces.yaml": None, "clusters/a/bootstrap/namespaces.yaml": body}
    assert removed_objects(old, new) == []
    assert removed_objects(old, {"clusters/a/namespaces.yaml": None}) == [
        Removed("clusters/a", "Namespace", "", "shop", kept=False)]


def test_render_diff_and_check_name_what_the_controllers_will_prune(tmp_path):
    import json

    from click.testing import CliRunner

    from meshgen import cli

    text = (GOLDEN / "single-network-two-primaries" / "fleet.yaml").read_text()
    spec, out = tmp_path / "fleet.yaml", tmp_path / "out"
    spec.write_text(text)
    runner = CliRunner()
    assert runner.invoke(cli.main, ["render", str(spec), "-o", str(out)]).exit_code == 0
    spec.write_text(text[: text.index("  - name: reports")])

    diff = runner.invoke(cli.main, ["diff", str(spec), "-o", str(out)])
    assert diff.exit_code == 1
    assert "would remove: clusters/alpha: Namespace backoffice (kept: the controllers do not prune it)" in diff.stderr
    assert "would remove: clusters/alpha: Namespace backoffice" not in diff.stdout  # stdout is the patch alone
    document = json.loads(runner.invoke(cli.main, ["check", str(spec), "-o", str(out), "--format", "json"]).stdout)
    assert {"folder": "clusters/beta", "kind": "Namespace", "namespace": "", "name": "backoffice",
            "kept": True} in document["removed"]
    written = runner.invoke(cli.main, ["render", str(spec), "-o", str(out)])
    assert written.exit_code == 0
    assert "removed: clusters/beta: Namespace backoffice (kept: the controllers do not prune it)" in written.stderr
    assert "remove" not in runner.invoke(cli.main, ["render", str(spec), "-o", str(out)]).stderr
