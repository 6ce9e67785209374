"""CEL layer: the CRDs' own ``x-kubernetes-validations`` rules, read from the repo's schema files.

The schema is walked alongside the object; each rule is evaluated with ``self`` bound to the node
it is attached to, as the API server does. Only the parts of a schema that lead to a rule (or to a
``x-kubernetes-list-type`` uniqueness constraint, which the API server also checks and plain JSON
Schema cannot express) are walked: that plan is built once per schema.

Evaluator: ``common-expression-language`` (Rust, ``import cel``). It supports ``has``, macros
(``all``, ``exists``, ``exists_one``), ``matches``, ``size``, ``startsWith``/``endsWith``/
``contains``, ``int()`` and ``duration()`` comparison, and runs about 100x faster than cel-python.
Neither library has the Kubernetes strings extension, so ``substring`` and friends are registered
below as custom functions. Rules are compiled once; results are cached by (rules, ``self``) because
rendered fleets repeat the same sub-objects (ports, selectors, durations) a lot: a string or an
integer ``self`` is its own key, anything else its exact repr. Of an object ``self`` only the fields
the rules read are kept, and a field the rules only test with ``has(self.<field>)`` is kept as a
constant (``has`` tests presence, never the value), so that e.g. every ServiceEntry with a
``workloadSelector`` shares one cache entry whatever its labels.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

import cel as _cel

from meshgen.conformance.finding import Finding, child, entry

_CACHE_LIMIT = 500_000
_results: dict[tuple, tuple] = {}  # (rules, self) -> per rule: None (passed) or why it failed; () if all passed


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
    rule uses ``self`` as a whole (``self.all(...)``, ``duration(self)``). ``presence``: those of
    ``fields`` that every rule only tests with ``has(self.<field>)``.

    The rest is precomputed once per schema because the walk runs once per node of every object:
    ``accepts``/``boolean``, the schema type as the walk checks it; ``children``, the properties as
    pairs; ``scalar``, for a leaf with rules on a string or an integer (no children, no list type),
    the value class whose cached all-passed result lets the parent skip the call altogether.
    """

    type: str = ""
    rules: tuple[Rule, ...] = ()
    fields: frozenset[str] | None = None
    presence: frozenset[str] = frozenset()
    list_type: str = ""
    list_keys: tuple[str, ...] = ()
    properties: dict[str, Plan] = field(default_factory=dict)
    additional: Plan | None = None
    items: Plan | None = None
    accepts: type | tuple | None = field(default=None, init=False, repr=False)
    boolean: bool = field(default=False, init=False, repr=False)
    children: tuple[tuple[str, Plan], ...] = field(default=(), init=False, repr=False)
    scalar: type | None = field(default=None, init=False, repr=False)
    rules_id: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.accepts = _TYPES.get(self.type)
        self.boolean = self.type == "boolean"
        self.children = tuple(self.properties.items())
        leaf = not (self.properties or self.additional or self.items or self.list_type)
        self.scalar = {"string": str, "integer": int}.get(self.type) if leaf and self.rules else None
        self.rules_id = id(self.rules)


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


def presence_fields(rules, fields: frozenset[str] | None) -> frozenset[str]:
    """Those of ``fields`` whose every mention in every rule is exactly ``has(self.<field>)``."""
    out = set()
    for name in fields or ():
        mentions = sum(len(re.findall(rf"\bself\.{re.escape(name)}(?!\w)", rule.rule)) for rule in rules)
        if mentions and mentions == sum(rule.rule.count(f"has(self.{name})") for rule in rules):
            out.add(name)
    return frozenset(out)


def plan_for(schema: dict) -> Plan | None:
    """Build the walking plan of a schema node; None when nothing below it has a rule."""
    if not isinstance(schema, dict):
        return None
    properties = {name: sub for name, sub in ((n, plan_for(s)) for n, s in schema.get("properties", {}).items()) if sub}
    rules = tuple(_rules(schema))
    fields = self_fields(rules)
    plan = Plan(
        type=schema.get("type", "") if isinstance(schema.get("type"), str) else "",
        rules=rules,
        fields=fields,
        presence=presence_fields(rules, fields),
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
    """Check ``node`` against ``plan`` and recurse. A child that is absent or null is not visited
    (nothing applies to it), nor a scalar leaf whose rules all passed for that value before."""
    accepts = plan.accepts
    if node is None or (accepts is not None and (not isinstance(node, accepts) or (node.__class__ is bool) != plan.boolean)):
        return  # a type mismatch is the schema layer's finding
    if plan.rules:
        _check_rules(plan, node, parts, out, report_errors)
    results = _results
    if isinstance(node, dict):
        for name, sub in plan.children:
            value = node.get(name)
            if value is None or (value.__class__ is sub.scalar and results.get((sub.rules_id, value)) == ()):
                continue
            _walk(sub, value, (*parts, name), out, report_errors)
        sub = plan.additional
        if sub is not None:
            for key, value in node.items():
                if value is None or (value.__class__ is sub.scalar and results.get((sub.rules_id, value)) == ()):
                    continue
                _walk(sub, value, (*parts, (key,)), out, report_errors)
    elif isinstance(node, list):
        if plan.list_type:
            out.extend(_duplicates(plan, node, _path(parts)))
        sub = plan.items
        if sub is not None:
            for index, value in enumerate(node):
                if value is None or (value.__class__ is sub.scalar and results.get((sub.rules_id, value)) == ()):
                    continue
                _walk(sub, value, (*parts, index), out, report_errors)


def _path(parts: tuple) -> str:
    """Field names join with '.', list indexes as [i], map keys (1-tuples) as [key]."""
    path = ""
    for part in parts:
        path = entry(path, part[0]) if isinstance(part, tuple) else child(path, part)
    return path


def _check_rules(plan: Plan, node, parts: tuple, out: list, report_errors: bool) -> None:
    if plan.fields is not None and isinstance(node, dict):
        presence = plan.presence
        node = {name: True if name in presence else node[name] for name in plan.fields if name in node}
    for rule, failure in zip(plan.rules, _evaluate(plan.rules, node)):
        if failure is None or (failure != rule.message and not report_errors):
            continue
        path = _path(parts)
        where = child(path, rule.field_path) if rule.field_path else path
        out.append(Finding(where, f'Invalid value: "{_json_type(node)}": {failure}', "cel"))


def _evaluate(rules: tuple[Rule, ...], node) -> tuple[str | None, ...]:
    """Each rule's failure message (None: passed), or () when every rule passed; ``self`` is
    converted to CEL once for all of them."""
    cache_key = _cache_key(id(rules), node)  # plans (and their rule tuples) live as long as the process
    cached = _results.get(cache_key)
    if cached is not None:
        return cached
    functions = FUNCTIONS if any(_uses_functions(rule.rule) for rule in rules) else None
    context = _cel.Context(variables={"self": node}, functions=functions)
    result = tuple(_run(rule, context) for rule in rules)
    if not any(failure is not None for failure in result):
        result = ()  # all passed: one shared value, which the walk tests to skip a leaf (zip() with it is empty)
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


def _cache_key(rules_id: int, node) -> tuple:
    """(rules, self) as a cache key. A str or an int (not a bool) is its own key: equal keys are then
    equal values of one type. Anything else is keyed by its repr, which round-trips a JSON-like
    value exactly (1, 1.0, True, "1" and -0.0 differ), in a 3-tuple so that it never equals a key
    of the first kind. Key order is not normalised: equal maps in another order only cost a miss."""
    kind = node.__class__
    if kind is str or kind is int:
        return (rules_id, node)
    return (rules_id, None, repr(node))


def _duplicates(plan: Plan, items: list, path: str) -> list[Finding]:
    if _distinct_strings(plan, items):
        return []
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


def _distinct_strings(plan: Plan, items: list) -> bool:
    """Fast path of ``_duplicates``: True when every item (a set) or every item's key fields (a map)
    are plain strings and no two items have equal ones. Their JSON texts then differ too, so there is
    no duplicate; anything else (other types, a missing key, an actual duplicate) takes the JSON path."""
    if plan.list_type == "map":
        keys = plan.list_keys
        values = []
        for item in items:
            if item.__class__ is not dict:
                return False
            key = tuple(item.get(name) for name in keys)
            if any(part.__class__ is not str for part in key):
                return False
            values.append(key)
    else:
        values = items
        if any(item.__class__ is not str for item in items):
            return False
    return len(set(values)) == len(values)
