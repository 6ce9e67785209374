"""Build a resolved model from an inline YAML spec, as the pipeline does (load, check, resolve)."""

from __future__ import annotations

import textwrap

from meshgen.checks import run_checks
from meshgen.model import FleetModel
from meshgen.render import Resource
from meshgen.resolve import resolve
from meshgen.spec.loader import load

HEADER = """\
apiVersion: meshgen.dev/v1alpha1
kind: Fleet
metadata: {name: test}
"""


def model_from_yaml(text: str) -> FleetModel:
    """The model of ``HEADER + text``; fails the test on any error diagnostic of the spec."""
    loaded = load((HEADER + textwrap.dedent(text)).encode(), "<test>")
    errors = [d for d in loaded.diagnostics if d.is_error]
    assert not errors, errors
    errors = [d for d in run_checks(loaded.fleet, loaded.positions) if d.is_error]
    assert not errors, errors
    return resolve(loaded.fleet, loaded.positions)


def bodies(resources: list[Resource], cluster: str, kind: str | None = None) -> list[dict]:
    """Bodies of the resources rendered into one cluster's bundle, optionally of one kind."""
    prefix = f"clusters/{cluster}/"
    return [r.body for r in resources if r.path.startswith(prefix) and kind in (None, r.kind)]


def by_name(resources: list[Resource], cluster: str, kind: str) -> dict[str, dict]:
    return {b["metadata"]["name"]: b for b in bodies(resources, cluster, kind)}
