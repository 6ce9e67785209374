#!/usr/bin/env python3
"""Import upstream CRDs and schemas into meshgen's own ``schema/`` folder (run by hand).

    python tools/import_schemas.py [--upstream /work/shared/upstream] [--out schema]

Reads the unmodified upstream copies (see each source's README for origin and licence; the Flux
HelmRelease and HelmRepository CRDs, which the shared copy lacks, are kept unmodified in
``tools/upstream/flux-helm/`` with their own README) and writes:

* ``schema/kubernetes/<kind><kind-suffix>.json``: one strict standalone JSON Schema per emitted
  (apiVersion, kind) that is not Istio's, named the way kubeconform's
  ``{{ .ResourceKind }}{{ .KindSuffix }}`` template names them (``namespace-v1.json``);
* ``schema/istio/<minor>/<kind><kind-suffix>.json``: the same for each Istio kind, from the CRDs of
  each supported minor release (``upstream/istio/versions/<minor>/``), so each cluster's objects are
  checked against its own version;
* ``schema/helm/<minor>/gateway/values.schema.json``: the gateway chart's values schema of each
  minor, copied unchanged; ``schema/helm/<minor>/values-read.json``: for the ``base``, ``istiod`` and
  ``gateway`` charts of each minor, every ``.Values`` path their templates and files read (a key
  meshgen writes that no template reads is ignored by the chart);
* ``schema/upstream/<source>/LICENSE`` and ``schema/upstream/SOURCES.md`` (origin, sha256).

CRD conversion follows ``openapi2jsonschema --strict``: ``additionalProperties: false`` on every
object schema with ``properties`` unless ``x-kubernetes-preserve-unknown-fields``; ``nullable``
becomes a ``"null"`` type; ``x-kubernetes-int-or-string`` without ``anyOf`` becomes
integer-or-string; ``apiVersion``/``kind`` get one-value enums and ``metadata`` the strict
Kubernetes ObjectMeta, so unknown top-level or metadata fields are errors. ``x-kubernetes-*``
keys (CEL ``x-kubernetes-validations``, list types) are kept: validators ignore them and
meshgen's CEL layer reads them from these files.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import shutil
from pathlib import Path

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
DRAFT = "http://json-schema.org/draft-07/schema#"

ISTIO_MINORS = ("1.24", "1.25", "1.26", "1.27", "1.28", "1.29", "1.30")
ISTIO_CRDS = "manifests/charts/base/files/crd-all.gen.yaml"
ISTIO_KINDS = ("Gateway", "ServiceEntry", "WorkloadEntry", "DestinationRule", "VirtualService",
               "PeerAuthentication", "AuthorizationPolicy")
# chart -> its folder under upstream/istio/versions/<minor>/manifests/charts/
CHARTS = {"base": "base", "istiod": "istio-control/istio-discovery", "gateway": "gateway"}
VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
FLUX_HELM = REPO / "tools" / "upstream" / "flux-helm"
# (source folder, CRD file, kind, version): every other CRD kind meshgen emits.
CRDS = (
    ("external-secrets", "external-secrets.io_externalsecrets.yaml", "ExternalSecret", "v1"),
    ("argo-cd", "application-crd.yaml", "Application", "v1alpha1"),
    ("argo-cd", "applicationset-crd.yaml", "ApplicationSet", "v1alpha1"),
    ("argo-cd", "appproject-crd.yaml", "AppProject", "v1alpha1"),
    ("flux", "kustomize.toolkit.fluxcd.io_kustomizations.yaml", "Kustomization", "v1"),
    ("flux", "source.toolkit.fluxcd.io_gitrepositories.yaml", "GitRepository", "v1"),
    (FLUX_HELM, "source.toolkit.fluxcd.io_helmrepositories.yaml", "HelmRepository", "v1"),
    (FLUX_HELM, "helm.toolkit.fluxcd.io_helmreleases.yaml", "HelmRelease", "v2"),
)
# Kubernetes core kinds: yannh/kubernetes-json-schema master-standalone-strict, copied unchanged.
CORE = ("namespace-v1.json", "configmap-v1.json", "secret-v1.json", "service-v1.json", "serviceaccount-v1.json")
OBJECT_META_FROM = "namespace-v1.json"


def kind_suffix(api_version: str) -> str:
    """kubeconform's KindSuffix: '-<first label of group>-<version>', or '-<version>' for core."""
    group, _, version = api_version.rpartition("/")
    if not group:
        return "-" + version.lower()
    return "-" + group.split(".")[0].lower() + "-" + version.lower()


def schema_file_name(api_version: str, kind: str) -> str:
    return f"{kind.lower()}{kind_suffix(api_version)}.json"


def strict(node):
    """openapi2jsonschema --strict, recursively, on a copy."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict_child(key, value) for key, value in node.items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out and "type" not in out:
        out["type"] = ["integer", "string"]
    if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _strict_child(key, value):
    if key in ("properties", "patternProperties", "definitions", "$defs"):
        return {name: strict(sub) for name, sub in value.items()}
    if key in ("enum", "required", "default", "example", "x-kubernetes-validations", "x-kubernetes-list-map-keys"):
        return value
    return strict(value)


def crd_schema(crd: dict, version: str, object_meta: dict) -> dict:
    spec = crd["spec"]
    api_version = f"{spec['group']}/{version}"
    (served,) = [v for v in spec["versions"] if v["name"] == version]
    body = strict(served["schema"]["openAPIV3Schema"])
    body["properties"] = {
        "apiVersion": {"type": "string", "enum": [api_version]},
        "kind": {"type": "string", "enum": [spec["names"]["kind"]]},
        "metadata": copy.deepcopy(object_meta),
        **{k: v for k, v in body.get("properties", {}).items() if k not in ("apiVersion", "kind", "metadata")},
    }
    body["required"] = sorted({"apiVersion", "kind", "metadata", *body.get("required", [])})
    body["type"] = "object"
    body["additionalProperties"] = False
    return {
        "$schema": DRAFT,
        "description": body.pop("description", f"{spec['names']['kind']} {api_version}"),
        "x-kubernetes-group-version-kind": [{"group": spec["group"], "kind": spec["names"]["kind"], "version": version}],
        **body,
    }


def load_crd(path: Path, kind: str) -> dict:
    yaml = YAML(typ="safe", pure=True)
    with path.open() as fh:
        for doc in yaml.load_all(fh):
            if doc and doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
                return doc
    raise SystemExit(f"{path}: no CustomResourceDefinition for kind {kind}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def import_all(upstream: Path, out: Path) -> list[tuple[str, str, str, str]]:
    """Write every schema; return rows (written file, source file, upstream version note, sha256)."""
    rows = []
    meta_doc = json.loads((upstream / "kubernetes" / OBJECT_META_FROM).read_text())
    object_meta = meta_doc["properties"]["metadata"]
    for source, name, kind, version in CRDS:
        src = upstream / source / name
        crd = load_crd(src, kind)
        target = out / "kubernetes" / schema_file_name(f"{crd['spec']['group']}/{version}", kind)
        write_json(target, crd_schema(crd, version, object_meta))
        rows.append((target.relative_to(out).as_posix(), _shown(src, upstream), sha256(src)))
    for minor in ISTIO_MINORS:
        rows += import_istio(upstream / "istio" / "versions" / minor, out, minor, object_meta, upstream)
    for name in CORE:
        src = upstream / "kubernetes" / name
        target = out / "kubernetes" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        rows.append((target.relative_to(out).as_posix(), f"kubernetes/{name}", sha256(src)))
    return rows


def import_istio(folder: Path, out: Path, minor: str, object_meta: dict, upstream: Path) -> list[tuple]:
    """One minor release: its CRDs' schemas, its gateway chart values schema, the values its charts read."""
    rows = []
    src = folder / ISTIO_CRDS
    for kind in ISTIO_KINDS:
        crd = load_crd(src, kind)
        target = out / "istio" / minor / schema_file_name(f"{crd['spec']['group']}/v1", kind)
        write_json(target, crd_schema(crd, "v1", object_meta))
        rows.append((target.relative_to(out).as_posix(), _shown(src, upstream), sha256(src)))
    schema = folder / "manifests" / "charts" / "gateway" / "values.schema.json"
    target = out / "helm" / minor / "gateway" / "values.schema.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(schema, target)
    rows.append((target.relative_to(out).as_posix(), _shown(schema, upstream), sha256(schema)))
    read = {chart: values_read(folder / "manifests" / "charts" / path) for chart, path in CHARTS.items()}
    target = out / "helm" / minor / "values-read.json"
    write_json(target, read)
    rows.append((target.relative_to(out).as_posix(), _shown(folder / "manifests" / "charts", upstream) + "/*/{templates,files}",
                 "derived"))
    return rows


def values_read(chart: Path) -> list[str]:
    """Every ``.Values.a.b`` path a chart's templates and files read, sorted."""
    found = set()
    for path in sorted([*chart.glob("templates/*"), *chart.glob("files/*")]):
        if path.is_file():
            found |= {m.group(1)[1:] for m in VALUES_PATH.finditer(path.read_text(encoding="utf-8"))}
    return sorted(found)


def _shown(path: Path, upstream: Path) -> str:
    """A source file as SOURCES.md names it: relative to the shared upstream folder, or to the repo."""
    for base in (upstream, REPO):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def copy_licences(upstream: Path, out: Path) -> None:
    for source in sorted({row[0] for row in CRDS if isinstance(row[0], str)} | {"kubernetes", "istio"}):
        target = out / "upstream" / source
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upstream / source / "LICENSE", target / "LICENSE")


def write_sources(rows, out: Path) -> None:
    lines = [
        "# Schema sources (generated by tools/import_schemas.py; do not edit)",
        "",
        "Origin, version and licence of each source are described in `../README.md`.",
        "",
        "| schema file | upstream file | sha256 of upstream file |",
        "| --- | --- | --- |",
        *(f"| `{target}` | `{source}` | `{digest}` |" for target, source, digest in rows),
        "",
    ]
    (out / "upstream" / "SOURCES.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=Path, default=Path("/work/shared/upstream"))
    parser.add_argument("--out", type=Path, default=REPO / "schema")
    args = parser.parse_args()
    rows = import_all(args.upstream, args.out)
    copy_licences(args.upstream, args.out)
    write_sources(rows, args.out)


if __name__ == "__main__":
    main()
