"""Traffic policy: failover regions and distributed localities exist in the fleet, distribute weights
sum to 100, a service is never given both ordered failover and a weighted distribution, subset names
are unique. Locality rules need clusters that say where they run: a rule over clusters that do not
is reported (W212) rather than silently rendered to nothing."""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic, Severity
from meshgen.spec.loader import did_you_mean
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions


def known_localities(fleet: Fleet, meshes: set[str] | None = None) -> tuple[set[str], set[str]]:
    """(regions, region/zone pairs) of every cluster (of ``meshes``) that declares a locality."""
    regions, zones = set(), set()
    for cluster in fleet.clusters:
        if cluster.locality is not None and (meshes is None or cluster.mesh in meshes):
            regions.add(cluster.locality.region)
            if cluster.locality.zone:
                zones.add(f"{cluster.locality.region}/{cluster.locality.zone}")
    return regions, zones


def service_meshes(fleet: Fleet) -> dict[str, set[str]]:
    """``namespace/name`` -> the meshes the service runs in."""
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    found: dict[str, set[str]] = {}
    for service in fleet.services:
        found.setdefault(f"{service.namespace}/{service.name}", set()).update(mesh_of[i.cluster] for i in service.instances)
    return found


def failover_regions(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """A failover entry names a mesh the service runs in, and regions its clusters there run in."""
    found = []
    meshes_of = service_meshes(fleet)
    for i, entry in enumerate(fleet.failover):
        meshes = meshes_of[entry.service]
        if entry.mesh is not None and entry.mesh not in meshes:
            found.append(Diagnostic("E208", f"failover of '{entry.service}' names mesh '{entry.mesh}', where the "
                                            f"service has no instances (it runs in {', '.join(sorted(meshes))})",
                                    positions.span(("failover", i, "mesh")), hint="name a mesh the service runs in"))
            continue
        regions, _ = known_localities(fleet, {entry.mesh} if entry.mesh else meshes)
        for j, region in enumerate(entry.regions):
            if region not in regions:
                found.append(_unknown("region", region, sorted(regions), positions.span(("failover", i, "regions", j))))
    return found


def distribute_localities(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """Each locality of a `distribute` rule names a region (and zone) some cluster runs in; weights sum to 100."""
    found = []
    meshes_of = service_meshes(fleet)
    for i, service in enumerate(fleet.services):
        policy = service.trafficPolicy
        if not (policy and policy.distribute):
            continue
        regions, zones = known_localities(fleet, meshes_of[f"{service.namespace}/{service.name}"])
        seen: dict[str, int] = {}
        for j, rule in enumerate(policy.distribute):
            where = ("services", i, "trafficPolicy", "distribute", j)
            if rule.from_ in seen:
                found.append(Diagnostic("E217", f"`distribute` from '{rule.from_}' is already given at line "
                                                f"{positions.span((*where[:-1], seen[rule.from_])).line}",
                                        positions.span((*where, "from")),
                                        hint="Istio takes one rule per source locality; merge the two `to` mappings"))
            seen.setdefault(rule.from_, j)
            found += _locality(rule.from_, regions, zones, positions.span((*where, "from")))
            for target in rule.to:
                found += _locality(target, regions, zones, positions.key_span((*where, "to", target)))
            total = sum(rule.to.values())
            if total != 100:
                found.append(Diagnostic("E217", f"the weights of `distribute` from '{rule.from_}' sum to {total}, "
                                                "not 100", positions.span((*where, "to")),
                                        hint="Istio requires each `to` mapping to sum to exactly 100"))
    return found


def _locality(locality: str, regions: set[str], zones: set[str], span) -> list[Diagnostic]:
    parts = locality.split("/")
    if parts[0] == "*":
        return []
    if parts[0] not in regions:
        return [_unknown("region", parts[0], sorted(regions), span)]
    if len(parts) > 1 and parts[1] != "*" and f"{parts[0]}/{parts[1]}" not in zones:
        known = sorted(z.split("/")[1] for z in zones if z.startswith(f"{parts[0]}/"))
        return [_unknown("zone", parts[1], known, span, f" of region '{parts[0]}'")]
    return []


def _unknown(what: str, name: str, known: list[str], span, where: str = "") -> Diagnostic:
    hint = did_you_mean(name, known) or (f"known: {', '.join(known[:8])}" if known else
                                         "no cluster of the service's mesh declares a `locality`")
    return Diagnostic("E202", f"unknown {what} '{name}'{where}: no cluster of the service runs there", span, hint=hint)


def policy_conflicts(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """Istio rejects `failover` together with `distribute` in one rule (validator DR8)."""
    failover = {}
    for i, entry in enumerate(fleet.failover):
        failover.setdefault(entry.service, i)
    found = []
    for i, service in enumerate(fleet.services):
        policy = service.trafficPolicy
        key = f"{service.namespace}/{service.name}"
        if policy and policy.distribute and key in failover:
            line = positions.span(("failover", failover[key])).line
            found.append(Diagnostic("E217", f"service '{key}' has both a weighted `distribute` and ordered "
                                            f"`failover` (line {line})",
                                    positions.span(("services", i, "trafficPolicy", "distribute")),
                                    hint="choose one: Istio allows only one of them in a locality rule"))
        found += _subset_names(policy, positions, i, key)
    return found


def _subset_names(policy, positions: Positions, i: int, service: str) -> list[Diagnostic]:
    seen: dict[str, int] = {}
    found = []
    for j, subset in enumerate(policy.subsets if policy else ()):
        path = ("services", i, "trafficPolicy", "subsets")
        if subset.name in seen:
            first = positions.span((*path, seen[subset.name], "name")).line
            found.append(Diagnostic("E201", f"service '{service}' declares subset '{subset.name}' twice",
                                    positions.span((*path, j, "name")),
                                    hint=f"first declared at line {first}; subset names are unique per service"))
        seen.setdefault(subset.name, j)
    return found


def unlocated_clusters(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """W212: a locality rule of a service that runs in clusters without a `locality` cannot steer them."""
    unlocated = {c.name for c in fleet.clusters if c.locality is None}
    failing_over = {f.service for f in fleet.failover}
    found = []
    for i, service in enumerate(fleet.services):
        has_rule = bool(service.trafficPolicy and service.trafficPolicy.distribute) or \
            f"{service.namespace}/{service.name}" in failing_over
        missing = sorted({inst.cluster for inst in service.instances} & unlocated)
        if has_rule and missing:
            which = f"cluster {missing[0]} declares" if len(missing) == 1 else f"clusters {', '.join(missing)} declare"
            found.append(Diagnostic("W212", f"service '{service.namespace}/{service.name}' has a locality rule, but "
                                            f"{which} no `locality`: the rule cannot place their instances",
                                    positions.span(("services", i)), Severity.WARNING,
                                    hint="add `locality: {region: ..., zone: ...}` to them"))
    return found


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    return (failover_regions(fleet, positions) + distribute_localities(fleet, positions)
            + policy_conflicts(fleet, positions) + unlocated_clusters(fleet, positions))
