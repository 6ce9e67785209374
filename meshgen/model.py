"""The resolved fleet: the spec with references linked, defaults applied and derived facts computed.

Built by ``resolve.resolve`` after the checks passed, so every reference here is known to exist.
Everything is read-only; iteration order is sorted by name so renderers are deterministic
whatever the order of set-like lists in the spec.

Renderers ask the same questions once per object (which clusters a mesh has, where a service
runs, what a cluster imports), so each answer is computed once for the whole fleet, in one
indexed pass, and cached; the lookups hand out fresh lists, so a caller may change what it gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from meshgen.diagnostics import Span
from meshgen.spec.models import Cluster, Consumer, Fleet, GatewayAddress, Mesh, RootOfTrust, Service, ServicePort


@dataclass(frozen=True, slots=True)
class Identity:
    """A SPIFFE identity pattern: trust domain, namespace ('*' for any), service account ('*' for any)."""

    trust_domain: str
    namespace: str = "*"
    service_account: str = "*"

    @property
    def principal(self) -> str:
        """AuthorizationPolicy principal: exact, or a prefix match when namespace/account are open."""
        if self.namespace == "*":
            return f"{self.trust_domain}/*"
        if self.service_account == "*":
            return f"{self.trust_domain}/ns/{self.namespace}/*"
        return f"{self.trust_domain}/ns/{self.namespace}/sa/{self.service_account}"


@dataclass(frozen=True, slots=True)
class Placement:
    """Instances of a service in one cluster."""

    cluster: Cluster
    count: int
    weight: int
    ports: tuple[ServicePort, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A gateway through which a consumer reaches an exported service, weighted by what it fronts."""

    address: str
    port: int
    network: str
    locality: str | None  # region[/zone] of the gateway's cluster, when the spec gives it
    cluster: str
    weight: int


@dataclass(frozen=True)
class ExportNode:
    """One export, resolved: the host consumers use and who those consumers are."""

    host: str
    mesh: Mesh
    service: Service
    consumers: tuple[Consumer, ...]
    consumer_clusters: tuple[str, ...]  # every cluster that may call it, sorted
    config_clusters: tuple[str, ...]  # primaries that receive the import objects, sorted
    identities: tuple[Identity, ...]  # who may call it, sorted
    endpoints: tuple[Endpoint, ...]  # gateways of the exporting mesh, sorted
    pinned_address: str | None
    origin: Span

    @property
    def key(self) -> str:
        return f"{self.mesh.name}/{self.service.namespace}/{self.service.name}"


@dataclass(frozen=True)
class GlobalNameNode:
    """One name for a service across the clusters of its mesh: the services behind it, with the share of
    traffic each gets (their instance weights in the mesh), sorted by namespace/name."""

    host: str
    mesh: Mesh
    backends: tuple[tuple[Service, int], ...]
    pinned_address: str | None
    origin: Span


@dataclass
class FleetModel:
    fleet: Fleet
    origins: dict[tuple, Span] = field(default_factory=dict)
    positions: object = None  # the spec's Positions, for key paths outside the named lists
    addresses: dict[str, str] = field(default_factory=dict)  # imported host -> address, from the allocator
    exports: list[ExportNode] = field(default_factory=list)  # sorted by host, set by resolve
    global_names: list[GlobalNameNode] = field(default_factory=list)  # sorted by host, set by resolve

    # --- lookups -------------------------------------------------------------------------------

    @cached_property
    def meshes(self) -> dict[str, Mesh]:
        return {m.name: m for m in sorted(self.fleet.meshes, key=lambda m: m.name)}

    @cached_property
    def clusters(self) -> dict[str, Cluster]:
        return {c.name: c for c in sorted(self.fleet.clusters, key=lambda c: c.name)}

    @cached_property
    def roots(self) -> dict[str, RootOfTrust]:
        return {r.name: r for r in self.fleet.rootsOfTrust}

    @cached_property
    def services(self) -> dict[tuple[str, str], Service]:
        return {(s.namespace, s.name): s for s in sorted(self.fleet.services, key=lambda s: (s.namespace, s.name))}

    def origin(self, *path) -> Span:
        """Where the spec says it: by named-list key (``("clusters", "east-1")``) or by raw key path
        (``("settings", "gitops", "path")``), falling back to the nearest parent."""
        if path in self.origins:
            return self.origins[path]
        if self.positions is not None and not any(path[:n] in self.origins for n in range(1, len(path))):
            return self.positions.span(path)
        while path not in self.origins and path:
            path = path[:-1]
        return self.origins.get(path, Span("<spec>"))

    # --- meshes and clusters -------------------------------------------------------------------

    def mesh_of(self, cluster: str) -> Mesh:
        return self.meshes[self.clusters[cluster].mesh]

    def mesh_clusters(self, mesh: str) -> list[Cluster]:
        return list(self._clusters_by_mesh.get(mesh, ()))

    @cached_property
    def _clusters_by_mesh(self) -> dict[str, list[Cluster]]:
        return _group(self.clusters.values(), lambda c: [c.mesh])

    def mesh_networks(self, mesh: str) -> list[str]:
        return list(self._networks_by_mesh.get(mesh, ()))

    @cached_property
    def _networks_by_mesh(self) -> dict[str, list[str]]:
        return {mesh: sorted({c.network for c in clusters}) for mesh, clusters in self._clusters_by_mesh.items()}

    def multi_network(self, mesh: str) -> bool:
        return len(self._networks_by_mesh.get(mesh, ())) > 1

    def is_primary(self, cluster: str) -> bool:
        return self.clusters[cluster].controlPlane.role == "primary"

    def config_cluster(self, cluster: str) -> str:
        """The primary whose istiod reads Istio config for this cluster (itself for a primary)."""
        return self.clusters[cluster].controlPlane.primary or cluster

    def primary_names(self) -> list[str]:
        """Every primary of the fleet, sorted: the clusters that receive Istio config."""
        return [name for name, c in self.clusters.items() if c.controlPlane.role == "primary"]

    def primaries(self, mesh: str) -> list[Cluster]:
        return [c for c in self._clusters_by_mesh.get(mesh, ()) if c.controlPlane.role == "primary"]

    def remotes_of(self, primary: str) -> list[Cluster]:
        return list(self._remotes_by_primary.get(primary, ()))

    @cached_property
    def _remotes_by_primary(self) -> dict[str, list[Cluster]]:
        return _group(self.clusters.values(), lambda c: [c.controlPlane.primary] if c.controlPlane.primary else [])

    def gateway_owners(self, cluster: str, kind: str = "gateways") -> list[Cluster]:
        """Clusters whose gateways of ``kind`` (``gateways``: east-west, ``federationGateways``) front
        this one: itself when it has some, else the clusters of its mesh on its network that have some."""
        own = self.clusters[cluster]
        if getattr(own, kind):
            return [own]
        return [c for c in self._clusters_by_mesh[own.mesh] if c.network == own.network and getattr(c, kind)]

    def gateways_for(self, cluster: str) -> list[GatewayAddress]:
        """East-west gateways that front a cluster: its own, else those of same-network clusters of its mesh."""
        return [g for c in self.gateway_owners(cluster) for g in c.gateways]

    def locality(self, cluster: str) -> str | None:
        """``region/zone`` or ``region``; None when the spec does not say where the cluster runs."""
        loc = self.clusters[cluster].locality
        if loc is None:
            return None
        return f"{loc.region}/{loc.zone}" if loc.zone else loc.region

    def istio_version(self, cluster: str) -> str:
        """The cluster's Istio release as the spec writes it: ``1.28`` or ``1.28.3``."""
        return self.clusters[cluster].istioVersion or self.fleet.settings.istioVersion

    def istio_minor(self, cluster: str) -> int:
        return int(self.istio_version(cluster).split(".")[1])

    def revision(self, cluster: str) -> str | None:
        """The control-plane revision serving the cluster: a remote follows its primary."""
        return self.clusters[self.config_cluster(cluster)].revision

    # --- services ------------------------------------------------------------------------------

    def placements(self, service: Service, mesh: str | None = None) -> list[Placement]:
        """Where the service runs, sorted by cluster; only in `mesh` when given."""
        every = self._placements.get((service.namespace, service.name))
        if every is None or every[0] is not service:  # not one of the fleet's own services
            every = (service, self._place(service))
        return [p for p in every[1] if mesh is None or p.cluster.mesh == mesh]

    @cached_property
    def _placements(self) -> dict[tuple[str, str], tuple[Service, list[Placement]]]:
        return {key: (service, self._place(service)) for key, service in self.services.items()}

    def _place(self, service: Service) -> list[Placement]:
        out = []
        for inst in sorted(service.instances, key=lambda i: i.cluster):
            ports = tuple(inst.ports) if inst.ports is not None else tuple(service.ports)
            out.append(Placement(self.clusters[inst.cluster], inst.count, inst.weight or inst.count, ports))
        return out

    def services_in_mesh(self, mesh: str) -> list[Service]:
        return list(self._services_by_mesh.get(mesh, ()))

    @cached_property
    def _services_by_mesh(self) -> dict[str, list[Service]]:
        return _group(self.services.values(),
                      lambda s: [p.cluster.mesh for p in self._placements[(s.namespace, s.name)][1]])

    def service_meshes(self, service: Service) -> list[str]:
        return sorted({self.clusters[i.cluster].mesh for i in service.instances})

    def service_accounts(self, service: Service) -> list[str]:
        return sorted(set(service.serviceAccounts) or {service.name})

    def selector(self, service: Service) -> dict[str, str]:
        return dict(sorted(service.selector.items())) if service.selector else {"app": service.name}

    def host(self, service: Service) -> str:
        return f"{service.name}.{service.namespace}.svc.cluster.local"

    # --- federation ----------------------------------------------------------------------------

    def imports_for(self, config_cluster: str) -> list[ExportNode]:
        return list(self._imports_by_config_cluster.get(config_cluster, ()))

    @cached_property
    def _imports_by_config_cluster(self) -> dict[str, list[ExportNode]]:
        return _group(self.exports, lambda e: e.config_clusters)

    def consumed_by(self, cluster: str) -> list[ExportNode]:
        """Exports this cluster may call (it is one of their consumer clusters), in ``exports`` order."""
        return list(self._exports_by_consumer_cluster.get(cluster, ()))

    @cached_property
    def _exports_by_consumer_cluster(self) -> dict[str, list[ExportNode]]:
        return _group(self.exports, lambda e: e.consumer_clusters)

    def global_names_of(self, mesh: str) -> list[GlobalNameNode]:
        return list(self._global_names_by_mesh.get(mesh, ()))

    @cached_property
    def _global_names_by_mesh(self) -> dict[str, list[GlobalNameNode]]:
        return _group(self.global_names, lambda g: [g.mesh.name])

    def exports_of(self, mesh: str) -> list[ExportNode]:
        return list(self._exports_by_mesh.get(mesh, ()))

    @cached_property
    def _exports_by_mesh(self) -> dict[str, list[ExportNode]]:
        return _group(self.exports, lambda e: [e.mesh.name])

    def failover_of(self, service: str) -> list:
        """The `failover` entries of a service ('namespace/name'), in spec order."""
        return self._failover_by_service.get(service, [])

    @cached_property
    def _failover_by_service(self) -> dict[str, list]:
        return _group(self.fleet.failover, lambda f: [f.service])

    def peer_meshes(self, mesh: str) -> list[str]:
        """Meshes federated with this one in either direction."""
        return sorted(self._peers.get(mesh, set()) - {mesh})

    @cached_property
    def _peers(self) -> dict[str, set[str]]:
        peers: dict[str, set[str]] = {}
        for e in self.exports:
            for consumer_mesh in {self.clusters[c].mesh for c in e.consumer_clusters}:
                peers.setdefault(e.mesh.name, set()).add(consumer_mesh)
                peers.setdefault(consumer_mesh, set()).add(e.mesh.name)
        return peers

    def peer_trust_domains(self, mesh: str) -> list[str]:
        """Trust domains of federation peers: inbound mTLS accepts the local domain and these only."""
        own = self.meshes[mesh].trustDomain
        return sorted({self.meshes[p].trustDomain for p in self.peer_meshes(mesh)} - {own})


def _group(items, keys_of) -> dict:
    """key -> the items (in order) whose ``keys_of(item)`` names that key; each item once per key."""
    found: dict = {}
    for item in items:
        for key in dict.fromkeys(keys_of(item)):
            found.setdefault(key, []).append(item)
    return found
