"""global-names.yaml (primaries of the name's mesh): one name for a service in every cluster of its mesh.

Admiral gives each service a global name whose ServiceEntry, in each cluster, lists the local
instances and the other clusters' gateways with their localities and weights (reference §4.6). In a
meshgen mesh every primary already discovers the service's endpoints in every cluster (remote
secrets) and Istio's split-horizon EDS already replaces remote-network endpoints by their network's
east-west gateways with locality and weight (reference §7.2); so the global name only has to lead to
the in-mesh hosts:

* a ``ServiceEntry`` for the name with its allocated address (DNS capture answers it; an address
  also keeps sidecars from matching every destination on the port), the services' ports,
  ``resolution: NONE``, in ``settings.importNamespace``;
* a ``VirtualService`` for the name that routes each port to the in-mesh host
  ``<name>.<namespace>.svc.cluster.local`` of every service behind it, split by the instance weight
  each has in the mesh. A name may join services of differently named namespaces this way (Istio
  never merges same-host ServiceEntries of different namespaces: ``sidecar.go``
  ``canMergeServices``), at the cost of locality: the split between namespaces is by weight; locality
  failover and ``distribute`` apply within each service (its DestinationRule in traffic.yaml).

Authorization is by workload identity, so the services' own ALLOW policies (``callers``) close the
name exactly as they close the services.
"""

from __future__ import annotations

from meshgen.model import FleetModel, GlobalNameNode
from meshgen.render import bundle_path
from meshgen.render.bundles import MESH
from meshgen.render.common import metadata, obj
from meshgen.render.resource import Resource

NETWORKING = "networking.istio.io/v1"
FILE = "global-names.yaml"
HTTP_FAMILY = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB"}
TLS_FAMILY = {"HTTPS", "TLS"}


def render(model: FleetModel) -> list[Resource]:
    out = []
    for name in model.global_names:
        bodies = (service_entry(model, name), virtual_service(model, name))
        for primary in model.primaries(name.mesh.name):
            out += [Resource(bundle_path(primary.name, FILE, MESH), body, name.origin) for body in bodies]
    return out


def _ports(name: GlobalNameNode) -> list:
    """The ports of the services behind the name (they agree: E207)."""
    return list(name.backends[0][0].ports)


def service_entry(model: FleetModel, name: GlobalNameNode) -> dict:
    spec = {
        "hosts": [name.host],
        "addresses": [model.addresses[name.host]],
        "ports": [{"name": p.name, "number": p.number, "protocol": p.protocol} for p in _ports(name)],
        "location": "MESH_INTERNAL",
        "resolution": "NONE",
    }
    return obj(NETWORKING, "ServiceEntry", metadata(name.host, model.fleet.settings.importNamespace), spec=spec)


def virtual_service(model: FleetModel, name: GlobalNameNode) -> dict:
    spec: dict = {"hosts": [name.host]}
    for port in _ports(name):
        kind = "http" if port.protocol in HTTP_FAMILY else "tls" if port.protocol in TLS_FAMILY else "tcp"
        match = {"port": port.number, **({"sniHosts": [name.host]} if kind == "tls" else {})}
        spec.setdefault(kind, []).append({"match": [match], "route": routes(model, name, port.number)})
    return obj(NETWORKING, "VirtualService", metadata(name.host, model.fleet.settings.importNamespace), spec=spec)


def routes(model: FleetModel, name: GlobalNameNode, port: int) -> list[dict]:
    destinations = [{"destination": {"host": model.host(service), "port": {"number": port}}}
                    for service, _ in name.backends]
    if len(destinations) > 1:
        for route, weight in zip(destinations, percentages([w for _, w in name.backends])):
            route["weight"] = weight
    return destinations


def percentages(weights: list[int]) -> list[int]:
    """Whole percentages proportional to ``weights``, each at least 1, summing to 100 (largest remainder)."""
    total = sum(weights)
    exact = [100 * w / total for w in weights]
    shares = [max(1, int(x)) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - int(exact[i])), i))
    step = 1 if sum(shares) < 100 else -1
    i = 0
    while sum(shares) != 100:
        k = order[i % len(order)] if step == 1 else order[-1 - i % len(order)]
        if step == 1 or shares[k] > 1:
            shares[k] += step
        i += 1
    return shares
