"""The fleet spec (``apiVersion: meshgen.dev/v1alpha1``, ``kind: Fleet``) as pydantic models.

Every model forbids unknown keys. Field descriptions feed the JSON Schema in ``schema/`` that
editors use through the ``yaml-language-server`` modeline. The models check shape and syntax only;
cross-references and fleet-wide rules live in ``meshgen.checks``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

API_VERSION = "meshgen.dev/v1alpha1"

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _LABEL.match(value):
        raise ValueError(
            f"'{value}' is not a DNS-1123 label (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _dns_name(value: str) -> str:
    if not _DNS_NAME.match(value.rstrip(".")):
        raise ValueError(f"'{value}' is not a DNS name (dot-separated DNS-1123 labels)")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a CIDR block ({exc})") from None
    return value


def _ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an IP address") from None
    return value


def _host(value: str) -> str:
    try:
        return _ip(value)
    except ValueError:
        return _dns_name(value)


Name = Annotated[str, AfterValidator(_dns_label), Field(description="A DNS-1123 label.")]
DnsName = Annotated[str, AfterValidator(_dns_name)]
Cidr = Annotated[str, AfterValidator(_cidr)]
IPAddress = Annotated[str, AfterValidator(_ip)]
Host = Annotated[str, AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
StorePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_.{}/-]+$",
        description="A key in the secret store; '{cluster}' and '{mesh}' are replaced per cluster.",
    ),
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# --- networks -------------------------------------------------------------------------------


class Network(Model):
    """A set of endpoints that reach each other directly (one L3 routing domain)."""

    name: Name
    description: str = ""


# --- trust ----------------------------------------------------------------------------------


class SecretStoreRef(Model):
    """An external-secrets store that holds certificates and credentials (by reference only)."""

    name: Name = Field(description="Name of the SecretStore or ClusterSecretStore.")
    kind: Literal["ClusterSecretStore", "SecretStore"] = "ClusterSecretStore"


class RootOfTrust(Model):
    """A root CA, referenced by where its public certificate lives; never the key material."""

    name: Name
    store: SecretStoreRef
    certificatePath: StorePath = Field(description="Store key holding the root's PEM certificate.")
    property: str = Field("root-cert.pem", description="Property within the store key.")


class MeshDNS(Model):
    """How workloads resolve imported names."""

    capture: bool = Field(True, description="Istio DNS proxying (ISTIO_META_DNS_CAPTURE).")
    coreDNS: bool = Field(
        False,
        description="Also render a CoreDNS server block answering imported names (static `.global` zone).",
    )


class Mesh(Model):
    name: Name
    trustDomain: DnsName = Field(description="SPIFFE trust domain of every workload in the mesh.")
    rootOfTrust: Name = Field(description="Name of an entry in `rootsOfTrust`.")
    secretStore: SecretStoreRef = Field(description="Where per-cluster CA and remote credentials are fetched from.")
    caPath: StorePath = Field(
        "istio/{mesh}/{cluster}/cacerts",
        description="Store key of the cluster's intermediate CA (ca-cert.pem, ca-key.pem, cert-chain.pem).",
    )
    remoteSecretPath: StorePath = Field(
        "istio/{mesh}/{cluster}/kubeconfig",
        description="Store key of the kubeconfig istiod uses to read a cluster's API server.",
    )
    dns: MeshDNS = MeshDNS()
    mtls: Literal["STRICT", "PERMISSIVE"] = Field("STRICT", description="Mesh-wide mutual TLS mode.")
    namespaceMtls: dict[Name, Literal["STRICT", "PERMISSIVE"]] = Field(
        default_factory=dict,
        description="Per-namespace mutual TLS mode overriding `mtls` (e.g. STRICT namespaces in a PERMISSIVE mesh).",
    )
    trustBundles: list[TrustBundle] = Field(
        default_factory=list,
        description="Peer meshes whose root differs from ours and that we accept, with their bundle reference.",
    )


class TrustBundle(Model):
    """Trust for a federation peer with a different root: the peer's root certificate by reference."""

    mesh: Name
    store: SecretStoreRef
    certificatePath: StorePath
    property: str = "root-cert.pem"


# --- clusters -------------------------------------------------------------------------------


class Locality(Model):
    region: Name
    zone: Name | None = None


class ControlPlane(Model):
    role: Literal["primary", "remote"] = "primary"
    primary: Name | None = Field(None, description="For a remote: the primary cluster that runs its istiod.")

    @model_validator(mode="after")
    def _primary_only_for_remote(self) -> ControlPlane:
        if self.role == "remote" and not self.primary:
            raise ValueError("a remote control plane names its `primary`")
        if self.role == "primary" and self.primary:
            raise ValueError("`primary` is only set when role is 'remote'")
        return self


class GatewayAddress(Model):
    """An address of the cluster's east-west gateway reachable from other networks."""

    address: Host = Field(description="IP address or DNS name of the gateway's load balancer.")
    port: Port = 15443


class Cluster(Model):
    name: Name
    network: Name
    mesh: Name
    locality: Locality
    controlPlane: ControlPlane = ControlPlane()
    podCIDRs: list[Cidr] = Field(min_length=1)
    serviceCIDRs: list[Cidr] = Field(min_length=1)
    gateways: list[GatewayAddress] = Field(
        default_factory=list, description="East-west gateway addresses through which other networks reach this cluster."
    )
    rootOfTrust: Name | None = Field(None, description="Must equal the mesh's root when given.")


# --- services -------------------------------------------------------------------------------

Protocol = Literal["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTPS", "TLS", "TCP", "MONGO", "REDIS", "MYSQL"]


class ServicePort(Model):
    name: Name
    number: Port
    protocol: Protocol = "TCP"
    targetPort: Port | None = Field(None, description="Port the workload listens on (defaults to `number`).")


class Instances(Model):
    """Where instances of a service run."""

    cluster: Name
    count: int = Field(1, ge=1, le=100_000, description="Number of instances (pods) in that cluster.")
    weight: int | None = Field(None, ge=1, le=1_000_000, description="Explicit weight; defaults to `count`.")
    ports: list[ServicePort] | None = Field(
        None, description="Ports as deployed in this cluster, when they are declared per cluster."
    )


class Caller(Model):
    """An in-mesh workload identity allowed to call a service."""

    namespace: Name
    serviceAccount: Name | None = None


class Service(Model):
    name: Name
    namespace: Name
    serviceAccounts: list[Name] = Field(default_factory=list, description="Defaults to the service name.")
    selector: dict[str, str] = Field(default_factory=dict, description="Workload labels; defaults to `app: <name>`.")
    ports: list[ServicePort] = Field(min_length=1)
    instances: list[Instances] = Field(min_length=1)
    callers: list[Caller] = Field(default_factory=list, description="In-mesh callers allowed when it is exported.")


# --- exports --------------------------------------------------------------------------------


class Consumer(Model):
    """A consumer of an export: a whole mesh or one cluster, optionally narrowed to identities."""

    mesh: Name | None = None
    cluster: Name | None = None
    namespaces: list[Name] = Field(default_factory=list, description="Calling namespaces (all when empty).")
    serviceAccounts: list[str] = Field(
        default_factory=list,
        description="Calling identities as `namespace/serviceAccount`.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> Consumer:
        if (self.mesh is None) == (self.cluster is None):
            raise ValueError("a consumer names exactly one of `mesh` or `cluster`")
        for item in self.serviceAccounts:
            ns, _, sa = item.partition("/")
            _dns_label(ns)
            _dns_label(sa)
        return self


class Export(Model):
    service: str = Field(description="The exported service as `namespace/name`.", pattern=r"^[a-z0-9-]+/[a-z0-9-]+$")
    mesh: Name = Field(description="The exporting mesh.")
    to: list[Consumer] = Field(min_length=1)
    host: DnsName | None = Field(None, description="Exported name; default `<name>.<namespace>.<suffix>`.")
    address: IPAddress | None = Field(None, description="Pinned address of the imported host in consumers.")


# --- fleet ----------------------------------------------------------------------------------


class Failover(Model):
    """Locality failover preference for a service: regions in order of preference."""

    service: str = Field(pattern=r"^[a-z0-9-]+/[a-z0-9-]+$")
    mesh: Name | None = None
    regions: list[Name] = Field(default_factory=list, description="Failover from each region to the next.")


class GitOps(Model):
    repoURL: str = "https://git.example.com/platform/fleet.git"
    revision: str = "main"
    path: str = Field("out", description="Path of the output folder inside the repository.")
    argocdNamespace: Name = "argocd"
    argocdProject: Name = "default"
    fluxNamespace: Name = "flux-system"


class Budgets(Model):
    """Per-cluster sizes above which meshgen warns (W301): istiod and every sidecar hold all of it."""

    serviceEntriesPerCluster: int = Field(5000, ge=1, description="Imported ServiceEntries per config cluster.")
    endpointsPerCluster: int = Field(20000, ge=1, description="Endpoints of imported ServiceEntries per config cluster.")


class Settings(Model):
    exportSuffix: DnsName = Field("global", description="Suffix of exported names: `<name>.<namespace>.<suffix>`.")
    addressRange: Cidr = Field(
        "240.10.0.0/16",
        description="Range for imported-service addresses; avoids Istio's 240.240.0.0/16 auto-allocation.",
    )
    addressQuarantine: int = Field(
        10,
        ge=0,
        le=10_000,
        description="Renders that change meshgen.lock during which a released address is not reused (stale DNS).",
    )
    budgets: Budgets = Field(Budgets(), description="Per-cluster sizes above which meshgen warns.")
    importNamespace: Name = Field("istio-system", description="Namespace of imported ServiceEntries.")
    gitops: GitOps = GitOps()


class Metadata(Model):
    name: Name


class Fleet(Model):
    apiVersion: Literal["meshgen.dev/v1alpha1"]
    kind: Literal["Fleet"]
    metadata: Metadata
    settings: Settings = Settings()
    networks: list[Network] = Field(min_length=1)
    rootsOfTrust: list[RootOfTrust] = Field(min_length=1)
    meshes: list[Mesh] = Field(min_length=1)
    clusters: list[Cluster] = Field(min_length=1)
    services: list[Service] = Field(default_factory=list)
    exports: list[Export] = Field(default_factory=list)
    failover: list[Failover] = Field(default_factory=list)


Mesh.model_rebuild()
