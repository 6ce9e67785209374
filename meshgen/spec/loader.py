"""Read a fleet spec: bytes -> YAML tree with positions -> pydantic Fleet, every failure located.

``load`` never raises for bad input: it returns ``Loaded`` with the diagnostics it collected, and
``fleet`` is None whenever any of them is an error.
"""

from __future__ import annotations

import datetime
import difflib
import re
from dataclasses import dataclass, field

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from meshgen.diagnostics import Diagnostic, Span
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions, format_path
from meshgen.spec.tree import DuplicateKey, TaggedValue, TooDeep, build

MAX_NODES = 200_000  # after alias expansion; a larger spec is an alias bomb or a mistake
MAX_DEPTH = 64  # a fleet spec nests about 8 levels; deeper nesting is an attack or a mistake
MAX_BYTES = 16 * 1024 * 1024
NULL = "tag:yaml.org,2002:null"


@dataclass
class Loaded:
    fleet: Fleet | None
    positions: Positions
    diagnostics: list[Diagnostic] = field(default_factory=list)


def load(data: bytes, file: str) -> Loaded:
    positions = Positions(file)
    text, problem = _decode(data, file)
    if problem:
        return Loaded(None, positions, [problem])
    tree, positions, problem = _parse(text, file)
    if problem:
        return Loaded(None, positions, [problem])
    found = _check_shape(tree, positions) or _check_size(tree, file)
    if found:
        return Loaded(None, positions, [found])
    diagnostics = find_secret_material(tree, positions)
    fleet, schema_errors = _validate(tree, positions)
    secret_spans = {d.span for d in diagnostics}
    # a value refused as secret material is not also quoted back by a schema message
    diagnostics += [d for d in schema_errors if d.code != "E103" or d.span not in secret_spans]
    if any(d.is_error for d in diagnostics):
        fleet = None
    return Loaded(fleet, positions, diagnostics)


def _decode(data: bytes, file: str) -> tuple[str, Diagnostic | None]:
    if len(data) > MAX_BYTES:
        return "", Diagnostic("E001", f"spec is {len(data)} bytes; the limit is {MAX_BYTES}", Span(file, 1, 1))
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        col = exc.start - (head.rfind(b"\n") + 1) + 1
        message = f"spec is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded"
        return "", Diagnostic("E001", message, Span(file, line, col), hint="save the file as UTF-8")


def _parse(text: str, file: str) -> tuple[object, Positions, Diagnostic | None]:
    """Compose with ruamel.yaml (its C parser when installed), then build data and positions."""
    positions = Positions(file)
    try:
        documents, yaml = _compose(text)
        if len(documents) != 1:
            return None, positions, _document_count(documents, file)
        tree, positions = build(documents[0], file, MAX_DEPTH, yaml.constructor)
    except DuplicateKey as exc:
        mark = exc.node.start_mark
        message = f"duplicate key: key '{exc.key}' appears twice in this mapping"
        return None, positions, Diagnostic("E003", message, Span(file, mark.line + 1, mark.column + 1),
                                           hint="remove one of them, or merge their values")
    except TooDeep as exc:
        mark = exc.node.start_mark
        return None, positions, _too_deep(Span(file, mark.line + 1, mark.column + 1))
    except MarkedYAMLError as exc:
        return None, positions, _marked("E002", "YAML syntax error", exc, file, "")
    except ReaderError as exc:
        return None, positions, _unprintable(exc, text, file)
    except YAMLError as exc:
        return None, positions, Diagnostic("E002", f"YAML error: {exc}", Span(file, 1, 1))
    except RecursionError:  # the composer recurses once per nesting level
        return None, positions, _too_deep(Span(file, 1, 1))
    return tree, positions, None


def _compose(text: str):
    """Document nodes, dropping empty ones beside others (``SPEC\n---\n``). The C parser is fast; on
    an error, the pure-Python parser composes again because its messages say more."""
    try:
        yaml = YAML(typ="safe", pure=False)
        yaml.Resolver = _Yaml12Resolver
        documents = list(yaml.compose_all(text))
    except YAMLError:
        yaml = YAML(typ="safe", pure=True)
        documents = list(yaml.compose_all(text))
    if len(documents) > 1:
        documents = [d for d in documents if not _is_empty(d)] or documents[:1]
    if len(documents) == 1 and _is_empty(documents[0]):
        documents = []
    return documents, yaml


class _Yaml12Resolver(VersionedResolver):
    """YAML 1.2 scalar rules, fixed. ruamel looks the version up on the pure parser's scanner; under the
    C parser that lookup fails with an AttributeError per scalar, which made composing 3x slower;
    the resolver table is built once."""

    @property
    def processing_version(self):
        return (1, 2)

    @property
    def versioned_resolver(self):
        if "_fixed_resolvers" not in self.__dict__:
            self._fixed_resolvers = VersionedResolver.versioned_resolver.fget(self)
        return self._fixed_resolvers


def _is_empty(node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL and node.value in ("", "~", "null")


def _document_count(documents: list, file: str) -> Diagnostic:
    if not documents:
        hint = "a spec starts with `apiVersion: meshgen.dev/v1alpha1` and `kind: Fleet`; see fleet.example.yaml"
        return Diagnostic("E005", "spec is empty: expected a Fleet mapping, found no YAML content",
                          Span(file, 1, 1), hint=hint)
    line = documents[1].start_mark.line + 1
    message = f"spec holds {len(documents)} YAML documents; one Fleet is expected, and the second starts here"
    return Diagnostic("E007", message, Span(file, line, 1),
                      hint="keep one Fleet per file: remove the `---` separator and what follows")


def _unprintable(exc: ReaderError, text: str, file: str) -> Diagnostic:
    """A control character YAML refuses, located from its character offset."""
    head = text[: exc.position]
    line, col = head.count("\n") + 1, exc.position - (head.rfind("\n") + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    message = f"YAML syntax error: found the control character U+{code:04X}, which YAML does not allow in a spec"
    return Diagnostic("E002", message, Span(file, line, col), hint="delete it, or write it as an escape in a quoted string")


_SYNTAX_HINTS = {
    "found character '\\t' that cannot start any token": "indent with spaces: YAML does not allow tabs here",
    "mapping values are not allowed here": "a ':' follows a plain value: check this line's indentation against "
                                           "the line above, or quote a value that contains ': '",
    "found unexpected end of stream": "close the quote or bracket that starts here",
}


def _marked(code: str, what: str, exc: MarkedYAMLError, file: str, hint: str) -> Diagnostic:
    problem = exc.problem or ""
    mark = exc.problem_mark or exc.context_mark
    if "end of stream" in problem and exc.context_mark:
        mark = exc.context_mark  # the quote or bracket left open, not the end of the file
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if code == "E003":
        key = re.search(r'found duplicate key "([^"]*)"', str(exc))
        problem = f"key '{key.group(1)}' appears twice in this mapping" if key else problem
    context = ""
    if exc.context and code == "E002":
        context = f" {exc.context}"
        start = exc.context_mark
        if start and start is not mark and (start.line, start.column) != (mark.line, mark.column):
            context += f" that starts at line {start.line + 1}, column {start.column + 1}"
    hint = hint or next((h for p, h in _SYNTAX_HINTS.items() if problem.startswith(p)), "")
    return Diagnostic(code, f"{what}: {problem}{context}".strip(), Span(file, line, col), hint=hint)


def _check_shape(tree, positions: Positions) -> Diagnostic | None:
    if isinstance(tree, dict):
        return None
    found = "a list" if isinstance(tree, list) else f"the scalar {_found(tree).removeprefix('the ')}"
    line = positions.span(()).line if isinstance(tree, list) else 1
    return Diagnostic("E006", f"spec must be a mapping (apiVersion, kind, ...), found {found}",
                      Span(positions.file, line, 1),
                      hint="a spec is a mapping that starts with `apiVersion: meshgen.dev/v1alpha1` and `kind: Fleet`")


def _check_size(tree, file: str) -> Diagnostic | None:
    """Count nodes as pydantic would see them, aliases expanded, stopping at the limit."""
    count = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            message = f"spec expands to more than {MAX_NODES} nodes once YAML aliases are expanded"
            return Diagnostic("E004", message, Span(file, 1, 1), hint="remove anchors/aliases that multiply content")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _too_deep(span: Span) -> Diagnostic:
    message = f"spec nests mappings and lists more than {MAX_DEPTH} levels deep"
    return Diagnostic("E004", message, span, hint="a fleet spec nests about 8 levels; look for unbalanced brackets")


# --- secret material -------------------------------------------------------------------------

_SECRET_KEYS = {
    "token", "password", "privatekey", "private-key", "private_key", "client-key-data",
    "client-certificate-data", "certificate-authority-data", "ca-key.pem", "key.pem", "tls.key",
    "secret", "bearertoken", "bearer-token", "apikey", "api-key", "kubeconfig", "pem",
}
_SECRET_VALUES = (  # (what it is, how it looks); the first match names it in the message
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a PEM certificate", re.compile(r"-----BEGIN [A-Z0-9 ]*CERTIFICATE-----")),
    ("a PEM block", re.compile(r"-----BEGIN [A-Z0-9 ]*(RSA|EC)")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")),  # service-account tokens
    ("base64 key or certificate data", re.compile(r"^[A-Za-z0-9+/]{200,}={0,2}$")),
)


def find_secret_material(tree, positions: Positions) -> list[Diagnostic]:
    found = []
    for path, key, value in _items(tree, ()):
        if isinstance(key, str) and key.lower() in _SECRET_KEYS:
            message = f"key '{format_path(path)}' names secret material; the spec holds references only"
            found.append(_secret(message, positions.key_span(path)))
        elif isinstance(value, str) and (what := _secret_kind(value.strip())):
            message = f"value of '{format_path(path)}' looks like {what}; the spec holds references only"
            found.append(_secret(message, positions.span(path)))
    return found


def _secret_kind(text: str) -> str:
    return next((what for what, pattern in _SECRET_VALUES if pattern.search(text)), "")


def _secret(message: str, span: Span) -> Diagnostic:
    hint = "keep it in the secret store and give its store path here, as `certificatePath` does"
    return Diagnostic("E210", message, span, hint=hint)


def _items(node, path):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key), key, value
            yield from _items(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*path, i), None, value
            yield from _items(value, (*path, i))


# --- schema ----------------------------------------------------------------------------------


def _validate(tree, positions: Positions) -> tuple[Fleet | None, list[Diagnostic]]:
    try:
        return Fleet.model_validate(tree), []
    except pydantic.ValidationError as exc:
        return None, [_schema_diagnostic(error, tree, positions) for error in exc.errors()]


def _schema_diagnostic(error: dict, tree, positions: Positions) -> Diagnostic:
    loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    where = format_path(loc) or "spec"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _lookup(tree, loc[:-1])
        hint = _did_you_mean(str(loc[-1]), _allowed_keys(loc[:-1]))
        known = hint or ("allowed keys: " + ", ".join(_allowed_keys(loc[:-1])))[:200]
        return Diagnostic("E101", f"unknown key '{loc[-1]}' in {format_path(loc[:-1]) or 'spec'}",
                          positions.key_span(loc), hint=known, path=where) if parent is not None else \
            Diagnostic("E101", f"unknown key '{loc[-1]}'", positions.key_span(loc), path=where)
    if kind == "missing":
        return Diagnostic("E102", f"'{where}' is required", positions.span(loc[:-1]),
                          hint=f"add '{loc[-1]}' here", path=where)
    message = f"'{where}': {_message(error)}"
    if kind != "value_error":  # our validators quote the value themselves
        message += f" (found {_found(error.get('input'))})"
    return Diagnostic("E103", message, positions.span(loc), hint=_type_hint(error, loc), path=where)


def _is_union_tag(part) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-after"))


_EXPECTED = {
    "model_type": "a mapping", "model_attributes_type": "a mapping", "dict_type": "a mapping",
    "list_type": "a list", "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "a whole number", "bool_type": "true or false", "bool_parsing": "true or false",
}


def _message(error: dict) -> str:
    """What was expected, in the spec's words rather than pydantic's."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}"
    if kind == "greater_than_equal":
        return f"expected a number of at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"expected a number of at most {ctx['le']}"
    if kind == "too_short":
        return f"expected at least {ctx['min_length']} item{'s' if ctx['min_length'] != 1 else ''}"
    if kind == "string_pattern_mismatch":
        return f"expected a string matching {ctx['pattern']}"
    text = error["msg"].removeprefix("Value error, ")
    return text.replace("Input should be ", "expected ", 1)


def _found(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}" if value else "an empty list"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null (no value)"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, TaggedValue):
        return f"the tagged value {value.tag} {_shorten(value.value)}"
    return _shorten(value)


def _type_hint(error: dict, loc) -> str:
    if isinstance(error.get("input"), (datetime.date, datetime.datetime)):
        return "YAML reads an unquoted date as a date: quote it"
    if error["type"] == "string_pattern_mismatch":
        field = _field_at(loc)
        text = field.description.rstrip(".") if field is not None and field.description else ""
        return text[:1].lower() + text[1:]
    return ""


def _field_at(loc):
    names = [part for part in loc if not isinstance(part, int)]
    if not names:
        return None
    model = _model_at(tuple(names[:-1]))
    return model.model_fields.get(names[-1]) if model is not None else None


def _shorten(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _lookup(tree, loc):
    node = tree
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _allowed_keys(loc) -> list[str]:
    model = _model_at(loc)
    if model is None:
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _model_at(loc):
    model = Fleet
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
        if model is None:
            return None
    return model


def _inner_model(annotation):
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def did_you_mean(word: str, choices) -> str:
    """Public for the checks: the same hint wording everywhere."""
    return _did_you_mean(word, choices)



