"""CA material and API-server credentials as ExternalSecret references (primaries only):
``bootstrap/secrets.yaml`` holds ``cacerts`` (before istiod starts), ``remote-secrets/remote-secrets.yaml``
the remote secrets (after the other clusters' namespaces and charts, render.bundles).

No key material is ever rendered: each object names a store and a key in it, and the
external-secrets operator in the cluster produces the Secret.

* ``cacerts`` (reference §5.8): the plug-in CA of the cluster's istiod. ``ca-cert.pem``,
  ``ca-key.pem`` and ``cert-chain.pem`` come from the mesh's ``caPath``; ``root-cert.pem`` is the
  mesh's root followed by the roots of the peers in ``trustBundles`` (so workloads also trust
  federation peers signed by another root).
* ``istio-remote-secret-<cluster>`` (reference §5.6): one per other cluster of the mesh, named,
  labelled and keyed exactly as ``istioctl create-remote-secret`` makes it. The data key is the
  cluster ID istiod registers the cluster under; the value is the kubeconfig text, read from the
  mesh's ``remoteSecretProperty`` of ``remoteSecretPath`` (external-secrets returns a whole key/value
  entry as a JSON map when no property is given, which istiod cannot load: review C1).
"""

from __future__ import annotations

from meshgen.model import FleetModel
from meshgen.render import Resource, bundle_path
from meshgen.render.bundles import BOOTSTRAP, REMOTE_SECRETS
from meshgen.render.common import ISTIO_NAMESPACE, metadata, obj
from meshgen.spec.models import Mesh, SecretStoreRef

FILE = "secrets.yaml"
REMOTE_SECRETS_FILE = "remote-secrets.yaml"
EXTERNAL_SECRETS = "external-secrets.io/v1"
CA_KEYS = ("ca-cert.pem", "ca-key.pem", "cert-chain.pem")
MESH_ROOT_KEY = "mesh-root"
REMOTE_SECRET_LABEL = {"istio/multiCluster": "true"}
CLUSTER_ANNOTATION = "networking.istio.io/cluster"


def render(model: FleetModel) -> list[Resource]:
    resources = []
    for name in model.primary_names():
        origin = model.origin("clusters", name)
        resources.append(Resource(bundle_path(name, FILE, BOOTSTRAP), cacerts(model, name), origin))
        mesh = model.clusters[name].mesh
        path = bundle_path(name, REMOTE_SECRETS_FILE, REMOTE_SECRETS)
        for other in model.mesh_clusters(mesh):
            if other.name != name:
                resources.append(Resource(path, remote_secret(model, other.name), origin))
    return resources


def store_path(template: str, mesh: str, cluster: str) -> str:
    return template.replace("{mesh}", mesh).replace("{cluster}", cluster)


def store_ref(store: SecretStoreRef) -> dict:
    return {"name": store.name, "kind": store.kind}


# --- cacerts ----------------------------------------------------------------------------------


def cacerts(model: FleetModel, cluster: str) -> dict:
    mesh = model.mesh_of(cluster)
    ca_path = store_path(mesh.caPath, mesh.name, cluster)
    ca_entries = [{"secretKey": key, "remoteRef": {"key": ca_path, "property": key}} for key in CA_KEYS]
    roots = _root_entries(model, mesh)
    template = {
        "engineVersion": "v2",
        "data": {
            **{key: _lookup(key) for key in CA_KEYS},
            "root-cert.pem": "\n".join(_lookup(entry["secretKey"]) for entry in roots),
        },
    }
    spec = {
        "secretStoreRef": store_ref(mesh.secretStore),
        "target": {"name": "cacerts", "template": template},
        "data": ca_entries + roots,
    }
    return obj(EXTERNAL_SECRETS, "ExternalSecret", metadata("cacerts", ISTIO_NAMESPACE), spec=spec)


def _root_entries(model: FleetModel, mesh: Mesh) -> list[dict]:
    """The mesh root, then each peer's trust bundle sorted by peer mesh (the spec list is set-like)."""
    root = model.roots[mesh.rootOfTrust]
    sources = [(MESH_ROOT_KEY, root.store, root.certificatePath, root.property)]
    bundles = sorted(mesh.trustBundles, key=lambda b: b.mesh)
    sources += [(f"peer-root-{b.mesh}", b.store, b.certificatePath, b.property) for b in bundles]
    entries = []
    for key, store, path, prop in sources:
        entry: dict = {"secretKey": key, "remoteRef": {"key": path, "property": prop}}
        if store != mesh.secretStore:
            entry["sourceRef"] = {"storeRef": store_ref(store)}
        entries.append(entry)
    return entries


def _lookup(key: str) -> str:
    """A Go-template reference to a fetched value (``index`` because keys contain '-' and '.')."""
    return f'{{{{ index . "{key}" }}}}'


# --- remote secrets ---------------------------------------------------------------------------


def remote_ref(mesh: Mesh, cluster: str) -> dict:
    """The kubeconfig's place in the store. With a property, a key/value store (Vault KV) yields the
    kubeconfig text; without, the whole value, which istiod's ``clientcmd.Load`` must be able to read."""
    ref = {"key": store_path(mesh.remoteSecretPath, mesh.name, cluster)}
    if mesh.remoteSecretProperty:
        ref["property"] = mesh.remoteSecretProperty
    return ref


def remote_secret(model: FleetModel, cluster: str) -> dict:
    """The kubeconfig of ``cluster`` for the istiod of another cluster of its mesh."""
    mesh = model.mesh_of(cluster)
    name = f"istio-remote-secret-{cluster}"
    template = {
        "engineVersion": "v2",
        "metadata": {"labels": dict(REMOTE_SECRET_LABEL), "annotations": {CLUSTER_ANNOTATION: cluster}},
    }
    spec = {
        "secretStoreRef": store_ref(mesh.secretStore),
        "target": {"name": name, "template": template},
        "data": [{"secretKey": cluster, "remoteRef": remote_ref(mesh, cluster)}],
    }
    return obj(EXTERNAL_SECRETS, "ExternalSecret", metadata(name, ISTIO_NAMESPACE), spec=spec)
