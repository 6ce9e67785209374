"""The core value of rendering: Resource, and ResourceSet whose invariant is one object per id.

A Resource is one file-level document: a Kubernetes object (``manifest=True``) that goes into a
cluster's kustomization, or a plain document such as Helm values (``manifest=False``).
``path`` is relative to the output root, e.g. ``clusters/east-1/networking.yaml``; several
manifests may share a path and are emitted there as a multi-document file in KIND_ORDER.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.diagnostics import Diagnostic, MeshgenError, Span

# Explicit apply order inside a file (kustomize-like): namespaces and config first, then
# networking, then security, then GitOps wiring. Unknown kinds sort last by name.
KIND_ORDER = (
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "ExternalSecret",
    "Service",
    "Gateway",
    "ServiceEntry",
    "WorkloadEntry",
    "DestinationRule",
    "VirtualService",
    "PeerAuthentication",
    "AuthorizationPolicy",
    "GitRepository",
    "Kustomization",
    "AppProject",
    "Application",
    "ApplicationSet",
)
_KIND_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}


@dataclass(frozen=True, slots=True)
class Resource:
    path: str
    body: dict | str  # str: a raw text document (manifest=False), written as it is
    origin: Span | None = None
    manifest: bool = True

    @property
    def kind(self) -> str:
        return self.body.get("kind", "") if isinstance(self.body, dict) else ""

    @property
    def name(self) -> str:
        return self.body.get("metadata", {}).get("name", "") if isinstance(self.body, dict) else ""

    @property
    def namespace(self) -> str:
        return self.body.get("metadata", {}).get("namespace", "") if isinstance(self.body, dict) else ""

    @property
    def id(self) -> tuple[str, str, str, str, str]:
        """Unique within the bundle folder: (folder, apiVersion group, kind, namespace, name)."""
        if not self.manifest:
            return (self.path, "", "", "", "")
        folder = self.path.rsplit("/", 1)[0]
        group = self.body.get("apiVersion", "").rpartition("/")[0]
        return (folder, group, self.kind, self.namespace, self.name)

    def sort_key(self) -> tuple:
        return (self.path, _KIND_RANK.get(self.kind, len(KIND_ORDER)), self.kind, self.namespace, self.name)

    def describe(self) -> str:
        if not self.manifest:
            return self.path
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where} in {self.path}"


class ResourceSet:
    """Resources keyed by id; adding a second object with the same id is a render-invariant error."""

    def __init__(self) -> None:
        self._by_id: dict[tuple, Resource] = {}

    def add(self, resource: Resource) -> None:
        previous = self._by_id.setdefault(resource.id, resource)
        if previous is not resource:
            raise MeshgenError(
                [
                    Diagnostic(
                        "E401",
                        f"two rendered objects share the id {resource.describe()}",
                        resource.origin or Span("<render>"),
                        hint="rename one of the services or exports that produce it",
                    )
                ]
            )

    def extend(self, resources) -> None:
        for resource in resources:
            self.add(resource)

    def __iter__(self):
        return iter(sorted(self._by_id.values(), key=Resource.sort_key))

    def __len__(self) -> int:
        return len(self._by_id)
