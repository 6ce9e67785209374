"""Diagnostics for rendered Resources and written trees; Helm values; unknown kinds; kubeconform."""

from __future__ import annotations

import shutil

import pytest

from meshgen.conformance import (
    KubeconformNotFound, SCHEMA_DIR, lint_tree, run_kubeconform, validate_object, validate_resources, validate_values,
)
from meshgen.conformance.lint import kubeconform_commands
from meshgen.diagnostics import Severity, Span
from meshgen.render.resource import Resource
from tests.conformance.conftest import GATEWAY, NAMESPACE, SERVICE_ENTRY


def test_schemas_come_from_the_repo():
    assert SCHEMA_DIR.name == "schema" and (SCHEMA_DIR / "istio" / "1.28" / "serviceentry-networking-v1.json").is_file()
    assert "/work/shared" not in str(SCHEMA_DIR)


def test_unknown_kind_is_a_finding():
    findings = validate_object({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "x"}})
    assert [f.rule for f in findings] == ["schema/kind"]
    assert validate_object({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "x"}})


@pytest.mark.parametrize(("api_version", "kind"), [
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
    ("external-secrets.io/v1", "ExternalSecret"), ("argoproj.io/v1alpha1", "Application"),
    ("argoproj.io/v1alpha1", "ApplicationSet"), ("argoproj.io/v1alpha1", "AppProject"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"), ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("networking.istio.io/v1", "WorkloadEntry"), ("networking.istio.io/v1", "VirtualService"),
    ("security.istio.io/v1", "PeerAuthentication"),
])
def test_every_emitted_kind_has_a_strict_schema(api_version, kind):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "ns", "bogus": 1}}
    findings = validate_object(obj, layers={"schema"})
    assert any(f.path == "metadata" and "bogus" in f.message for f in findings), findings


def test_flux_kustomization_cel_rule():
    obj = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "mesh", "namespace": "flux-system"},
           "spec": {"interval": "5m", "path": "./clusters/east", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                    "kubeConfig": {}}}
    assert any(f.rule == "cel" and f.path == "spec.kubeConfig" for f in validate_object(obj))


def test_gateway_values():
    assert validate_values("gateway", {"service": {"type": "LoadBalancer"}, "labels": {"istio": "eastwestgateway"}}) == []
    findings = validate_values("gateway", {"replicas": 2})
    assert findings and 'unknown field "replicas"' in findings[0].message
    assert validate_values("istiod", {"anything": True}) == []


def test_validate_resources_diagnostics():
    bad = {**SERVICE_ENTRY, "spec": {**SERVICE_ENTRY["spec"], "hosts": ["*"]}}
    resources = [
        Resource("clusters/east/networking.yaml", bad, Span("fleet.yaml", 12, 3)),
        Resource("clusters/east/networking.yaml", GATEWAY),
        Resource("clusters/east/helm/eastwest-gateway-values.yaml", {"replicas": 2}, manifest=False),
        Resource("clusters/east/helm/istiod-values.yaml", {"whatever": 1}, manifest=False),
    ]
    diagnostics = validate_resources(resources)
    codes = {(d.code, d.span.file) for d in diagnostics}
    assert ("E402", "fleet.yaml") in codes and ("E402", "clusters/east/helm/eastwest-gateway-values.yaml") in codes
    first = next(d for d in diagnostics if d.span.file == "fleet.yaml")
    assert first.span == Span("fleet.yaml", 12, 3) and first.severity is Severity.ERROR
    assert first.message.startswith("ServiceEntry bookinfo/reviews-global in clusters/east/networking.yaml: spec.hosts[0]:")
    assert all(d.span.file != "clusters/east/helm/istiod-values.yaml" for d in diagnostics)


def test_validate_resources_warning_code():
    se = {**SERVICE_ENTRY, "spec": {**SERVICE_ENTRY["spec"], "hosts": ["*x.example.com"]}}
    diagnostics = validate_resources([Resource("clusters/east/networking.yaml", se)])
    assert [d.code for d in diagnostics] == ["W402"]


def _write_tree(root):
    east = root / "clusters" / "east"
    (east / "helm").mkdir(parents=True)
    (root / "gitops").mkdir()
    (east / "kustomization.yaml").write_text("resources: [networking.yaml]\n")
    (east / "networking.yaml").write_text(
        "# generated\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n"
        "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: bad.name\n  namespace: istio-system\n"
        "spec:\n  servers: []\n"
    )
    (east / "helm" / "gateway-values.yaml").write_text("replicas: 3\n")
    (east / "helm" / "istiod-values.yaml").write_text("anything: 1\n")
    (root / "gitops" / "apps.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n")


def test_lint_tree(tmp_path):
    _write_tree(tmp_path)
    diagnostics = lint_tree(tmp_path)
    spans = {(d.span.file, d.span.line, d.path) for d in diagnostics}
    assert ("clusters/east/networking.yaml", 11, "metadata.name") in spans  # GW1, at the key (document: line 8)
    assert ("clusters/east/networking.yaml", 14, "spec.servers") in spans  # GW2
    assert ("clusters/east/helm/gateway-values.yaml", 1, "") in spans
    assert all("kustomization" not in d.span.file and "istiod" not in d.span.file for d in diagnostics)
    assert all(d.span.file != "gitops/apps.yaml" for d in diagnostics)


def test_kubeconform_command_and_missing_binary(tmp_path, monkeypatch):
    _write_tree(tmp_path)
    (command,) = kubeconform_commands(tmp_path, SCHEMA_DIR)  # one Istio release in the tree: one run
    template = "/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    assert command[:7] == ["kubeconform", "-strict", "-summary",
                           "-schema-location", str(SCHEMA_DIR / "istio" / "1.28") + template,
                           "-schema-location", str(SCHEMA_DIR / "kubernetes") + template]
    assert [c.rsplit("/", 1)[-1] for c in command[7:]] == ["networking.yaml", "apps.yaml"]
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(KubeconformNotFound, match="not on PATH"):
        run_kubeconform(tmp_path, SCHEMA_DIR)


def test_namespace_fixture_is_valid():
    assert validate_object(NAMESPACE) == []


def test_validate_resources_shared_body_is_reported_per_resource():
    # Renderers share one body object between resources; findings are computed once per body, but
    # every resource still gets its own diagnostics, naming it and located at its own span.
    bad = {**SERVICE_ENTRY, "spec": {**SERVICE_ENTRY["spec"], "hosts": ["*"]}}
    values = {"replicas": "two"}
    resources = [
        Resource("clusters/east/networking.yaml", bad, Span("fleet.yaml", 12, 3)),
        Resource("clusters/west/networking.yaml", bad, Span("fleet.yaml", 40, 5)),
        Resource("clusters/east/helm/eastwest-gateway-values.yaml", values, manifest=False),
        Resource("clusters/east/helm/istiod-values.yaml", values, manifest=False),  # same body, no values schema
        Resource("clusters/west/helm/eastwest-gateway-values.yaml", values, manifest=False),
    ]
    diagnostics = validate_resources(resources)
    assert diagnostics == [d for r in resources for d in validate_resources([r])]
    per_file = {}
    for d in diagnostics:
        per_file.setdefault(d.span, []).append(d.message)
    east, west = per_file[Span("fleet.yaml", 12, 3)], per_file[Span("fleet.yaml", 40, 5)]
    assert east and len(east) == len(west)
    assert all(m.startswith("ServiceEntry bookinfo/reviews-global in clusters/east/networking.yaml:") for m in east)
    assert all(m.startswith("ServiceEntry bookinfo/reviews-global in clusters/west/networking.yaml:") for m in west)
    assert Span("clusters/east/helm/eastwest-gateway-values.yaml") in per_file
    assert Span("clusters/west/helm/eastwest-gateway-values.yaml") in per_file
    assert Span("clusters/east/helm/istiod-values.yaml") not in per_file


def test_each_bundle_is_linted_against_its_own_istio_release(tmp_path):
    """A field of a newer release (AuthorizationPolicy `source.trustDomains`, 1.30 only) is an error in
    a 1.24 bundle and fine in a 1.30 one; kubeconform runs once per release with that release's schemas."""
    policy = ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: a\n"
              "spec:\n  action: ALLOW\n  rules:\n    - from:\n        - source:\n            trustDomains: [x.example]\n")
    for cluster, version in (("old", "1.24"), ("new", "1.30.3")):
        folder = tmp_path / "clusters" / cluster / "mesh"
        folder.mkdir(parents=True)
        (folder / "security.yaml").write_text(policy)
        (tmp_path / "clusters" / cluster / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: x\n  annotations:\n"
            f"    meshgen.dev/istio-version: '{version}'\nresources: [mesh]\n")
    found = {(d.span.file, d.message.split(": ", 2)[-1]) for d in lint_tree(tmp_path)}
    assert found == {("clusters/old/mesh/security.yaml", 'unknown field "trustDomains" [schema]')}
    commands = kubeconform_commands(tmp_path, SCHEMA_DIR)
    assert [c[4].split("/istio/")[1].split("/")[0] for c in commands] == ["1.24", "1.30"]
