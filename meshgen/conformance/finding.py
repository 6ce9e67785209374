"""Finding: one rule broken at one field of one rendered object, and how field paths are spelled."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    path: str  # JSON path of the field, e.g. "spec.servers[0].port.number"; "" for the whole object
    message: str
    rule: str  # e.g. "schema", "cel", "SE10", "GW1", "kube/name"
    severity: str = ERROR

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message} [{self.rule}]"


def child(path: str, key: str | int) -> str:
    """Extend a path: a field name joins with '.', a list index or map key goes in brackets."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not path:
        return key
    return f"{path}.{key}"


def entry(path: str, key: str) -> str:
    """A map entry (label, port name...): its key in brackets."""
    return f"{path}[{key}]"


def join(parts) -> str:
    """A path from the parts of a JSON Schema validator's instance path."""
    path = ""
    for part in parts:
        path = child(path, part)
    return path
