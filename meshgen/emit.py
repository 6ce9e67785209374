"""ResourceSet -> in-memory tree of files: canonical YAML, path grouping, kustomizations.

Style of every document (stable; golden trees depend on it):
  * block style, 2-space indent, keys in the insertion order the renderers built;
  * sequences indented under their key (``ports:\\n  - name: http``), dicts in a sequence start
    on the dash line; empty containers are ``{}`` and ``[]``;
  * ``true``/``false``/``null``, ints as ``repr``, floats always with a dot (``1.0e+20``);
  * a string is plain only when both a YAML 1.1 and a YAML 1.2 reader take it back as the
    same string; otherwise it is double-quoted with JSON-style escapes;
  * a multi-line string value is a literal block (``|``, ``|-`` or ``|+``, with an indentation
    indicator when it starts with a space) when that is safe, else double-quoted.

A non-manifest Resource whose body is a ``str`` (e.g. ``README.md``) is written as it is.

Files: manifests sharing a path form one multi-document file (``---`` between documents) in
``Resource.sort_key`` order (the kustomizations are rendered like any other file,
``meshgen.render.bundles``). The emitter is hand-written for speed: scalars are
formatted once and cached, documents are built as lists of strings and joined; a body shared by
several resources (renderers share identical bodies, see ``meshgen.render.resource``) is dumped
and encoded once; the documents of a ResourceSet arrive in sort-key order and are only re-sorted
when they do not (any other iterable, or equal sort keys).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from meshgen.diagnostics import Diagnostic, MeshgenError, Span
from meshgen.render.resource import Resource


# Strings a YAML 1.1 or 1.2 reader would resolve to something else (bool, null, int, float,
# sexagesimal, special floats); matched case-insensitively, so a few harmless extras are quoted.
_SPECIAL = re.compile(
    r"""(?:y|yes|n|no|true|false|on|off|null|~|
        [-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-f_]+|[0-9_]+)|
        [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])*(?:\.[0-9_]*)?(?:e[-+]?[0-9]+)?|
        [-+]?\.[0-9_]+(?:e[-+]?[0-9]+)?|
        [-+]?\.(?:inf|nan))\Z""",
    re.IGNORECASE | re.VERBOSE,
)
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")
# Plain-safe characters: word characters (any script) and a few harmless ASCII punctuation marks.
_PLAIN = re.compile(r"[\w/.(][\w ./\-+:@=,()%~]*\Z")
# Characters that must be escaped inside double quotes beyond what json.dumps escapes:
# DEL and C1 controls, YAML 1.1 line breaks, BOM and the non-characters.
_UNSAFE_IN_QUOTES = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
# Characters that forbid a literal block: any control character but tab and newline,
# YAML 1.1 line breaks, BOM and non-characters.
_UNSAFE_IN_BLOCK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")

_CACHE_LIMIT = 200_000  # entries per cache; a full cache is cleared, never grown further
_STRINGS: dict[str, str] = {}  # one-line string -> its scalar text
_KEYS: dict[str, str] = {}  # string key -> 'key:'
_BLOCKS: dict[tuple[str, str], str] = {}  # (multi-line string, indent) -> block or quoted line


def dump_yaml(obj) -> str:
    """One document of canonical block YAML with '\\n' endings and one trailing newline."""
    out: list[str] = []
    if type(obj) is dict and obj:
        _mapping(obj, "", "", out)
    elif type(obj) is list and obj:
        _sequence(obj, "", "", out)
    else:
        out.append(_flow(obj) + "\n")
    return "".join(out)


def emit(resources: Iterable[Resource]) -> dict[str, bytes]:
    """Group resources into files: path -> bytes, sorted by path."""
    groups: dict[str, tuple[list[Resource], list[bytes]]] = {}  # path -> (its documents, their texts)
    texts: dict[int, bytes] = {}  # id(body) -> UTF-8 text: a shared body is dumped once
    dumped: list = []  # every body dumped, kept alive so that no id() is reused meanwhile
    ordered, last = True, None  # a ResourceSet yields strictly increasing sort keys: nothing to sort
    for resource in resources:
        body = resource.body
        text = texts.get(id(body))
        if text is None:
            dumped.append(body)
            text = body if isinstance(body, str) else dump_yaml(body)  # str: raw text, written as it is
            text = texts[id(body)] = text.encode("utf-8")
        key = resource.sort_key()
        if ordered and last is not None and not last < key:
            ordered = False
        last = key
        group = groups.get(resource.path)
        if group is None:
            group = groups[resource.path] = ([], [])
        group[0].append(resource)
        group[1].append(text)
    files = {path: docs for path, (docs, _) in groups.items()}
    _check_paths(files)
    if not ordered:  # by sort key, the text breaking ties between otherwise equal keys
        for path, (docs, chunks) in groups.items():
            pairs = sorted(zip(docs, chunks), key=_doc_order)
            groups[path] = ([r for r, _ in pairs], [t for _, t in pairs])
    joined = _join(groups)
    return {path: joined[path] for path in sorted(joined)}


def _join(groups: dict[str, tuple[list, list[bytes]]]) -> dict[str, bytes]:
    """path -> its documents joined; files made of the same document texts in the same order (the
    imports of a mesh's primaries) share one bytes object: at 1,000 clusters, hundreds of MB."""
    shared: dict[tuple, bytes] = {}
    joined = {}
    for path, (_, chunks) in groups.items():
        key = tuple(chunks)  # texts are shared objects: hashed once each, compared by identity first
        data = shared.get(key)
        if data is None:
            data = shared[key] = b"---\n".join(chunks)
        joined[path] = data
    return joined


def _doc_order(doc: tuple) -> tuple:
    resource, text = doc
    return (resource.sort_key(), text)


def _check_paths(files: dict[str, list[Resource]]) -> None:
    problems = [_collision(path, resources, "a non-manifest file cannot share its path")
                for path, resources in files.items()
                if len(resources) > 1 and not all(r.manifest for r in resources)]
    if problems:
        raise MeshgenError(problems)


def _collision(path: str, resources: list[Resource], why: str) -> Diagnostic:
    origin = next((r.origin for r in resources if r.origin), None)
    return Diagnostic("E404", f"rendered file {path}: {why}", origin or Span("<render>"))


# --- the emitter -------------------------------------------------------------------------------


def _mapping(data: dict, first: str, indent: str, out: list[str]) -> None:
    """Block mapping; the first line starts with `first` (e.g. a sequence dash), others `indent`."""
    prefix = first
    child = indent + "  "
    append = out.append
    for key, value in data.items():
        head = _KEYS.get(key) if type(key) is str else None
        if head is None:
            head = _key_head(key)
        kind = type(value)
        if kind is str:
            text = _STRINGS.get(value)
            if text is not None:
                append(f"{prefix}{head} {text}\n")
            elif "\n" in value:
                append(f"{prefix}{head} {_multiline(value, child)}")
            else:
                append(f"{prefix}{head} {_string(value)}\n")
        elif kind is dict and value:
            append(f"{prefix}{head}\n")
            _mapping(value, child, child, out)
        elif kind is list and value:
            append(f"{prefix}{head}\n")
            _sequence(value, child, child, out)
        else:
            append(f"{prefix}{head} {_flow(value)}\n")
        prefix = indent


def _sequence(items: list, first: str, indent: str, out: list[str]) -> None:
    prefix = first
    child = indent + "  "
    append = out.append
    for value in items:
        kind = type(value)
        if kind is dict and value:
            _mapping(value, prefix + "- ", child, out)
        elif kind is list and value:
            _sequence(value, prefix + "- ", child, out)
        elif kind is str and "\n" in value:
            append(f"{prefix}- {_multiline(value, child)}")
        else:
            append(f"{prefix}- {_flow(value)}\n")
        prefix = indent


def _key_head(key) -> str:
    """'key:' for a mapping key, cached for string keys."""
    text = _flow(key)
    if len(text) > 1000:
        raise ValueError(f"mapping key too long for YAML ({len(text)} characters)")
    if type(key) is str:
        _remember(_KEYS, key, text + ":")
    return text + ":"


def _flow(value) -> str:
    """A one-line scalar or empty container."""
    if type(value) is str:
        text = _STRINGS.get(value)
        return text if text is not None else _string(value)
    if type(value) is int:
        return str(value)
    return _format_flow(value)


def _remember(cache: dict, key, text: str) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = text


def _format_flow(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (dict, list, tuple)) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    raise TypeError(f"cannot emit {type(value).__name__} as YAML: {value!r}")


def _float(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text:
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa}.0e{exponent}"  # YAML 1.1 floats need a dot
    return text


def _string(text: str) -> str:
    """Plain when unambiguous, else double-quoted; one-line results are cached."""
    if is_plain_safe(text):
        quoted = text
    else:
        quoted = json.dumps(text, ensure_ascii=False)
        if _UNSAFE_IN_QUOTES.search(quoted):
            quoted = _UNSAFE_IN_QUOTES.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
    if "\n" not in text:
        _remember(_STRINGS, text, quoted)
    return quoted


def is_plain_safe(text: str) -> bool:
    """True when YAML 1.1 and 1.2 readers both read `text` unquoted back as this string."""
    if not _PLAIN.match(text) or text[-1] in " :" or ": " in text or text.startswith("..."):
        return False  # '...' at the start of a line would end the document
    return not (_SPECIAL.match(text) or _TIMESTAMP.match(text))


def _multiline(text: str, indent: str) -> str:
    """A literal block (header line and body) when safe, else a double-quoted scalar line."""
    block = _BLOCKS.get((text, indent))
    if block is None:
        block = _literal_block(text, indent) or _string(text) + "\n"
        _remember(_BLOCKS, (text, indent), block)
    return block


def _literal_block(text: str, indent: str) -> str | None:
    if _UNSAFE_IN_BLOCK.search(text):
        return None
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    lines = body.split("\n")
    if not body.strip(" \t") or any(line and not line.strip(" ") for line in lines):
        return None  # blank-only content or whitespace-only lines are read back differently
    if lines[0].startswith("\t") or any(line.startswith("\t") for line in lines):
        return None
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    first = next(line for line in lines if line)
    header = "|" + ("2" if first.startswith(" ") else "") + chomp + "\n"
    rendered = [indent + line if line else "" for line in lines]
    return header + "\n".join(rendered) + "\n" + "\n" * max(trailing - 1, 0)
