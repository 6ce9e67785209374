"""The reachability matrix computed from the rendered output, compared with the grants of the spec.

Every probe (``probes``) of every cluster is evaluated against every target (``Verdicts``): allowed
when the caller hop, the plan (``walk.plan``: DNS, service, route, endpoints, gateways, TLS, trust)
and authorization at every destination all pass. Calls made straight to a federation gateway, with
any host it lists, are evaluated too (``exposure``).

``Matrix.mismatches`` lists every pair where the output and the Grant rows of ``meshgen access``
disagree. One kind is known and documented: authorization cannot tell the clusters of a mesh apart,
so a consumer ``cluster:`` narrows where imports are rendered, not who may call (docs/limitations.md);
a probe allowed in a cluster its grant does not name, while the same identity is granted in another
cluster of its mesh, is marked ``documented`` (``probes.widened``). A direct call need not be possible for a granted pair (the routed one is
what the grant promises), so direct calls only count when they allow what no grant covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshgen.access import ANY, Grant, access_matrix
from meshgen.explain.exposure import Exposure, direct_destinations, direct_probe, exported, listed_hosts, ports_behind
from meshgen.explain.fleet import Fleet, Origin
from meshgen.explain.probes import Probe, all_targets, coverage_index, probes_of, rendered_principals, resolvable, widened
from meshgen.explain.verdicts import ALL, NONE, SOME, Verdicts, distinct_profiles


@dataclass(frozen=True)
class Mismatch:
    probe: Probe
    host: str
    port: int
    allowed: bool  # True: the output allows (at least some ways) what no grant covers; False: a grant it refuses
    documented: bool = False
    partly: bool = False  # some ways a request may take pass, others do not


@dataclass
class Matrix:
    probes: dict[str, list[Probe]] = field(default_factory=dict)  # mesh -> its probes (cluster left empty)
    mesh_of: dict[str, str] = field(default_factory=dict)  # cluster -> mesh
    # (cluster, host, port) -> per probe: ALL (every way a request may take passes), SOME, or NONE
    cells: dict[tuple[str, str, int], tuple[int, ...]] = field(default_factory=dict)
    # (caller mesh, "<host> via <gateway>", port) -> the same, for calls made straight to a federation gateway
    direct: dict[tuple[str, str, int], tuple[int, ...]] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    exposed: list[Exposure] = field(default_factory=list)  # hosts a federation gateway lists but no export names
    pairs: int = 0  # probe x target pairs evaluated, those refused at DNS included

    @property
    def equal(self) -> bool:
        """Output and grants agree, but for documented differences."""
        return not self.exposed and not [m for m in self.mismatches if not m.documented]

    @property
    def reachable(self) -> dict[tuple, list[str]]:
        """(caller mesh, namespace, service account, host, port) -> clusters whose probe may call, marked
        ``(partly)`` when only some ways a request may take let it through."""
        found: dict[tuple, list[str]] = {}
        for (cluster, host, port), states in sorted(self.cells.items()):
            for probe, state in zip(self.probes[self.mesh_of[cluster]], states):
                if state != NONE:
                    found.setdefault((probe.mesh, probe.namespace, probe.service_account, host, port), []).append(
                        cluster if state == ALL else f"{cluster} (partly)")
        return found


def reachability(fleet: Fleet, grants: list[Grant] | None = None, shortcuts: bool = True) -> Matrix:
    return Evaluator(fleet, shortcuts).run(access_matrix(fleet.model) if grants is None else grants)


class Evaluator:
    """Every probe against every target, compared with the grants (``Verdicts`` decides)."""

    def __init__(self, fleet: Fleet, shortcuts: bool = True):
        self.fleet = fleet
        self.verdicts = Verdicts(fleet, shortcuts)
        self._expected: dict[tuple, tuple] = {}  # (granted pairs, mesh) -> what the grants cover, per probe
        self._names: dict[str, tuple] = {}
        self._coverage: dict[tuple, set] = {}

    def run(self, grants: list[Grant]) -> Matrix:
        found = Matrix()
        targets = all_targets(self.fleet)
        rows: dict[tuple[str, int], list[Grant]] = {}
        for grant in grants:
            rows.setdefault((grant.host, grant.port), []).append(grant)
        self._coverage = coverage_index(grants)
        rendered = rendered_principals(self.fleet)
        for cluster in sorted(self.fleet.index.bundles):
            origin = self.fleet.origin_of(cluster)
            found.mesh_of[cluster] = origin.mesh
            if origin.mesh not in found.probes:
                found.probes[origin.mesh] = probes_of(self.fleet, origin, grants, rendered)
            found.pairs += len(found.probes[origin.mesh]) * len(targets)
            for host, port in targets:
                self._target(found, origin, found.probes[origin.mesh], host, port, rows.get((host, port), []))
        self._gateways(found)
        return found

    def _gateways(self, found: Matrix) -> None:
        """Calls made straight to each federation gateway, with any host it lists (``exposure``)."""
        callers: dict[str, Origin] = {}
        for cluster in sorted(found.mesh_of):
            callers.setdefault(found.mesh_of[cluster], self.fleet.origin_of(cluster))
        for release, address, host in listed_hosts(self.fleet):
            if not exported(self.fleet, release, host):
                found.exposed.append(Exposure(release.cluster, release.name, host))
            owner = self.fleet.origin_of(release.cluster).mesh
            for port in ports_behind(self.fleet, release, host):
                behind = direct_destinations(self.fleet, release, address, host, port)
                profiles = distinct_profiles(self.verdicts.profile(d, True) for d in behind)
                for mesh, caller in callers.items():
                    found.pairs += len(found.probes[mesh])
                    if mesh != owner and behind and all(self.verdicts.accepts(caller, d) for d in behind):
                        self._direct(found, caller, profiles, f"{host} via {address}", host, port)

    def _direct(self, found: Matrix, caller: Origin, profiles: tuple, label: str, host: str, port: int) -> None:
        """A direct call that passes everything before authorization: allowed where the policies say so;
        that must be granted (a granted pair need not be reachable this way, so no mismatch the other way)."""
        probes = found.probes[caller.mesh]
        verdicts = self.verdicts.combined(profiles, caller, probes)
        if not any(verdicts):
            return
        found.direct[(caller.mesh, label, port)] = tuple(ALL if v else NONE for v in verdicts)
        granted = set().union(*(self._coverage.get((host, port, caller.mesh, c.name), set())
                                for c in self.fleet.model.mesh_clusters(caller.mesh)))
        expected = self.expected(granted, caller.mesh, probes) if granted else (NONE,) * len(probes)
        for probe, allowed, covered in zip(probes, verdicts, expected):
            if allowed and covered == NONE:
                found.mismatches.append(Mismatch(direct_probe(probe), label, port, True))

    def _target(self, found: Matrix, origin: Origin, probes: list[Probe], host: str, port: int, rows: list[Grant]) -> None:
        """A granted probe must pass every way (ALL); one no grant covers, none (NONE)."""
        granted = self._coverage.get((host, port, origin.mesh, origin.cluster))
        expected = self.expected(granted, origin.mesh, probes) if granted else None
        states = self.verdicts.of(origin, probes, host, port) if self._resolvable(origin, host) else None
        if states is not None and any(states):
            found.cells[(origin.cluster, host, port)] = states
        if states == expected or (expected is None and not (states and any(states))):
            return
        for i, probe in enumerate(probes):
            state, covered = states[i] if states else NONE, expected[i] if expected else NONE
            if state != covered:
                probe = probe.in_cluster(origin.cluster)
                allowed = not covered
                found.mismatches.append(Mismatch(probe, host, port, allowed, allowed and widened(rows, probe),
                                                 state == SOME))

    def _resolvable(self, origin: Origin, host: str) -> bool:
        if origin.cluster not in self._names:
            config, coredns = origin.config, origin.bundle.coredns
            names = {h for kind, h in config.by_host if kind == "ServiceEntry"} | {n.rstrip(".") for n in coredns.names}
            names |= {self.fleet.model.host(s) for s in self.fleet.model.services_in_mesh(origin.mesh)}
            self._names[origin.cluster] = (frozenset(names), bool(coredns.patterns))
        names, patterns = self._names[origin.cluster]
        return host in names or (patterns and resolvable(self.fleet, origin, host))

    def expected(self, granted: set, mesh: str, probes: list[Probe]) -> tuple:
        key = (frozenset(granted), mesh)
        if key not in self._expected:
            self._expected[key] = tuple(ALL if (p.namespace, p.service_account) in granted or (p.namespace, ANY) in granted
                                        or (ANY, ANY) in granted else NONE for p in probes)
        return self._expected[key]

