"""Validate means render: every spec `meshgen validate` accepts renders with no error (issue 14, item 2).

The output rules (schemas, CEL, Istio's webhook rules, Kubernetes names) are the truth; the spec's
own checks must imply them. Hypothesis mutates a small valid fleet (every feature present) and
generates values at the edges of what the spec allows: long and odd names, hosts, labels, ports,
durations, weights, localities, URLs. Whenever the loader and the checks accept the mutant, the
whole build (render, validation of every object, emit) must succeed. A fixed seed and a budget of a
few thousand examples keep it deterministic in CI.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, seed, settings

from meshgen.checks import run_checks
from meshgen.diagnostics import MeshgenError
from meshgen.emit import dump_yaml, emit
from meshgen.render import render
from meshgen.resolve import resolve
from meshgen.addresses import allocate_fleet
from meshgen.conformance import validate_resources
from meshgen.pipeline import release_of
from meshgen.spec.loader import load

from mutants import BASE, mutants


def accepted(tree: dict):
    """The model when the loader and every check accept the spec (warnings allowed), else None."""
    loaded = load(dump_yaml(tree).encode(), "fleet.yaml")
    if loaded.fleet is None or any(d.is_error for d in run_checks(loaded.fleet, loaded.positions)):
        return None
    lock, problems = allocate_fleet(loaded.fleet, loaded.positions, "", "meshgen.lock")
    if problems:
        return None
    return resolve(loaded.fleet, loaded.positions, {e.host: str(e.address) for e in lock.entries})


def assert_renders(model) -> None:
    try:
        resources = render(model)
        errors = [d for d in validate_resources(resources, release_of(model)) if d.is_error]
        emit(resources)
    except MeshgenError as exc:
        errors = exc.diagnostics
    assert not errors, "validate accepted a spec that render refuses:\n" + "\n".join(d.format() for d in errors[:5])


def test_the_base_is_accepted_and_renders():
    model = accepted(BASE)
    assert model is not None
    assert_renders(model)


@seed(20261203)
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutants())
def test_every_accepted_mutant_renders(tree):
    model = accepted(tree)
    if model is not None:
        assert_renders(model)
