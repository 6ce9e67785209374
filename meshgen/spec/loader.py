"""Read a fleet spec: bytes -> YAML tree with positions -> pydantic Fleet, every failure located.

``load`` never raises for bad input: it returns ``Loaded`` with the diagnostics it collected, and
``fleet`` is None whenever any of them is an error.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import re
from dataclasses import dataclass, field

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from meshgen.diagnostics import Diagnostic, Span, sort_diagnostics
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions, format_path
from meshgen.spec.secrets import secret_free_form_key, secret_key, secret_kind
from meshgen.spec.tree import Document, Limits, Refused, documents

# Limits that stop attacks, not fleets. The 40-mesh benchmark fleet (200 clusters, 4,000 services,
# 4,000 exports) is 2.7 MB and about 340,000 nodes; these allow about six times that. The xl
# benchmark fleet (1,000 clusters, 20,000 services, 5,000 exports) is 7.35 MB and 817,329 nodes.
MAX_BYTES = 12 * 1024 * 1024  # the xl benchmark fleet (1,000 clusters) is 7.35 MB
LIMITS = Limits(depth=64, nodes=2_000_000, ratio=10, floor=100_000)
MAX_DEPTH = LIMITS.depth  # a fleet spec nests about 8 levels; deeper nesting is an attack or a mistake
PURE_FALLBACK_CHARS = 256 * 1024  # re-read a spec libyaml refuses with the (10x slower) pure parser up to this size


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
    found = _check_shape(tree, positions)
    if found:
        return Loaded(None, positions, [found])
    fleet, schema_errors = _validate(tree, positions)
    secrets = find_secret_material(tree, positions)
    secret_spans = {d.span for d in secrets}
    # a value refused as secret material is not also quoted back by a schema message
    diagnostics = sort_diagnostics(secrets + [d for d in schema_errors if d.code != "E103" or d.span not in secret_spans])
    if any(d.is_error for d in diagnostics):
        fleet = None
    return Loaded(fleet, positions, diagnostics)


def _decode(data: bytes, file: str) -> tuple[str, Diagnostic | None]:
    if len(data) > MAX_BYTES:
        return "", _too_large(data, file)
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        col = exc.start - (head.rfind(b"\n") + 1) + 1
        message = f"spec is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded"
        return "", Diagnostic("E001", message, Span(file, line, col), hint="save the file as UTF-8")


def _too_large(data: bytes, file: str) -> Diagnostic:
    """Located where the limit is crossed (``data`` may be cut just after it)."""
    head = data[:MAX_BYTES]
    line, col = head.count(b"\n") + 1, MAX_BYTES - (head.rfind(b"\n") + 1) + 1
    message = f"spec is larger than {MAX_BYTES // (1024 * 1024)} MiB ({MAX_BYTES:,} bytes), the limit; it is crossed here"
    return Diagnostic("E001", message, Span(file, line, col),
                      hint="a fleet spec of 1,000 clusters and 20,000 services is about 7.4 MB; is this the right file?")


def _parse(text: str, file: str) -> tuple[object, Positions, Diagnostic | None]:
    """Parse (libyaml when installed) and build data and positions in one pass, bounded by ``LIMITS``."""
    positions = Positions(file)
    try:
        found = _documents(text, positions)
    except Refused as exc:
        return None, positions, Diagnostic(exc.code, exc.message, _span(file, exc.mark), hint=exc.hint,
                                           path=format_path(exc.path))
    except MarkedYAMLError as exc:
        return None, positions, _marked("E002", "YAML syntax error", exc, file, "")
    except ReaderError as exc:
        return None, positions, _unprintable(exc, text, file)
    except YAMLError as exc:
        return None, positions, Diagnostic("E002", f"YAML error: {exc}", Span(file, 1, 1))
    documents = [d for d in found if not d.empty] or found[:1]
    if len(documents) != 1 or documents[0].empty:
        return None, positions, _document_count(documents, file)
    return documents[0].value, positions, None


def _documents(text: str, positions: Positions) -> list[Document]:
    """The C parser is fast; on an error, the pure-Python parser reads again (when the spec is small
    enough for that to be quick) because its messages say more and it accepts YAML 1.2 that libyaml
    refuses, such as `[2001:db8::]`."""
    try:
        return _build_documents(text, positions, pure=False)
    except YAMLError:
        if len(text) > PURE_FALLBACK_CHARS:
            raise
    positions.values.clear()
    positions.keys.clear()
    return _build_documents(text, positions, pure=True)


def _build_documents(text: str, positions: Positions, pure: bool) -> list[Document]:
    yaml = YAML(typ="safe", pure=pure)
    yaml.Resolver = _Yaml12Resolver
    return documents(yaml.parse(text), positions, LIMITS, yaml.resolver, yaml.constructor)


def _span(file: str, mark) -> Span:
    return Span(file, mark.line + 1, mark.column + 1) if mark is not None else Span(file, 1, 1)


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


def _document_count(documents: list[Document], file: str) -> Diagnostic:
    if not documents or documents[0].empty:
        hint = "a spec starts with `apiVersion: meshgen.dev/v1alpha1` and `kind: Fleet`; `meshgen init` writes a starter"
        return Diagnostic("E005", "spec is empty: expected a Fleet mapping, found no YAML content",
                          Span(file, 1, 1), hint=hint)
    line = documents[1].mark.line + 1
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


# --- secret material -------------------------------------------------------------------------


def find_secret_material(tree, positions: Positions) -> list[Diagnostic]:
    """E210 for every key or value that holds or names secret material (see ``spec.secrets``)."""
    found: list[Diagnostic] = []
    _scan(tree, (), Fleet, positions, found)
    return found


def _scan(node, path: tuple, model, positions: Positions, found: list[Diagnostic]) -> None:
    """``model``: the spec model of ``node`` (a mapping's keys are free-form when it is None)."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = (*path, key)
            _scan_key(key, child, model is None, positions, found)
            _scan(value, child, _field_model(model, key) if model is not None else None, positions, found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _scan(value, (*path, i), model, positions, found)
    elif isinstance(node, str) and (what := secret_kind(node.strip())):
        found.append(_secret(f"value of '{format_path(path)}' looks like {what}", positions.span(path), path))


@functools.cache
def _field_model(model, key):
    """The spec model of ``model``'s field ``key`` (or of its items), None when free-form."""
    field = model.model_fields.get(key) if isinstance(key, str) else None
    return _inner_model(field.annotation) if field is not None else None


def _scan_key(key, path: tuple, free_form: bool, positions: Positions, found: list[Diagnostic]) -> None:
    if secret_key(key) or free_form and isinstance(key, str) and secret_free_form_key(key):
        found.append(_secret(f"key '{format_path(path)}' names secret material", positions.key_span(path), path))
    elif free_form and isinstance(key, str) and (what := secret_kind(key)):
        found.append(_secret(f"key '{format_path(path)}' looks like {what}", positions.key_span(path), path))


def _names_secret(key) -> bool:
    return secret_key(key)


def _secret(message: str, span: Span, path: tuple) -> Diagnostic:
    hint = "keep it in the secret store and give its store path here, as `certificatePath` does"
    return Diagnostic("E210", f"{message}; the spec holds references only", span, hint=hint, path=format_path(path))


# --- schema ----------------------------------------------------------------------------------


def _validate(tree, positions: Positions) -> tuple[Fleet | None, list[Diagnostic]]:
    try:
        return Fleet.model_validate(tree), []
    except pydantic.ValidationError as exc:
        errors = [(_spec_loc(error["loc"], tree), error) for error in exc.errors()]
    typos = _typos(errors)
    return None, [_schema_diagnostic(error, loc, tree, positions, typos.get(loc)) for loc, error in errors]


def _typos(errors) -> dict[tuple, tuple]:
    """Missing key path -> the unknown key beside it that is probably it misspelt (``podCIDR``)."""
    found = {}
    for loc, error in errors:
        if error["type"] == "extra_forbidden" and loc and not secret_key(loc[-1]):  # a secret is no typo
            close = difflib.get_close_matches(str(loc[-1]), _allowed_keys(loc[:-1]), n=1, cutoff=0.6)
            if close:
                found[(*loc[:-1], close[0])] = loc
    return found


def _schema_diagnostic(error: dict, loc: tuple, tree, positions: Positions, typo: tuple | None) -> Diagnostic:
    where = format_path(loc) or "spec"
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc, tree, positions)
    if kind == "missing":
        if typo:  # located at the misspelt key, so it reads right after the E101 that names it
            return Diagnostic("E102", f"'{where}' is required", positions.key_span(typo),
                              hint=f"'{typo[-1]}' here looks like a misspelling of '{loc[-1]}'", path=where)
        return Diagnostic("E102", f"'{where}' is required", positions.span(loc[:-1]),
                          hint=f"add '{loc[-1]}' here", path=where)
    message, hint = _split_hint(f"'{where}': {_message(error)}")
    if kind != "value_error":  # our validators quote the value themselves
        message += f", found {_found(error.get('input'))}"
    return Diagnostic("E103", message, positions.span(loc), hint=_type_hint(error, loc) or hint, path=where)


def _unknown_key(loc: tuple, tree, positions: Positions) -> Diagnostic:
    where, key = format_path(loc), loc[-1]
    if _lookup(tree, loc[:-1]) is None:
        return Diagnostic("E101", f"unknown key '{key}'", positions.key_span(loc), path=where)
    allowed = _allowed_keys(loc[:-1])
    hint = "" if _names_secret(key) else _did_you_mean(str(key), allowed)  # never 'did you mean store?' for token
    hint = hint or ("allowed keys: " + ", ".join(allowed))[:200]
    return Diagnostic("E101", f"unknown key '{key}' in {format_path(loc[:-1]) or 'spec'}", positions.key_span(loc),
                      hint=hint, path=where)


def _split_hint(text: str) -> tuple[str, str]:
    """'... is not a CIDR block (10.1.0.1/16 has host bits set)' -> the message and the hint."""
    if not text.endswith(")"):
        return text, ""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return (text[:i].rstrip(), text[i + 1:-1]) if i and text[i - 1] == " " else (text, "")
    return text, ""


def _spec_loc(loc: tuple, tree) -> tuple:
    """pydantic's error location without the union and validator tags it inserts (such as
    ``function-after[...]``): a part is the spec's when the spec has it there, or when it is the
    last part and names a key of a mapping (a missing field)."""
    out, node = [], tree
    for i, part in enumerate(loc):
        if isinstance(node, dict) and (part in node or i == len(loc) - 1):
            out.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
    return tuple(out)


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



