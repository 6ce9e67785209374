"""YAML parser events -> plain data plus the position of every key and value, in one pass.

ruamel.yaml's parser (libyaml's, through ruamel.yaml.clib, when installed) streams events without
recursing; this module composes them with an explicit stack. That is what bounds the input before
anything expensive happens: nesting deeper than ``Limits.depth`` stops at the event that crosses it
(ruamel's C composer recursed once per level and crashed on ~30,000 levels), and alias expansion
is counted as it is built, so a billion-laughs document stops at the alias that crosses
``Limits.nodes`` without expanding anything. An alias shares the value its anchor built.

Scalars follow YAML 1.2 core rules, plus merge keys (``<<``). Only plain data is accepted: a tag
other than the core scalar tags (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
``!!timestamp``) or the default collection tags, a collection as a mapping key, a scalar that does
not fit its tag, a recursive alias, and a duplicate key are refused with the event's position.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml.events import (
    AliasEvent, DocumentStartEvent, MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import ScalarNode

from meshgen.spec.positions import Positions

TAG = "tag:yaml.org,2002:"
STR, NULL, MERGE = TAG + "str", TAG + "null", TAG + "merge"
SCALAR_TAGS = {TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp")}
COLLECTION_TAGS = {None, "!", TAG + "map", TAG + "seq"}


@dataclass(frozen=True)
class Limits:
    """Nesting depth; nodes once aliases are expanded: at most ``nodes``, and at most ``ratio`` times
    the nodes written (a spec below ``floor`` expanded nodes always passes the ratio test)."""

    depth: int = 64
    nodes: int = 2_000_000
    ratio: int = 10
    floor: int = 100_000


class Refused(Exception):
    """Input the builder does not accept; ``mark`` is the parser mark of the offending event."""

    code = "E008"
    hint = ""

    def __init__(self, message: str, mark, hint: str = "", path: tuple = ()):
        super().__init__(message)
        self.message, self.mark, self.path = message, mark, path
        self.hint = hint or self.hint


class DuplicateKey(Refused):
    code = "E003"
    hint = "remove one of them, or merge their values"


class TooDeep(Refused):
    code = "E004"


class TooBig(Refused):
    code = "E004"


class UndefinedAlias(Refused):
    code = "E002"


@dataclass
class Document:
    value: object
    mark: object  # where the document's root node starts
    empty: bool  # an empty (null) document: `---` alone, or only comments


_NO_KEY = object()  # a mapping frame waiting for its next key


class _Frame:
    __slots__ = ("value", "path", "anchor", "mark", "size", "height", "key", "key_mark", "merges", "seen")

    def __init__(self, value, path: tuple, anchor, mark):
        self.value, self.path, self.anchor, self.mark = value, path, anchor, mark
        self.size, self.height = 1, 0
        self.key, self.key_mark = _NO_KEY, None
        self.merges: list | None = None
        self.seen: set | None = None


def documents(events, positions: Positions, limits: Limits, resolver, constructor, stop_after: int = 2) -> list[Document]:
    """Build the documents of the stream until ``stop_after`` non-empty ones; the first non-empty one
    records its positions into ``positions``, later ones are only located by their start."""
    found: list[Document] = []
    events = iter(events)
    for event in events:
        if type(event) is DocumentStartEvent:
            non_empty = sum(1 for d in found if not d.empty)
            if non_empty >= stop_after:
                break
            builder = _Builder(positions if not non_empty else Positions(positions.file), limits, resolver, constructor)
            builder.run(events)
            builder.check_expansion()
            found.append(Document(builder.root, builder.root_mark, builder.empty))
    return found


class _Builder:
    """One document: feed it the events after its start until ``done``."""

    def __init__(self, positions: Positions, limits: Limits, resolver, constructor):
        self.positions, self.limits = positions, limits
        self.resolver, self.constructor = resolver, constructor
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple] = {}  # name -> (value, expanded size, height)
        self.sources: dict[int, tuple] = {}  # id(mapping) -> its key path, for anchored and merged mappings
        self.plain_tags: dict[str, str] = {}  # plain scalar -> resolved tag (names repeat a lot in a spec)
        self.written = self.expanded = 0
        self.biggest = (0, None)  # (expanded size, mark) of the largest alias use
        self.root = self.root_mark = None
        self.done = self.empty = False

    def run(self, events) -> None:
        """Consume the events of one document, up to its root's end. The loader's hot loop: one
        method call per node, dispatched on the event's exact type."""
        scalar, start, close, alias = self.scalar, self.open, self.close, self.alias
        for event in events:
            kind = type(event)
            if kind is ScalarEvent:
                scalar(event)
            elif kind is MappingStartEvent:
                start(event, {})
            elif kind is SequenceStartEvent:
                start(event, [])
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                close()
            elif kind is AliasEvent:
                alias(event)
            if self.done:
                return

    def check_expansion(self) -> None:
        """The ratio test, once the document is complete: located at the largest alias use."""
        allowed = max(self.limits.ratio * self.written, self.limits.floor)
        if self.expanded > allowed:
            message = (f"YAML aliases expand this spec's {self.written:,} nodes to {self.expanded:,}, more than "
                       f"{self.limits.ratio} times")
            raise TooBig(message, self.biggest[1] or self.root_mark,
                         "remove the anchors/aliases that multiply content (an alias bomb?)")

    # --- nodes ------------------------------------------------------------------------------------

    def scalar(self, event) -> None:
        value, tag = self.construct(event)
        if not self.stack and value is None and tag == NULL and not event.style:
            self.empty = True
        self.count(0, event.start_mark)
        self.attach(value, 1, 0, event.start_mark, is_merge_key=tag == MERGE)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1, 0)

    def open(self, event, value) -> None:
        tag = event.tag
        if tag not in COLLECTION_TAGS:
            raise Refused(f"unsupported YAML tag {_short_tag(tag)} on a {_kind(value)}", event.start_mark,
                          "a spec is plain YAML data: remove the tag")
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.key is _NO_KEY and isinstance(parent.value, dict):
            raise Refused(f"a mapping key must be a scalar, found a {_kind(value)}", event.start_mark,
                          "use a plain name as the key")
        self.count(0, event.start_mark)
        self.stack.append(_Frame(value, self.place(event.start_mark), event.anchor, event.start_mark))

    def close(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self.merge(frame)
        if frame.anchor:
            self.anchors[frame.anchor] = (frame.value, frame.size, frame.height)
        if isinstance(frame.value, dict) and (frame.anchor or MERGE in frame.path):
            self.sources[id(frame.value)] = frame.path
        self.attach(frame.value, frame.size, frame.height, frame.mark, placed=True)

    def alias(self, event) -> None:
        name = event.anchor
        if any(frame.anchor == name for frame in self.stack):
            raise Refused(f"alias *{name} refers to the collection that contains it", event.start_mark,
                          "a spec is a tree: aliases cannot make cycles")
        if name not in self.anchors:
            raise UndefinedAlias(f"YAML syntax error: found undefined alias *{name}", event.start_mark,
                                 "define the anchor (&name) before the alias")
        value, size, height = self.anchors[name]
        self.expanded += size - 1  # count() adds the alias node itself
        if size > self.biggest[0]:
            self.biggest = (size, event.start_mark)
        self.count(height, event.start_mark)
        self.attach(value, size, height, event.start_mark)

    # --- placing a node in its parent --------------------------------------------------------------

    def count(self, height: int, mark) -> None:
        """One more node written; refuse it when it nests too deep or the expansion grows too big."""
        self.written += 1
        self.expanded += 1
        if len(self.stack) + height > self.limits.depth:
            raise TooDeep(f"spec nests mappings and lists more than {self.limits.depth} levels deep", mark,
                          "a fleet spec nests about 8 levels; look for unbalanced brackets")
        if self.expanded > self.limits.nodes:
            raise self.too_big(mark)

    def too_big(self, mark) -> TooBig:
        if self.expanded == self.written:
            return TooBig(f"spec has more than {self.limits.nodes:,} nodes", mark,
                          "no fleet is this large, 200 clusters and 4,000 services take about 340,000: is this the right file?")
        return TooBig(f"spec has more than {self.limits.nodes:,} nodes once YAML aliases are expanded", mark,
                      "no fleet is this large: remove the anchors/aliases that multiply content")

    def place(self, mark) -> tuple:
        """The key path of the node about to be added to the top frame, its position recorded."""
        if not self.stack:
            self.root_mark = mark
            self.positions.values[()] = (mark.line, mark.column)
            return ()
        frame = self.stack[-1]
        if type(frame.value) is list:
            path = (*frame.path, len(frame.value))
        else:
            path = (*frame.path, frame.key)
            self.positions.keys[path] = frame.key_mark
        self.positions.values[path] = (mark.line, mark.column)
        return path

    def attach(self, value, size: int, height: int, mark, placed: bool = False, is_merge_key: bool = False) -> None:
        if not self.stack:
            if not placed:
                self.place(mark)
            self.root, self.done = value, True
            return
        frame = self.stack[-1]
        frame.size += size
        if height >= frame.height:
            frame.height = height + 1
        if type(frame.value) is list:
            if not placed:
                self.place(mark)
            frame.value.append(value)
        elif frame.key is _NO_KEY:
            self.set_key(frame, value, mark, is_merge_key)
        elif frame.key == MERGE:
            frame.merges = (frame.merges or []) + _merge_sources(value, mark)
            frame.key = _NO_KEY
        else:
            if not placed:
                self.place(mark)
            frame.value[frame.key] = value
            frame.key = _NO_KEY

    def set_key(self, frame: _Frame, key, mark, is_merge_key: bool) -> None:
        if isinstance(key, (dict, list)):
            raise Refused(f"a mapping key must be a scalar, found a {_kind(key)}", mark, "use a plain name as the key")
        if is_merge_key:
            key = MERGE
        elif frame.seen is None:
            frame.seen = {key}
        elif key in frame.seen:
            raise DuplicateKey(f"duplicate key: key '{key}' appears twice in this mapping", mark, path=(*frame.path, key))
        else:
            frame.seen.add(key)
        frame.key, frame.key_mark = key, (mark.line, mark.column)

    def merge(self, frame: _Frame) -> None:
        """``<<``: keys of the merged mappings not set explicitly, the first merged mapping winning;
        a merged key is located where its anchor spells it."""
        keys, values = self.positions.keys, self.positions.values
        for merged in frame.merges:
            source = self.sources.get(id(merged))
            for key, value in merged.items():
                if key in frame.value:
                    continue
                frame.value[key] = value
                if source is not None and (*source, key) in keys:
                    keys[(*frame.path, key)] = keys[(*source, key)]
                    values[(*frame.path, key)] = values[(*source, key)]

    # --- scalars ----------------------------------------------------------------------------------

    def construct(self, event) -> tuple[object, str]:
        tag = event.tag
        if tag is None or tag == "!":
            if event.style or tag == "!":
                return event.value, STR
            tag = self.plain_tags.get(event.value)
            if tag is None:
                tag = self.plain_tags[event.value] = str(self.resolver.resolve(ScalarNode, event.value, (True, False)))
        elif tag not in SCALAR_TAGS:
            binary = "; binary data has no place in a spec" if tag == TAG + "binary" else ""
            raise Refused(f"unsupported YAML tag {_short_tag(tag)}", event.start_mark,
                          f"a spec is plain YAML data: remove the tag{binary}")
        if tag == STR or tag == MERGE:
            return event.value, tag
        if tag == NULL:
            return None, tag
        return self.construct_typed(event, tag), tag

    def construct_typed(self, event, tag: str):
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark)
        try:
            return self.constructor.yaml_constructors[tag](self.constructor, node)
        except (ValueError, TypeError, ArithmeticError, LookupError) as exc:
            reason = "it has more than 4300 digits" if "digits" in str(exc) else "it is not a valid value for the tag"
            raise Refused(f"cannot read {_shorten(event.value)} as {_short_tag(tag)}: {reason}", event.start_mark,
                          "quote the value if it is text") from None


def _merge_sources(value, mark) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        raise Refused("a merge key `<<` takes a mapping or a list of mappings", mark, "merge an anchored mapping: `<<: *name`")
    return items


def _kind(value) -> str:
    return "mapping" if isinstance(value, dict) else "list"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(TAG):] if tag.startswith(TAG) else tag


def _shorten(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
