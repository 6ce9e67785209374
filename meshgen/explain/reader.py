"""Read a rendered tree back: every YAML document of ``clusters/**.yaml`` with its path and 1-based line.

The tree is what ``meshgen.emit`` wrote, so its YAML is canonical (block style, two-space indent,
sequences indented under their key, scalars plain only when every YAML reader reads them back as
the same string, JSON-quoted otherwise, literal blocks for multi-line strings). This reader parses
exactly that form, line by line, about 20 times faster than ruamel.yaml's C loader, which the
benchmark tree (178 MB) needs; ``tests/test_explain_reader.py`` checks it against ruamel.yaml on
every golden tree. A document it does not recognise falls back to ruamel.yaml (pure, YAML 1.2).

Identical documents (the same import in every primary of a mesh) are parsed once. Line numbers of
keys inside a document are computed on demand (``Document.line_of``): the matrix needs none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from meshgen.emit import is_plain_safe

_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:e[-+]?[0-9]+)?\Z")
_CONSTANTS = {"true": True, "false": False, "null": None, ".inf": float("inf"), "-.inf": float("-inf"),
              "+.inf": float("inf"), ".nan": float("nan")}
_DECODER = json.JSONDecoder()


class NotCanonical(ValueError):
    """A line this reader does not expect in meshgen's own output."""


@dataclass(eq=False)
class Document:
    path: str  # relative to the output root, e.g. clusters/east/mesh/security.yaml
    line: int  # 1-based line of the document's first line
    body: object
    text: str = field(repr=False)

    def line_of(self, *keys) -> int:
        """1-based line of the key (or list index) path inside this document; the nearest parent found."""
        found = _positions(self.text)
        while keys and keys not in found:
            keys = keys[:-1]
        return self.line + found.get(keys, 0)


_POSITIONS: dict[str, dict] = {}


def _positions(text: str) -> dict:
    found = _POSITIONS.get(text)
    if found is None:
        found = {}
        parse(text, found)
        _POSITIONS[text] = found
    return found


def read_tree(tree: dict[str, bytes], prefix: str = "clusters/") -> list[Document]:
    """Every document of the YAML files under ``prefix``, in path order; identical texts parsed once."""
    parsed: dict[bytes, tuple[str, object]] = {}
    out = []
    for path in sorted(tree):
        if path.startswith(prefix) and path.endswith(".yaml"):
            out += _documents(path, tree[path], parsed)
    return out


def _documents(path: str, data: bytes, parsed: dict) -> list[Document]:
    out, line = [], 1
    for chunk in _split(data):
        seen = parsed.get(chunk)
        if seen is None:
            text = chunk.decode("utf-8")
            seen = parsed[chunk] = (text, load(text))
        if seen[1] is not None:
            out.append(Document(path, line, seen[1], seen[0]))
        line += chunk.count(b"\n") + 1  # the document's lines and the `---` after it
    return out


def _split(data: bytes) -> list[bytes]:
    """Documents separated by `---` lines (emit joins them with b"---\\n")."""
    chunks = data.split(b"\n---\n")
    return [c + b"\n" for c in chunks[:-1]] + [chunks[-1]]


def load(text: str):
    """One document: the canonical reader, or ruamel.yaml when the text is not in meshgen's form."""
    try:
        return parse(text)
    except NotCanonical:
        from ruamel.yaml import YAML

        return YAML(typ="safe", pure=True).load(text)


def parse(text: str, positions: dict | None = None):
    """Parse one canonical document; with ``positions``, record key path -> 0-based line in it."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not lines[0].strip():
        return None
    reader = _Reader(lines, positions)
    value = reader.node(0, ())
    if reader.i != len(lines):
        raise NotCanonical(f"line {reader.i + 1}: unexpected {lines[reader.i]!r}")
    return value


class _Reader:
    def __init__(self, lines: list[str], positions: dict | None):
        self.lines, self.i, self.positions = lines, 0, positions

    def node(self, col: int, path: tuple):
        """The block node whose first line starts at column ``col`` of line ``self.i``."""
        rest = self.lines[self.i][col:]
        if rest.startswith("- "):
            return self.sequence(col, path)
        if _split_key(rest) is not None:
            return self.mapping(col, path)
        self.i += 1
        return scalar(rest)

    def mapping(self, col: int, path: tuple) -> dict:
        out: dict = {}
        indent = " " * col
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if out and (not line.startswith(indent) or line[col:col + 1] in (" ", "-", "")):
                break
            key, value = _split_key(line[col:]) or _not_canonical(self.i, line)
            out[key] = self.value(value, col, path + (key,))
        return out

    def sequence(self, col: int, path: tuple) -> list:
        out: list = []
        indent = " " * col
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line[col:col + 2] != "- " or (out and not line.startswith(indent)):
                break
            rest = line[col + 2:]
            if rest.startswith("- ") or _split_key(rest) is not None:
                self._mark(path + (len(out),))
                out.append(self.node(col + 2, path + (len(out),)))
            else:
                out.append(self.value(rest, col, path + (len(out),)))
        return out

    def value(self, text: str | None, col: int, path: tuple):
        """The value after a key (or a dash) on line ``self.i``: nested block, literal block or scalar."""
        self._mark(path)
        self.i += 1
        if text is None:
            return self.node(col + 2, path)
        if text.startswith("|"):
            return self.literal(text, col + 2)
        return scalar(text)

    def literal(self, header: str, col: int) -> str:
        indent = " " * col
        body = []
        while self.i < len(self.lines) and (self.lines[self.i] == "" or self.lines[self.i].startswith(indent)):
            body.append(self.lines[self.i][col:])
            self.i += 1
        kept = len(body)
        while body and body[-1] == "":
            body.pop()
        text = "\n".join(body)
        chomp = header[-1]
        if chomp == "-":
            return text
        return text + "\n" + ("\n" * (kept - len(body)) if chomp == "+" else "")

    def _mark(self, path: tuple) -> None:
        if self.positions is not None:
            self.positions.setdefault(path, self.i)


_KEY_LINES: dict[str, tuple | None] = {}  # line text -> _split_key result: lines repeat across documents
_SCALARS: dict[str, object] = {}


def _split_key(text: str):
    """(key, value text or None) when ``text`` is a ``key: value`` or ``key:`` line, else None."""
    try:
        return _KEY_LINES[text]
    except KeyError:
        pass
    if len(_KEY_LINES) > 500_000:
        _KEY_LINES.clear()
    found = _KEY_LINES[text] = _key_line(text)
    return found


def _key_line(text: str):
    if text.startswith('"'):
        key, end = _DECODER.raw_decode(text)
        if text[end:end + 1] != ":":
            return None
        return key, (text[end + 2:] if len(text) > end + 1 else None)
    at = text.find(": ")
    if at >= 0:
        return scalar(text[:at]), text[at + 2:]
    if text.endswith(":"):
        return scalar(text[:-1]), None
    return None


def scalar(text: str):
    try:
        value = _SCALARS[text]
    except KeyError:
        if len(_SCALARS) > 500_000:
            _SCALARS.clear()
        value = _SCALARS[text] = _scalar(text)
    return value if type(value) not in (dict, list) else type(value)()


def _scalar(text: str):
    if text.startswith('"'):
        return json.loads(text)
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if not is_plain_safe(text):  # emit would have quoted it: not meshgen's form (flow style, quotes, tags)
        raise NotCanonical(f"not a canonical scalar: {text!r}")
    return text


def _not_canonical(i: int, line: str):
    raise NotCanonical(f"line {i + 1}: not a key: {line!r}")
