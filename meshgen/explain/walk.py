"""One call, hop by hop: the plan a cluster's sidecars follow for a host and port (the same for every
service account of a namespace), then authorization for the caller's principal at each destination."""

from __future__ import annotations

from dataclasses import dataclass, field

from meshgen.explain import client, istio, paths, server
from meshgen.explain.fleet import Fleet, Origin
from meshgen.explain.hops import Caller, Explanation, Hop, hop
from meshgen.explain.paths import Destination


@dataclass
class Target:
    """A destination with the hops that do not depend on the caller's identity."""

    destination: Destination
    hops: list[Hop]
    mtls: bool  # the server sees the caller's principal


@dataclass
class Segment:
    """What one part of the plan adds: hops, then the targets they lead to (authorization goes after each).
    A ``way`` is one way to the pods a request may take (a leg); the other segments every request passes."""

    hops: list[Hop] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    way: bool = False

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hops) and all(h.ok for t in self.targets for h in t.hops) and \
            (bool(self.targets) or not self.way)


@dataclass
class Plan:
    segments: list[Segment] = field(default_factory=list)
    port: int | None = None  # the port asked for, or the host's only port

    @property
    def ok(self) -> bool:
        """Every request passes every hop before authorization, whichever way it takes."""
        return all(s.ok for s in self.segments) and bool(self.targets)

    @property
    def common_ok(self) -> bool:
        """The hops every request passes (name, service, route, endpoints) pass."""
        return all(s.ok for s in self.segments if not s.way)

    @property
    def ways(self) -> list[Segment]:
        return [s for s in self.segments if s.way]

    @property
    def targets(self) -> list[Target]:
        return [t for s in self.segments for t in s.targets]


def plan(fleet: Fleet, origin: Origin, namespace: str, host: str, port: int | None) -> Plan:
    dns, found = client.resolve(fleet, origin, namespace, host)
    result = Plan([Segment([dns])], port)
    if found is None:
        return result
    port = result.port = port if port is not None else only_port(found, host)
    service = client.service_hop(fleet, origin, namespace, found, host, port)
    result.segments[0].hops.append(service)
    if not service.ok:
        return result
    route, backends = client.backends(fleet, origin, namespace, found, host, port)
    if route is not None:
        result.segments[0].hops.append(route)
    for backend in backends:
        result.segments += backend_segments(fleet, origin, backend)
    return result


def only_port(found: client.Resolution, host: str) -> int:
    ports = client.ports_of(found.entry, found.service)
    if len(ports) != 1:
        raise ValueError(f"{host} has ports {', '.join(str(p) for p in ports)}: name one as HOST:PORT")
    return ports[0]


def backend_segments(fleet: Fleet, origin: Origin, backend: client.Backend) -> list[Segment]:
    endpoints, found = paths.legs(fleet, origin, backend)
    segments = [Segment([endpoints])] if endpoints is not None else []
    for leg in found:
        targets = [target(fleet, origin, backend, d) for d in leg.destinations]
        segments.append(Segment(list(leg.hops), targets, way=True))
    return segments


def target(fleet: Fleet, origin: Origin, backend: client.Backend, destination: Destination) -> Target:
    key = ("tls", _id(backend.rule), _id(backend.entry), backend.host, backend.port, destination.cluster,
           destination.key, destination.through_gateway)
    if key not in fleet.memo:  # the same objects (shared bodies) give the same answer in every primary
        fleet.memo[key] = server.tls_hop(fleet, backend, destination)
    tls, mtls = fleet.memo[key]
    hops = [tls, server.trust_hop(fleet, origin, destination)]
    if destination.listens != destination.target_port:
        hops.insert(0, hop("export", False, f"at {destination.cluster}: requests are sent to port "
                                            f"{destination.target_port}, but the pods of {destination.service.namespace}/"
                                            f"{destination.service.name} there listen on {destination.listens}",
                           spec=fleet.spec_of_service(destination.service)))
    return Target(destination, hops, mtls)


def _id(doc) -> int | None:
    return id(doc.body) if doc is not None else None


def principal_of(origin: Origin, namespace: str, account: str) -> str:
    return istio.spiffe(origin.trust_domain, namespace, account)


def explain(fleet: Fleet, caller: Caller, host: str, port: int | None) -> Explanation:
    """Every hop of one call, in order; raises ValueError when ``port`` is needed and missing."""
    origin = fleet.origin_of(caller.cluster)
    found = Explanation(caller, host, port)
    found.hops.append(client.caller_hop(fleet, origin, caller.namespace, caller.service_account))
    principal = principal_of(origin, caller.namespace, caller.service_account)
    planned = plan(fleet, origin, caller.namespace, host, port)
    found.port = planned.port
    for segment in planned.segments:
        found.hops += segment.hops
        for t in segment.targets:
            found.hops += t.hops
            found.hops.append(server.authorization_hop(fleet, t.destination, principal if t.mtls else None))
    return found
