"""GitOps wiring: Argo CD ApplicationSet/Applications and Flux GitRepository/Kustomizations under gitops/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshgen.conformance import validate_object
from meshgen.emit import emit
from meshgen.pipeline import read_spec, resolve_model
from meshgen.render import gitops

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"
CLUSTERS = ["prod-east-1", "prod-east-2", "prod-west-1", "prod-west-2", "staging-eu-1"]


def model_of(path: Path = EXAMPLE):
    return resolve_model(read_spec(path))


def with_gitops_path(tmp_path: Path, value: str):
    text = EXAMPLE.read_text().replace("    path: out\n", f"    path: {value!r}\n", 1)
    spec = tmp_path / "fleet.yaml"
    spec.write_text(text)
    return model_of(spec)


@pytest.fixture(scope="module")
def tree() -> dict[str, list]:
    files = emit(gitops.render(model_of()))
    return {path: list(yaml.safe_load_all(data)) for path, data in files.items()}


def test_files_live_under_gitops_only(tree):
    assert sorted(tree) == [
        "gitops/argocd/applications.yaml",
        "gitops/argocd/applicationset.yaml",
        "gitops/argocd/kustomization.yaml",
        "gitops/flux/kustomization.yaml",
        "gitops/flux/kustomizations.yaml",
    ]


def test_every_object_passes_conformance():
    for resource in gitops.render(model_of()):
        if resource.manifest:
            assert validate_object(resource.body) == [], resource.describe()


def test_application_set_generates_one_application_per_cluster_folder(tree):
    [appset] = tree["gitops/argocd/applicationset.yaml"]
    assert (appset["apiVersion"], appset["kind"]) == ("argoproj.io/v1alpha1", "ApplicationSet")
    assert appset["metadata"]["namespace"] == "argocd"
    [generator] = appset["spec"]["generators"]
    assert generator["git"] == {
        "repoURL": "https://git.example.com/platform/fleet.git",
        "revision": "main",
        "directories": [{"path": "out/clusters/*"}],
    }
    template = appset["spec"]["template"]
    assert template["metadata"]["name"] == "{{path.basename}}"
    assert template["spec"]["destination"] == {"name": "{{path.basename}}", "namespace": "istio-system"}
    assert template["spec"]["source"]["path"] == "{{path}}"
    assert template["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_explicit_applications_match_the_generated_ones(tree):
    apps = tree["gitops/argocd/applications.yaml"]
    assert [a["metadata"]["name"] for a in apps] == CLUSTERS
    for app in apps:
        name = app["metadata"]["name"]
        assert app["spec"]["source"] == {
            "repoURL": "https://git.example.com/platform/fleet.git",
            "targetRevision": "main",
            "path": f"out/clusters/{name}",
        }
        assert app["spec"]["destination"] == {"name": name, "namespace": "istio-system"}
        assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_argocd_folder_kustomization_applies_only_the_application_set(tree):
    [kustomization] = tree["gitops/argocd/kustomization.yaml"]
    assert kustomization["resources"] == ["applicationset.yaml"]


def test_flux_source_and_one_kustomization_per_cluster(tree):
    source, *kustomizations = tree["gitops/flux/kustomizations.yaml"]
    assert (source["apiVersion"], source["kind"]) == ("source.toolkit.fluxcd.io/v1", "GitRepository")
    assert source["spec"]["ref"] == {"branch": "main"}
    assert [k["metadata"]["name"] for k in kustomizations] == CLUSTERS
    for k in kustomizations:
        name = k["metadata"]["name"]
        assert k["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
        assert k["metadata"]["namespace"] == "flux-system"
        assert k["spec"]["prune"] is True
        assert k["spec"]["path"] == f"./out/clusters/{name}"
        assert k["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
        assert k["spec"]["kubeConfig"] == {"secretRef": {"name": f"{name}-kubeconfig", "key": "value"}}
    assert tree["gitops/flux/kustomization.yaml"][0]["resources"] == ["kustomizations.yaml"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("out", "out/clusters"), (".", "clusters"), ("", "clusters"), ("./deploy/out/", "deploy/out/clusters")],
)
def test_paths_follow_settings_gitops_path(tmp_path, value, expected):
    model = with_gitops_path(tmp_path, value)
    assert gitops.clusters_dir(model) == expected
    bodies = {(r.kind, r.name): r.body for r in gitops.render(model) if r.manifest}
    assert bodies[("ApplicationSet", "example")]["spec"]["generators"][0]["git"]["directories"] == [
        {"path": f"{expected}/*"}
    ]
    assert bodies[("Application", "prod-east-1")]["spec"]["source"]["path"] == f"{expected}/prod-east-1"
    assert bodies[("Kustomization", "prod-east-1")]["spec"]["path"] == f"./{expected}/prod-east-1"


@pytest.mark.parametrize(
    ("revision", "ref"),
    [
        ("main", {"branch": "main"}),
        ("refs/tags/v1.2.0", {"name": "refs/tags/v1.2.0"}),
        ("0123456789abcdef0123456789abcdef01234567", {"commit": "0123456789abcdef0123456789abcdef01234567"}),
    ],
)
def test_flux_ref_for_a_revision(revision, ref):
    assert gitops.git_ref(revision) == ref


def test_not_listed_in_any_cluster_kustomization():
    from meshgen.render import render

    files = emit(render(model_of()))
    for path, data in files.items():
        if path.startswith("clusters/") and path.endswith("/kustomization.yaml"):
            assert b"gitops" not in data, path


def test_rendering_is_stable():
    assert emit(gitops.render(model_of())) == emit(gitops.render(model_of()))
