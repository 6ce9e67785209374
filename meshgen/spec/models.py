"""The fleet spec (``apiVersion: meshgen.dev/v1alpha1``, ``kind: Fleet``) as pydantic models.

Every model forbids unknown keys and is strict: a quoted ``'8080'`` is not an integer and ``yes``
is not a boolean, exactly as the JSON Schema in ``schema/`` says, so an editor and meshgen agree.
Field descriptions feed that schema: they are the field reference, so each says what the field
does and where it shows up in the rendered output. The models check shape and syntax only;
cross-references and fleet-wide rules live in ``meshgen.checks``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

API_VERSION = "meshgen.dev/v1alpha1"
SUPPORTED_ISTIO = tuple(f"1.{minor}" for minor in range(24, 31))  # every minor meshgen renders for

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ISTIO_VERSION = re.compile(r"^1\.(\d+)(\.(0|[1-9]\d{0,3}))?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(h|ms|m|s))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_DURATION_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_LOCALITY = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(/([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)){0,2}$|^\*$")
_CHART_URL = re.compile(r"^(https?|oci)://[^\s/]+/\S*$")
_GIT_URL = re.compile(r"^(https?|ssh|git)://[^\s/@]+(@[^\s/]+)?(:\d+)?/\S+$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+$")


def _shown(value: str) -> str:
    """A value as messages quote it: its first line only, control characters escaped, at most 40
    characters, so a message never carries a multi-line secret's body (the secret scan, E210,
    refuses it on its own, and the loader then drops the schema message about that value)."""
    first = value.split("\n", 1)[0]
    return repr(first if len(first) <= 77 and first == value else first[:77] + "...")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _LABEL.match(value):
        raise ValueError(
            f"{_shown(value)} is not a DNS-1123 label (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _dns_name(value: str) -> str:
    if not _DNS_NAME.match(value.rstrip(".")):
        raise ValueError(f"{_shown(value)} is not a DNS name (dot-separated DNS-1123 labels, at most 253 characters)")
    if any(len(label) > 63 for label in value.split(".")):
        raise ValueError(f"{_shown(value)} is not a DNS name: a label is longer than 63 characters")
    if value.rstrip(".").rsplit(".", 1)[-1].isdigit():
        raise ValueError(f"{_shown(value)} is not a DNS name: its last label is all digits")
    return value


def _qualified_name(value: str) -> str:
    """A host others resolve: a DNS name of at least two labels (Istio refuses IPs and bare labels)."""
    _dns_name(value)
    if "." not in value.rstrip("."):
        raise ValueError(f"{_shown(value)} is a single DNS label; a host name needs a domain, "
                         f"e.g. {_shown(value + '.example')}")
    return value


def _cidr(value: str) -> str:
    if "/" not in value:
        raise ValueError(f"{_shown(value)} is not a CIDR block: it has no prefix length "
                         f"(e.g. {_shown(value + '/16')})")
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{_shown(value)} is not a CIDR block ({exc})") from None
    return value


def _ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{_shown(value)} is not an IP address") from None
    return value


def _host(value: str) -> str:
    try:
        return _ip(value)
    except ValueError:
        pass
    try:
        return _dns_name(value)
    except ValueError:
        raise ValueError(f"{_shown(value)} is neither an IP address nor a DNS name") from None


def _version_text(value):
    """An unquoted 1.30 is the number 1.3 in YAML: say so rather than 'expected a string'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"an Istio version is text, but YAML read the number {value!r}: quote it, e.g. \"1.30\"")
    return value


def _istio_version(value: str) -> str:
    found = _ISTIO_VERSION.match(value)
    if not found or f"1.{found.group(1)}" not in SUPPORTED_ISTIO:
        raise ValueError(
            f"{_shown(value)} is not a supported Istio version: meshgen renders for {SUPPORTED_ISTIO[0]} to "
            f"{SUPPORTED_ISTIO[-1]}, written as a minor ('1.28') or a patch release ('1.28.3')"
        )
    return value


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _DNS_NAME.match(prefix))) or len(name) > 63 or not _LABEL_NAME.match(name):
        raise ValueError(
            f"{_shown(value)} is not a Kubernetes label key (an optional DNS prefix and '/', then at most 63 "
            "letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
        )
    return value


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(
            f"{_shown(value)} is not a Kubernetes label value (at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit)"
        )
    return value


def _service_account(value: str) -> str:
    namespace, slash, account = value.partition("/")
    if not slash:
        raise ValueError(f"{_shown(value)} is not `namespace/serviceAccount` (write it as `<namespace>/{value}`)")
    for part in (namespace, account):
        _dns_label(part)
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"{_shown(value)} is not a duration (e.g. '10s', '1m30s', '500ms'; units h, m, s, ms)")
    millis = sum(float(number) * _DURATION_MS[unit] for number, unit in _DURATION_PART.findall(value))
    if millis < 1 or millis != int(millis):
        raise ValueError(f"{_shown(value)} is not a duration Istio accepts: at least 1ms, in whole milliseconds")
    return value


def _locality(value: str) -> str:
    if not _LOCALITY.match(value):
        raise ValueError(f"{_shown(value)} is not a locality: `region`, `region/zone` or `region/zone/subzone`, "
                         "where the last part may be '*'")
    return value


def _chart_url(value: str) -> str:
    if not _CHART_URL.match(value):
        raise ValueError(f"{_shown(value)} is not a Helm repository URL (https://host/path or oci://host/path)")
    return value


def _git_url(value: str) -> str:
    if not _GIT_URL.match(value):
        raise ValueError(f"{_shown(value)} is not a Git repository URL (https://host/path, ssh://host/path or "
                         "git@host:path)")
    return value


def _repo_path(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"{_shown(value)} is not a path inside the repository (no leading '/', no '..')")
    return value


Name = Annotated[str, AfterValidator(_dns_label), Field(description="A DNS-1123 label: lower-case letters, digits "
                                                                       "and '-', at most 63 characters.")]
DnsName = Annotated[str, AfterValidator(_dns_name)]
HostName = Annotated[str, AfterValidator(_qualified_name)]
Cidr = Annotated[str, AfterValidator(_cidr)]
IPAddress = Annotated[str, AfterValidator(_ip)]
Host = Annotated[str, AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
IstioVersion = Annotated[str, BeforeValidator(_version_text), AfterValidator(_istio_version)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
ServiceAccountRef = Annotated[str, AfterValidator(_service_account)]
Duration = Annotated[str, AfterValidator(_duration)]
LocalitySelector = Annotated[str, AfterValidator(_locality)]
ServiceRef = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                  max_length=127, description="A service as `namespace/name`.")]
StorePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_.{}/-]+$",
        description="A key in the secret store; '{cluster}' and '{mesh}' are replaced per cluster.",
    ),
]
StoreProperty = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9_.-]+$")]
def _revision(value: str) -> str:
    """istiod's Helm release is `istiod-<revision>`, and Helm release names are at most 53 characters."""
    _dns_label(value)
    if len(value) > 46:
        raise ValueError(f"{_shown(value)} is {len(value)} characters long; a revision is at most 46 (istiod's Helm "
                         "release `istiod-<revision>` must fit Helm's 53)")
    return value


Revision = Annotated[str, AfterValidator(_revision)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, str_strip_whitespace=False)


# --- networks -------------------------------------------------------------------------------


class Network(Model):
    """A set of endpoints that reach each other directly (one L3 routing domain)."""

    name: Name = Field(description="Network name: the `topology.istio.io/network` label of every cluster on it, "
                                   "`global.network` in the istiod values and `network` of imported endpoints.")
    description: str = Field("", max_length=1024, description="Free text for readers; rendered nowhere.")


# --- trust ----------------------------------------------------------------------------------


class SecretStoreRef(Model):
    """An external-secrets store that holds certificates and credentials (by reference only)."""

    name: Name = Field(description="Name of the SecretStore or ClusterSecretStore (`secretStoreRef.name` of the "
                                   "rendered ExternalSecrets).")
    kind: Literal["ClusterSecretStore", "SecretStore"] = Field(
        "ClusterSecretStore", description="Kind of the store; a SecretStore must live in `istio-system`.")


class RootOfTrust(Model):
    """A root CA, referenced by where its public certificate lives; never the key material."""

    name: Name = Field(description="Name that meshes refer to in `rootOfTrust`.")
    store: SecretStoreRef = Field(description="ClusterSecretStore (external-secrets) holding the root certificate; the `ExternalSecret` in `bootstrap/` reads from it into `istio-system/cacerts`.")
    certificatePath: StorePath = Field(description="Store key holding the root's PEM certificate; fetched into "
                                                   "`root-cert.pem` of each cluster's `cacerts`.")
    property: StoreProperty = Field("root-cert.pem", description="Property of the store entry at `certificatePath` "
                                    "that holds the PEM (the ExternalSecret's `remoteRef.property`).")


class MeshDNS(Model):
    """How workloads resolve imported and global names."""

    capture: bool = Field(True, description="Istio DNS proxying: `ISTIO_META_DNS_CAPTURE` in the istiod values, "
                                            "so sidecars answer imported and global names from their addresses.")
    coreDNS: bool = Field(
        False,
        description="Also render, in every cluster of the mesh, the ConfigMap `kube-system/coredns-custom` with a "
                    "CoreDNS server block that answers imported and global names and refuses every other name "
                    "under the export suffix (for workloads without a sidecar).",
    )


class TrustBundle(Model):
    """Trust for a federation peer with a different root: the peer's root certificate by reference."""

    mesh: Name = Field(description="The peer mesh whose root this mesh trusts (its trust domain goes into `caCertificates` of the istiod values).")
    store: SecretStoreRef = Field(description="Store holding the peer's root certificate.")
    certificatePath: StorePath = Field(description="Store key of the peer's root certificate; appended to "
                                                   "`root-cert.pem` of this mesh's `cacerts`.")
    property: StoreProperty = Field("root-cert.pem", description="Property of the store entry at `certificatePath` "
                                    "that holds the PEM (the ExternalSecret's `remoteRef.property`).")


class Mesh(Model):
    """One Istio mesh: a trust domain, a root of trust and the clusters that name it."""

    name: Name = Field(description="Mesh name: `global.meshID` in the istiod values.")
    trustDomain: DnsName = Field(description="SPIFFE trust domain of every workload in the mesh "
                                             "(`meshConfig.trustDomain`); unique among meshes that federate.")
    rootOfTrust: Name = Field(description="Name of an entry in `rootsOfTrust`: the CA every cluster of the mesh mounts as `cacerts`.")
    secretStore: SecretStoreRef = Field(description="Where per-cluster CA and remote credentials are fetched from.")
    caPath: StorePath = Field(
        "istio/{mesh}/{cluster}/cacerts",
        description="Store key of the cluster's intermediate CA (properties ca-cert.pem, ca-key.pem, "
                    "cert-chain.pem), fetched into the `cacerts` Secret.",
    )
    remoteSecretPath: StorePath = Field(
        "istio/{mesh}/{cluster}/kubeconfig",
        description="Store key of the kubeconfig istiod uses to read a cluster's API server "
                    "(`istio-remote-secret-<cluster>`).",
    )
    remoteSecretProperty: StoreProperty | None = Field(
        "kubeconfig",
        description="Property of `remoteSecretPath` that holds the kubeconfig text (`remoteRef.property`); null reads "
                    "the whole value, for stores that keep a plain string (a key/value store such as Vault returns "
                    "a JSON map then, which istiod cannot read).",
    )
    dns: MeshDNS = Field(MeshDNS(), description="How the mesh's workloads resolve imported and global names: "
                                                "sidecar DNS proxying (istiod values) and/or CoreDNS forwarding "
                                                "(`coredns-custom` in `bootstrap/`).")
    mtls: Literal["STRICT", "PERMISSIVE"] = Field("STRICT", description="Mesh-wide mutual TLS mode "
                                                                        "(PeerAuthentication `default` in istio-system).")
    namespaceMtls: dict[Name, Literal["STRICT", "PERMISSIVE"]] = Field(
        default_factory=dict,
        description="Per-namespace mutual TLS mode overriding `mtls` (e.g. STRICT namespaces in a PERMISSIVE mesh).",
    )
    trustBundles: list[TrustBundle] = Field(
        default_factory=list,
        description="Peer meshes whose root differs from ours and that we accept, with their bundle reference.",
    )


# --- clusters -------------------------------------------------------------------------------


class Locality(Model):
    """Where a cluster runs, as its nodes' `topology.kubernetes.io/region` and `zone` labels say."""

    region: Name = Field(description="Region; used in failover and distribute rules and on imported endpoints.")
    zone: Name | None = Field(None, description="Zone; appended to the region on imported endpoints.")


class ControlPlane(Model):
    """Which istiod serves the cluster."""

    role: Literal["primary", "remote"] = Field(
        "primary", description="`primary` runs istiod; `remote` is served by the istiod of `primary`.")
    primary: Name | None = Field(None, description="For a remote: the primary cluster that runs its istiod.")

    @model_validator(mode="after")
    def _primary_only_for_remote(self) -> ControlPlane:
        if self.role == "remote" and not self.primary:
            raise ValueError("a remote control plane names its `primary`")
        if self.role == "primary" and self.primary:
            raise ValueError("`primary` is only set when role is 'remote'")
        return self


class GatewayAddress(Model):
    """An address of a gateway's load balancer, reachable from outside the cluster's network."""

    address: Host = Field(description="IP address (pinned as `service.loadBalancerIP`) or DNS name of the "
                                      "load balancer; one gateway release is rendered per address.")
    port: Port = Field(15443, description="Port on the load balancer that forwards to the gateway's 15443.")


class Cluster(Model):
    """One Kubernetes cluster of the fleet."""

    name: Name = Field(description="Cluster name: the Istio cluster ID (`global.multiCluster.clusterName`), the "
                                   "folder `out/clusters/<name>/` and the Argo CD / Flux cluster name.")
    network: Name = Field(description="Name of an entry in `networks`: the `topology.istio.io/network` label of `istio-system`, `global.network` and the east-west gateway's network.")
    mesh: Name = Field(description="Name of an entry in `meshes`: sets `meshID`, the trust domain and which clusters share endpoints.")
    locality: Locality | None = Field(None, description="Region and zone, when known; without it nothing "
                                                             "locality-based is rendered for this cluster.")
    controlPlane: ControlPlane = Field(ControlPlane(), description="Primary (runs istiod) or remote of a primary.")
    istioVersion: IstioVersion | None = Field(None, description="Istio release of this cluster, overriding "
                                                                "`settings.istioVersion` (e.g. during an upgrade).")
    revision: Revision | None = Field(
        None,
        description="Istio revision of this cluster's control plane: namespaces get `istio.io/rev: <revision>` "
                    "instead of `istio-injection: enabled`, istiod is installed as `istiod-<revision>`. A remote "
                    "uses its primary's revision.",
    )
    podCIDRs: list[Cidr] = Field(default_factory=list, description="Pod address ranges; used only by checks "
                                 "(E204 overlap on a shared network) and kept out of imported addresses.")
    serviceCIDRs: list[Cidr] = Field(default_factory=list, description="Service address ranges; used like "
                                     "`podCIDRs`.")
    gateways: list[GatewayAddress] = Field(
        default_factory=list,
        description="East-west gateway addresses: other networks of this mesh (and remotes, for istiod) reach this "
                    "cluster here. Rendered as `istio-eastwestgateway` chart releases.",
    )
    federationGateways: list[GatewayAddress] = Field(
        default_factory=list,
        description="Federation gateway addresses: other meshes reach this cluster's exported services here, and "
                    "nothing else. Rendered as `istio-federationgateway` chart releases; imported endpoints in "
                    "consumer meshes point at them.",
    )
    rootOfTrust: Name | None = Field(None, description="Must equal the mesh's root when given (a cross-check; the mesh decides the CA).")


# --- services -------------------------------------------------------------------------------

Protocol = Literal["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTPS", "TLS", "TCP", "MONGO", "REDIS", "MYSQL"]


class ServicePort(Model):
    """A port of a service, as its Kubernetes Service declares it."""

    name: Name = Field(description="Port name (the ServiceEntry port name and endpoint port key).")
    number: Port = Field(description="Service port: in ServiceEntries, SNI names and routes.")
    protocol: Protocol = Field("TCP", description="Istio protocol of the port (`ServiceEntry` port protocol), "
                                                  "e.g. `HTTP`, `GRPC`, `TCP`.")
    targetPort: Port | None = Field(None, description="Port the workload listens on (defaults to `number`); "
                                                      "AuthorizationPolicies match it.")


class Instances(Model):
    """Where instances of a service run."""

    cluster: Name = Field(description="Name of an entry in `clusters` where instances of the service run; importers get an endpoint through that cluster's gateways.")
    count: int = Field(1, ge=1, le=100_000, description="Number of instances (pods) in that cluster.")
    weight: int | None = Field(None, ge=1, le=1_000_000, description="Explicit weight of this cluster's instances "
                                                                      "in gateway endpoint weights; defaults to `count`.")
    ports: list[ServicePort] | None = Field(
        None, description="Ports as deployed in this cluster, when they are declared per cluster."
    )


class Caller(Model):
    """An in-mesh workload identity allowed to call a service."""

    namespace: Name = Field(description="Namespace of the calling workloads.")
    serviceAccount: Name | None = Field(None, description="Service account of the callers; any when absent.")


class OutlierDetection(Model):
    """When Istio ejects an endpoint (a pod, or a whole gateway for remote ones); failover needs it."""

    consecutive5xxErrors: int | None = Field(None, ge=0, le=1_000_000, description="Consecutive 5xx (or TCP "
                                             "connect) errors before ejection; default 5.")
    consecutiveGatewayErrors: int | None = Field(None, ge=0, le=1_000_000, description="Consecutive 502, 503 or "
                                                 "504 errors before ejection.")
    interval: Duration | None = Field(None, description="Time between ejection sweeps; default 10s.")
    baseEjectionTime: Duration | None = Field(None, description="Minimum ejection duration; default 30s.")
    maxEjectionPercent: int | None = Field(None, ge=0, le=100, description="Upper bound of ejected endpoints, in "
                                                                           "percent.")


class Distribute(Model):
    """Traffic from one locality split by weight over localities (instead of ordered `failover`)."""

    model_config = ConfigDict(populate_by_name=False)

    from_: LocalitySelector = Field(alias="from", description="Callers' locality: `region/zone/*` or `region/*`.")
    to: dict[LocalitySelector, Annotated[int, Field(ge=1, le=100)]] = Field(
        min_length=1, description="Locality -> weight (1-100); the weights sum to 100.")


class Subset(Model):
    """A named subset of a service's workloads, for routing by version."""

    name: Name = Field(description="Subset name (in DestinationRule subsets and SNI names).")
    labels: dict[LabelKey, LabelValue] = Field(min_length=1, description="Workload labels that select the subset.")


class RetryBudget(Model):
    """Caps retries to a share of active requests (DestinationRule `retryBudget`, Istio 1.27+)."""

    percent: float | None = Field(None, ge=0, le=100, description="Retries allowed, as a percentage of active "
                                                                  "requests.")
    minRetryConcurrency: int | None = Field(None, ge=0, le=1_000_000, description="Retries always allowed "
                                            "concurrently, whatever the percentage.")


class TrafficPolicy(Model):
    """Load balancing of a service, rendered into the DestinationRules of its in-mesh, global and imported hosts."""

    outlierDetection: OutlierDetection | None = Field(None, description="Ejection settings; the defaults apply to "
                                                                        "fields not given.")
    distribute: list[Distribute] = Field(default_factory=list, description="Weighted locality distribution; never "
                                         "together with a `failover` entry of the same service.")
    subsets: list[Subset] = Field(default_factory=list, description="Named subsets by workload labels (`DestinationRule.spec.subsets`), e.g. `{name: v1, labels: {version: v1}}`.")
    retryBudget: RetryBudget | None = Field(None, description="Retry budget (needs Istio 1.27+ in every primary "
                                                              "that renders the service's rules).")


class Service(Model):
    """A service: where its instances run, its ports, and who may call it."""

    name: Name = Field(description="Kubernetes Service name; with `namespace` it forms the in-mesh host `<name>.<namespace>.svc.cluster.local` and the exported `<name>.<namespace>.<exportSuffix>`.")
    namespace: Name = Field(description="Kubernetes namespace; the same in every cluster it runs in.")
    serviceAccounts: list[Name] = Field(default_factory=list, description="Service accounts its pods run as: the "
                                        "SPIFFE identities consumers verify; defaults to the service name.")
    selector: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="Workload labels; defaults to "
                                                 "`app: <name>`. Selects pods in AuthorizationPolicies and ServiceEntries.")
    ports: list[ServicePort] = Field(min_length=1, description="Ports of the service, as importers' ServiceEntries and gateways carry them.")
    instances: list[Instances] = Field(min_length=1, description="Clusters where its instances run (imported endpoints, locality of failover and distribute).")
    callers: list[Caller] = Field(default_factory=list, description="In-mesh callers allowed; when given (or when "
                                  "the service is exported), an ALLOW policy admits only them and the consumers.")
    trafficPolicy: TrafficPolicy | None = Field(None, description="Outlier detection, locality distribution and "
                                                                  "subsets of the service's DestinationRules.")


class GlobalName(Model):
    """One name for a service across the clusters of its mesh (Admiral style), optionally joining services
    that live in differently named namespaces."""

    host: HostName = Field(description="The name callers in every cluster of the mesh use, e.g. "
                                       "`ledger.prod.global`; it gets an address from the lock.")
    mesh: Name = Field(description="The mesh whose clusters resolve the name.")
    services: list[ServiceRef] = Field(min_length=1, description="Services behind the name (`namespace/name`); "
                                       "traffic is split between them by instance weight.")
    address: IPAddress | None = Field(None, description="Pinned address of the name (else allocated).")


# --- exports --------------------------------------------------------------------------------


class Consumer(Model):
    """A consumer of an export: a whole mesh or one cluster, optionally narrowed to identities."""

    mesh: Name | None = Field(None, description="Consuming mesh: the import is rendered in all its primaries.")
    cluster: Name | None = Field(None, description="Consuming cluster: the import is rendered in its primary.")
    namespaces: list[Name] = Field(default_factory=list, description="Calling namespaces of the peer mesh allowed by the exporter's AuthorizationPolicy (all of the peer when empty).")
    serviceAccounts: list[ServiceAccountRef] = Field(
        default_factory=list,
        description="Calling identities as `namespace/serviceAccount`.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> Consumer:
        if (self.mesh is None) == (self.cluster is None):
            raise ValueError("a consumer names exactly one of `mesh` or `cluster`")
        return self


class Export(Model):
    """A service offered by its mesh to other meshes, reached through federation gateways."""

    service: ServiceRef = Field(description="The exported service as `namespace/name`.")
    mesh: Name = Field(description="The exporting mesh: its federation gateways serve the service to the consumers.")
    to: list[Consumer] = Field(min_length=1, description="Consumers: meshes or clusters of other meshes.")
    host: HostName | None = Field(None, description="Exported name; default `<name>.<namespace>.<exportSuffix>`.")
    address: IPAddress | None = Field(None, description="Pinned address of the imported host in consumers.")


# --- fleet ----------------------------------------------------------------------------------


class Failover(Model):
    """Locality failover preference for a service: regions in order of preference."""

    service: ServiceRef = Field(description="The service as `namespace/name`.")
    mesh: Name | None = Field(None, description="Only in this mesh (every mesh the service runs in when absent).")
    regions: list[Name] = Field(default_factory=list, description="Ordered regions, e.g. `[us-east1, us-west1]`: each fails over to the next (`localityLbSetting.failover` of the service's DestinationRule).")


class GitOps(Model):
    """Where the rendered output lives in Git, for the Argo CD and Flux objects under `gitops/`."""

    repoURL: Annotated[str, AfterValidator(_git_url)] = Field(
        "https://git.example.com/platform/fleet.git",
        description="Git repository Argo CD and Flux read (`repoURL`, `GitRepository.spec.url`).")
    revision: str = Field("main", min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._/-]+$",
                          description="Branch, tag, `refs/...` or commit the controllers follow.")
    path: Annotated[str, AfterValidator(_repo_path)] = Field("out", max_length=255, pattern=r"^[A-Za-z0-9._/-]*$",
                      description="Path of the output folder inside the repository.")
    secretRef: Name | None = Field(None, description="Flux: Secret (in `fluxNamespace`) with the repository's "
                                                     "credentials (`GitRepository.spec.secretRef`).")
    chartRepository: Annotated[str, AfterValidator(_chart_url)] = Field(
        "https://istio-release.storage.googleapis.com/charts",
        description="Helm repository of Istio's `base`, `istiod` and `gateway` charts.")
    argocdNamespace: Name = Field("argocd", description="Namespace of the Argo CD objects.")
    argocdProject: Name = Field("default", description="Argo CD project of the Applications.")
    fluxNamespace: Name = Field("flux-system", description="Namespace of the Flux objects and kubeconfig Secrets.")


class Budgets(Model):
    """Per-cluster sizes above which meshgen warns (W301): istiod and every sidecar hold all of it."""

    serviceEntriesPerCluster: int = Field(5000, ge=1, description="Imported ServiceEntries per config cluster.")
    endpointsPerCluster: int = Field(20000, ge=1, description="Endpoints of imported ServiceEntries per config cluster.")


class Settings(Model):
    """Fleet-wide settings."""

    istioVersion: IstioVersion = Field("1.28", description="Istio release of every cluster without its own "
                                       "`istioVersion`: chart versions, values and the CRDs output is checked against.")
    exportSuffix: DnsName = Field("global", description="Suffix of exported names: `<name>.<namespace>.<suffix>`.")
    addressRange: Cidr = Field(
        "240.10.0.0/16",
        description="Range for imported-service and global-name addresses; avoids Istio's 240.240.0.0/16 "
                    "auto-allocation.",
    )
    addressQuarantine: int = Field(
        10,
        ge=0,
        le=10_000,
        description="Renders that change meshgen.lock during which a released address is not reused (stale DNS).",
    )
    budgets: Budgets = Field(Budgets(), description="Per-cluster sizes above which meshgen warns.")
    importNamespace: Name = Field("istio-system", description="Namespace of imported and global-name objects.")
    gitops: GitOps = Field(GitOps(), description="Where the output lives in Git.")


class Metadata(Model):
    """The fleet's identity."""

    name: Name = Field(description="Fleet name: names the ApplicationSet, GitRepository and `meshgen.dev/fleet` "
                                   "labels.")


class Fleet(Model):
    """A fleet of clusters, the meshes they form and what each mesh exports to whom."""

    apiVersion: Literal["meshgen.dev/v1alpha1"] = Field(description="Always `meshgen.dev/v1alpha1`.")
    kind: Literal["Fleet"] = Field(description="Always `Fleet`.")
    metadata: Metadata = Field(description="The fleet's name.")
    settings: Settings = Field(Settings(), description="Fleet-wide settings: default Istio release, exported "
                                                       "names' suffix, address range, GitOps repository, budgets.")
    networks: list[Network] = Field(min_length=1, description="Networks: sets of endpoints that reach each other.")
    rootsOfTrust: list[RootOfTrust] = Field(min_length=1, description="Root CAs, by store reference.")
    meshes: list[Mesh] = Field(min_length=1, description="Meshes of the fleet.")
    clusters: list[Cluster] = Field(min_length=1, description="Clusters of the fleet.")
    services: list[Service] = Field(default_factory=list, description="Services meshgen knows about.")
    globalNames: list[GlobalName] = Field(default_factory=list, description="Names that reach a service in every "
                                                                            "cluster of its mesh.")
    exports: list[Export] = Field(default_factory=list, description="Services exported to other meshes.")
    failover: list[Failover] = Field(default_factory=list, description="Ordered region failover per service.")
