"""Verdicts of many callers at once: what the matrix evaluates, shared wherever the inputs are the same.

* A plan (``walk.plan``) per (cluster signature, namespace class, host, port). Clusters whose
  configuration for a host is the same objects share it (``signature``: the primaries of a mesh hold
  the same imports); a namespace is a class of its own only when the host's objects name it
  (``relevant``), since nothing else in a plan depends on the caller's namespace.
* Per destination profile (policies, port, trust bundle) and caller mesh, the decision for every probe
  of the mesh, taken once per class of principals the policies cannot tell apart (``distinction``).

``Verdicts(fleet, shortcuts=False)`` shares nothing between clusters or principals; tests check that
both give the same matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.explain import authz, client, istio, server, walk
from meshgen.explain.fleet import Fleet, Origin
from meshgen.explain.hops import OTHER
from meshgen.explain.index import ROOT_NAMESPACE
from meshgen.explain.paths import Destination
from meshgen.explain.probes import Probe


NONE, SOME, ALL = 0, 1, 2  # of the ways a request may take, how many let the caller through


class Verdicts:
    def __init__(self, fleet: Fleet, shortcuts: bool = True):
        self.fleet = fleet
        self.shortcuts = shortcuts
        self._inputs: dict[tuple, tuple | None] = {}  # (signature, namespace class, host, port) -> profiles
        self._cells: dict[tuple, tuple] = {}  # (signature, namespaces signature, host, port) -> verdicts
        self._vectors: dict[tuple, tuple] = {}  # (profile, mTLS, mesh) -> verdicts of the mesh's probes
        self._relevant: dict[tuple, frozenset] = {}
        self._bodies: dict[tuple, tuple] = {}  # (config cluster, host) -> the hosts and bodies a plan reads
        self._origins: dict[str, tuple] = {}
        self._ids: dict[tuple, int] = {}  # signatures as small numbers: keys hash them often
        self._signatures: dict[tuple[str, str], int] = {}
        self._callers: dict[tuple, bool] = {}
        self._policies: dict[tuple, list] = {}
        self._namespaces: dict[str, int] = {}
        self._principals: dict[str, list[str]] = {}
        self._modes: dict[tuple, str] = {}
        self._patterns: dict[tuple, tuple] = {}
        self._levels: dict[tuple, Distinction] = {}
        self._compiled: dict[tuple, list] = {}

    # --- verdicts ----------------------------------------------------------------------------------

    def of(self, origin: Origin, probes: list[Probe], host: str, port: int) -> tuple:
        """Whether each probe of the mesh may call, from this cluster."""
        relevant = self.relevant(origin, host)
        signature = self.signature(origin, host) if self.shortcuts else (origin.cluster, host)
        key = (signature, self._namespaces_of(origin) if self.shortcuts else None, port)
        if key not in self._cells:
            self._cells[key] = self._compute(origin, probes, relevant, signature, host, port)
        return self._cells[key]

    def _compute(self, origin: Origin, probes: list[Probe], relevant, signature, host: str, port: int) -> tuple:
        """Per probe: ALL (every way a request may take passes), SOME (only some do) or NONE."""
        found = [NONE] * len(probes)
        by_class: dict[str, tuple | None] = {}  # namespace class -> verdicts: most namespaces share one plan
        by_namespace: dict[str, tuple | None] = {}
        for i, probe in enumerate(probes):
            namespace = probe.namespace
            if namespace not in by_namespace:
                by_namespace[namespace] = None
                if self._caller_ok(origin, namespace):
                    cls = namespace if namespace in relevant else OTHER
                    if cls not in by_class:
                        ways = self.verdict_inputs(origin, cls, relevant, signature, host, port)
                        by_class[cls] = self.states(ways, origin, probes) if ways else None
                    by_namespace[namespace] = by_class[cls]
            states = by_namespace[namespace]
            found[i] = states[i] if states is not None else NONE
        return tuple(found)

    def states(self, ways: tuple, origin: Origin, probes: list[Probe]) -> tuple:
        """ALL, SOME or NONE per probe, from each way's (passes before authorization, its profiles)."""
        passing = [self.combined(profiles, origin, probes) if ok else (False,) * len(probes) for ok, profiles in ways]
        return tuple(ALL if all(column) else SOME if any(column) else NONE for column in zip(*passing))

    def combined(self, profiles: tuple, origin: Origin, probes: list[Probe]) -> tuple:
        """Whether authorization lets each probe through at every destination of one way."""
        vectors = [self._vector(profile, origin, probes) for profile in profiles]
        return vectors[0] if len(vectors) == 1 else tuple(map(all, zip(*vectors)))

    def verdict_inputs(self, origin: Origin, namespace: str, relevant: frozenset, signature, host: str,
                       port: int) -> tuple | None:
        """None when the namespace's callers are refused before any way to the pods; else, per way,
        (whether it passes before authorization, the distinct profiles of its destinations)."""
        if not self._caller_ok(origin, namespace):
            return None
        namespace = namespace if namespace in relevant else OTHER
        key = (signature, namespace, host, port)
        if key not in self._inputs:
            try:
                plan = walk.plan(self.fleet, origin, namespace, host, port)
            except ValueError:  # a host with several ports, asked without one: not a target here
                plan = None
            self._inputs[key] = self._ways(plan) if plan is not None and plan.common_ok and plan.ways else None
        return self._inputs[key]

    def _vector(self, profile: tuple, origin: Origin, probes: list[Probe]) -> tuple:
        """The decision of one destination profile for every probe of the caller's mesh, taken once per
        class of probes the profile's policies cannot tell apart."""
        key, policies, mtls = profile
        memo = (key, mtls, origin.mesh)
        if memo not in self._vectors:
            principals = self._principals_of(origin, probes)
            if not mtls:
                classes = (None,) * len(probes)
            elif self.shortcuts:
                classes = classes_of(principals, self._distinction(key, policies, origin.trust_domain))
            else:
                classes = tuple(principals)
            compiled = self._compiled_policies(key, policies)
            decided: dict = {}
            for cls, principal in zip(classes, principals):
                if cls not in decided:
                    request = authz.Request(principal if mtls else None, key[1], key[2])
                    decided[cls] = authz.verdict(compiled, request)[0] in authz.ALLOWING
            self._vectors[memo] = tuple(decided[cls] for cls in classes)
        return self._vectors[memo]

    def _principals_of(self, origin: Origin, probes: list[Probe]) -> list[str]:
        if origin.mesh not in self._principals:
            self._principals[origin.mesh] = [istio.spiffe(origin.trust_domain, p.namespace, p.service_account) for p in probes]
        return self._principals[origin.mesh]

    def _distinction(self, key: tuple, policies: list, domain: str) -> Distinction:
        if (key, domain) not in self._levels:
            if key not in self._patterns:
                self._patterns[key] = by_domain(source_patterns(policies, key[2]))
            self._levels[(key, domain)] = distinction(self._patterns[key], domain)
        return self._levels[(key, domain)]

    def _compiled_policies(self, key: tuple, policies: list) -> list:
        if key not in self._compiled:
            self._compiled[key] = [authz.compile_policy(doc, key[2]) for doc in policies]
        return self._compiled[key]

    def _caller_ok(self, origin: Origin, namespace: str) -> bool:
        key = (origin.cluster, namespace)
        if key not in self._callers:
            self._callers[key] = client.caller_hop(self.fleet, origin, namespace, OTHER).ok
        return self._callers[key]

    def _ways(self, plan: walk.Plan) -> tuple:
        """(passes before authorization, profiles) per way to the pods: per destination of each leg, since
        a leg's requests are balanced over all its destinations (a leg without one is a failing way)."""
        found = []
        for leg in plan.ways:
            legs_ok = all(h.ok for h in leg.hops)
            found += [(legs_ok and all(h.ok for h in t.hops), (self.profile(t.destination, t.mtls),)) for t in leg.targets]
            found += [(False, ())] if not leg.targets else []
        return tuple(found)

    def profile(self, destination: Destination, mtls: bool) -> tuple:
        """(key, policies, mTLS): what authorization at the destination depends on besides the principal."""
        policies = self._applicable(destination)
        bundle = tuple(istio.trust_bundle(destination.config.mesh_config))
        key = (tuple(id(d) for d in policies), destination.target_port, bundle)
        return key, policies, mtls

    def _applicable(self, destination: Destination) -> list:
        if destination.key not in self._policies:
            namespace, config = destination.service.namespace, destination.config
            candidates = config.by_namespace.get(("AuthorizationPolicy", ROOT_NAMESPACE), []) + \
                (config.by_namespace.get(("AuthorizationPolicy", namespace), []) if namespace != ROOT_NAMESPACE else [])
            self._policies[destination.key] = authz.applicable(candidates, namespace, destination.labels)
        return self._policies[destination.key]

    # --- what clusters share -------------------------------------------------------------------------

    def relevant(self, origin: Origin, host: str) -> frozenset:
        """Namespaces that can change what a sidecar selects for ``host``: those of its ServiceEntries,
        DestinationRules and VirtualServices (and of their destinations'), and those they export to."""
        key = (origin.config.cluster, host)
        if key not in self._relevant:
            by_host = origin.config.by_host
            hosts = {host} | {d.get("destination", {}).get("host", "") for doc in by_host.get(("VirtualService", host), [])
                              for kind in ("http", "tls", "tcp") for r in doc.body["spec"].get(kind, []) for d in r.get("route", [])}
            docs = [d for h in sorted(hosts) for kind in ("ServiceEntry", "DestinationRule", "VirtualService")
                    for d in by_host.get((kind, h), [])]
            self._bodies[key] = tuple(sorted(hosts)) + tuple(id(d.body) for d in docs)
            self._relevant[key] = frozenset({d.body["metadata"].get("namespace", "") for d in docs}
                                            | {ns for d in docs for ns in d.body.get("spec", {}).get("exportTo", [])})
        return self._relevant[key]

    def signature(self, origin: Origin, host: str) -> int:
        memo = (origin.cluster, host)
        if memo not in self._signatures:
            self._signatures[memo] = self._signature(origin, host)
        return self._signatures[memo]

    def _signature(self, origin: Origin, host: str) -> int:
        """Everything of the caller's cluster a plan for ``host`` reads (``walk.plan``): clusters with
        equal signatures get equal plans up to the names in their texts."""
        config = origin.config
        if origin.cluster not in self._origins:
            trusted, signing = config.trust_roots
            addressless = tuple(sorted(id(d.body) for d in config.of_kind("ServiceEntry") if not d.body["spec"].get("addresses")))
            self._origins[origin.cluster] = (
                origin.mesh, origin.trust_domain, origin.dns_capture, config.istio_minor,
                frozenset(config.registered), tuple(sorted(trusted.values())), signing,
                frozenset(origin.bundle.namespaces), addressless)
        found = (host, self._origins[origin.cluster], self._network_key(origin, host), self._bodies[(config.cluster, host)],
                 origin.bundle.coredns.answer(host))
        return self._ids.setdefault(found, len(self._ids))

    def _network_key(self, origin: Origin, host: str):
        """What the caller's network decides for ``host``: for an import (a ServiceEntry with endpoints
        and no route), only whether each endpoint's network is the caller's or has east-west gateways of
        the caller's mesh (``paths.import_leg``); for anything else, the network itself."""
        by_host = origin.config.by_host
        entries = by_host.get(("ServiceEntry", host), [])
        if not entries or ("VirtualService", host) in by_host or any(not d.body["spec"].get("endpoints") for d in entries):
            return origin.network
        networks = {e.get("network", "") for d in entries for e in d.body["spec"]["endpoints"]}
        return tuple(sorted((n, n == origin.network, bool(self.fleet.index.east_west_gateways(origin.config, n)))
                            for n in networks))

    def _namespaces_of(self, origin: Origin) -> int:
        """The caller hop's input (``client.caller_hop``): which namespaces exist, and which inject sidecars."""
        if origin.cluster not in self._namespaces:
            found = tuple(sorted((name, any(k in doc.body["metadata"].get("labels", {}) for k in client.INJECTION_LABELS))
                                 for name, doc in origin.bundle.namespaces.items()))
            self._namespaces[origin.cluster] = self._ids.setdefault(found, len(self._ids))
        return self._namespaces[origin.cluster]

    def accepts(self, caller: Origin, destination: Destination) -> bool:
        """Whether the destination takes a direct Istio-mTLS call from the caller's mesh (``exposure``)."""
        if destination.key not in self._modes:
            self._modes[destination.key] = server.peer_mode(destination)[0]
        key = ("accepts", caller.config.cluster, destination.config.cluster)
        if key not in self._callers:
            self._callers[key] = server.accepts(caller, destination)
        return self._modes[destination.key] != "DISABLE" and self._callers[key]



def distinct_profiles(profiles) -> tuple:
    """Profiles once each, by (key, mTLS) (the policies list itself is not hashable)."""
    return tuple({(p[0], p[2]): p for p in profiles}.values())


# --- which principals the policies can tell apart ----------------------------------------------


def source_patterns(policies: list, bundle: tuple[str, ...]) -> list[str] | None:
    """Every principal pattern of the policies' sources, aliases expanded; None when a source also uses
    ``namespaces`` or ``serviceAccounts`` (not analysed: every principal is then its own class)."""
    found = []
    for doc in policies:
        for rule in doc.body.get("spec", {}).get("rules", []):
            for source in (f.get("source", {}) for f in rule.get("from", [])):
                if set(source) - {"principals", "notPrincipals"}:
                    return None
                found += source.get("principals", []) + source.get("notPrincipals", [])
    return istio.expand_aliases(found, list(bundle))


@dataclass(frozen=True)
class Distinction:
    """How the policies of a profile tell principals of one trust domain apart: the principals they name
    exactly, whether they name namespaces (``td/ns/<ns>/*``), or ``whole``: they use other wildcards or
    fields not analysed here, and every principal is its own class."""

    named: frozenset = frozenset()
    by_namespace: bool = False
    whole: bool = False


WHOLE = Distinction(whole=True)


def classes_of(principals: list[str], seen: Distinction) -> tuple:
    """Per principal, its class: itself when named or when ``whole``; else its namespace when namespaces
    are named; else its trust domain. Principals of one class match exactly the same patterns."""
    if seen.whole:
        return tuple(principals)
    return tuple(p if p in seen.named else (p.split("/")[2] if seen.by_namespace else None) for p in principals)


def by_domain(patterns: list[str] | None) -> tuple[dict[str, Distinction], list[str]] | None:
    """({trust domain written exactly: its Distinction}, patterns whose trust domain has a wildcard), or
    None when the patterns cannot be analysed."""
    if patterns is None:
        return None
    found: dict[str, Distinction] = {}
    wild = []
    for pattern in patterns:
        domain, parts = pattern.split("/", 1)[0], pattern.split("/")
        if "*" in domain:
            wild.append(pattern)
            continue
        seen = found.get(domain, Distinction())
        if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa" and "*" not in pattern:
            seen = Distinction(seen.named | {pattern}, seen.by_namespace, seen.whole)
        elif len(parts) == 4 and parts[1] == "ns" and parts[3] == "*" and "*" not in parts[2]:
            seen = Distinction(seen.named, True, seen.whole)
        elif parts[1:] != ["*"]:
            seen = WHOLE
        found[domain] = seen
    return found, wild


def distinction(analysed: tuple | None, domain: str) -> Distinction:
    """The Distinction for ``domain``: a wildcard trust domain matching it (``*/ns/a/sa/b``) makes it whole."""
    if analysed is None:
        return WHOLE
    found, wild = analysed
    if any(istio.string_match(p.split("/", 1)[0], domain) and p != "*" for p in wild):
        return WHOLE
    return found.get(domain, Distinction())
