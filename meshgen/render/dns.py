"""CoreDNS answers for imported names, for workloads whose DNS queries the sidecar does not capture.

With Istio DNS proxying (``ISTIO_META_DNS_CAPTURE``, rendered by the install family) sidecars answer
imported names themselves from the ServiceEntry addresses. A mesh with ``dns.coreDNS: true`` also
gets, in every cluster that consumes an import, a ConfigMap ``kube-system/meshgen-coredns`` whose key
``meshgen.server`` is a CoreDNS server block: the static successor of the Istio 1.1 ``.global`` zone
(which forwarded the zone to ``istiocoredns``, removed in Istio 1.9)::

    global:53 {
        errors
        cache 30
        hosts {
            240.10.0.1 search.catalog.global
            fallthrough
        }
        forward . /etc/resolv.conf
    }

Names outside the hosts list fall through to the node's resolver (``.global`` is a real TLD).
An exported ``host:`` outside the suffix gets its own zone for just that name, so meshgen never
answers for a whole foreign domain.

How to use it: CoreDNS must import the file. Distributions with a ``coredns-custom`` ConfigMap
(AKS, k3s) already mount one at ``/etc/coredns/custom`` and ``import /etc/coredns/custom/*.server``;
copy this key there, or mount ``meshgen-coredns`` at ``/etc/coredns/custom`` in the CoreDNS
Deployment and add ``import /etc/coredns/custom/*.server`` at the top level of the Corefile (outside
the ``.:53`` block). meshgen does not patch the cluster's own ``coredns`` ConfigMap: replacing it
would drop local customisation. Another server block for the same zone makes CoreDNS refuse to start.

The ConfigMap goes to the consumer cluster itself, remote clusters included: each cluster runs its
own CoreDNS, unlike Istio config, which lives in the primary.
"""

from __future__ import annotations

from meshgen.model import FleetModel
from meshgen.render import bundle_path
from meshgen.render.common import metadata, obj
from meshgen.render.federation import check_addresses
from meshgen.render.resource import Resource

DNS_FILE = "dns.yaml"
CONFIGMAP = "meshgen-coredns"
NAMESPACE = "kube-system"
KEY = "meshgen.server"


def render(model: FleetModel) -> list[Resource]:
    check_addresses(model)
    out = []
    for cluster in model.clusters:
        if not model.mesh_of(cluster).dns.coreDNS:
            continue
        records = imported_records(model, cluster)
        if records:
            body = obj("v1", "ConfigMap", metadata(CONFIGMAP, NAMESPACE), data={KEY: server_block(model, records)})
            out.append(Resource(bundle_path(cluster, DNS_FILE), body, model.origin("clusters", cluster)))
    return out


def imported_records(model: FleetModel, cluster: str) -> list[tuple[str, str]]:
    """(address, host) for every import this cluster consumes, sorted by host."""
    return sorted(((model.addresses[e.host], e.host) for e in model.consumed_by(cluster)), key=lambda record: record[1])


def zones(model: FleetModel, hosts) -> list[str]:
    """The export suffix for hosts under it; any other exported name is its own zone."""
    suffix = model.fleet.settings.exportSuffix.rstrip(".")
    return sorted({suffix if host.endswith(f".{suffix}") else host for host in hosts})


def server_block(model: FleetModel, records: list[tuple[str, str]]) -> str:
    heading = " ".join(f"{zone}:53" for zone in zones(model, [host for _, host in records]))
    lines = [f"{heading} {{", "    errors", "    cache 30", "    hosts {"]
    lines += [f"        {address} {host}" for address, host in records]
    lines += ["        fallthrough", "    }", "    forward . /etc/resolv.conf", "}"]
    return "\n".join(lines) + "\n"
