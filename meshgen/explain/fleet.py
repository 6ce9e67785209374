"""The rendered output (``OutputIndex``) plus the few facts only the spec knows, in one place.

The output says what Istio is told; it cannot say where a service's pods run, which labels and
service accounts they carry, or on which port each cluster's pods listen (meshgen renders no
Deployments or Services: application teams do). Those come from the model, as do spec line numbers
(``model.origin``). Everything else an explanation states is read from the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from meshgen.diagnostics import Span
from meshgen.explain import istio
from meshgen.explain.index import Bundle, OutputIndex, Release
from meshgen.model import FleetModel
from meshgen.spec.models import Service

CLUSTER_DOMAIN = ".svc.cluster.local"


@dataclass(frozen=True)
class Origin:
    """The caller's side, the same for every workload of a cluster."""

    cluster: str
    bundle: Bundle  # its own bundle (namespaces, CoreDNS)
    config: Bundle  # its config cluster's (Istio configuration, istiod values, cacerts)
    network: str
    mesh: str
    trust_domain: str
    dns_capture: bool


class Fleet:
    def __init__(self, index: OutputIndex, model: FleetModel):
        self.index = index
        self.model = model
        self._origins: dict[str, Origin] = {}
        self.memo: dict[tuple, object] = {}  # results shared by many calls (trust between two config clusters)

    def origin_of(self, cluster: str) -> Origin:
        found = self._origins.get(cluster)
        if found is None:
            found = self._origins[cluster] = self._origin(cluster)
        return found

    def _origin(self, cluster: str) -> Origin:
        bundle, config = self.index.bundle(cluster), self.index.config(cluster)
        values = (config.istiod.body if config.istiod else {}) or {}
        capture = config.mesh_config.get("defaultConfig", {}).get("proxyMetadata", {}).get("ISTIO_META_DNS_CAPTURE")
        trust_domain = config.mesh_config.get("trustDomain") or istio.DEFAULT_TRUST_DOMAIN
        return Origin(cluster, bundle, config, bundle.network, values.get("global", {}).get("meshID", ""),
                      trust_domain, str(capture).lower() == "true")

    # --- what only the spec knows -------------------------------------------------------------

    def in_mesh_service(self, host: str, mesh: str) -> Service | None:
        """The declared service whose in-mesh name is ``host`` and that runs in ``mesh``."""
        if not host.endswith(CLUSTER_DOMAIN):
            return None
        name, _, namespace = host[: -len(CLUSTER_DOMAIN)].partition(".")
        service = self.model.services.get((namespace, name))
        return service if service is not None and self.model.placements(service, mesh) else None

    def selected_services(self, namespace: str, selector: dict, mesh: str) -> list[Service]:
        """Declared services of ``namespace`` running in ``mesh`` whose pods a selector selects."""
        return [s for s in self._by_namespace.get((mesh, namespace), []) if istio.selects(selector, self.model.selector(s))]

    @cached_property
    def _by_namespace(self) -> dict[tuple[str, str], list[Service]]:
        found: dict[tuple[str, str], list[Service]] = {}
        for mesh in self.model.meshes:
            for service in self.model.services_in_mesh(mesh):
                found.setdefault((mesh, service.namespace), []).append(service)
        return found

    def federation_release(self, address: str) -> Release | None:
        """The federation gateway release serving ``address``: by its pinned load-balancer IP in the
        chart values; a DNS name is not in the values, so the spec says which cluster's n-th
        federation gateway it is, and the n-th federation release of that cluster serves it."""
        for release in self.index.releases_by_address.get(address, []):
            if not release.east_west:
                return release
        for cluster in self.model.clusters.values():
            names = [g.address for g in cluster.federationGateways]
            if address in names and cluster.name in self.index.bundles:
                releases = sorted((r for r in self.index.bundle(cluster.name).gateways if not r.east_west),
                                  key=lambda r: (len(r.name), r.name))
                position = names.index(address)
                return releases[position] if position < len(releases) else None
        return None

    def why_not_imported(self, host: str, cluster: str) -> tuple[str, Span] | None:
        """What the spec says about a host a cluster cannot resolve: an export that leaves the cluster
        out, or a declared service of that name that nothing exports."""
        export = self._exports.get(host)
        if export is not None:
            if cluster in export.consumer_clusters:
                return None
            return (f"the spec exports {export.service.namespace}/{export.service.name} of mesh {export.mesh.name} as "
                    f"{host}, but to no consumer in {cluster}", export.origin)
        name, _, rest = host.partition(".")
        namespace = rest.partition(".")[0]
        service = self.model.services.get((namespace, name))
        if service is None or host.endswith(CLUSTER_DOMAIN):
            return None
        meshes = ", ".join(self.model.service_meshes(service))
        return f"{namespace}/{name} is a service of mesh {meshes} that no export names", self.spec_of_service(service)

    # --- spec lines -----------------------------------------------------------------------------

    @cached_property
    def _exports(self) -> dict:
        return {e.host: e for e in self.model.exports}

    @cached_property
    def _named(self) -> dict[str, Span]:
        found = {e.host: e.origin for e in self.model.exports}
        found.update({g.host: g.origin for g in self.model.global_names})
        return found

    def spec_of_host(self, host: str) -> Span | None:
        if host in self._named:
            return self._named[host]
        name, _, namespace = host.removesuffix(CLUSTER_DOMAIN).partition(".")
        return self.model.origin("services", f"{namespace}/{name}") if host.endswith(CLUSTER_DOMAIN) else None

    def spec_of_service(self, service: Service) -> Span:
        return self.model.origin("services", f"{service.namespace}/{service.name}")

    def spec_of_cluster(self, cluster: str) -> Span:
        return self.model.origin("clusters", cluster)

    def spec_of_mesh(self, mesh: str) -> Span:
        return self.model.origin("meshes", mesh)
