"""Semantic checks of a schema-valid spec, one module per family, registered in one tuple."""

from __future__ import annotations

from meshgen.checks import names, network, services, traffic, federation, trust, versions
from meshgen.diagnostics import Diagnostic, sort_diagnostics
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions

CHECKS = (
    names.check,  # unique names, resolvable references (with did-you-mean)
    network.check,  # CIDRs, gateways for multi-network meshes, control-plane roles
    services.check,  # ports unique and the same wherever a service (or a global name) runs
    traffic.check,  # failover and distribute localities exist, weights, policy conflicts
    federation.check,  # exports: service runs in the mesh, consumers outside it, names unique
    trust.check,  # roots of trust per mesh and per federation edge; risky choices (warnings)
    versions.check,  # Istio version skew, revisions, features a cluster's version lacks
)


def run_checks(fleet: Fleet, positions: Positions) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for check in CHECKS:
        found += check(fleet, positions)
        if check is names.check and any(d.is_error for d in found):
            break  # later checks assume every reference resolves
    return sort_diagnostics(found)
