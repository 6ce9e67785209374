"""Federation closed by default: mesh-wide mTLS and one ALLOW policy per exported workload.

* ``PeerAuthentication default`` in the root namespace of every primary: ``mtls.mode`` from the
  mesh (STRICT unless the spec says PERMISSIVE). Plain text would bypass identity checks. A
  namespace listed in the mesh's ``namespaceMtls`` gets its own ``default`` with that mode.
* For every exported service, in every primary of the exporting mesh: an ALLOW
  ``AuthorizationPolicy`` in the service's namespace selecting its workloads. Once one ALLOW policy
  applies to a workload, every request it does not match is denied (reference §8.1), so the
  workload accepts exactly the export's consumers and the service's in-mesh ``callers``, on its
  workload (target) ports, which is what the destination sidecar sees.

Nothing selects the east-west gateway: AUTO_PASSTHROUGH chains carry no authorization filter, so
enforcement can only happen at the destination workload.

Caveat: istiod rewrites an exact principal (``td/ns/x/sa/y``) whose trust domain is the local
domain or one of its ``trustDomainAliases`` into one principal per domain in that set (reference
§5.9; ``when: source.principal`` and ``trustDomains`` are expanded the same way). When federation
peers are trusted through aliases, ``prod/ns/a/sa/b`` and ``staging/ns/a/sa/b`` are therefore
equivalent in these policies; trusting peers through ``meshConfig.caCertificates[].trustDomains``
instead would keep them distinct. Namespace prefixes (``td/ns/x/*``) are matched as written.
"""

from __future__ import annotations

from meshgen.model import ExportNode, FleetModel, Identity
from meshgen.render import bundle_path
from meshgen.render.common import ISTIO_NAMESPACE, metadata, obj
from meshgen.render.federation import deployed_ports
from meshgen.render.resource import Resource

SECURITY = "security.istio.io/v1"
SECURITY_FILE = "security.yaml"


def render(model: FleetModel) -> list[Resource]:
    """Each distinct body is built once and shared by the primaries of a mesh that need it."""
    out = []
    for mesh in model.meshes.values():
        origin = model.origin("meshes", mesh.name)
        mesh_wide = peer_authentication(mesh.mtls)
        per_namespace = [peer_authentication(mode, namespace) for namespace, mode in sorted(mesh.namespaceMtls.items())]
        exports = model.exports_of(mesh.name)
        policies: dict[tuple, dict] = {}  # (export index, target ports) -> AuthorizationPolicy body
        for primary in model.primaries(mesh.name):
            path = bundle_path(primary.name, SECURITY_FILE)
            out.append(Resource(path, mesh_wide, origin))
            out += [Resource(path, body, origin) for body in per_namespace]
            for i, export in enumerate(exports):
                ports = tuple(target_ports(model, export.service, primary.name))
                body = policies.get((i, ports))
                if body is None:
                    body = policies[(i, ports)] = _allow_policy(model, export, list(ports))
                out.append(Resource(path, body, export.origin))
    return out


def peer_authentication(mode: str, namespace: str = ISTIO_NAMESPACE) -> dict:
    """In the root namespace it applies mesh-wide; in another namespace, to that namespace only."""
    return obj(SECURITY, "PeerAuthentication", metadata("default", namespace), spec={"mtls": {"mode": mode}})


def policy_name(service) -> str:
    return f"{service.name}-federation-allow"


def allow_policy(model: FleetModel, export: ExportNode, primary: str) -> dict:
    """A service is exported at most once per mesh (E201), so one policy per export is one per workload."""
    return _allow_policy(model, export, target_ports(model, export.service, primary))


def _allow_policy(model: FleetModel, export: ExportNode, ports: list[str]) -> dict:
    service = export.service
    rule = {
        "from": [{"source": {"principals": allowed_principals(export)}}],
        "to": [{"operation": {"ports": ports}}],
    }
    spec = {"selector": {"matchLabels": model.selector(service)}, "action": "ALLOW", "rules": [rule]}
    return obj(SECURITY, "AuthorizationPolicy", metadata(policy_name(service), service.namespace), spec=spec)


def allowed_principals(export: ExportNode) -> list[str]:
    """The export's consumers plus the service's in-mesh callers (exporting mesh's trust domain)."""
    found = {identity.principal for identity in export.identities + tuple(caller_identities(export))}
    return sorted(found)


def caller_identities(export: ExportNode) -> list[Identity]:
    domain = export.mesh.trustDomain
    return [Identity(domain, c.namespace, c.serviceAccount or "*") for c in export.service.callers]


def target_ports(model: FleetModel, service, primary: str) -> list[str]:
    """Every port the workloads listen on (the Service port when no targetPort), as strings."""
    numbers = {p.targetPort or p.number for ports in deployed_ports(model, service, primary) for p in ports}
    return [str(n) for n in sorted(numbers)]
