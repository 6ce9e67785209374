"""namespaces.yaml: network label, remote control-plane annotation, namespace sameness per mesh."""

from __future__ import annotations

from meshgen.conformance import validate_object
from meshgen.render import namespaces
from tests.render.fleets import FEDERATED, TWO_MESHES
from tests.render.helpers import by_name, model_from_yaml


def test_istio_system_carries_the_cluster_network_in_every_cluster():
    resources = namespaces.render(model_from_yaml(TWO_MESHES))
    expected = {"east-1": "net-a", "east-2": "net-a", "west-1": "net-b", "west-2": "net-b", "lab-1": "net-c"}
    for cluster, network in expected.items():
        system = by_name(resources, cluster, "Namespace")["istio-system"]
        assert system["metadata"]["labels"]["topology.istio.io/network"] == network


KEEP = {"argocd.argoproj.io/sync-options": "Prune=false", "kustomize.toolkit.fluxcd.io/prune": "disabled"}


def test_only_a_remote_names_its_control_plane_cluster():
    resources = namespaces.render(model_from_yaml(TWO_MESHES))
    remote = by_name(resources, "west-2", "Namespace")["istio-system"]
    assert remote["metadata"]["annotations"] == {**KEEP, "topology.istio.io/controlPlaneClusters": "west-1"}
    for primary in ("east-1", "east-2", "west-1", "lab-1"):
        assert by_name(resources, primary, "Namespace")["istio-system"]["metadata"]["annotations"] == KEEP


def test_no_gitops_controller_ever_prunes_a_namespace():
    """C3/M1: removing a namespace's last service or a cluster must not delete the namespace (and every
    workload in it, or istiod with istio-system) through Argo CD's or Flux's prune."""
    for resource in namespaces.render(model_from_yaml(TWO_MESHES)) + namespaces.render(model_from_yaml(FEDERATED)):
        annotations = resource.body["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false"
        assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"


def test_a_revisioned_cluster_labels_namespaces_with_its_revision():
    """C4: istio-injection reaches only the default revision; a remote follows its primary's revision."""
    spec = TWO_MESHES.replace("{name: west-1, network: net-b, mesh: prod,", "{name: west-1, network: net-b, mesh: prod, revision: canary,")
    resources = namespaces.render(model_from_yaml(spec))
    for cluster in ("west-1", "west-2"):
        labels = by_name(resources, cluster, "Namespace")["shop"]["metadata"]["labels"]
        assert labels["istio.io/rev"] == "canary" and "istio-injection" not in labels
    assert by_name(resources, "east-1", "Namespace")["shop"]["metadata"]["labels"]["istio-injection"] == "enabled"


def test_service_namespaces_exist_in_every_cluster_of_the_mesh_and_no_other():
    resources = namespaces.render(model_from_yaml(TWO_MESHES))
    for cluster in ("east-1", "east-2", "west-1", "west-2"):
        assert set(by_name(resources, cluster, "Namespace")) == {"istio-system", "lab-tools", "payments", "shop"}
    assert set(by_name(resources, "lab-1", "Namespace")) == {"istio-system", "lab-tools"}


def test_service_namespaces_are_injected_and_istio_system_is_not():
    resources = namespaces.render(model_from_yaml(TWO_MESHES))
    found = by_name(resources, "west-2", "Namespace")
    assert found["shop"]["metadata"]["labels"]["istio-injection"] == "enabled"
    assert "istio-injection" not in found["istio-system"]["metadata"]["labels"]


def test_import_namespace_only_where_imports_land():
    resources = namespaces.render(model_from_yaml(FEDERATED))
    assert set(by_name(resources, "b-1", "Namespace")) == {"istio-system", "imports"}
    assert set(by_name(resources, "a-1", "Namespace")) == {"istio-system", "shop"}
    assert "istio-injection" not in by_name(resources, "b-1", "Namespace")["imports"]["metadata"]["labels"]


def test_namespaces_are_cluster_scoped_and_valid():
    for resource in namespaces.render(model_from_yaml(TWO_MESHES)):
        assert resource.path.endswith("/bootstrap/namespaces.yaml")
        assert "namespace" not in resource.body["metadata"]
        assert validate_object(resource.body) == []
