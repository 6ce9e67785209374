"""Read a fleet spec: bytes -> YAML tree with positions -> pydantic Fleet, every failure located.

``load`` never raises for bad input: it returns ``Loaded`` with the diagnostics it collected, and
``fleet`` is None whenever any of them is an error.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from meshgen.diagnostics import Diagnostic, Span
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions, format_path, index

MAX_NODES = 200_000  # after alias expansion; a larger spec is an alias bomb or a mistake
MAX_BYTES = 16 * 1024 * 1024


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
    tree, problem = _parse(text, file)
    if problem:
        return Loaded(None, positions, [problem])
    found = _check_shape(tree, file) or _check_size(tree, file)
    if found:
        return Loaded(None, positions, [found])
    positions = index(tree, file)
    diagnostics = find_secret_material(tree, positions)
    fleet, schema_errors = _validate(tree, positions)
    diagnostics += schema_errors
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


def _parse(text: str, file: str):
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        documents = list(yaml.load_all(text))
    except DuplicateKeyError as exc:
        return None, _marked("E003", "duplicate key", exc, file, "each key may appear once in a mapping")
    except MarkedYAMLError as exc:
        return None, _marked("E002", "YAML syntax error", exc, file, "")
    except YAMLError as exc:
        return None, Diagnostic("E002", f"YAML error: {exc}", Span(file, 1, 1))
    documents = [d for d in documents if d is not None] if len(documents) > 1 else documents
    if not documents or documents == [None]:
        return None, Diagnostic("E005", "spec is empty", Span(file, 1, 1), hint="start from `meshgen init`")
    if len(documents) > 1:
        return None, Diagnostic("E007", "spec holds several YAML documents; one Fleet is expected", Span(file, 1, 1))
    return documents[0], None


def _marked(code: str, what: str, exc: MarkedYAMLError, file: str, hint: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or ""
    if code == "E003":
        key = re.search(r'found duplicate key "([^"]*)"', str(exc))
        problem = f"key '{key.group(1)}' appears twice" if key else problem
    context = f" {exc.context}" if exc.context and code == "E002" else ""
    return Diagnostic(code, f"{what}: {problem}{context}".strip(), Span(file, line, col), hint=hint)


def _check_shape(tree, file: str) -> Diagnostic | None:
    if isinstance(tree, CommentedMap):
        return None
    found = "a list" if isinstance(tree, CommentedSeq) else f"the scalar {_shorten(tree)}"
    line = tree.lc.line + 1 if isinstance(tree, CommentedSeq) else 1
    return Diagnostic("E006", f"spec must be a mapping (apiVersion, kind, ...), found {found}", Span(file, line, 1))


def _check_size(tree, file: str) -> Diagnostic | None:
    """Count nodes as pydantic would see them, aliases expanded, stopping at the limit."""
    count = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            message = f"spec expands to more than {MAX_NODES} nodes (YAML aliases nested too deep?)"
            return Diagnostic("E004", message, Span(file, 1, 1), hint="remove anchors/aliases that multiply content")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


# --- secret material -------------------------------------------------------------------------

_SECRET_KEYS = {
    "token", "password", "privatekey", "private-key", "private_key", "client-key-data",
    "client-certificate-data", "certificate-authority-data", "ca-key.pem", "key.pem", "tls.key",
    "secret", "bearertoken", "bearer-token", "apikey", "api-key", "kubeconfig", "pem",
}
_SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|CERTIFICATE|RSA|EC)|"  # PEM blocks
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}|"  # JWTs (service-account tokens)
    r"^[A-Za-z0-9+/]{200,}={0,2}$"  # long base64 blobs (certificate or key data)
)


def find_secret_material(tree, positions: Positions) -> list[Diagnostic]:
    found = []
    for path, key, value in _items(tree, ()):
        if isinstance(key, str) and key.lower() in _SECRET_KEYS:
            message = f"'{format_path(path)}' looks like secret material; the spec holds references only"
            found.append(_secret(message, positions.key_span(path)))
        elif isinstance(value, str) and _SECRET_VALUE.search(value.strip()):
            message = f"value of '{format_path(path)}' looks like a PEM block, token or key data"
            found.append(_secret(message, positions.span(path)))
    return found


def _secret(message: str, span: Span) -> Diagnostic:
    hint = "store it in the secret store and name its path (e.g. `certificatePath`) instead"
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
        return Fleet.model_validate(_plain(tree)), []
    except pydantic.ValidationError as exc:
        return None, [_schema_diagnostic(error, tree, positions) for error in exc.errors()]


def _plain(node):
    """ruamel round-trip containers -> plain dicts/lists/str (pydantic sees ordinary data)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, bool)) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


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
    found = error.get("input")
    shown = _shorten(found)
    message = f"'{where}': {_message(error)}"
    if not isinstance(found, (dict, list)):
        message += f" (found {shown})"
    return Diagnostic("E103", message, positions.span(loc), path=where)


def _is_union_tag(part) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-after"))


def _message(error: dict) -> str:
    text = error["msg"]
    return text.removeprefix("Value error, ")


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



