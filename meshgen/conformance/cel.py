"""CEL layer: the CRDs' own ``x-kubernetes-validations`` rules, read from the repo's schema files.

The schema is walked alongside the object; each rule is evaluated with ``self`` bound to the node
it is attached to, as the API server does. Only the parts of a schema that lead to a rule (or to a
``x-kubernetes-list-type`` uniqueness constraint, which the API server also checks and plain JSON
Schema cannot express) are walked: that plan is built once per schema.

Evaluator: ``common-expression-language`` (Rust, ``import cel``). It supports ``has``, macros
(``all``, ``exists``, ``exists_one``), ``matches``, ``size``, ``startsWith``/``endsWith``/
``contains``, ``int()`` and ``duration()`` comparison, and runs about 100x faster than cel-python.
Neither library has the Kubernetes strings extension, so ``substring`` and friends are registered
below as custom functions. Rules are compiled once; results are cached by (rules, exact repr of
``self``) because rendered fleets repeat the same sub-objects (ports, selectors, durations) a lot.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

import cel as _cel

from meshgen.conformance.finding import Finding, child, entry

_CACHE_LIMIT = 500_000
_results: dict[tuple, tuple] = {}  # (rules, canonical self) -> per rule: None (passed) or why it failed


def _substring(text: str, start: int, end: int | None = None) -> str:
    end = len(text) if end is None else end
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"index out of range: substring({start}, {end}) of a {len(text)}-character string")
    return text[start:end]


# Kubernetes CEL strings library (k8s.io/apiserver/pkg/cel/library), the parts the CRDs can use.
FUNCTIONS = {
    "substring": _substring,
    "lowerAscii": lambda text: text.lower(),
    "upperAscii": lambda text: text.upper(),
    "trim": lambda text: text.strip(),
    "split": lambda text, sep: text.split(sep),
    "join": lambda items, sep="": sep.join(items),
    "indexOf": lambda text, sub: text.find(sub),
    "lastIndexOf": lambda text, sub: text.rfind(sub),
    "replace": lambda text, old, new: text.replace(old, new),
}

# Evaluator error wording -> the API server's (cel-go) wording, so messages match kubectl's.
_ERROR_WORDING = (("Function 'int' error: string parse error", "type conversion error from 'string' to 'int'"),)

_TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float), "boolean": bool}


@dataclass(frozen=True)
class Rule:
    rule: str
    message: str
    field_path: str = ""


@dataclass
class Plan:
    """The part of one schema node that carries rules, with the children that lead to more.

    ``fields``: the only fields of ``self`` the node's rules read (``self.<field>`` and nothing
    else), so that just those are converted to CEL values and used as the cache key; None when a
    rule uses ``self`` as a whole (``self.all(...)``, ``duration(self)``).
    """

    type: str = ""
    rules: tuple[Rule, ...] = ()
    fields: frozenset[str] | None = None
    list_type: str = ""
    list_keys: tuple[str, ...] = ()
    properties: dict[str, Plan] = field(default_factory=dict)
    additional: Plan | None = None
    items: Plan | None = None


_SELF = re.compile(r"\bself\b(\.([A-Za-z_]\w*)(?!\w)(\s*\()?)?")


def self_fields(rules) -> frozenset[str] | None:
    """The fields of ``self`` the rules read, or None if any rule needs ``self`` whole."""
    names: set[str] = set()
    for rule in rules:
        for match in _SELF.finditer(rule.rule):
            name, call = match.group(2), match.group(3)
            if name is None or call is not None or "__" in name:
                return None
            names.add(name)
    return frozenset(names)


def plan_for(schema: dict) -> Plan | None:
    """Build the walking plan of a schema node; None when nothing below it has a rule."""
    if not isinstance(schema, dict):
        return None
    properties = {name: sub for name, sub in ((n, plan_for(s)) for n, s in schema.get("properties", {}).items()) if sub}
    rules = tuple(_rules(schema))
    plan = Plan(
        type=schema.get("type", "") if isinstance(schema.get("type"), str) else "",
        rules=rules,
        fields=self_fields(rules),
        list_type=schema.get("x-kubernetes-list-type", "") if schema.get("x-kubernetes-list-type") in ("map", "set") else "",
        list_keys=tuple(schema.get("x-kubernetes-list-map-keys", ())),
        properties=properties,
        additional=plan_for(schema.get("additionalProperties")),
        items=plan_for(schema.get("items")),
    )
    has_content = plan.rules or plan.list_type or plan.properties or plan.additional or plan.items
    return plan if has_content else None


def _rules(schema: dict):
    for item in schema.get("x-kubernetes-validations", ()):
        if "oldSelf" in item["rule"]:
            continue  # transition rules need the stored object; offline there is none
        message = item.get("message") or f"failed rule: {item['rule']}"
        yield Rule(item["rule"], message, item.get("fieldPath", "").lstrip("."))


def findings(plan: Plan | None, obj, report_errors: bool = True) -> list[Finding]:
    """Every broken rule under ``plan`` for ``obj``; evaluation errors only if ``report_errors``."""
    out: list[Finding] = []
    if plan is not None:
        _walk(plan, obj, (), out, report_errors)
    return out


def _walk(plan: Plan, node, parts: tuple, out: list, report_errors: bool) -> None:
    expected = _TYPES.get(plan.type)
    if node is None or (expected and (not isinstance(node, expected) or isinstance(node, bool) != (plan.type == "boolean"))):
        return  # a type mismatch is the schema layer's finding
    if plan.rules:
        _check_rules(plan, node, parts, out, report_errors)
    if isinstance(node, dict):
        for name, sub in plan.properties.items():
            if name in node:
                _walk(sub, node[name], (*parts, name), out, report_errors)
        if plan.additional is not None:
            for key, value in node.items():
                _walk(plan.additional, value, (*parts, (key,)), out, report_errors)
    elif isinstance(node, list):
        if plan.list_type:
            out.extend(_duplicates(plan, node, _path(parts)))
        if plan.items is not None:
            for index, value in enumerate(node):
                _walk(plan.items, value, (*parts, index), out, report_errors)


def _path(parts: tuple) -> str:
    """Field names join with '.', list indexes as [i], map keys (1-tuples) as [key]."""
    path = ""
    for part in parts:
        path = entry(path, part[0]) if isinstance(part, tuple) else child(path, part)
    return path


def _check_rules(plan: Plan, node, parts: tuple, out: list, report_errors: bool) -> None:
    if plan.fields is not None and isinstance(node, dict):
        node = {name: node[name] for name in plan.fields if name in node}
    for rule, failure in zip(plan.rules, _evaluate(plan.rules, node)):
        if failure is None or (failure != rule.message and not report_errors):
            continue
        path = _path(parts)
        where = child(path, rule.field_path) if rule.field_path else path
        out.append(Finding(where, f'Invalid value: "{_json_type(node)}": {failure}', "cel"))


def _evaluate(rules: tuple[Rule, ...], node) -> tuple[str | None, ...]:
    """Each rule's failure message (None: passed), converting ``self`` to CEL once for all of them."""
    cache_key = (id(rules), _canonical(node))  # plans (and their rule tuples) live as long as the process
    cached = _results.get(cache_key)
    if cached is not None:
        return cached
    functions = FUNCTIONS if any(_uses_functions(rule.rule) for rule in rules) else None
    context = _cel.Context(variables={"self": node}, functions=functions)
    result = tuple(_run(rule, context) for rule in rules)
    if len(_results) >= _CACHE_LIMIT:
        _results.clear()
    _results[cache_key] = result
    return result


def _run(rule: Rule, context) -> str | None:
    try:
        return None if _program(rule.rule).execute(context) is True else rule.message
    except Exception as error:  # the evaluator raises ValueError/RuntimeError/KeyError/TypeError
        return f"{rule.message}: rule evaluation error: {_wording(str(error))}"


@lru_cache(maxsize=None)
def _uses_functions(rule: str) -> bool:
    """Registering the custom functions costs about 2µs per evaluation: only when a rule calls one."""
    return any(re.search(rf"\b{name}\s*\(", rule) for name in FUNCTIONS)


@lru_cache(maxsize=None)
def _program(rule: str):
    return _cel.compile(rule)


def _wording(text: str) -> str:
    for theirs, ours in _ERROR_WORDING:
        if theirs in text:
            return ours
    return text.split(". Check")[0]


def _json_type(node) -> str:
    """The type word the API server puts in a CEL rule's error ("Invalid value: \"object\": ...")."""
    for name, types in (("boolean", bool), ("object", dict), ("array", list), ("string", str), ("integer", int)):
        if isinstance(node, types):
            return name
    return "number"


def _canonical(node) -> str:
    """A cache key for a JSON-like value: repr round-trips it exactly (1, 1.0, True and "1" differ).
    Key order is not normalised: equal maps in another order only cost a cache miss."""
    return repr(node)


def _duplicates(plan: Plan, items: list, path: str) -> list[Finding]:
    seen: set = set()
    out = []
    for index, item in enumerate(items):
        if plan.list_type == "map" and isinstance(item, dict):
            key = json.dumps({k: item.get(k) for k in plan.list_keys}, sort_keys=True)
        else:
            key = json.dumps(item, sort_keys=True)
        if key in seen:
            out.append(Finding(child(path, index), f"Duplicate value: {key}", "schema/list-type"))
        seen.add(key)
    return out
