"""Model -> ResourceSet. One module per resource family, registered in one readable tuple."""

from __future__ import annotations

from meshgen.model import FleetModel
from meshgen.render.resource import Resource, ResourceSet


def bundle_path(cluster: str, file: str) -> str:
    """Where a cluster's file lives under the output root."""
    return f"clusters/{cluster}/{file}"


def renderers():
    # Imported here so each family module can import bundle_path from this package.
    from meshgen.render import namespaces, install, gateways, trust, traffic, federation, dns, security, gitops

    return (
        namespaces.render,  # istio-system network label, control-plane annotation, service namespaces
        install.render,  # Helm values: istiod (primary or remote profile), east-west gateway
        gateways.render,  # east-west AUTO_PASSTHROUGH Gateway, istiod exposure for remotes
        trust.render,  # cacerts and remote secrets as ExternalSecret references
        traffic.render,  # locality failover with outlier detection
        federation.render,  # exporter and consumer ServiceEntries, exposure Gateway, mTLS to imports
        dns.render,  # CoreDNS server block for imported names
        security.render,  # PeerAuthentication, AuthorizationPolicy for exports
        gitops.render,  # Argo CD and Flux wiring
    )


def render(model: FleetModel) -> ResourceSet:
    from meshgen.render.summary import readme

    resources = ResourceSet()
    for family in renderers():
        resources.extend(family(model))
    resources.add(readme(model, resources))  # post-render: out/README.md counts what the families produced
    return resources


__all__ = ["Resource", "ResourceSet", "bundle_path", "render", "renderers"]
