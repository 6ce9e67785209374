"""Source positions of every node of a ruamel.yaml round-trip tree, keyed by key path.

A key path is a tuple of mapping keys and list indexes, the same shape as a pydantic error
``loc``. ``span`` falls back to the nearest existing parent, so "field required" points at the
mapping that misses the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ruamel.yaml.comments import CommentedMap, CommentedSeq

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


def index(root, file: str) -> Positions:
    positions = Positions(file)
    if hasattr(root, "lc"):
        positions.values[()] = (root.lc.line, root.lc.col)
    _walk(root, (), positions)
    return positions


def _walk(node, path: Path, positions: Positions) -> None:
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            child = (*path, key)
            owner = _owner(node, key)
            if owner is None:  # not expected: ruamel records every key it reads; fall back to the mapping
                positions.keys[child] = positions.values[child] = (node.lc.line, node.lc.col)
            else:
                positions.keys[child] = tuple(owner.lc.key(key))
                positions.values[child] = _value_position(owner.lc.value(key), value)
            _walk(value, child, positions)
    elif isinstance(node, CommentedSeq):
        for i, value in enumerate(node):
            child = (*path, i)
            positions.values[child] = _value_position(tuple(node.lc.item(i)), value)
            _walk(value, child, positions)


def _owner(node: CommentedMap, key) -> CommentedMap | None:
    """The mapping that spells ``key`` out: ``node`` itself, or the anchor merged in with ``<<: *anchor``."""
    if key in node.lc.data:
        return node
    for merged in getattr(node, "merge", ()):
        source = merged[1] if isinstance(merged, tuple) else merged
        if isinstance(source, CommentedMap) and key in source:
            return _owner(source, key)
    return None


def _value_position(fallback, value) -> tuple[int, int]:
    """Nested collections know their own first position; ruamel's value() may point at the key."""
    if isinstance(value, (CommentedMap, CommentedSeq)) and value.lc.line is not None:
        return (value.lc.line, value.lc.col)
    return tuple(fallback)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
