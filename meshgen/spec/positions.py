"""Source positions of every key and value of a spec, keyed by key path (filled by ``spec.tree``).

A key path is a tuple of mapping keys and list indexes, the same shape as a pydantic error
``loc``. ``span`` falls back to the nearest existing parent, so "field required" points at the
mapping that misses the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshgen.diagnostics import Span

Path = tuple


@dataclass
class Positions:
    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def span(self, path: Path, *, key: bool = False) -> Span:
        path = tuple(path)
        while True:
            table = self.keys if key and path in self.keys else self.values
            if path in table:
                line, col = table[path]
                return Span(self.file, line + 1, col + 1)
            if not path:
                return Span(self.file, 1, 1)
            path = path[:-1]
            key = False

    def key_span(self, path: Path) -> Span:
        return self.span(path, key=True)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
