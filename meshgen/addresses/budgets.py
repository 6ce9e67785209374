"""Istio's per-object limits and the fleet's per-cluster budgets, checked on the resolved model.

E304: an imported ServiceEntry would carry more ports, addresses or endpoints than the CRD allows.
W301: a cluster carries more imported ServiceEntries or endpoints than ``settings.budgets``.
"""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic, Severity

MAX_PER_SERVICE_ENTRY = 256  # addresses and ports (CRD maxItems)
MAX_ENDPOINTS_PER_SERVICE_ENTRY = 4096  # endpoints (CRD maxItems)


def check_limits(model) -> list[Diagnostic]:
    """E304 for an imported ServiceEntry over Istio's limits; W301 for a cluster over its budget."""
    found = []
    for export in model.exports:
        found += _entry_limits(model, export)
    budgets = model.fleet.settings.budgets
    for cluster in model.clusters:
        imports = model.imports_for(cluster)
        found += _over_budget(model, cluster, "imported ServiceEntries", len(imports), budgets.serviceEntriesPerCluster)
        endpoints = sum(len(e.endpoints) for e in imports)
        found += _over_budget(model, cluster, "imported endpoints", endpoints, budgets.endpointsPerCluster)
    return found


def _entry_limits(model, export) -> list[Diagnostic]:
    ports = {p.name for placement in model.placements(export.service, export.mesh.name) for p in placement.ports}
    counts = (("ports", len(ports) or len(export.service.ports), MAX_PER_SERVICE_ENTRY),
              ("addresses", 1, MAX_PER_SERVICE_ENTRY),
              ("endpoints", len(export.endpoints), MAX_ENDPOINTS_PER_SERVICE_ENTRY))
    return [
        Diagnostic("E304", f"the ServiceEntry of '{export.host}' would carry {count} {what}; Istio accepts at most "
                           f"{limit}", export.origin, hint="split the service, or export fewer gateways")
        for what, count, limit in counts if count > limit
    ]


def _over_budget(model, cluster: str, what: str, count: int, budget: int) -> list[Diagnostic]:
    if count <= budget:
        return []
    message = f"cluster '{cluster}' carries {count} {what}, over the budget of {budget}"
    return [Diagnostic("W301", message, model.origin("clusters", cluster), Severity.WARNING,
                       hint="raise settings.budgets if istiod and the sidecars are sized for it")]
