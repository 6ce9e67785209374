"""The core value of rendering: Resource, and ResourceSet whose invariant is one object per id.

A Resource is one file-level document: a Kubernetes object (``manifest=True``) that goes into a
cluster's kustomization, or a plain document such as Helm values (``manifest=False``).
``path`` is relative to the output root, e.g. ``clusters/east-1/networking.yaml``; several
manifests may share a path and are emitted there as a multi-document file in KIND_ORDER.

Bodies are never mutated once rendered. Renderers share one body dict between resources whose
objects are identical (a federation import in every importing primary; an exporter-side
ServiceEntry, exposure Gateway, AuthorizationPolicy, PeerAuthentication or locality
DestinationRule in every primary of its mesh); emit dumps each distinct body once, validation
checks it once, and a Resource computes its ``id`` and ``sort_key`` from the body once and keeps
them. Changing a body after render would silently change several files, or leave a stale id or
order behind: build a new body instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

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
_UNKNOWN_RANK = len(KIND_ORDER)


def body_keys(body) -> tuple[tuple | None, tuple]:
    """The body's share of a Resource's keys: (apiVersion group, kind, namespace, name) for the id
    (None when the body is not a mapping or its apiVersion not a string) and (kind rank, kind,
    namespace, name) for the sort key."""
    if not isinstance(body, dict):
        return None, (_UNKNOWN_RANK, "", "", "")
    kind = body.get("kind", "")
    meta = body.get("metadata", {})
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    api = body.get("apiVersion", "")
    of_id = (api.rpartition("/")[0], kind, namespace, name) if isinstance(api, str) else None
    return of_id, (_KIND_RANK.get(kind, _UNKNOWN_RANK), kind, namespace, name)


@dataclass(frozen=True, slots=True)
class Resource:
    path: str
    body: dict | str  # str: a raw text document (manifest=False), written as it is
    origin: Span | None = None
    manifest: bool = True
    # (id, sort_key), computed from the body on first use and kept (a body never changes after render).
    _keys: tuple | None = field(default=None, init=False, repr=False, compare=False)

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
        keys = self._keys or self._compute_keys(body_keys(self.body))
        if keys[0] is None:
            raise TypeError(f"manifest {self.path}: the body is not a mapping with a string apiVersion")
        return keys[0]

    def sort_key(self) -> tuple:
        return (self._keys or self._compute_keys(body_keys(self.body)))[1]

    def _compute_keys(self, of_body: tuple[tuple, tuple]) -> tuple:
        """(id, sort_key) from ``body_keys(self.body)``, kept on the resource."""
        path = self.path
        if not self.manifest:
            id_ = (path, "", "", "", "")
        elif of_body[0] is not None:
            id_ = (_folder(path),) + of_body[0]
        else:
            id_ = None  # a manifest needs a mapping body with a string apiVersion: ``id`` raises
        keys = (id_, (path,) + of_body[1])
        object.__setattr__(self, "_keys", keys)
        return keys

    def describe(self) -> str:
        if not self.manifest:
            return self.path
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where} in {self.path}"


@lru_cache(maxsize=1 << 16)
def _folder(path: str) -> str:
    """One string per folder, shared by the ids of its objects."""
    return path.rsplit("/", 1)[0]


class ResourceSet:
    """Resources keyed by id; adding a second object with the same id is a render-invariant error."""

    def __init__(self) -> None:
        self._by_id: dict[tuple, Resource] = {}
        self._order: list[Resource] | None = None  # sorted once, until the next add
        # id(body) -> (body, body_keys(body)): a body shared by many resources is read once; the
        # body is kept so that its id() cannot be reused by another object meanwhile.
        self._of_body: dict[int, tuple] = {}

    def add(self, resource: Resource) -> None:
        keys = resource._keys
        if keys is None:
            body = resource.body
            seen = self._of_body.get(id(body))
            if seen is None:
                seen = self._of_body[id(body)] = (body, body_keys(body))
            keys = resource._compute_keys(seen[1])
        previous = self._by_id.setdefault(keys[0] if keys[0] is not None else resource.id, resource)
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
        self._order = None

    def extend(self, resources) -> None:
        for resource in resources:
            self.add(resource)

    def __iter__(self):
        """In ``Resource.sort_key`` order; the order is computed once and reused until the next add."""
        order = self._order
        if order is None:
            order = self._order = sorted(self._by_id.values(), key=Resource.sort_key)
        return iter(order)

    def values(self):
        """Every resource, in no particular order (cheaper when the order does not matter)."""
        return self._by_id.values()

    def __len__(self) -> int:
        return len(self._by_id)
