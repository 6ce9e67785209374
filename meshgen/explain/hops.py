"""The values an explanation is made of: a caller, hops with their evidence, and the call's verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from meshgen.diagnostics import Span
from meshgen.explain.reader import Document

OTHER = "(other)"  # a namespace or service account the spec and the policies do not name (not a valid name)


@dataclass(frozen=True)
class Caller:
    """A workload identity in one cluster: ``CLUSTER/NAMESPACE/SERVICEACCOUNT``."""

    cluster: str
    namespace: str
    service_account: str

    def __str__(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.service_account}"

    @classmethod
    def parse(cls, text: str) -> Caller:
        parts = text.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"expected CLUSTER/NAMESPACE/SERVICEACCOUNT, got {text!r}")
        return cls(*parts)


@dataclass(frozen=True)
class Ref:
    """A rendered object, and the key path inside it, that decides a hop."""

    doc: Document
    keys: tuple = ()

    def where(self) -> tuple[str, int]:
        return self.doc.path, self.doc.line_of(*self.keys)


@dataclass(frozen=True)
class Hop:
    name: str  # caller, dns, service, route, endpoints, network, gateway, export, tls, trust, mtls, authorization
    ok: bool
    text: str
    refs: tuple[Ref, ...] = ()
    spec: Span | None = None


def hop(name: str, ok: bool, text: str, *refs: Ref | None, spec: Span | None = None) -> Hop:
    return Hop(name, ok, text, tuple(r for r in refs if r is not None), spec)


def ref(doc: Document | None, *keys) -> Ref | None:
    return Ref(doc, keys) if doc is not None else None


@dataclass
class Explanation:
    caller: Caller
    host: str
    port: int | None
    hops: list[Hop] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return bool(self.hops) and all(h.ok for h in self.hops)

    @property
    def failed(self) -> Hop | None:
        return next((h for h in self.hops if not h.ok), None)
