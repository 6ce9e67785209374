"""bootstrap/secrets.yaml (cacerts) and remote-secrets/remote-secrets.yaml: ExternalSecrets, never key material."""

from __future__ import annotations

from meshgen.conformance import validate_object
from meshgen.render import trust
from tests.render.fleets import FEDERATED, TWO_MESHES
from tests.render.helpers import bodies, by_name, model_from_yaml


def test_only_external_secrets_on_primaries():
    resources = trust.render(model_from_yaml(TWO_MESHES))
    assert {r.kind for r in resources} == {"ExternalSecret"}
    assert bodies(resources, "west-2") == []
    for resource in resources:
        expected = "/bootstrap/secrets.yaml" if resource.name == "cacerts" else "/remote-secrets/remote-secrets.yaml"
        assert resource.path.endswith(expected)
        assert validate_object(resource.body) == [], resource.describe()


def test_remote_secrets_for_every_other_cluster_of_the_mesh_only():
    resources = trust.render(model_from_yaml(TWO_MESHES))
    names = set(by_name(resources, "east-1", "ExternalSecret"))
    remotes = {"istio-remote-secret-east-2", "istio-remote-secret-west-1", "istio-remote-secret-west-2"}
    assert names == {"cacerts"} | remotes
    assert set(by_name(resources, "lab-1", "ExternalSecret")) == {"cacerts"}


def test_remote_secret_is_named_labelled_and_keyed_like_istioctl():
    resources = trust.render(model_from_yaml(TWO_MESHES))
    secret = by_name(resources, "west-1", "ExternalSecret")["istio-remote-secret-west-2"]
    assert secret["metadata"]["namespace"] == "istio-system"
    target = secret["spec"]["target"]
    assert target["name"] == "istio-remote-secret-west-2"
    assert target["template"]["metadata"] == {
        "labels": {"istio/multiCluster": "true"},
        "annotations": {"networking.istio.io/cluster": "west-2"},
    }
    assert secret["spec"]["data"] == [{"secretKey": "west-2",
                                       "remoteRef": {"key": "istio/prod/west-2/kubeconfig", "property": "kubeconfig"}}]
    assert secret["spec"]["secretStoreRef"] == {"name": "vault-istio", "kind": "ClusterSecretStore"}


def test_remote_secret_reads_the_kubeconfig_property_not_the_whole_entry():
    """C1: without a property, external-secrets returns a key/value entry (Vault KV) as a JSON map,
    which istiod cannot load as a kubeconfig; a store of plain strings opts out with null."""
    spec = TWO_MESHES.replace("    secretStore: {name: vault-istio}\n  - name: lab", "    secretStore: {name: vault-istio}\n"
                              "    remoteSecretProperty: config\n  - name: lab")
    secret = by_name(trust.render(model_from_yaml(spec)), "west-1", "ExternalSecret")["istio-remote-secret-west-2"]
    assert secret["spec"]["data"][0]["remoteRef"] == {"key": "istio/prod/west-2/kubeconfig", "property": "config"}
    plain = spec.replace("remoteSecretProperty: config", "remoteSecretProperty: null")
    secret = by_name(trust.render(model_from_yaml(plain)), "west-1", "ExternalSecret")["istio-remote-secret-west-2"]
    assert secret["spec"]["data"][0]["remoteRef"] == {"key": "istio/prod/west-2/kubeconfig"}


def test_cacerts_fetches_the_clusters_intermediate():
    resources = trust.render(model_from_yaml(FEDERATED))
    spec = by_name(resources, "b-1", "ExternalSecret")["cacerts"]["spec"]
    assert spec["target"]["name"] == "cacerts"
    fetched = {d["secretKey"]: d["remoteRef"] for d in spec["data"]}
    for key in ("ca-cert.pem", "ca-key.pem", "cert-chain.pem"):
        assert fetched[key] == {"key": "ca/b/b-1", "property": key}
    assert set(spec["target"]["template"]["data"]) == {"ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"}
    assert spec["target"]["template"]["engineVersion"] == "v2"


def test_root_cert_is_the_mesh_root_then_peer_roots_each_from_its_store():
    resources = trust.render(model_from_yaml(FEDERATED))
    spec = by_name(resources, "a-1", "ExternalSecret")["cacerts"]["spec"]
    assert spec["secretStoreRef"] == {"name": "istio-store", "kind": "SecretStore"}
    entries = {d["secretKey"]: d for d in spec["data"]}
    assert entries["mesh-root"]["remoteRef"] == {"key": "pki/a", "property": "root-cert.pem"}
    assert entries["mesh-root"]["sourceRef"] == {"storeRef": {"name": "pki", "kind": "ClusterSecretStore"}}
    assert entries["peer-root-b"]["remoteRef"] == {"key": "pki/b", "property": "root-cert.pem"}
    root = spec["target"]["template"]["data"]["root-cert.pem"]
    assert root.splitlines() == ['{{ index . "mesh-root" }}', '{{ index . "peer-root-b" }}']


def test_source_ref_only_when_the_store_differs_from_the_mesh_store():
    resources = trust.render(model_from_yaml(TWO_MESHES))
    lab = {d["secretKey"]: d for d in by_name(resources, "lab-1", "ExternalSecret")["cacerts"]["spec"]["data"]}
    assert "sourceRef" not in lab["mesh-root"]  # lab-root lives in the mesh's own store
    assert lab["mesh-root"]["remoteRef"] == {"key": "pki/lab/ca", "property": "pem"}
    assert all("sourceRef" not in d for k, d in lab.items() if k != "mesh-root")


def test_no_remote_secret_crosses_a_mesh_boundary():
    resources = trust.render(model_from_yaml(FEDERATED))
    assert set(by_name(resources, "a-1", "ExternalSecret")) == {"cacerts"}
    assert set(by_name(resources, "b-1", "ExternalSecret")) == {"cacerts"}
