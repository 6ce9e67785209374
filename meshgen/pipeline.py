"""The stages in order: load -> check -> resolve -> render -> validate -> emit. Pure; no disk writes.

``build`` returns the whole output tree in memory; only ``meshgen.writer`` touches ``out/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from meshgen.checks import run_checks
from meshgen.diagnostics import Diagnostic, MeshgenError, Span, raise_if_errors
from meshgen.model import FleetModel
from meshgen.spec.loader import Loaded, load


@dataclass(frozen=True)
class Options:
    spec: Path
    out: Path = Path("out")
    validate_output: bool = True


@dataclass
class Build:
    model: FleetModel
    tree: dict[str, bytes]
    diagnostics: list[Diagnostic] = field(default_factory=list)


def read_spec(path: Path) -> Loaded:
    """Load and check a spec; raise MeshgenError with every located error found."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MeshgenError([Diagnostic("E501", f"cannot read spec: {exc.strerror}", Span(str(path)))]) from None
    loaded = load(data, str(path))
    raise_if_errors(loaded.diagnostics)
    loaded.diagnostics += run_checks(loaded.fleet, loaded.positions)
    raise_if_errors(loaded.diagnostics)
    return loaded


def resolve_model(loaded: Loaded) -> FleetModel:
    from meshgen.resolve import resolve

    return resolve(loaded.fleet, loaded.positions)


def build(options: Options) -> Build:
    """Everything up to the in-memory tree. Raises MeshgenError on any error diagnostic."""
    from meshgen.emit import emit
    from meshgen.render import render

    loaded = read_spec(options.spec)
    model = resolve_model(loaded)
    resources = render(model)
    diagnostics = list(loaded.diagnostics)
    if options.validate_output:
        from meshgen.conformance import validate_resources

        diagnostics += validate_resources(resources)
        raise_if_errors(diagnostics)
    return Build(model, emit(resources), diagnostics)
