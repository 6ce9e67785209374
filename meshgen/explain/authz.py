"""Authorization at the destination sidecar: which AuthorizationPolicy and rule decide a request.

Istio's order (reference §8.1, [API-AP] header comment): CUSTOM, then DENY, then ALLOW. Any matching
DENY policy denies; if any ALLOW policy applies to the workload, a request matching none of them is
denied; with no ALLOW policy at all, the request is allowed. Policies apply from the root namespace
and the workload's namespace when their selector matches the workload's labels (pilot/pkg/model/
authorization.go ``ListAuthorizationPolicies``). A rule matches when one of its ``from`` sources, one
of its ``to`` operations and every ``when`` condition match; a policy matches when one rule does;
an absent ``from`` or ``to`` matches everything.

Principals need mutual TLS: a plain-text request has none, so ``principals`` never match it. Policy
principals are rewritten with the destination mesh's trust domain aliases first (``istio.expand_aliases``).
Fields this evaluator does not read (HTTP methods, paths, JWT claims, IP blocks, ``when``) make a rule
undecidable: it is taken as not matching in an ALLOW policy and as matching in a DENY policy, and the
explanation says so.

Each policy body is compiled once per trust bundle into set lookups and prefix/suffix tests (the
matrix decides hundreds of thousands of requests).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from meshgen.explain import istio
from meshgen.explain.index import ROOT_NAMESPACE
from meshgen.explain.reader import Document

SOURCE_FIELDS = {"principals", "notPrincipals", "namespaces", "notNamespaces", "serviceAccounts",
                 "notServiceAccounts"}
OPERATION_FIELDS = {"ports", "notPorts"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    text: str
    doc: Document | None = None  # the policy that decided, None for Istio's default
    rule: int | None = None


@dataclass(frozen=True)
class Request:
    principal: str | None  # None: plain text, no peer identity
    port: int  # the workload (target) port: "ports as specified in the connection" at the sidecar
    bundle: tuple[str, ...]  # the destination mesh's trust domain and aliases


def applicable(policies: list[Document], namespace: str, labels: dict) -> list[Document]:
    """Policies of the root namespace and of the workload's namespace that select the workload."""
    found = []
    for doc in policies:
        spec = doc.body.get("spec", {})
        own = doc.body.get("metadata", {}).get("namespace")
        if own not in (ROOT_NAMESPACE, namespace) or "targetRef" in spec or "targetRefs" in spec:
            continue  # targetRef(s) attach a policy to a gateway or waypoint, never to a sidecar
        if istio.selects(spec.get("selector", {}).get("matchLabels", {}), labels):
            found.append(doc)
    return found


def decide(policies: list[Document], request: Request) -> Decision:
    """The decision and why, naming the policy and rule that decided (``verdict`` picks them)."""
    compiled = [compile_policy(doc, request.bundle) for doc in policies]
    kind, policy, rule, note = verdict(compiled, request)
    denies = ", ".join(p.name for p in compiled if p.action == "DENY")
    no_deny = f"; no DENY policy matches ({denies})" if denies else ""
    if kind == "custom":
        return Decision(False, f"CUSTOM policy {policy.name} delegates to an external authorizer explain cannot "
                               "evaluate", policy.doc)
    if kind == "deny":
        return Decision(False, f"DENY policy {policy.name} rule {rule} matches {_who(request)}"
                               f"{_pattern(policy, rule, request)}{note}", policy.doc, rule)
    if kind == "allow":
        return Decision(True, f"ALLOW policy {policy.name} rule {rule} matches {_who(request)}"
                              f"{_pattern(policy, rule, request)} on port {request.port}{no_deny}", policy.doc, rule)
    if kind == "unmatched":
        names = ", ".join(p.name for p in compiled if p.action == "ALLOW")
        return Decision(False, f"no rule of the ALLOW policies ({names}) matches {_who(request)} on port "
                               f"{request.port}: denied, since an ALLOW policy applies{note}", policy.doc)
    return Decision(True, f"no ALLOW policy selects the workload: allowed by default{no_deny}")


ALLOWING = ("allow", "default")  # the verdicts that let a request through


def allowed(policies: list[Document], request: Request) -> bool:
    """``decide(...).allowed`` without the explanation."""
    return verdict([compile_policy(doc, request.bundle) for doc in policies], request)[0] in ALLOWING


def verdict(compiled: list[Policy], request: Request) -> tuple[str, Policy | None, int | None, str]:
    """(custom | deny | allow | unmatched | default, the deciding policy, its rule, a note): CUSTOM, then
    DENY, then ALLOW, as Istio evaluates them."""
    custom = next((p for p in compiled if p.action == "CUSTOM"), None)
    if custom is not None:
        return "custom", custom, None, ""
    for policy in compiled:
        if policy.action == "DENY":
            rule, note = policy.first_match(request, deny=True)
            if rule is not None:
                return "deny", policy, rule, note
    notes, first = "", None
    for policy in compiled:
        if policy.action == "ALLOW":
            rule, note = policy.first_match(request, deny=False)
            if rule is not None:
                return "allow", policy, rule, ""
            notes, first = notes + note, first or policy
    return ("unmatched", first, None, notes) if first is not None else ("default", None, None, "")


def _pattern(policy: Policy, rule: int, request: Request) -> str:
    """' (principal pattern p)': the first pattern of the rule's sources that matches the principal."""
    if not request.principal:
        return ""
    for entry in policy.doc.body["spec"]["rules"][rule].get("from", []):
        patterns = istio.expand_aliases(entry.get("source", {}).get("principals", []), list(request.bundle))
        found = next((p for p in patterns if istio.string_match(p, request.principal)), None)
        if found is not None:
            return f" (principal pattern {found})"
    return ""


def _who(request: Request) -> str:
    return request.principal or "a plain-text peer (no principal)"


# --- compiled policies -------------------------------------------------------------------------


@dataclass(frozen=True)
class Patterns:
    """Istio string matchers over one value (``istio.string_match``), as set lookups and tests."""

    exact: frozenset
    prefixes: tuple
    suffixes: tuple
    any_value: bool

    @classmethod
    def of(cls, patterns: list[str]) -> Patterns:
        exact = frozenset(p for p in patterns if "*" not in p)
        prefixes = tuple(p[:-1] for p in patterns if p.endswith("*") and p != "*" and not p.startswith("*"))
        suffixes = tuple(p[1:] for p in patterns if p.startswith("*") and p != "*")
        return cls(exact, prefixes, suffixes, "*" in patterns)

    def __call__(self, value: str | None) -> bool:
        if not value:
            return False
        return value in self.exact or self.any_value or value.startswith(self.prefixes) or value.endswith(self.suffixes)


@dataclass(frozen=True)
class Source:
    principals: Patterns | None
    not_principals: Patterns | None
    namespaces: tuple | None  # compiled regular expressions over spiffe://<principal>
    not_namespaces: tuple | None
    accounts: tuple | None
    not_accounts: tuple | None

    def matches(self, principal: str | None) -> bool:
        uri = "spiffe://" + principal if principal else ""
        return (self.principals is None or self.principals(principal)) \
            and (self.not_principals is None or not self.not_principals(principal)) \
            and (self.namespaces is None or any(r.fullmatch(uri) for r in self.namespaces)) \
            and (self.not_namespaces is None or not any(r.fullmatch(uri) for r in self.not_namespaces)) \
            and (self.accounts is None or any(r.fullmatch(uri) for r in self.accounts)) \
            and (self.not_accounts is None or not any(r.fullmatch(uri) for r in self.not_accounts))


@dataclass(frozen=True)
class Rule:
    sources: tuple | None  # None: no ``from``, any source
    operations: tuple | None  # ((ports or None, notPorts or None), ...); None: no ``to``
    unread: tuple[str, ...]

    def matches(self, principal: str | None, port: int) -> bool:
        return (self.sources is None or any(s.matches(principal) for s in self.sources)) and \
            (self.operations is None or any((ports is None or port in ports) and (not_ports is None or port not in not_ports)
                                            for ports, not_ports in self.operations))


@dataclass(frozen=True)
class Policy:
    doc: Document
    name: str
    action: str
    rules: tuple[Rule, ...]

    def first_match(self, request: Request, deny: bool) -> tuple[int | None, str]:
        """(index of the first matching rule or None, a note when a rule could not be decided)."""
        note = ""
        for i, rule in enumerate(self.rules):
            if rule.unread:
                note = f" (rule {i} uses {', '.join(rule.unread)}, not evaluated: taken as " \
                       f"{'matching' if deny else 'not matching'})"
                if deny:
                    return i, note
            elif rule.matches(request.principal, request.port):
                return i, ""
        return None, note


_COMPILED: OrderedDict = OrderedDict()  # (id(doc), bundle) -> (doc, Policy): the doc kept, so its id stays its own
_COMPILED_LIMIT = 200_000


def compile_policy(doc: Document, bundle: tuple[str, ...]) -> Policy:
    key = (id(doc), bundle)
    found = _COMPILED.get(key)
    if found is None or found[0] is not doc:
        meta, spec = doc.body.get("metadata", {}), doc.body.get("spec", {})
        rules = tuple(_rule(r, bundle, doc) for r in spec.get("rules", []))
        policy = Policy(doc, f"{meta.get('namespace', '')}/{meta.get('name', '')}", spec.get("action", "ALLOW"), rules)
        found = _COMPILED[key] = (doc, policy)
        if len(_COMPILED) > _COMPILED_LIMIT:
            _COMPILED.popitem(last=False)
    return found[1]


def _rule(rule: dict, bundle: tuple[str, ...], doc: Document) -> Rule:
    unread = {k for f in rule.get("from", []) for k in f.get("source", {})} - SOURCE_FIELDS
    unread |= {k for t in rule.get("to", []) for k in t.get("operation", {})} - OPERATION_FIELDS
    unread |= {"when"} if rule.get("when") else set()
    own = doc.body.get("metadata", {}).get("namespace", "")
    sources = tuple(_source(f.get("source", {}), bundle, own) for f in rule["from"]) if "from" in rule else None
    operations = tuple(_operation(t.get("operation", {})) for t in rule["to"]) if "to" in rule else None
    return Rule(sources, operations, tuple(sorted(unread)))


def _source(source: dict, bundle: tuple[str, ...], namespace: str) -> Source:
    def principals(key):
        return Patterns.of(istio.expand_aliases(source[key], list(bundle))) if key in source else None

    def namespaces(key):
        return tuple(_namespace_regex(p) for p in source[key]) if key in source else None

    def accounts(key):
        return tuple(_account_regex(a, namespace) for a in source[key]) if key in source else None

    return Source(principals("principals"), principals("notPrincipals"), namespaces("namespaces"),
                  namespaces("notNamespaces"), accounts("serviceAccounts"), accounts("notServiceAccounts"))


def _namespace_regex(pattern: str) -> re.Pattern:
    """``source.namespaces``: the principal's ``/ns/<namespace>/`` segment, ``*`` as any run of characters
    (pilot/pkg/security/authz/model/generator.go ``srcNamespaceGenerator``)."""
    return re.compile(".*/ns/" + ".*".join(re.escape(p) for p in pattern.split("*")) + "/.*")


def _account_regex(account: str, namespace: str) -> re.Pattern:
    """``serviceAccounts`` (1.25+): ``sa`` (in the policy's namespace) or ``ns/sa``, in any trust domain
    (generator.go ``serviceAccountRegex``)."""
    ns, _, sa = account.rpartition("/")
    return re.compile(f"spiffe://.+/ns/{re.escape(ns or namespace)}/(.+/|)sa/{re.escape(sa)}(/.+)?")


def _operation(operation: dict) -> tuple:
    def ports(key):
        return frozenset(int(p) for p in operation[key]) if key in operation else None

    return ports("ports"), ports("notPorts")
