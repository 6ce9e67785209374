"""validate_object: one Kubernetes object through every layer, in the order the API server applies them.

Layers: ``schema`` (strict JSON Schema), ``cel`` (the CRD's x-kubernetes-validations and list-type
uniqueness), ``istio`` (istiod's webhook semantics) and ``metadata`` (ObjectMeta rules).
"""

from __future__ import annotations

from functools import lru_cache

from meshgen.conformance import cel, istio, istio_gateway, istio_policy, istio_security, kube, schemas
from meshgen.conformance.finding import Finding
from meshgen.conformance.schemas import DEFAULT_MINOR

LAYERS = frozenset({"schema", "cel", "istio", "metadata"})

# Istio kind -> its semantic checker (generator of Findings over (spec, metadata)).
ISTIO_RULES = {
    "ServiceEntry": istio.service_entry,
    "WorkloadEntry": istio.workload_entry,
    "Gateway": istio_gateway.gateway,
    "VirtualService": istio_gateway.virtual_service,
    "DestinationRule": istio_policy.destination_rule,
    "AuthorizationPolicy": istio_security.authorization_policy,
    "PeerAuthentication": istio_security.peer_authentication,
}
ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/")


def validate_object(obj: dict, layers=LAYERS, minor: str = DEFAULT_MINOR) -> list[Finding]:
    """Every finding for one rendered object in one Istio release (``1.28``), sorted by path;
    ``layers`` selects a subset (tests)."""
    if not isinstance(obj, dict):
        return [Finding("", "a Kubernetes object must be a mapping", "schema")]
    out = schemas.object_findings(obj, minor) if "schema" in layers else []
    schema_errors = any(f.severity == "error" for f in out)
    if "cel" in layers:
        plan = _plan(obj.get("apiVersion"), obj.get("kind"), minor)
        out += cel.findings(plan, obj, report_errors=not schema_errors)
    if "istio" in layers and not schema_errors:
        # istiod's validating webhook only sees objects the API server's schema accepted, and its
        # rules assume the schema's types; a schema error is reported first, as kubectl would.
        out += istio_findings(obj, minor)
    if "metadata" in layers:
        out += kube.metadata_findings(obj)
    return sorted(set(out))


def validate_values(name: str, values: dict, minor: str = DEFAULT_MINOR) -> list[Finding]:
    """Helm values: ``gateway`` -> that release's gateway chart values.schema.json; unknown name -> []."""
    return schemas.values_findings(name, values, minor)


def istio_findings(obj: dict, minor: str = DEFAULT_MINOR) -> list[Finding]:
    checker = ISTIO_RULES.get(obj.get("kind"))
    api_version = obj.get("apiVersion") or ""
    if checker is None or not isinstance(api_version, str) or not api_version.startswith(ISTIO_GROUPS):
        return []
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if obj["kind"] == "ServiceEntry":
        return [*istio.metadata_rules(obj["kind"], meta, spec), *istio.service_entry(spec, meta, auto_allocates(minor))]
    return [*istio.metadata_rules(obj["kind"], meta, spec), *checker(spec, meta)]


def auto_allocates(minor: str) -> bool:
    """``PILOT_ENABLE_IP_AUTOALLOCATE``'s default: false in 1.24, true from 1.25 (pilot/pkg/features)."""
    return int(minor.split(".")[1]) >= 25


@lru_cache(maxsize=None)
def _plan(api_version, kind, minor: str = DEFAULT_MINOR):
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    schema = schemas.load_schema(api_version, kind, minor)
    return None if schema is None else cel.plan_for(schema)
