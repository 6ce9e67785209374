"""Istio versions: the skew Istio supports between clusters that share a control plane, revisions that
follow the control plane, and features the version of a cluster lacks.

Skew rule (istio.io/latest/docs/releases/supported-releases/, "Control plane/data plane skew"): the
data plane may run one minor release behind its control plane, never ahead of it. A remote's workloads
are configured and injected by its primary's istiod, so a remote runs its primary's minor or the one
before (E215). Primaries of one mesh each serve their own data plane and Istio states no rule between
them; upgrades go one minor at a time, so primaries more than one minor apart are a warning (W213).
"""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic, Severity
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions

# Feature -> (first minor that has it, what it is). DestinationRule `trafficPolicy.retryBudget` is in
# the CRDs from 1.27 (crd-all.gen.yaml of each minor, schema/istio/<minor>/).
RETRY_BUDGET_SINCE = 27


def minor(version: str) -> int:
    return int(version.split(".")[1])


def cluster_minors(fleet: Fleet) -> dict[str, int]:
    default = fleet.settings.istioVersion
    return {c.name: minor(c.istioVersion or default) for c in fleet.clusters}


def skew(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    minors = cluster_minors(fleet)
    found = []
    for i, cluster in enumerate(fleet.clusters):
        primary = cluster.controlPlane.primary
        if primary not in minors:
            continue
        behind = minors[primary] - minors[cluster.name]
        if behind < 0 or behind > 1:
            where = positions.span(("clusters", i, "istioVersion"))
            found.append(Diagnostic("E215", f"remote cluster '{cluster.name}' runs Istio 1.{minors[cluster.name]} "
                                            f"and its primary '{primary}' runs 1.{minors[primary]}: a remote runs "
                                            "its primary's minor release or the one before",
                                    where, hint="upgrade the primary first, one minor release at a time"))
    return found + _mesh_spread(fleet, positions, minors)


def _mesh_spread(fleet: Fleet, positions: Positions, minors: dict[str, int]) -> list[Diagnostic]:
    found = []
    for i, mesh in enumerate(fleet.meshes):
        primaries = {c.name: minors[c.name] for c in fleet.clusters
                     if c.mesh == mesh.name and c.controlPlane.role == "primary"}
        if primaries and max(primaries.values()) - min(primaries.values()) > 1:
            shown = ", ".join(f"{name} 1.{m}" for name, m in sorted(primaries.items()))
            found.append(Diagnostic("W213", f"primaries of mesh '{mesh.name}' run Istio releases more than one minor "
                                            f"apart ({shown})", positions.span(("meshes", i)), Severity.WARNING,
                                    hint="upgrade clusters one minor release at a time"))
    return found


def revisions(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """A remote is injected and configured by its primary's istiod, so it has the primary's revision."""
    by_name = {c.name: c for c in fleet.clusters}
    found = []
    for i, cluster in enumerate(fleet.clusters):
        primary = by_name.get(cluster.controlPlane.primary or "")
        if primary is not None and cluster.revision is not None and cluster.revision != primary.revision:
            found.append(Diagnostic("E206", f"remote cluster '{cluster.name}' names revision '{cluster.revision}' but "
                                            f"its primary '{primary.name}' runs "
                                            f"{repr(primary.revision) if primary.revision else 'no revision'}",
                                    positions.span(("clusters", i, "revision")),
                                    hint="drop `revision` from the remote: it follows its primary"))
    return found


def features(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    """E216: a service's traffic policy asks for a field that a primary rendering its rules lacks."""
    minors = cluster_minors(fleet)
    found = []
    for i, service in enumerate(fleet.services):
        policy = service.trafficPolicy
        if policy is None or policy.retryBudget is None:
            continue
        older = sorted(c for c in rule_clusters(fleet, service) if minors[c] < RETRY_BUDGET_SINCE)
        if older:
            shown = ", ".join(f"{c} (1.{minors[c]})" for c in older)
            found.append(Diagnostic("E216", f"`retryBudget` needs Istio 1.{RETRY_BUDGET_SINCE} or later; the "
                                            f"DestinationRules of '{service.namespace}/{service.name}' go to {shown}",
                                    positions.span(("services", i, "trafficPolicy", "retryBudget")),
                                    hint=f"upgrade those clusters to 1.{RETRY_BUDGET_SINCE}+, or drop the field"))
    return found


def rule_clusters(fleet: Fleet, service) -> set[str]:
    """Primaries that receive a DestinationRule of the service: those of the meshes it runs in, and those
    of meshes its exports reach."""
    mesh_of = {c.name: c.mesh for c in fleet.clusters}
    meshes = {mesh_of[inst.cluster] for inst in service.instances}
    key = f"{service.namespace}/{service.name}"
    for export in fleet.exports:
        if export.service == key:
            meshes |= {consumer.mesh or mesh_of[consumer.cluster] for consumer in export.to}
    return {c.name for c in fleet.clusters if c.mesh in meshes and c.controlPlane.role == "primary"}


def check(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    return skew(fleet, positions) + revisions(fleet, positions) + features(fleet, positions)
