"""Fleet-level GitOps wiring under ``gitops/``: everything a cluster needs, synced by Argo CD or Flux,
in the order a cluster comes up in, and nothing deleted by accident. A post-render step: it installs
the bundle folders the families produced (``render.bundles``) and the chart releases of
``render.install``.

Per cluster, the steps in order (each waits for the one before to be healthy):

  0 ``bootstrap``         namespaces and ``cacerts`` (cacerts before istiod, review C2)
  1 ``istio-base``        chart ``base``: the CRDs (before any custom resource)
  2 ``istiod[-rev]``      chart ``istiod`` (a remote's ``profile: remote`` install too)
  3 gateway releases      chart ``gateway``, one per address
  4 ``mesh``              the Istio configuration
  5 ``remote-secrets``    a primary's remote secrets: after its remotes' namespaces and charts (R4)

Argo CD (``gitops/argocd/``): an ApplicationSet makes one parent Application per primary, from the
folder ``gitops/argocd/clusters/<primary>/``, whose child Applications are the steps of the primary
and of its remotes, ordered by ``argocd.argoproj.io/sync-wave``: a remote's steps come before its
primary's remote secrets because they share a parent. Charts are Helm sources with ``valuesObject``.
Every child retries with backoff; none carries the resources finalizer and every one is marked
``Prune=false``, so no parent ever deletes one, and deleting one never deletes what it installed; the
ApplicationSet preserves resources when a parent goes away. Argo CD waits for a child's health between
waves only when the Application health check is configured (docs/gitops.md).

Flux (``gitops/flux/``), run on a management cluster that reaches each cluster through the Secret
``<cluster>-kubeconfig``: a GitRepository and a HelmRepository; per cluster the Kustomizations
``<cluster>-bootstrap``, ``-istio`` (applying the HelmReleases of ``gitops/flux/istio/<cluster>/``,
chained by ``dependsOn``), ``-mesh`` and ``-remote-secrets``, each depending on the step before and
waiting for health; a primary's remote secrets depend on its remotes' ``-istio``. Every Kustomization
orphans what it applied when deleted (``deletionPolicy: Orphan``) and every HelmRelease is marked
``kustomize.toolkit.fluxcd.io/prune: disabled``: removing a cluster from the spec leaves its Istio
install and workloads running (deleting a HelmRelease would uninstall the release).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from meshgen.model import FleetModel
from meshgen.render.bundles import BOOTSTRAP, MESH, REMOTE_SECRETS, parts_by_cluster
from meshgen.render.common import ARGO_KEEP, FLUX_KEEP, ISTIO_NAMESPACE, MANAGED_BY, metadata, obj
from meshgen.render.install import Release, chart_version, releases
from meshgen.render.resource import Resource

ARGOCD = "argoproj.io/v1alpha1"
FLUX_SOURCE = "source.toolkit.fluxcd.io/v1"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io/v1"
FLUX_HELM = "helm.toolkit.fluxcd.io/v2"
KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"

ARGOCD_DIR = "gitops/argocd"
FLUX_DIR = "gitops/flux"
FLEET_LABEL = "meshgen.dev/fleet"
CLUSTER_LABEL = "meshgen.dev/cluster"
KUBECONFIG_KEY = "value"  # Flux's default key in a kubeconfig secret
HELM_REPOSITORY = "istio"
SOURCE_INTERVAL = "1m"
SYNC_INTERVAL = "10m"
RETRY_INTERVAL = "2m"
TIMEOUT = "10m"
IN_CLUSTER = "https://kubernetes.default.svc"
ARGO_RETRY = {"limit": 10, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"}}
# istiod patches its webhooks' caBundle (and a validator's failurePolicy): Argo CD must not undo it.
WEBHOOK_DIFFERENCES = [
    {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration",
     "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration",
     "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle", ".webhooks[]?.failurePolicy"]},
]
_COMMIT = re.compile(r"[0-9a-f]{40}\Z")


@dataclass(frozen=True)
class Step:
    """One step of bringing a cluster up: a bundle folder (``part``) or a chart ``release``."""

    cluster: str
    wave: int
    part: str = ""
    release: Release | None = None

    @property
    def name(self) -> str:
        return f"{self.cluster}-{self.release.name if self.release else self.part}"


def render(model: FleetModel, listed: dict[tuple[str, str], set[str]]) -> list[Resource]:
    """``listed``: the bundle folders and their files (``render.bundles.bundle_files``)."""
    parts = parts_by_cluster(listed)
    steps = {name: cluster_steps(model, name, parts.get(name, [])) for name in model.clusters}
    return [*argocd_resources(model, steps), *flux_resources(model, steps)]


def cluster_steps(model: FleetModel, cluster: str, parts: list[str]) -> list[Step]:
    charts = releases(model, cluster)
    steps = [Step(cluster, 0, BOOTSTRAP)] if BOOTSTRAP in parts else []
    steps += [Step(cluster, 1 if r.chart == "base" else 2 if r.chart == "istiod" else 3, release=r) for r in charts]
    steps += [Step(cluster, wave, part) for wave, part in ((4, MESH), (5, REMOTE_SECRETS)) if part in parts]
    return steps


# --- paths -----------------------------------------------------------------------------------


def repo_dir(model: FleetModel, sub: str) -> str:
    """``settings.gitops.path`` normalised + '/' + sub: 'out' -> 'out/<sub>', '.' or '' -> '<sub>'."""
    root = posixpath.normpath(model.fleet.settings.gitops.path.strip() or ".").strip("/")
    return sub if root in ("", ".") else f"{root}/{sub}"


def clusters_dir(model: FleetModel) -> str:
    return repo_dir(model, "clusters")


def kubeconfig_secret(cluster: str) -> str:
    """Name of the Secret (in the Flux namespace) holding the kubeconfig Flux uses to reach a cluster."""
    return f"{cluster}-kubeconfig"


def _labels(model: FleetModel, cluster: str | None = None) -> dict:
    labels = {FLEET_LABEL: model.fleet.metadata.name}
    if cluster:
        labels[CLUSTER_LABEL] = cluster
    return labels


def _kustomization(path: str, resources: list[str], origin) -> Resource:
    """A kustomize file for a gitops folder (not a cluster object, so not a manifest)."""
    body = {"apiVersion": KUSTOMIZE, "kind": "Kustomization", "resources": sorted(resources)}
    return Resource(path, body, origin, manifest=False)


# --- Argo CD ---------------------------------------------------------------------------------


def argocd_resources(model: FleetModel, steps: dict[str, list[Step]]) -> list[Resource]:
    origin = model.origin("settings", "gitops")
    out = [Resource(f"{ARGOCD_DIR}/applicationset.yaml", application_set(model), origin),
           _kustomization(f"{ARGOCD_DIR}/kustomization.yaml", ["applicationset.yaml"], origin)]
    for primary in model.primary_names():
        folder = f"{ARGOCD_DIR}/clusters/{primary}"
        group = [primary, *(r.name for r in model.remotes_of(primary))]
        for cluster in group:
            out += [Resource(f"{folder}/applications.yaml", child_application(model, step),
                             model.origin("clusters", cluster)) for step in steps[cluster]]
        out.append(_kustomization(f"{folder}/kustomization.yaml", ["applications.yaml"], model.origin("clusters", primary)))
    return out


def application_set(model: FleetModel) -> dict:
    gitops = model.fleet.settings.gitops
    generator = {"git": {"repoURL": gitops.repoURL, "revision": gitops.revision,
                         "directories": [{"path": f"{repo_dir(model, ARGOCD_DIR)}/clusters/*"}]}}
    template = {
        "metadata": {
            "name": "{{path.basename}}",
            "labels": {**MANAGED_BY, CLUSTER_LABEL: "{{path.basename}}", FLEET_LABEL: model.fleet.metadata.name},
        },
        "spec": {
            "project": gitops.argocdProject,
            "source": {"repoURL": gitops.repoURL, "targetRevision": gitops.revision, "path": "{{path}}"},
            "destination": {"server": IN_CLUSTER, "namespace": gitops.argocdNamespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "retry": ARGO_RETRY},
        },
    }
    spec = {"generators": [generator], "syncPolicy": {"preserveResourcesOnDeletion": True}, "template": template}
    meta = metadata(model.fleet.metadata.name, gitops.argocdNamespace, _labels(model))
    return obj(ARGOCD, "ApplicationSet", meta, spec=spec)


def child_application(model: FleetModel, step: Step) -> dict:
    gitops = model.fleet.settings.gitops
    annotations = {"argocd.argoproj.io/sync-wave": str(step.wave), **ARGO_KEEP}
    meta = metadata(step.name, gitops.argocdNamespace, _labels(model, step.cluster), annotations)
    spec: dict = {"project": gitops.argocdProject, "source": _argo_source(model, step),
                  "destination": {"name": step.cluster, "namespace": ISTIO_NAMESPACE}}
    options = _sync_options(step)
    policy: dict = {"automated": {"prune": True, "selfHeal": True}}
    if options:
        policy["syncOptions"] = options
    policy["retry"] = ARGO_RETRY
    spec["syncPolicy"] = policy
    if step.release and step.release.chart in ("base", "istiod"):
        spec["ignoreDifferences"] = WEBHOOK_DIFFERENCES
    return obj(ARGOCD, "Application", meta, spec=spec)


def _argo_source(model: FleetModel, step: Step) -> dict:
    gitops = model.fleet.settings.gitops
    if step.release is None:
        return {"repoURL": gitops.repoURL, "targetRevision": gitops.revision,
                "path": f"{clusters_dir(model)}/{step.cluster}/{step.part}"}
    release = step.release
    return {"repoURL": gitops.chartRepository, "chart": release.chart,
            "targetRevision": chart_version(model, step.cluster)[0],
            "helm": {"releaseName": release.name, "valuesObject": release.values}}


def _sync_options(step: Step) -> list[str]:
    if step.release and step.release.chart == "base":
        # CRDs too large for a client-side apply's annotation; istiod patches the validator
        return ["ServerSideApply=true", "RespectIgnoreDifferences=true"]
    if step.release and step.release.chart == "istiod":
        return ["RespectIgnoreDifferences=true"]
    if step.part == MESH:
        return ["SkipDryRunOnMissingResource=true"]  # custom resources whose CRDs a step before installs
    return []


# --- Flux ------------------------------------------------------------------------------------


def flux_resources(model: FleetModel, steps: dict[str, list[Step]]) -> list[Resource]:
    origin = model.origin("settings", "gitops")
    out = [Resource(f"{FLUX_DIR}/sources.yaml", git_repository(model), origin),
           Resource(f"{FLUX_DIR}/sources.yaml", helm_repository(model), origin),
           _kustomization(f"{FLUX_DIR}/kustomization.yaml", ["clusters.yaml", "sources.yaml"], origin)]
    for cluster, cluster_steps_ in steps.items():
        where = model.origin("clusters", cluster)
        out += [Resource(f"{FLUX_DIR}/clusters.yaml", body, where) for body in flux_kustomizations(model, cluster, cluster_steps_)]
        folder = f"{FLUX_DIR}/istio/{cluster}"
        out += [Resource(f"{folder}/helmreleases.yaml", helm_release(model, s, cluster_steps_), where)
                for s in cluster_steps_ if s.release]
        out.append(_kustomization(f"{folder}/kustomization.yaml", ["helmreleases.yaml"], where))
    return out


def git_repository(model: FleetModel) -> dict:
    gitops = model.fleet.settings.gitops
    meta = metadata(model.fleet.metadata.name, gitops.fluxNamespace, _labels(model))
    spec: dict = {"interval": SOURCE_INTERVAL, "url": gitops.repoURL, "ref": git_ref(gitops.revision)}
    if gitops.secretRef:
        spec["secretRef"] = {"name": gitops.secretRef}
    return obj(FLUX_SOURCE, "GitRepository", meta, spec=spec)


def helm_repository(model: FleetModel) -> dict:
    gitops = model.fleet.settings.gitops
    spec: dict = {"interval": "1h", "url": gitops.chartRepository}
    if gitops.chartRepository.startswith("oci://"):
        spec["type"] = "oci"
    return obj(FLUX_SOURCE, "HelmRepository", metadata(HELM_REPOSITORY, gitops.fluxNamespace, _labels(model)), spec=spec)


def git_ref(revision: str) -> dict:
    """Flux's ref for a revision: a full commit SHA, a full ref name ('refs/...'), else a branch."""
    if _COMMIT.match(revision):
        return {"commit": revision}
    if revision.startswith("refs/"):
        return {"name": revision}
    return {"branch": revision}


def flux_kustomizations(model: FleetModel, cluster: str, steps: list[Step]) -> list[dict]:
    """``<cluster>-bootstrap``, ``-istio``, ``-mesh``, ``-remote-secrets``: each after the one before."""
    found, previous = [], []
    for step in steps:
        if step.release is not None:
            if step.release.chart != "base":
                continue
            name, path, remote = f"{cluster}-istio", f"./{repo_dir(model, FLUX_DIR)}/istio/{cluster}", False
        else:
            name, path, remote = step.name, f"./{clusters_dir(model)}/{cluster}/{step.part}", True
        needs = previous + (remote_needs(model, cluster) if step.part == REMOTE_SECRETS else [])
        found.append(flux_kustomization(model, cluster, name, path, remote, needs))
        previous = [name]
    return found


def remote_needs(model: FleetModel, primary: str) -> list[str]:
    """A primary's remote secrets wait for its remotes' charts (and, through them, their namespaces)."""
    return [f"{r.name}-istio" for r in model.remotes_of(primary)]


def flux_kustomization(model: FleetModel, cluster: str, name: str, path: str, remote: bool, needs: list[str]) -> dict:
    gitops = model.fleet.settings.gitops
    meta = metadata(name, gitops.fluxNamespace, _labels(model, cluster))
    spec: dict = {"interval": SYNC_INTERVAL, "retryInterval": RETRY_INTERVAL, "timeout": TIMEOUT}
    if needs:
        spec["dependsOn"] = [{"name": need} for need in needs]
    spec.update({
        "path": path,
        "prune": True,
        "deletionPolicy": "Orphan",
        "wait": True,
        "sourceRef": {"kind": "GitRepository", "name": model.fleet.metadata.name},
    })
    if remote:
        spec["kubeConfig"] = {"secretRef": {"name": kubeconfig_secret(cluster), "key": KUBECONFIG_KEY}}
    return obj(FLUX_KUSTOMIZE, "Kustomization", meta, spec=spec)


def helm_release(model: FleetModel, step: Step, steps: list[Step]) -> dict:
    gitops = model.fleet.settings.gitops
    release = step.release
    meta = metadata(step.name, gitops.fluxNamespace, _labels(model, step.cluster), FLUX_KEEP)
    chart = {"chart": release.chart, "version": chart_version(model, step.cluster)[1],
             "sourceRef": {"kind": "HelmRepository", "name": HELM_REPOSITORY}}
    spec: dict = {"interval": SYNC_INTERVAL, "releaseName": release.name, "targetNamespace": ISTIO_NAMESPACE,
                  "storageNamespace": ISTIO_NAMESPACE, "chart": {"spec": chart},
                  "kubeConfig": {"secretRef": {"name": kubeconfig_secret(step.cluster), "key": KUBECONFIG_KEY}}}
    before = [s for s in steps if s.release and s.wave == step.wave - 1]
    if before:
        spec["dependsOn"] = [{"name": s.name} for s in before]
    spec["install"] = {"remediation": {"retries": 3}}
    spec["upgrade"] = {"remediation": {"retries": 3}}
    spec["values"] = release.values
    return obj(FLUX_HELM, "HelmRelease", meta, spec=spec)
