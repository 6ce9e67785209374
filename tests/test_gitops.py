"""GitOps wiring under gitops/: Argo CD (ApplicationSet -> one parent per primary -> ordered child
Applications) and Flux (sources, ordered Kustomizations, chained HelmReleases). Every golden fleet's
ordering graph is checked: CRDs before any custom resource, cacerts before istiod, a remote's namespace
and chart before its primary's remote secrets; nothing is ever pruned or deleted by accident."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshgen.conformance import validate_object
from meshgen.emit import emit
from meshgen.pipeline import Options, build, read_spec, resolve_model
from meshgen.render import gitops, render

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"
GOLDEN = Path(__file__).resolve().parent / "golden"
SPECS = [EXAMPLE, *sorted(p / "fleet.yaml" for p in GOLDEN.iterdir() if (p / "fleet.yaml").is_file())]
ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/")


def model_of(path: Path = EXAMPLE):
    return resolve_model(read_spec(path))


def parsed(tree: dict[str, bytes]) -> dict[str, list]:
    return {path: [d for d in yaml.safe_load_all(data) if d] for path, data in tree.items() if path.endswith(".yaml")}


@pytest.fixture(scope="module")
def tree() -> dict[str, list]:
    return parsed(emit(render(model_of())))


def objects(tree: dict[str, list], prefix: str, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for path, docs in tree.items()
            if path.startswith(prefix) and not path.endswith("/kustomization.yaml")
            for d in docs if d.get("kind") == kind}


def test_every_object_passes_conformance():
    for resource in render(model_of()):
        if resource.manifest and resource.path.startswith("gitops/"):
            assert validate_object(resource.body) == [], resource.describe()


def test_application_set_makes_one_parent_per_primary_and_keeps_resources(tree):
    [appset] = tree["gitops/argocd/applicationset.yaml"]
    assert appset["spec"]["syncPolicy"] == {"preserveResourcesOnDeletion": True}  # M1: no cascade on deletion
    [generator] = appset["spec"]["generators"]
    assert generator["git"]["directories"] == [{"path": "out/gitops/argocd/clusters/*"}]
    template = appset["spec"]["template"]
    assert template["spec"]["source"]["path"] == "{{path}}"
    assert template["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
    assert template["spec"]["syncPolicy"]["retry"]["backoff"] == {"duration": "30s", "factor": 2, "maxDuration": "10m"}
    folders = sorted({p.split("/")[3] for p in tree if p.startswith("gitops/argocd/clusters/")})
    assert folders == ["prod-east-1", "prod-east-2", "prod-west-1", "staging-eu-1"]  # primaries; a remote joins its primary
    assert tree["gitops/argocd/kustomization.yaml"][0]["resources"] == ["applicationset.yaml"]


def test_child_applications_install_charts_with_inline_values(tree):
    children = objects(tree, "gitops/argocd/clusters/prod-west-1/", "Application")
    assert sorted(children) == [
        "prod-west-1-bootstrap", "prod-west-1-istio-base", "prod-west-1-istio-eastwestgateway",
        "prod-west-1-istio-federationgateway", "prod-west-1-istiod", "prod-west-1-mesh", "prod-west-1-remote-secrets",
        "prod-west-2-bootstrap", "prod-west-2-istio-base", "prod-west-2-istiod", "prod-west-2-mesh"]
    istiod = children["prod-west-2-istiod"]["spec"]
    assert istiod["source"]["chart"] == "istiod"
    assert istiod["source"]["repoURL"] == "https://istio-release.storage.googleapis.com/charts"
    assert istiod["source"]["targetRevision"] == "1.28.*"
    assert istiod["source"]["helm"]["releaseName"] == "istiod"
    assert istiod["source"]["helm"]["valuesObject"]["profile"] == "remote"
    assert istiod["destination"] == {"name": "prod-west-2", "namespace": "istio-system"}
    # istiod patches its webhooks' caBundle: Argo CD must not revert it
    assert istiod["syncPolicy"]["syncOptions"] == ["RespectIgnoreDifferences=true"]
    assert {d["kind"] for d in istiod["ignoreDifferences"]} == {"MutatingWebhookConfiguration",
                                                                  "ValidatingWebhookConfiguration"}
    assert children["prod-west-1-istio-base"]["spec"]["syncPolicy"]["syncOptions"] == [
        "ServerSideApply=true", "RespectIgnoreDifferences=true"]
    staging = objects(tree, "gitops/argocd/clusters/staging-eu-1/", "Application")
    assert staging["staging-eu-1-istiod-1-30"]["spec"]["source"]["targetRevision"] == "1.30.*"


def test_no_child_application_is_ever_pruned_or_cascades(tree):
    for name, app in objects(tree, "gitops/argocd/clusters/", "Application").items():
        assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false", name
        assert "finalizers" not in app["metadata"], name
        assert app["spec"]["syncPolicy"]["retry"]["limit"] > 0, name  # M5: a failed first sync is retried


def test_flux_sources_and_private_repository_credentials(tmp_path):
    text = EXAMPLE.read_text().replace("    path: out\n", "    path: out\n    secretRef: fleet-git\n", 1)
    spec = tmp_path / "fleet.yaml"
    spec.write_text(text)
    tree = parsed(emit(render(model_of(spec))))
    repo, charts = tree["gitops/flux/sources.yaml"]
    assert (repo["kind"], repo["spec"]["secretRef"]) == ("GitRepository", {"name": "fleet-git"})  # M6
    assert (charts["kind"], charts["spec"]["url"]) == ("HelmRepository", "https://istio-release.storage.googleapis.com/charts")
    assert tree["gitops/flux/kustomization.yaml"][0]["resources"] == ["clusters.yaml", "sources.yaml"]


def test_flux_never_deletes_what_it_applied(tree):
    for name, kustomization in objects(tree, "gitops/flux/clusters.yaml", "Kustomization").items():
        assert kustomization["spec"]["deletionPolicy"] == "Orphan", name
        assert kustomization["spec"]["wait"] is True, name
    for name, release in objects(tree, "gitops/flux/istio/", "HelmRelease").items():
        assert release["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/prune": "disabled"}, name
        assert release["spec"]["kubeConfig"]["secretRef"]["name"].endswith("-kubeconfig")


# --- the order a cluster comes up in, for every golden fleet -----------------------------------------


def installs(model, tree: dict[str, list], name: str, cluster: str, part: str | None, chart: str | None) -> set[str]:
    """What one step installs: 'crds' (chart base), 'istiod', 'gateway', 'cacerts', 'namespaces',
    'remote-secrets' and 'custom-resources' (Istio kinds)."""
    if chart:
        return {"base": {"crds"}, "istiod": {"istiod"}, "gateway": {"gateway"}}[chart]
    found = set()
    for path, docs in tree.items():
        if path.startswith(f"clusters/{cluster}/{part}/"):
            for doc in docs:
                if doc.get("kind") == "Namespace":
                    found.add("namespaces")
                elif doc.get("kind") == "ExternalSecret":
                    found.add("cacerts" if doc["metadata"]["name"] == "cacerts" else "remote-secrets")
                elif str(doc.get("apiVersion", "")).startswith(ISTIO_GROUPS):
                    found.add("custom-resources")
    return found


def argocd_steps(model, tree) -> dict[str, list[tuple[int, str, set[str]]]]:
    """parent folder -> (wave, cluster, what the child installs) for each child Application."""
    found: dict[str, list] = {}
    for path, docs in tree.items():
        if path.startswith("gitops/argocd/clusters/") and path.endswith("applications.yaml"):
            for app in docs:
                cluster = app["metadata"]["labels"]["meshgen.dev/cluster"]
                source = app["spec"]["source"]
                part = source.get("path", "").rsplit("/", 1)[-1] if "path" in source else None
                what = installs(model, tree, app["metadata"]["name"], cluster, part, source.get("chart"))
                wave = int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
                found.setdefault(path.split("/")[3], []).append((wave, cluster, what))
    return found


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name if p.name == "fleet.yaml" else p.stem)
def test_argocd_waves_order_every_cluster_and_its_remotes(spec):
    model = model_of(spec)
    tree = parsed(build(Options(spec=spec)).tree)
    for folder, steps in argocd_steps(model, tree).items():
        def waves(cluster, item):
            return [w for w, c, what in steps if c == cluster and item in what]
        for cluster in {c for _, c, _ in steps}:
            assert max(waves(cluster, "crds")) < min(waves(cluster, "custom-resources") or [99]), (folder, cluster)
            assert max(waves(cluster, "cacerts") or [-1]) < min(waves(cluster, "istiod")), (folder, cluster)
            assert max(waves(cluster, "namespaces")) < min(waves(cluster, "crds")), (folder, cluster)
        for remote in model.remotes_of(folder):
            before = waves(remote.name, "namespaces") + waves(remote.name, "istiod")
            assert max(before) < min(waves(folder, "remote-secrets")), (folder, remote.name)


def flux_graph(tree) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(name -> what must be ready before it starts, name -> what it installs) over Kustomizations and
    HelmReleases. A Kustomization starts once its ``dependsOn`` are ready and, with ``wait``, is ready
    only once everything it applied is; a HelmRelease starts once its ``dependsOn`` are ready and the
    Kustomization applying it has started."""
    needs: dict[str, set[str]] = {}
    holds: dict[str, set[str]] = {}
    kustomizations = objects(tree, "gitops/flux/clusters.yaml", "Kustomization")
    for name, k in kustomizations.items():
        assert k["spec"]["wait"] is True
        needs[name] = {d["name"] for d in k["spec"].get("dependsOn", [])}
        cluster, part = k["metadata"]["labels"]["meshgen.dev/cluster"], k["spec"]["path"].rsplit("/", 1)[-1]
        holds[name] = installs(None, tree, name, cluster, part, None) if "kubeConfig" in k["spec"] else set()
    for name, release in objects(tree, "gitops/flux/istio/", "HelmRelease").items():
        cluster = release["metadata"]["labels"]["meshgen.dev/cluster"]
        parent = f"{cluster}-istio"
        needs[name] = {d["name"] for d in release["spec"].get("dependsOn", [])} | needs[parent]
        needs[parent] = needs[parent] | {name}  # wait: ready once its HelmReleases are
        holds[name] = installs(None, tree, name, cluster, None, release["spec"]["chart"]["spec"]["chart"])
    return needs, holds


def after(needs: dict[str, set[str]], name: str) -> set[str]:
    """Everything ``name`` waits for, transitively."""
    seen, todo = set(), list(needs.get(name, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += needs.get(current, ())
    return seen


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name if p.name == "fleet.yaml" else p.stem)
def test_flux_dependencies_order_every_cluster_and_its_remotes(spec):
    model = model_of(spec)
    needs, holds = flux_graph(parsed(build(Options(spec=spec)).tree))
    for cluster in model.clusters:
        mine = {n for n in holds if n.startswith(f"{cluster}-")}
        crds = {n for n in mine if "crds" in holds[n]}
        for name in mine:
            if "custom-resources" in holds[name]:
                assert crds <= after(needs, name), name
            if "istiod" in holds[name]:
                assert {n for n in mine if "cacerts" in holds[n]} <= after(needs, name), name
    for remote in (c for c in model.clusters.values() if not model.is_primary(c.name)):
        primary = remote.controlPlane.primary
        secrets = [n for n in holds if "remote-secrets" in holds[n] and n.startswith(f"{primary}-")]
        remote_steps = {n for n in holds if n.startswith(f"{remote.name}-") and holds[n] & {"namespaces", "istiod"}}
        assert secrets and all(remote_steps <= after(needs, s) for s in secrets), remote.name


def test_flux_ref_for_a_revision():
    assert gitops.git_ref("main") == {"branch": "main"}
    assert gitops.git_ref("refs/tags/v1.2.0") == {"name": "refs/tags/v1.2.0"}
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert gitops.git_ref(sha) == {"commit": sha}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("out", "out/clusters"), (".", "clusters"), ("", "clusters"), ("./deploy/out/", "deploy/out/clusters")],
)
def test_paths_follow_settings_gitops_path(tmp_path, value, expected):
    text = EXAMPLE.read_text().replace("    path: out\n", f"    path: {value!r}\n", 1)
    spec = tmp_path / "fleet.yaml"
    spec.write_text(text)
    model = model_of(spec)
    assert gitops.clusters_dir(model) == expected
    tree = parsed(emit(render(model)))
    child = objects(tree, "gitops/argocd/", "Application")["prod-east-1-mesh"]
    assert child["spec"]["source"]["path"] == f"{expected}/prod-east-1/mesh"
    mesh = objects(tree, "gitops/flux/", "Kustomization")["prod-east-1-mesh"]
    assert mesh["spec"]["path"] == f"./{expected}/prod-east-1/mesh"


def test_not_listed_in_any_cluster_kustomization():
    for path, data in emit(render(model_of())).items():
        if path.startswith("clusters/") and path.endswith("/kustomization.yaml"):
            assert b"gitops" not in data, path


def test_render_warns_when_the_gitops_path_is_not_where_out_is(tmp_path):
    """m1: the ApplicationSet and Flux paths come from settings.gitops.path; rendering elsewhere in the
    repository would leave the controllers reading an empty folder."""
    import subprocess

    from meshgen.pipeline import placement_warnings

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    model = model_of()
    assert [d.code for d in placement_warnings(model, tmp_path / "out")] == ["W210"]  # the example's placeholder URL
    found = placement_warnings(model, tmp_path / "deploy" / "mesh")
    assert [d.code for d in found] == ["W209", "W210"]
    assert "'deploy/mesh' in its Git repository" in found[0].message
    lines = EXAMPLE.read_text().splitlines()
    assert found[0].span.line == next(n for n, line in enumerate(lines, 1) if line.strip() == "path: out")
    assert found[1].span.line == next(n for n, line in enumerate(lines, 1) if line.strip().startswith("repoURL:"))
    outside = placement_warnings(model, Path("/nonexistent-meshgen-test/out"))
    assert [d.code for d in outside] == ["W210"]  # no repository: nothing to compare
