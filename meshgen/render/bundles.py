"""The folders of a cluster's bundle and their ``kustomization.yaml`` files (a post-render step).

``out/clusters/<cluster>/`` holds one folder per step of the order a cluster comes up in, so that a
GitOps controller can apply each when the one before is ready (``render.gitops``):

* ``bootstrap/``: the namespaces and the ``cacerts`` ExternalSecret: before istiod starts, or it signs
  with a self-signed root of its own (review C2);
* ``mesh/``: the Istio configuration (gateways, traffic, federation, global names, security, DNS):
  after the charts that install the CRDs and istiod;
* ``remote-secrets/``: the remote secrets of a primary: after the remote clusters' namespaces and
  charts, or istiod registers a remote before its annotated ``istio-system`` exists and never manages
  it (review R4);
* ``helm/``: the values of each chart release (not applied by kustomize).

Each folder with manifests gets a kustomization listing them; ``clusters/<cluster>/kustomization.yaml``
lists the folders, so ``kubectl apply -k out/clusters/<cluster>`` still applies the whole bundle, and
carries the cluster's Istio release as the annotation ``meshgen.dev/istio-version`` (``meshgen lint``
checks each bundle against it).
"""

from __future__ import annotations

from meshgen.model import FleetModel
from meshgen.render.resource import Resource

CLUSTERS = "clusters/"
KUSTOMIZATION = "kustomization.yaml"
KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"
BOOTSTRAP, MESH, REMOTE_SECRETS = "bootstrap", "mesh", "remote-secrets"
PARTS = (BOOTSTRAP, MESH, REMOTE_SECRETS)  # in the order a cluster comes up
ISTIO_VERSION_ANNOTATION = "meshgen.dev/istio-version"


def bundle_files(resources) -> dict[tuple[str, str], set[str]]:
    """(cluster, folder) -> the manifest files in it; read per distinct path, not per resource."""
    listed: dict[tuple[str, str], set[str]] = {}
    for path in {r.path for r in resources if r.manifest}:
        if path.startswith(CLUSTERS):
            cluster, part, file = _split(path)
            listed.setdefault((cluster, part), set()).add(file)
    return listed


def kustomizations(model: FleetModel, listed: dict[tuple[str, str], set[str]]) -> list[Resource]:
    """One kustomization per bundle folder that holds manifests, and one per cluster over its folders."""
    out = []
    for (cluster, part), files in sorted(listed.items()):
        out.append(_kustomization(f"{CLUSTERS}{cluster}/{part}/{KUSTOMIZATION}", sorted(files), model, cluster))
    for cluster in sorted({cluster for cluster, _ in listed}):
        parts = [part for part in PARTS if (cluster, part) in listed]
        meta = {"name": cluster, "annotations": {ISTIO_VERSION_ANNOTATION: model.istio_version(cluster)}}
        out.append(_kustomization(f"{CLUSTERS}{cluster}/{KUSTOMIZATION}", parts, model, cluster, meta))
    return out


def parts_by_cluster(listed: dict[tuple[str, str], set[str]]) -> dict[str, list[str]]:
    """cluster -> the bundle folders that hold its manifests, in order."""
    found: dict[str, set[str]] = {}
    for cluster, part in listed:
        found.setdefault(cluster, set()).add(part)
    return {cluster: [part for part in PARTS if part in parts] for cluster, parts in found.items()}


def _split(path: str) -> tuple[str, str, str]:
    """'clusters/east/mesh/traffic.yaml' -> ('east', 'mesh', 'traffic.yaml')."""
    cluster, part, file = path[len(CLUSTERS):].split("/", 2)
    return cluster, part, file


def _kustomization(path: str, entries: list[str], model: FleetModel, cluster: str, meta: dict | None = None) -> Resource:
    body: dict = {"apiVersion": KUSTOMIZE, "kind": "Kustomization"}
    if meta:
        body["metadata"] = meta
    body["resources"] = entries
    return Resource(path, body, model.origin("clusters", cluster), manifest=False)
