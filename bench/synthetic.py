"""A synthetic fleet spec of configurable size, valid under every semantic check.

    python bench/synthetic.py --meshes 20 --clusters-per-mesh 5 -o /tmp/fleet.yaml

Shape (every mesh alike, names deterministic):
  * mesh ``mNN`` has its own root of trust, ``clusters-per-mesh`` clusters over ``networks-per-mesh``
    networks; the last ``remotes-per-mesh`` clusters are remotes of cluster 0, on its network;
    every primary has one east-west and one federation gateway (private addresses, so no W202);
  * pod and service CIDRs are distinct across the fleet (pods from 10.0.0.0/8 in /20s, services
    from 172.16.0.0/12 in /24s), so no network sees an overlap;
  * ``services-per-mesh`` services in ``namespaces-per-mesh`` namespaces, each running in two
    clusters of its mesh; the first ``exports-per-mesh`` are exported to ``consumers`` other
    meshes (the next ones round the ring), mostly whole meshes, the first narrowed to one
    namespace and, in turn, one to a service account or one cluster (so no W201);
  * every federated pair of meshes carries trust bundles both ways (their roots differ).

The bulk of the rendered objects comes from federation: each export is imported by every
primary of every consumer mesh.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields
from ipaddress import IPv4Address
from pathlib import Path

# Importable both as ``bench.synthetic`` and as a script next to render_bench.py.
from meshgen.emit import dump_yaml

PROTOCOLS = ("HTTP", "GRPC", "TCP", "HTTP2")


@dataclass(frozen=True)
class Size:
    meshes: int = 20
    clusters_per_mesh: int = 5
    remotes_per_mesh: int = 1
    networks_per_mesh: int = 2
    namespaces_per_mesh: int = 8
    services_per_mesh: int = 100
    exports_per_mesh: int = 100
    consumers: int = 12  # consumer meshes per export
    failovers_per_mesh: int = 4


SIZES = {
    "default": Size(),
    "small": Size(meshes=4, clusters_per_mesh=3, services_per_mesh=12, exports_per_mesh=10, consumers=2),
    # about 1,000 clusters in 50 meshes, 20,000 services, sparse exports (each to a few meshes)
    "xl": Size(meshes=50, clusters_per_mesh=20, remotes_per_mesh=4, networks_per_mesh=4, namespaces_per_mesh=40,
               services_per_mesh=400, exports_per_mesh=100, consumers=3, failovers_per_mesh=20),
}


def fleet_spec(size: Size) -> dict:
    _check(size)
    clusters = [_cluster(size, m, c) for m in range(size.meshes) for c in range(size.clusters_per_mesh)]
    services = [_service(size, m, s) for m in range(size.meshes) for s in range(size.services_per_mesh)]
    exports = [_export(size, m, s) for m in range(size.meshes) for s in range(size.exports_per_mesh)]
    return {
        "apiVersion": "meshgen.dev/v1alpha1",
        "kind": "Fleet",
        "metadata": {"name": "synthetic"},
        "settings": {"exportSuffix": "global", "addressRange": "240.10.0.0/16"},
        "networks": [{"name": _network(m, n)} for m in range(size.meshes) for n in range(size.networks_per_mesh)],
        "rootsOfTrust": [_root(m) for m in range(size.meshes)],
        "meshes": [_mesh(size, m) for m in range(size.meshes)],
        "clusters": clusters,
        "services": services,
        "exports": exports,
        "failover": [_failover(size, m, s) for m in range(size.meshes) for s in range(min(size.failovers_per_mesh, size.services_per_mesh))],
    }


def write_spec(size: Size, path: Path) -> Path:
    path.write_text(dump_yaml(fleet_spec(size)), encoding="utf-8")
    return path


def _check(size: Size) -> None:
    if size.consumers >= size.meshes:
        raise ValueError(f"--consumers must be below --meshes ({size.meshes}): consumers are other meshes")
    if size.exports_per_mesh > size.services_per_mesh:
        raise ValueError("--exports-per-mesh cannot exceed --services-per-mesh")
    if size.remotes_per_mesh >= size.clusters_per_mesh:
        raise ValueError("a mesh needs at least one primary: --remotes-per-mesh < --clusters-per-mesh")
    if size.meshes * size.clusters_per_mesh > 4096:
        raise ValueError("at most 4096 clusters (CIDR allocation)")


# --- names -------------------------------------------------------------------------------------


def _mesh_name(m: int) -> str:
    return f"m{m:02d}"


def _network(m: int, n: int) -> str:
    return f"{_mesh_name(m)}-net{n}"


def _cluster_name(m: int, c: int) -> str:
    return f"{_mesh_name(m)}-c{c}"


def _namespace(size: Size, m: int, s: int) -> str:
    return f"{_mesh_name(m)}-team{s % size.namespaces_per_mesh}"


def _service_name(s: int) -> str:
    return f"svc-{s:04d}"


# --- trust -------------------------------------------------------------------------------------


def _root(m: int) -> dict:
    return {"name": f"root-{_mesh_name(m)}", "store": {"name": "vault-pki"}, "certificatePath": f"pki/{_mesh_name(m)}/ca"}


def _consumer_meshes(size: Size, m: int) -> list[int]:
    return [(m + 1 + k) % size.meshes for k in range(size.consumers)]


def _peers(size: Size, m: int) -> list[int]:
    """Meshes federated with m either way: each side needs the other's root."""
    if size.exports_per_mesh == 0:
        return []
    downstream = set(_consumer_meshes(size, m))
    upstream = {p for p in range(size.meshes) if m in _consumer_meshes(size, p)}
    return sorted(downstream | upstream)


def _mesh(size: Size, m: int) -> dict:
    name = _mesh_name(m)
    bundles = [
        {"mesh": _mesh_name(p), "store": {"name": "vault-pki"}, "certificatePath": f"pki/{_mesh_name(p)}/ca"}
        for p in _peers(size, m)
    ]
    return {
        "name": name,
        "trustDomain": f"{name}.corp.example",
        "rootOfTrust": f"root-{name}",
        "secretStore": {"name": "vault-istio"},
        "dns": {"capture": True, "coreDNS": m % 2 == 0},
        "trustBundles": bundles,
    }


# --- clusters ----------------------------------------------------------------------------------


def _cluster(size: Size, m: int, c: int) -> dict:
    index = m * size.clusters_per_mesh + c
    remote = c >= size.clusters_per_mesh - size.remotes_per_mesh
    network = 0 if remote else c % size.networks_per_mesh
    cluster = {
        "name": _cluster_name(m, c),
        "network": _network(m, network),
        "mesh": _mesh_name(m),
        "locality": {"region": f"region{c % 3}", "zone": f"region{c % 3}-{'abc'[c % 3]}"},
        "podCIDRs": [f"{IPv4Address('10.0.0.0') + index * 4096}/20"],
        "serviceCIDRs": [f"{IPv4Address('172.16.0.0') + index * 256}/24"],
    }
    if remote:
        cluster["controlPlane"] = {"role": "remote", "primary": _cluster_name(m, 0)}
    else:
        cluster["gateways"] = [{"address": str(IPv4Address("192.168.0.1") + index)}]
        cluster["federationGateways"] = [{"address": str(IPv4Address("10.255.0.1") + index)}]
    return cluster


# --- services and exports ----------------------------------------------------------------------


def _service(size: Size, m: int, s: int) -> dict:
    first, second = s % size.clusters_per_mesh, (s + 1) % size.clusters_per_mesh
    protocol = PROTOCOLS[s % len(PROTOCOLS)]
    ports = [{"name": protocol.lower(), "number": 8080, "protocol": protocol}]
    if s % 3 == 0:
        ports.append({"name": "metrics", "number": 9090, "protocol": "HTTP", "targetPort": 9091})
    instances = [{"cluster": _cluster_name(m, first), "count": 1 + s % 3}]
    if second != first:
        instances.append({"cluster": _cluster_name(m, second), "count": 2})
    service = {"name": _service_name(s), "namespace": _namespace(size, m, s), "serviceAccounts": [_service_name(s)],
               "ports": ports, "instances": instances}
    if s % 4 == 0:
        service["callers"] = [{"namespace": _namespace(size, m, s + 1), "serviceAccount": "client"}]
    return service


def _export(size: Size, m: int, s: int) -> dict:
    return {
        "service": f"{_namespace(size, m, s)}/{_service_name(s)}",
        "mesh": _mesh_name(m),
        "to": [_consumer(size, p, k, s) for k, p in enumerate(_consumer_meshes(size, m))],
    }


def _consumer(size: Size, p: int, k: int, s: int) -> dict:
    """Mostly whole meshes; the first consumer narrowed to a namespace, and in turn the second
    to one service account or the third to one cluster."""
    namespace = _namespace(size, p, s + k)
    if k == 0:
        return {"mesh": _mesh_name(p), "namespaces": [namespace]}
    if k == 1 and s % 3 == 0:
        return {"mesh": _mesh_name(p), "serviceAccounts": [f"{namespace}/client"]}
    if k == 2 and s % 3 == 1:
        return {"cluster": _cluster_name(p, s % size.clusters_per_mesh)}
    return {"mesh": _mesh_name(p)}


def _failover(size: Size, m: int, s: int) -> dict:
    """The regions of the two clusters the service runs in (``_service``), in order."""
    regions = list(dict.fromkeys(f"region{c % size.clusters_per_mesh % 3}" for c in (s, s + 1)))
    return {"service": f"{_namespace(size, m, s)}/{_service_name(s)}", "mesh": _mesh_name(m), "regions": regions}


# --- command line ------------------------------------------------------------------------------


def add_size_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=sorted(SIZES), default="default", help="preset; the flags below override it")
    for f in fields(Size):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=None, dest=f.name)


def size_from_args(args: argparse.Namespace) -> Size:
    preset = SIZES[args.size]
    overrides = {f.name: getattr(args, f.name) for f in fields(Size) if getattr(args, f.name) is not None}
    return Size(**{**preset.__dict__, **overrides})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_options(parser)
    parser.add_argument("-o", "--out", type=Path, required=True, help="where to write the spec")
    args = parser.parse_args(argv)
    size = size_from_args(args)
    write_spec(size, args.out)
    print(f"{args.out}: {args.out.stat().st_size:,} bytes, {size}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
