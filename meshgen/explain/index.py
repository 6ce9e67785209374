"""The rendered output, indexed once: per cluster bundle, what each kind of object says.

Built from the documents of ``clusters/<cluster>/`` only (``reader.read_tree``), never from the model:

* ``bootstrap/namespaces.yaml``: the cluster's network (the ``istio-system`` label, reference §5.3),
  its config cluster (a remote's ``topology.istio.io/controlPlaneClusters`` annotation, §5.2), and
  which namespaces exist with sidecar injection (``istio-injection`` or ``istio.io/rev``);
* ``bootstrap/secrets.yaml``: ``cacerts`` (which roots the cluster's istiod hands to its proxies);
* ``remote-secrets/``: which clusters a primary's istiod reads (reference §5.6);
* ``helm/``: istiod values (mesh ID, trust domain, peer trust domains, DNS capture) and one gateway
  release per file (east-west when it has a network, federation otherwise);
* ``mesh/``: the Istio configuration a primary's istiod reads for itself and its remotes, and each
  cluster's own CoreDNS ConfigMap;
* ``kustomization.yaml``: the cluster's Istio release (``meshgen.dev/istio-version``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from meshgen.explain.reader import Document

NETWORK_LABEL = "topology.istio.io/network"
CONTROL_PLANE_ANNOTATION = "topology.istio.io/controlPlaneClusters"
VERSION_ANNOTATION = "meshgen.dev/istio-version"
NETWORK_VIEW = "ISTIO_META_REQUESTED_NETWORK_VIEW"
GATEWAY_PORT_LABEL = "networking.istio.io/gatewayPort"
DEFAULT_GATEWAY_PORT = 15443
ROOT_NAMESPACE = "istio-system"
COREDNS_KEY = "meshgen.server"  # render.dns: the key of kube-system/coredns-custom holding the server blocks
_TEMPLATE = re.compile(r'template IN (?:A|AAAA) \{\s*match "([^"]+)"\s*answer "[^"]* IN (?:A|AAAA) ([^"\s]+)"')
_ZONE = re.compile(r"^(\S+):53 \{", re.MULTILINE)
_LOOKUP = re.compile(r'index \. "([^"]+)"')  # a Go-template lookup of a fetched value (render.trust)
_LITERAL = re.compile(r"\^((?:[-a-z0-9]|\[\.\])+)\$\Z")


@dataclass(frozen=True, eq=False)
class CoreDNS:
    """The cluster's CoreDNS server blocks: names the ``template`` plugin answers, and the zones."""

    doc: Document | None = None
    names: dict = field(default_factory=dict)  # fully qualified name (trailing dot) -> address
    patterns: tuple = ()  # (regular expression, address) for a match that is not one literal name
    zones: tuple = ()

    def answer(self, host: str) -> str | None:
        name = host.rstrip(".") + "."
        found = self.names.get(name)
        if found is None:
            found = next((address for pattern, address in self.patterns if re.fullmatch(pattern, name)), None)
        return found


@dataclass(frozen=True, eq=False)
class Release:
    """One ``gateway`` chart release: its pods' labels, its network (east-west) or view, its Service."""

    cluster: str
    name: str
    doc: Document
    network: str  # east-west: the network it is the gateway of; '' for a federation gateway
    view: str  # the network whose endpoints it sees (ISTIO_META_REQUESTED_NETWORK_VIEW)
    labels: dict
    address: str  # service.loadBalancerIP, '' when the chart values do not pin one
    ports: tuple  # ((service port, target port), ...)

    @property
    def east_west(self) -> bool:
        return bool(self.network)

    @property
    def tls_port(self) -> int:
        """The port istiod sends cross-network traffic to: label ``networking.istio.io/gatewayPort``,
        else 15443 ([NET] ``getGatewayDetails``, reference §1)."""
        return int(self.labels.get(GATEWAY_PORT_LABEL, DEFAULT_GATEWAY_PORT))


@dataclass(eq=False)
class Bundle:
    cluster: str
    docs: list[Document] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Document]:
        return self._kinds.get(kind, [])

    @cached_property
    def _kinds(self) -> dict[str, list[Document]]:
        found: dict[str, list[Document]] = {}
        for doc in self.docs:
            if isinstance(doc.body, dict) and "/helm/" not in doc.path:
                found.setdefault(doc.body.get("kind", ""), []).append(doc)
        return found

    @cached_property
    def namespaces(self) -> dict[str, Document]:
        return {_meta(d).get("name", ""): d for d in self.of_kind("Namespace")}

    @cached_property
    def network(self) -> str:
        system = self.namespaces.get(ROOT_NAMESPACE)
        return _meta(system.body).get("labels", {}).get(NETWORK_LABEL, "") if system else ""

    @cached_property
    def config_cluster(self) -> str:
        system = self.namespaces.get(ROOT_NAMESPACE)
        annotations = _meta(system.body).get("annotations", {}) if system else {}
        return annotations.get(CONTROL_PLANE_ANNOTATION, self.cluster)

    @cached_property
    def istio_minor(self) -> int:
        for doc in self.of_kind("Kustomization"):
            version = _meta(doc).get("annotations", {}).get(VERSION_ANNOTATION, "")
            if doc.path.count("/") == 2 and version.count(".") >= 1:
                return int(version.split(".")[1])
        return 0

    @cached_property
    def istiod(self) -> Document | None:
        return next((d for d in self._values() if _release_name(d).startswith("istiod")), None)

    @cached_property
    def mesh_config(self) -> dict:
        return (self.istiod.body or {}).get("meshConfig", {}) if self.istiod else {}

    @cached_property
    def gateways(self) -> list[Release]:
        return [gateway_release(self.cluster, d) for d in self._values() if _is_gateway(d)]

    @cached_property
    def cacerts(self) -> Document | None:
        return next((d for d in self.of_kind("ExternalSecret") if _meta(d).get("name") == "cacerts"), None)

    @cached_property
    def coredns(self) -> CoreDNS:
        for doc in self.of_kind("ConfigMap"):
            text = doc.body.get("data", {}).get(COREDNS_KEY)
            if text:
                names, patterns = {}, []
                for pattern, address in _TEMPLATE.findall(text):
                    literal = _LITERAL.match(pattern)
                    if literal:
                        names[literal.group(1).replace("[.]", ".")] = address
                    else:
                        patterns.append((pattern, address))
                return CoreDNS(doc, names, tuple(patterns), tuple(_ZONE.findall(text)))
        return CoreDNS()

    @cached_property
    def trust_roots(self) -> tuple[dict[str, tuple], tuple | None]:
        """(roots in cacerts' root-cert.pem: secret key -> (store, path, property), the mesh's own root:
        the entry render.trust names ``mesh-root``, which signs the cluster's intermediate)."""
        from meshgen.render.trust import MESH_ROOT_KEY

        if self.cacerts is None:
            return {}, None
        spec = self.cacerts.body.get("spec", {})
        template = spec.get("target", {}).get("template", {}).get("data", {}).get("root-cert.pem", "")
        sources = {}
        for entry in spec.get("data", []):
            store = entry.get("sourceRef", {}).get("storeRef", spec.get("secretStoreRef", {})).get("name", "")
            remote = entry.get("remoteRef", {})
            sources[entry.get("secretKey")] = (store, remote.get("key"), remote.get("property"))
        trusted = {key: sources[key] for key in _LOOKUP.findall(template) if key in sources}
        return trusted, sources.get(MESH_ROOT_KEY)

    @cached_property
    def registered(self) -> set[str]:
        """Clusters this cluster's istiod reads: itself and every cluster it holds a remote secret of."""
        prefix = "istio-remote-secret-"
        names = (_meta(d).get("name", "") for d in self.of_kind("ExternalSecret"))
        return {self.cluster} | {n[len(prefix):] for n in names if n.startswith(prefix)}

    @cached_property
    def by_host(self) -> dict[tuple[str, str], list[Document]]:
        """(kind, host) -> ServiceEntries, DestinationRules and VirtualServices of this config cluster."""
        found: dict[tuple[str, str], list[Document]] = {}
        for kind in ("ServiceEntry", "VirtualService"):
            for doc in self.of_kind(kind):
                for host in doc.body.get("spec", {}).get("hosts", []):
                    found.setdefault((kind, host), []).append(doc)
        for doc in self.of_kind("DestinationRule"):
            found.setdefault(("DestinationRule", doc.body.get("spec", {}).get("host", "")), []).append(doc)
        return found

    @cached_property
    def by_namespace(self) -> dict[tuple[str, str], list[Document]]:
        """(kind, namespace) -> PeerAuthentications and AuthorizationPolicies of this config cluster."""
        found: dict[tuple[str, str], list[Document]] = {}
        for kind in ("PeerAuthentication", "AuthorizationPolicy"):
            for doc in self.of_kind(kind):
                found.setdefault((kind, _meta(doc).get("namespace", "")), []).append(doc)
        return found

    def _values(self) -> list[Document]:
        return [d for d in self.docs if "/helm/" in d.path]


def _meta(doc) -> dict:
    body = doc.body if isinstance(doc, Document) else doc
    return body.get("metadata", {}) if isinstance(body, dict) else {}


def _release_name(doc: Document) -> str:
    return doc.path.rsplit("/", 1)[1].removesuffix("-values.yaml")


def _is_gateway(doc: Document) -> bool:
    body = doc.body if isinstance(doc.body, dict) else {}
    return "gateway" in _release_name(doc) and ("networkGateway" in body or NETWORK_VIEW in body.get("env", {})
                                                 or NETWORK_LABEL in body.get("labels", {}))


def gateway_release(cluster: str, doc: Document) -> Release:
    """The release's facts as the gateway chart reads its values (reference §5.4, [GWCHART]): the
    pods carry ``app: <name>`` and ``istio: <name without istio->`` unless ``labels`` overrides them;
    ``networkGateway`` makes it the network's gateway and sets its network view."""
    values = doc.body
    name = values.get("name") or _release_name(doc)
    labels = {"app": name, "istio": name.removeprefix("istio-"), **values.get("labels", {})}
    network = values.get("networkGateway") or values.get("labels", {}).get(NETWORK_LABEL, "")
    view = values.get("env", {}).get(NETWORK_VIEW) or values.get("networkGateway", "")
    service = values.get("service", {})
    ports = tuple((p.get("port"), p.get("targetPort", p.get("port"))) for p in service.get("ports", []))
    tls = values.get("networkGatewayPorts", {}).get("tls")
    if values.get("networkGateway") and not ports:  # the chart's network-gateway ports ([GWCHART])
        ports = ((tls["port"], tls.get("targetPort", tls["port"])),) if tls else ((15443, 15443),)
    return Release(cluster, name, doc, network, view, labels, service.get("loadBalancerIP", ""), ports)


class OutputIndex:
    """Every cluster bundle of a rendered tree."""

    def __init__(self, documents: list[Document]):
        self.bundles: dict[str, Bundle] = {}
        self._east_west: dict[tuple[str, str], list[Release]] = {}
        for doc in documents:
            cluster = doc.path.split("/", 2)[1]
            self.bundles.setdefault(cluster, Bundle(cluster)).docs.append(doc)

    def bundle(self, cluster: str) -> Bundle:
        return self.bundles[cluster]

    def config(self, cluster: str) -> Bundle:
        """The bundle whose Istio configuration applies to a cluster's proxies (its primary's)."""
        return self.bundles.get(self.bundles[cluster].config_cluster, self.bundles[cluster])

    def east_west_gateways(self, config: Bundle, network: str) -> list[Release]:
        """East-west gateways of ``network`` that the istiod of ``config`` knows (in the clusters it reads)."""
        key = (config.cluster, network)
        if key not in self._east_west:
            self._east_west[key] = [r for c in sorted(config.registered) if c in self.bundles
                                    for r in self.bundles[c].gateways if r.network == network]
        return self._east_west[key]

    @cached_property
    def releases_by_address(self) -> dict[str, list[Release]]:
        found: dict[str, list[Release]] = {}
        for bundle in self.bundles.values():
            for release in bundle.gateways:
                if release.address:
                    found.setdefault(release.address, []).append(release)
        return found
