"""CoreDNS answers for imported and global names, for workloads whose DNS queries no sidecar captures.

With Istio DNS proxying (``ISTIO_META_DNS_CAPTURE``, rendered by the install family) sidecars answer
imported and global names themselves from their ServiceEntry addresses. A mesh with
``dns.coreDNS: true`` also gets, in every cluster (remotes included: each cluster runs its own
CoreDNS, unlike Istio config, which lives in the primary), the key ``meshgen.server`` of the
ConfigMap ``kube-system/coredns-custom``: a CoreDNS server block per zone, the static successor of
the Istio 1.1 ``.global`` zone (which forwarded to ``istiocoredns``, removed in Istio 1.9)::

    global:53 {
        errors
        cache 30
        template IN A {
            match "^search[.]catalog[.]global[.]$"
            answer "{{ .Name }} 30 IN A 240.10.78.122"
        }
        template ANY ANY {
            match "^search[.]catalog[.]global[.]$"
        }
        template ANY ANY {
            rcode NXDOMAIN
        }
    }

The block is authoritative for its zone: a name under the export suffix that is not imported gets
NXDOMAIN instead of going to the node's resolver (``.global`` is a public top-level domain whose
names anyone may register, review D4). Known names answer their address for A (AAAA for an IPv6
address) and an empty NOERROR for other types. The ``template`` plugin is used rather than
``hosts``: ``hosts`` answers SERVFAIL for a missing name without ``fallthrough`` (coredns
``plugin/hosts/hosts.go``), and ``template`` runs before ``hosts`` in every CoreDNS build
(``plugin.cfg``). An exported ``host:`` outside the suffix gets a zone of its own for just that name.
Names in the cluster domain are never written: CoreDNS's ``kubernetes`` plugin owns that zone.

Where it loads: AKS and k3s import every ``*.server`` key of ``coredns-custom`` as they ship; kubeadm,
EKS and others need the ConfigMap mounted and one ``import`` line (docs/dns.md). The object carries
the no-prune annotations of both GitOps controllers: ``coredns-custom`` may hold the platform's own
keys, which a prune would delete.
"""

from __future__ import annotations

from functools import lru_cache

from meshgen.model import FleetModel
from meshgen.render import bundle_path
from meshgen.render.bundles import MESH
from meshgen.render.common import KEEP, metadata, obj
from meshgen.render.federation import check_addresses
from meshgen.render.resource import Resource

DNS_FILE = "dns.yaml"
CONFIGMAP = "coredns-custom"
NAMESPACE = "kube-system"
KEY = "meshgen.server"
TTL = 30
CLUSTER_DOMAIN = ".cluster.local"


def render(model: FleetModel) -> list[Resource]:
    check_addresses(model)
    out = []
    for cluster in model.clusters:
        if not model.mesh_of(cluster).dns.coreDNS:
            continue
        text = server_blocks(model, records(model, cluster))
        body = obj("v1", "ConfigMap", metadata(CONFIGMAP, NAMESPACE, annotations=KEEP), data={KEY: text})
        out.append(Resource(bundle_path(cluster, DNS_FILE, MESH), body, model.origin("clusters", cluster)))
    return out


def records(model: FleetModel, cluster: str) -> list[tuple[str, str]]:
    """(host, address) for every import the cluster consumes and every global name of its mesh, by host."""
    hosts = [e.host for e in model.consumed_by(cluster)]
    hosts += [g.host for g in model.global_names_of(model.clusters[cluster].mesh)]
    return sorted((h, model.addresses[h]) for h in set(hosts) if not h.endswith(CLUSTER_DOMAIN))


def zone_of(model: FleetModel, host: str) -> str:
    """The export suffix for hosts under it; any other name is a zone of its own."""
    suffix = model.fleet.settings.exportSuffix.rstrip(".")
    return suffix if host.endswith(f".{suffix}") else host


def server_blocks(model: FleetModel, found: list[tuple[str, str]]) -> str:
    """One block per zone, the export suffix's always (it refuses unknown names even with no import)."""
    zones: dict[str, list[tuple[str, str]]] = {model.fleet.settings.exportSuffix.rstrip("."): []}
    for host, address in found:
        zones.setdefault(zone_of(model, host), []).append((host, address))
    return "".join(_block(zone, tuple(zones[zone])) for zone in sorted(zones))


@lru_cache(maxsize=1024)  # clusters of a mesh mostly resolve the same names
def _block(zone: str, found: tuple[tuple[str, str], ...]) -> str:
    lines = [f"{zone}:53 {{", "    errors", f"    cache {TTL}"]
    for host, address in found:
        kind = "AAAA" if ":" in address else "A"
        lines += [f"    template IN {kind} {{", f'        match "{_pattern(host)}"',
                  f'        answer "{{{{ .Name }}}} {TTL} IN {kind} {address}"', "    }"]
    if found:
        names = "|".join(_pattern(host)[1:-1] for host, _ in found)
        lines += ["    template ANY ANY {", f'        match "^(?:{names})$"' if len(found) > 1 else
                  f'        match "{_pattern(found[0][0])}"', "    }"]
    lines += ["    template ANY ANY {", "        rcode NXDOMAIN", "    }", "}"]
    return "\n".join(lines) + "\n"


def _pattern(host: str) -> str:
    """An anchored regular expression for the fully qualified name; dots as ``[.]``, so the Corefile
    string needs no backslash (host names hold only letters, digits, '-' and '.')."""
    return "^" + (host.rstrip(".") + ".").replace(".", "[.]") + "$"
