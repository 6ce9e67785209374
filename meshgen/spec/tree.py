"""Composed YAML nodes -> plain data plus the position of every key and value, in one walk.

ruamel.yaml composes the node graph (with its C parser when ruamel.yaml.clib is installed, about
5x faster than the round-trip loader on large specs); this module builds the plain dicts, lists
and scalars pydantic validates, with YAML 1.2 scalar rules, merge keys (``<<``) and aliases, and
records positions as it goes. Duplicate keys and nesting that is too deep are refused here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from meshgen.spec.positions import Positions

STR = "tag:yaml.org,2002:str"
MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class TaggedValue:
    """A scalar with a tag YAML has no constructor for (e.g. ``!secret x``): kept, and refused by the schema."""

    tag: str
    value: str


class DuplicateKey(Exception):
    def __init__(self, key: str, node: Node):
        super().__init__(key)
        self.key, self.node = key, node


class TooDeep(Exception):
    def __init__(self, node: Node):
        super().__init__("too deep")
        self.node = node


def build(root: Node, file: str, max_depth: int, constructor: SafeConstructor) -> tuple[object, Positions]:
    """``constructor``: the composing YAML instance's, so scalars follow its YAML version's rules."""
    builder = _Builder(Positions(file), max_depth, constructor)
    builder.positions.values[()] = _mark(root)
    return builder.value(root, (), 0), builder.positions


def _mark(node: Node) -> tuple[int, int]:
    return (node.start_mark.line, node.start_mark.column)


class _Builder:
    def __init__(self, positions: Positions, max_depth: int, constructor: SafeConstructor):
        self.positions = positions
        self.max_depth = max_depth
        self.constructor = constructor
        self.built: dict[int, object] = {}  # node id -> value: an alias shares what its anchor built

    def value(self, node: Node, path: tuple, depth: int):
        known = self.built.get(id(node))
        if known is not None:
            return known
        if depth > self.max_depth:
            raise TooDeep(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            value = self.built[id(node)] = []
            for i, item in enumerate(node.value):
                child = (*path, i)
                self.positions.values[child] = _mark(item)
                value.append(self.value(item, child, depth + 1))
            return value
        value = self.built[id(node)] = {}
        self.mapping(node, value, path, depth)
        return value

    def mapping(self, node: MappingNode, into: dict, path: tuple, depth: int) -> None:
        """Explicit keys first, then merged mappings (``<<``) for the keys not set yet, in order.
        A merged key is located where its anchor spells it."""
        seen, merges = set(), []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                merges.append(value_node)
                continue
            key = self.scalar(key_node) if isinstance(key_node, ScalarNode) else str(key_node.start_mark)
            if key in seen:
                raise DuplicateKey(str(key), key_node)
            seen.add(key)
            if key in into:  # set by the mapping that merges this one: explicit keys win
                continue
            child = (*path, key)
            self.positions.keys[child] = _mark(key_node)
            self.positions.values[child] = _mark(value_node)
            into[key] = self.value(value_node, child, depth + 1)
        for source in merges:
            for merged in source.value if isinstance(source, SequenceNode) else [source]:
                if isinstance(merged, MappingNode):
                    self.mapping(merged, into, path, depth)

    def scalar(self, node: ScalarNode):
        if node.tag == STR:
            return node.value
        try:
            return self.constructor.construct_object(node)
        except ConstructorError:
            return TaggedValue(str(node.tag), node.value)
