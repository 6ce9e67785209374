"""Golden trees: one folder per topology, ``fleet.yaml`` in, the full rendered tree in ``expected/``.

Every case is rendered twice (the bytes must not change), compared file by file with a unified
diff per mismatch, and every cluster bundle of the expected tree must build with
``kubectl kustomize``. ``pytest --update-golden`` rewrites ``expected/``; review the diff.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from meshgen.pipeline import Options, build

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLE = ROOT / "fleet.example.yaml"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "fleet.yaml").is_file())


def render_tree(spec: Path) -> dict[str, bytes]:
    return build(Options(spec=spec)).tree


def read_tree(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_tree(folder: Path, tree: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for relative, data in tree.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def tree_diff(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    """Per-file unified diffs; a missing or unexpected file shows as a diff against nothing."""
    chunks = []
    for path in sorted(set(expected) | set(actual)):
        old, new = expected.get(path), actual.get(path)
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                _lines(old),
                _lines(new),
                fromfile=f"expected/{path}" if old is not None else "/dev/null",
                tofile=f"rendered/{path}" if new is not None else "/dev/null",
            )
        )
    return "".join(chunks)


def _lines(data: bytes | None) -> list[str]:
    return [] if data is None else data.decode("utf-8").splitlines(keepends=True)


def kubectl() -> str:
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is not on PATH: the golden tests build every cluster bundle with "
                    "`kubectl kustomize`; install kubectl (CI does) and re-run")
    return found


def kustomize_failures(tree_root: Path) -> list[str]:
    """`kubectl kustomize` on every folder with a kustomization.yaml (each cluster bundle, each of its
    folders, and every gitops/ folder a controller is pointed at); the error text of each that fails."""
    executable = kubectl()
    failures = []
    folders = sorted(p.parent for p in tree_root.rglob("kustomization.yaml"))
    assert folders, f"no kustomization under {tree_root}"
    for folder in folders:
        run = subprocess.run([executable, "kustomize", str(folder)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            failures.append(f"{folder.relative_to(tree_root)}: {run.stderr.strip()}")
    return failures


def test_golden_cases_exist():
    assert {"single-network-two-primaries", "two-networks", "primary-remote", "global-name-three-clusters",
            "global-name-two-namespaces", "import-local-name", "outlier-per-service", "istio-1.24",
            "istio-1.30"} <= set(CASES)


# Files that differ between the same fleet rendered for Istio 1.24 and for 1.30, and why (read by a
# person: tests/golden/istio-1.24/ and istio-1.30/):
VERSION_SPECIFIC = {
    "README.md",  # the fleet summary names each cluster's release
    "clusters/primary/kustomization.yaml", "clusters/remote/kustomization.yaml",
    "clusters/partner-1/kustomization.yaml",  # meshgen.dev/istio-version
    "clusters/primary/helm/istio-eastwestgateway-values.yaml",  # port 443: set by hand < 1.30, networkGatewayPorts on 1.30
    "clusters/remote/helm/istio-base-values.yaml",  # base.validationFailurePolicy exists from 1.28
    "gitops/argocd/clusters/primary/applications.yaml", "gitops/argocd/clusters/partner-1/applications.yaml",
    "gitops/flux/istio/primary/helmreleases.yaml", "gitops/flux/istio/remote/helmreleases.yaml",
    "gitops/flux/istio/partner-1/helmreleases.yaml",  # chart versions (and the values above)
}


def test_the_releases_differ_exactly_where_istio_does():
    old = read_tree(GOLDEN / "istio-1.24" / "expected")
    new = read_tree(GOLDEN / "istio-1.30" / "expected")
    assert set(old) == set(new)
    assert {path for path in old if old[path] != new[path]} == VERSION_SPECIFIC


@pytest.mark.parametrize("case", CASES)
def test_golden_tree(case: str, update_golden: bool):
    folder = GOLDEN / case
    tree = render_tree(folder / "fleet.yaml")
    assert render_tree(folder / "fleet.yaml") == tree, "a second render of the same spec gave different bytes"
    if update_golden:
        write_tree(folder / "expected", tree)
    diff = tree_diff(read_tree(folder / "expected"), tree)
    assert not diff, f"rendered tree differs from {case}/expected (re-run with --update-golden and review):\n{diff}"


@pytest.mark.parametrize("case", CASES)
def test_golden_bundles_build_with_kustomize(case: str):
    expected = GOLDEN / case / "expected"
    assert (expected / "clusters").is_dir(), f"{case}/expected/clusters is missing; run with --update-golden"
    failures = kustomize_failures(expected)
    assert not failures, "kubectl kustomize failed:\n" + "\n".join(failures)


def test_example_renders_and_every_bundle_builds(tmp_path: Path):
    result = build(Options(spec=EXAMPLE))
    findings = [d for d in result.diagnostics if d.code in ("E402", "W402")]
    assert not findings, "conformance findings on the example:\n" + "\n".join(map(str, findings))
    write_tree(tmp_path / "out", result.tree)
    clusters = {path.split("/")[1] for path in result.tree if path.startswith("clusters/")}
    assert clusters == {"prod-east-1", "prod-east-2", "prod-west-1", "prod-west-2", "staging-eu-1"}
    failures = kustomize_failures(tmp_path / "out")
    assert not failures, "kubectl kustomize failed:\n" + "\n".join(failures)


@pytest.mark.parametrize("case", CASES)
def test_golden_trees_pass_the_validator_with_zero_findings(case: str):
    from meshgen.conformance import lint_tree

    findings = lint_tree(GOLDEN / case / "expected")
    assert findings == [], "\n".join(d.format() for d in findings)
