"""Fleet-level GitOps wiring under ``gitops/``: Argo CD and Flux objects that sync each cluster bundle.

Files (none of them is part of a cluster's kustomization):
  gitops/argocd/applicationset.yaml   one ApplicationSet: a git directory generator over
                                      ``<path>/clusters/*`` makes one Application per cluster folder
  gitops/argocd/applications.yaml     the same Applications written out, for teams that prefer them;
                                      apply one of the two files, never both (they own the same names)
  gitops/argocd/kustomization.yaml    lists only the ApplicationSet, so ``kubectl apply -k`` or an
                                      app-of-apps pointed at the folder does not apply both
  gitops/flux/kustomizations.yaml     a GitRepository and one Kustomization per cluster, each reaching
                                      its cluster through ``kubeConfig.secretRef`` (``<cluster>-kubeconfig``)
  gitops/flux/kustomization.yaml      lists kustomizations.yaml

Paths inside the repository come from ``settings.gitops.path`` (the folder holding ``out/``'s content).
"""

from __future__ import annotations

import posixpath
import re

from meshgen.model import FleetModel
from meshgen.render.common import ISTIO_NAMESPACE, MANAGED_BY, metadata, obj
from meshgen.render.resource import Resource

ARGOCD = "argoproj.io/v1alpha1"
FLUX_SOURCE = "source.toolkit.fluxcd.io/v1"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io/v1"
KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"

ARGOCD_DIR = "gitops/argocd"
FLUX_DIR = "gitops/flux"
FLEET_LABEL = "meshgen.dev/fleet"
CLUSTER_LABEL = "meshgen.dev/cluster"
KUBECONFIG_KEY = "value"  # Flux's default key in a kubeconfig secret
SOURCE_INTERVAL = "1m"
SYNC_INTERVAL = "10m"
RETRY_INTERVAL = "2m"
_COMMIT = re.compile(r"[0-9a-f]{40}\Z")


def render(model: FleetModel) -> list[Resource]:
    return [*argocd_resources(model), *flux_resources(model)]


# --- paths -----------------------------------------------------------------------------------


def clusters_dir(model: FleetModel) -> str:
    """``settings.gitops.path`` normalised + '/clusters': 'out' -> 'out/clusters', '.' or '' -> 'clusters'."""
    root = posixpath.normpath(model.fleet.settings.gitops.path.strip() or ".").strip("/")
    return "clusters" if root in ("", ".") else f"{root}/clusters"


def kubeconfig_secret(cluster: str) -> str:
    """Name of the Secret (in the Flux namespace) holding the kubeconfig Flux uses to reach a cluster."""
    return f"{cluster}-kubeconfig"


def _labels(model: FleetModel, cluster: str | None = None) -> dict:
    labels = {FLEET_LABEL: model.fleet.metadata.name}
    if cluster:
        labels[CLUSTER_LABEL] = cluster
    return labels


# --- Argo CD ---------------------------------------------------------------------------------


def argocd_resources(model: FleetModel) -> list[Resource]:
    origin = model.origin("settings", "gitops")
    out = [Resource(f"{ARGOCD_DIR}/applicationset.yaml", application_set(model), origin)]
    for name in model.clusters:
        out.append(Resource(f"{ARGOCD_DIR}/applications.yaml", application(model, name), model.origin("clusters", name)))
    out.append(_kustomization(f"{ARGOCD_DIR}/kustomization.yaml", ["applicationset.yaml"], origin))
    return out


def application_set(model: FleetModel) -> dict:
    gitops = model.fleet.settings.gitops
    generator = {
        "git": {
            "repoURL": gitops.repoURL,
            "revision": gitops.revision,
            "directories": [{"path": f"{clusters_dir(model)}/*"}],
        }
    }
    template = {
        "metadata": {
            "name": "{{path.basename}}",
            "labels": {**MANAGED_BY, CLUSTER_LABEL: "{{path.basename}}", FLEET_LABEL: model.fleet.metadata.name},
        },
        "spec": _application_spec(model, "{{path}}", "{{path.basename}}"),
    }
    meta = metadata(model.fleet.metadata.name, model.fleet.settings.gitops.argocdNamespace, _labels(model))
    return obj(ARGOCD, "ApplicationSet", meta, spec={"generators": [generator], "template": template})


def application(model: FleetModel, cluster: str) -> dict:
    meta = metadata(cluster, model.fleet.settings.gitops.argocdNamespace, _labels(model, cluster))
    return obj(ARGOCD, "Application", meta, spec=_application_spec(model, f"{clusters_dir(model)}/{cluster}", cluster))


def _application_spec(model: FleetModel, path: str, destination: str) -> dict:
    gitops = model.fleet.settings.gitops
    return {
        "project": gitops.argocdProject,
        "source": {"repoURL": gitops.repoURL, "targetRevision": gitops.revision, "path": path},
        "destination": {"name": destination, "namespace": ISTIO_NAMESPACE},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }


# --- Flux ------------------------------------------------------------------------------------


def flux_resources(model: FleetModel) -> list[Resource]:
    origin = model.origin("settings", "gitops")
    path = f"{FLUX_DIR}/kustomizations.yaml"
    out = [Resource(path, git_repository(model), origin)]
    out += [Resource(path, flux_kustomization(model, c), model.origin("clusters", c)) for c in model.clusters]
    out.append(_kustomization(f"{FLUX_DIR}/kustomization.yaml", ["kustomizations.yaml"], origin))
    return out


def git_repository(model: FleetModel) -> dict:
    gitops = model.fleet.settings.gitops
    meta = metadata(model.fleet.metadata.name, gitops.fluxNamespace, _labels(model))
    spec = {"interval": SOURCE_INTERVAL, "url": gitops.repoURL, "ref": git_ref(gitops.revision)}
    return obj(FLUX_SOURCE, "GitRepository", meta, spec=spec)


def git_ref(revision: str) -> dict:
    """Flux's ref for a revision: a full commit SHA, a full ref name ('refs/...'), else a branch."""
    if _COMMIT.match(revision):
        return {"commit": revision}
    if revision.startswith("refs/"):
        return {"name": revision}
    return {"branch": revision}


def flux_kustomization(model: FleetModel, cluster: str) -> dict:
    gitops = model.fleet.settings.gitops
    meta = metadata(cluster, gitops.fluxNamespace, _labels(model, cluster))
    spec = {
        "interval": SYNC_INTERVAL,
        "retryInterval": RETRY_INTERVAL,
        "path": f"./{clusters_dir(model)}/{cluster}",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": model.fleet.metadata.name},
        "kubeConfig": {"secretRef": {"name": kubeconfig_secret(cluster), "key": KUBECONFIG_KEY}},
    }
    return obj(FLUX_KUSTOMIZE, "Kustomization", meta, spec=spec)


def _kustomization(path: str, resources: list[str], origin) -> Resource:
    """A kustomize file for a gitops folder (not a cluster object, so not a manifest)."""
    body = {"apiVersion": KUSTOMIZE, "kind": "Kustomization", "resources": sorted(resources)}
    return Resource(path, body, origin, manifest=False)
