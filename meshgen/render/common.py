"""Small builders shared by the renderer families."""

from __future__ import annotations

MANAGED_BY = {"app.kubernetes.io/managed-by": "meshgen"}
# Annotations that keep an object when it disappears from the folder a controller syncs: Argo CD's
# and Flux's. KEEP (both) is on every object whose deletion would cascade to workloads.
ARGO_KEEP = {"argocd.argoproj.io/sync-options": "Prune=false"}
FLUX_KEEP = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
KEEP = {**ARGO_KEEP, **FLUX_KEEP}
ISTIO_NAMESPACE = "istio-system"
EASTWEST_SELECTOR = {"istio": "eastwestgateway"}  # the east-west gateways' pods (gateway chart labels)
FEDERATION_SELECTOR = {"istio": "federationgateway"}  # the federation gateways' pods: peers reach only these
# Failover never happens without outlier detection (reference §7.1): every locality rule carries it.
OUTLIER_DETECTION = {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"}


def metadata(name: str, namespace: str | None = None, labels: dict | None = None,
             annotations: dict | None = None) -> dict:
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**MANAGED_BY, **dict(sorted((labels or {}).items()))}
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


def obj(api_version: str, kind: str, meta: dict, **fields) -> dict:
    body = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    body.update(fields)
    return body
