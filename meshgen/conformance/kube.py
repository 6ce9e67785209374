"""API-server metadata rules (ValidateObjectMeta): name, namespace, labels and annotations."""

from __future__ import annotations

from meshgen.conformance.finding import WARNING, Finding, entry
from meshgen.conformance.syntax import is_dns1123_label, is_dns1123_subdomain, label_key_error, label_value_error

ANNOTATIONS_MAX_BYTES = 256 * 1024
# Kinds whose names the API server checks as a DNS-1123 label; every other kind: a subdomain.
LABEL_NAMED_KINDS = frozenset({"Namespace", "Service"})
CLUSTER_SCOPED_KINDS = frozenset({"Namespace"})


def metadata_findings(obj: dict) -> list[Finding]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [Finding("metadata", "Required value", "kube/metadata")]
    kind = obj.get("kind", "")
    return [
        *name_findings(kind, meta.get("name")),
        *namespace_findings(kind, meta.get("namespace")),
        *labels_findings(meta.get("labels"), "metadata.labels"),
        *annotations_findings(meta.get("annotations")),
    ]


def name_findings(kind: str, name) -> list[Finding]:
    if not name:
        return [Finding("metadata.name", "Required value: name is required", "kube/name")]
    if kind in LABEL_NAMED_KINDS:
        if not is_dns1123_label(name):
            return [Finding("metadata.name", f"Invalid value: {name!r}: {kind} name must be a DNS-1123 label "
                            "(at most 63 lower-case alphanumerics or '-', starting and ending with an alphanumeric)",
                            "kube/name")]
        return []
    if not is_dns1123_subdomain(name):
        return [Finding("metadata.name", f"Invalid value: {name!r}: name must be a DNS-1123 subdomain (at most 253 "
                        "lower-case alphanumerics, '-' or '.', starting and ending with an alphanumeric)", "kube/name")]
    return []


def namespace_findings(kind: str, namespace) -> list[Finding]:
    if namespace in (None, ""):
        return []
    if kind in CLUSTER_SCOPED_KINDS:
        return [Finding("metadata.namespace", f"{kind} is cluster-scoped; metadata.namespace is ignored", "kube/namespace",
                        WARNING)]
    if not is_dns1123_label(namespace):
        return [Finding("metadata.namespace", f"Invalid value: {namespace!r}: namespace must be a DNS-1123 label",
                        "kube/namespace")]
    return []


def labels_findings(labels, path: str, rule: str = "kube/labels") -> list[Finding]:
    if not isinstance(labels, dict):
        return []
    out = []
    for key, value in labels.items():
        if problem := label_key_error(key):
            out.append(Finding(entry(path, key), f"Invalid label key {key!r}: {problem}", rule))
        if problem := label_value_error(value):
            out.append(Finding(entry(path, key), f"Invalid label value {value!r}: {problem}", rule))
    return out


def annotations_findings(annotations) -> list[Finding]:
    if not isinstance(annotations, dict):
        return []
    out = []
    for key in annotations:
        if problem := label_key_error(key.lower() if isinstance(key, str) else key):
            out.append(Finding(entry("metadata.annotations", key), f"Invalid annotation key {key!r}: {problem}",
                               "kube/annotations"))
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        out.append(Finding("metadata.annotations", f"Too long: annotations total {size} bytes, must have at most "
                           f"{ANNOTATIONS_MAX_BYTES} bytes", "kube/annotations"))
    return out
