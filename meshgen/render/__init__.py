"""Model -> ResourceSet. One module per resource family, registered in one readable tuple."""

from __future__ import annotations

from functools import lru_cache

from meshgen.model import FleetModel
from meshgen.render.resource import Resource, ResourceSet


@lru_cache(maxsize=1 << 16)
def bundle_path(cluster: str, file: str, part: str | None = None) -> str:
    """Where a cluster's file lives under the output root: in one of the bundle's folders
    (``render.bundles.PARTS``), or at the bundle's root (``helm/...``). Cached: the objects of a
    file share one path string (a million objects at 1,000 clusters live in 18,000 files)."""
    return f"clusters/{cluster}/{part}/{file}" if part else f"clusters/{cluster}/{file}"


def renderers():
    # Imported here so each family module can import bundle_path from this package.
    from meshgen.render import (namespaces, install, gateways, trust, traffic, federation, global_names, dns,
                                security)

    return (
        namespaces.render,  # istio-system network label, control-plane annotation, service namespaces
        install.render,  # Helm values: istiod (primary or remote profile), east-west gateway
        gateways.render,  # east-west AUTO_PASSTHROUGH Gateway, istiod exposure for remotes
        trust.render,  # cacerts and remote secrets as ExternalSecret references
        traffic.render,  # locality failover with outlier detection
        federation.render,  # exporter and consumer ServiceEntries, exposure Gateway, mTLS to imports
        global_names.render,  # one name for a service in every cluster of its mesh
        dns.render,  # CoreDNS server blocks answering imported and global names
        security.render,  # PeerAuthentication, AuthorizationPolicy per closed service, foreign-domain DENY
    )


def render(model: FleetModel) -> ResourceSet:
    from meshgen.render import gitops
    from meshgen.render.bundles import bundle_files, kustomizations
    from meshgen.render.summary import readme

    resources = ResourceSet()
    for family in renderers():
        resources.extend(family(model))
    # post-render: the kustomizations list, the GitOps wiring installs, and out/README.md counts,
    # what the families produced
    listed = bundle_files(resources.values())
    resources.extend(kustomizations(model, listed))
    resources.extend(gitops.render(model, listed))
    resources.add(readme(model, resources))
    return resources


__all__ = ["Resource", "ResourceSet", "bundle_path", "render", "renderers"]
