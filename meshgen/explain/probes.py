"""Who the matrix asks about, what it asks for, and which grant covers which caller.

Callers are probes: concrete identities (cluster, namespace, service account) of every cluster. For
each mesh they are the pairs the spec names (services' accounts, ``callers``, consumers) and the pairs
the rendered policies name in that mesh's trust domain (after istiod's alias rewrite: a policy naming
``prod/ns/shop/sa/cart`` in a mesh that aliases ``staging`` names ``staging/ns/shop/sa/cart`` too), a
representative ``(other)`` account in each such namespace, and ``(other)/(other)``: a workload in a
namespace nobody names. Targets are every declared service's in-mesh name and every ServiceEntry host
of the output, each port.

A probe is a class: the accounts of a namespace that no grant and no rendered principal names (a
service's own account often) behave alike everywhere, so one ``(other)`` probe stands for all of
them, listed as its members. That holds while the rendered principals name accounts exactly or by
``td/*`` / ``td/ns/<ns>/*``; a wildcard inside a namespace or account name makes every account its
own probe.

A Grant row (``meshgen.access``) covers a probe when the probe's mesh is the row's caller mesh, its
cluster is one of the row's caller clusters, and its namespace and account equal the row's or the
row says ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.access import ANY, Grant
from meshgen.explain import istio
from meshgen.explain.fleet import CLUSTER_DOMAIN, Fleet, Origin
from meshgen.explain.hops import OTHER


@dataclass(frozen=True)
class Probe:
    cluster: str
    mesh: str
    namespace: str
    service_account: str  # a name, or OTHER: every account of the namespace no grant or policy names
    members: tuple[str, ...] = ()  # named accounts this probe also stands for

    def in_cluster(self, cluster: str) -> Probe:
        return Probe(cluster, self.mesh, self.namespace, self.service_account, self.members)


# --- targets -----------------------------------------------------------------------------------


def all_targets(fleet: Fleet) -> list[tuple[str, int]]:
    """(host, port): every declared service's in-mesh name, every ServiceEntry host of the output."""
    found = {(fleet.model.host(s), p.number) for s in fleet.model.services.values() for p in s.ports}
    for bundle in fleet.index.bundles.values():
        for doc in bundle.of_kind("ServiceEntry"):
            spec = doc.body.get("spec", {})
            found |= {(h, p.get("number")) for h in spec.get("hosts", []) for p in spec.get("ports", [])}
    return sorted(found)


def resolvable(fleet: Fleet, origin: Origin, host: str) -> bool:
    """Whether some namespace of the cluster might resolve ``host`` (a quick filter; the plan decides)."""
    if ("ServiceEntry", host) in origin.config.by_host or origin.bundle.coredns.answer(host) is not None:
        return True
    return host.endswith(CLUSTER_DOMAIN) and fleet.in_mesh_service(host, origin.mesh) is not None


# --- probes ------------------------------------------------------------------------------------


def probes_of(fleet: Fleet, origin: Origin, grants: list[Grant], rendered: dict[str, set[str]]) -> list[Probe]:
    """The probes of the origin's mesh, cluster left empty (``Probe.in_cluster`` places them)."""
    named = named_pairs(fleet, origin.mesh, grants)
    distinguished, loose = pairs_for(rendered, origin.trust_domain)
    distinguished |= {(g.namespace, g.service_account) for g in grants if g.caller_mesh == origin.mesh}
    pairs = named | distinguished
    out = []
    for namespace in sorted({ns for ns, _ in pairs} - {ANY, OTHER}):
        accounts = sorted({sa for ns, sa in pairs if ns == namespace} - {ANY, OTHER})
        own = [sa for sa in accounts if loose or (namespace, sa) in distinguished]
        out += [Probe("", origin.mesh, namespace, sa) for sa in own]
        out.append(Probe("", origin.mesh, namespace, OTHER, tuple(sa for sa in accounts if sa not in own)))
    out.append(Probe("", origin.mesh, OTHER, OTHER))
    return out


def by_namespace(probes: list[Probe]) -> list[tuple[str, list[Probe]]]:
    found: dict[str, list[Probe]] = {}
    for probe in probes:
        found.setdefault(probe.namespace, []).append(probe)
    return list(found.items())


def named_pairs(fleet: Fleet, mesh: str, grants: list[Grant]) -> set[tuple[str, str]]:
    """(namespace, account) the spec names for callers in ``mesh``."""
    model = fleet.model
    found = {(s.namespace, sa) for s in model.services_in_mesh(mesh) for sa in model.service_accounts(s)}
    found |= {(c.namespace, c.serviceAccount or OTHER) for s in model.services_in_mesh(mesh) for c in s.callers}
    found |= {(g.namespace, g.service_account) for g in grants if g.caller_mesh == mesh}
    return found


def rendered_principals(fleet: Fleet) -> dict[str, set[str]]:
    """Trust domain (as written, maybe a pattern) -> every principal pattern of the rendered policies, after
    each policy's own mesh rewrote it with its aliases; read once for the whole fleet."""
    found: dict[str, set[str]] = {}
    seen: set[tuple] = set()
    configs = {fleet.index.config(c).cluster: fleet.index.config(c) for c in fleet.index.bundles}
    for bundle in configs.values():
        aliases = istio.trust_bundle(bundle.mesh_config)
        for doc in bundle.of_kind("AuthorizationPolicy"):
            key = (id(doc.body), tuple(aliases))
            if key not in seen:
                seen.add(key)
                for pattern in istio.expand_aliases(_principals(doc.body), aliases):
                    found.setdefault(pattern.split("/")[0], set()).add(pattern)
    return found


def _principals(body: dict) -> list[str]:
    return [p for rule in body.get("spec", {}).get("rules", []) for f in rule.get("from", [])
            for key in ("principals", "notPrincipals") for p in f.get("source", {}).get(key, [])]


def pairs_for(rendered: dict[str, set[str]], trust_domain: str) -> tuple[set[tuple[str, str]], bool]:
    """(namespace, account) pairs the rendered principals name in ``trust_domain``; and whether one of
    them has a wildcard inside a namespace or account name."""
    found, loose = set(), False
    for domain, patterns in rendered.items():
        if istio.string_match(domain, trust_domain):
            for pattern in patterns:
                pair, partial = _pair(pattern)
                loose |= partial
                if pair is not None:
                    found.add(pair)
    return found, loose


def _pair(pattern: str) -> tuple[tuple[str, str] | None, bool]:
    parts = pattern.split("/")
    if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa" and "*" not in parts[2]:
        if "*" not in parts[4]:
            return (parts[2], parts[4]), False
        return (parts[2], OTHER), parts[4] != "*"
    if len(parts) == 4 and parts[1] == "ns" and parts[3] == "*" and "*" not in parts[2]:
        return (parts[2], OTHER), False
    return None, len(parts) > 2 and "*" in "/".join(parts[1:])


# --- grants ------------------------------------------------------------------------------------


def coverage_index(grants: list[Grant]) -> dict[tuple, set[tuple[str, str]]]:
    """(host, port, caller mesh, caller cluster) -> the (namespace, account) pairs granted, '*' kept."""
    found: dict[tuple, set[tuple[str, str]]] = {}
    for g in grants:
        for cluster in g.caller_clusters:
            found.setdefault((g.host, g.port, g.caller_mesh, cluster), set()).add((g.namespace, g.service_account))
    return found


def covered(index: dict[tuple, set], host: str, port: int, probe: Probe) -> bool:
    found = index.get((host, port, probe.mesh, probe.cluster))
    return found is not None and ((probe.namespace, probe.service_account) in found
                                  or (probe.namespace, ANY) in found or (ANY, ANY) in found)


def widened(rows: list[Grant], probe: Probe) -> bool:
    """Allowed in a cluster no grant row names, but granted to the same identity in another cluster of its
    mesh. Authorization cannot tell the clusters of a mesh apart (one trust domain), so a consumer
    ``cluster:`` narrows where imports are rendered, not who may call (docs/limitations.md): any cluster
    with a route to the host (its primary holds an import, for itself and its remotes, or another consumer
    entry put one there) calls with the identity's grant."""
    return any(row.caller_mesh == probe.mesh and row.namespace in (ANY, probe.namespace)
               and row.service_account in (ANY, probe.service_account) for row in rows)
