"""Source positions of every key and value of a spec, keyed by key path (filled by ``spec.tree``).

A key path is a tuple of mapping keys and list indexes, the same shape as a pydantic error
``loc``. ``span`` falls back to the nearest existing parent, so "field required" points at the
mapping that misses the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from meshgen.diagnostics import Diagnostic, Span

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

    def path_at(self, span: Span) -> Path | None:
        """The key path of the node that starts at ``span`` (the outermost one when several start
        there, e.g. a list item and its first key), or None."""
        if span.file != self.file or not span.line:
            return None
        if "_starts" not in self.__dict__:
            starts: dict[tuple[int, int], Path] = {}
            for table in (self.values, self.keys):
                for path, (line, col) in table.items():
                    known = starts.get((line + 1, col + 1))
                    if known is None or table is self.values and len(path) < len(known):
                        starts[(line + 1, col + 1)] = path
            self._starts = starts
        return self._starts.get((span.line, span.col))


_DOTTED_INDEX = re.compile(r"\.(\d+)(?=\.|$)")


def with_paths(diagnostics, positions: Positions, rendered: bool = False) -> list[Diagnostic]:
    """Every diagnostic about the spec gets its key path in one shape, ``clusters[1].mesh`` (from its
    position when the check gave none, or gave the dotted ``clusters.1.mesh``). ``rendered``: the
    diagnostics are about rendered objects, whose own field path (``spec.url``) their message names;
    their ``path`` becomes the spec's too."""
    out = []
    for d in diagnostics:
        path = "" if rendered else d.path
        if not path or _DOTTED_INDEX.search(path):
            found = positions.path_at(d.span)
            path = format_path(found) if found else _DOTTED_INDEX.sub(r"[\1]", path)
        out.append(d if path == d.path else replace(d, path=path))
    return out


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
