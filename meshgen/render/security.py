"""security.yaml (primaries only): mesh-wide mTLS, closed-by-default services, and no foreign identity
admitted except by an explicit grant.

* ``PeerAuthentication default`` in the root namespace of every primary: ``mtls.mode`` from the
  mesh (STRICT unless the spec says PERMISSIVE). Plain text would bypass identity checks. A
  namespace listed in the mesh's ``namespaceMtls`` gets its own ``default`` with that mode.
* ``<service>-allow``, for every service of the mesh that is exported or lists ``callers``: an ALLOW
  ``AuthorizationPolicy`` in the service's namespace selecting its workloads. Once one ALLOW policy
  applies to a workload, every request it does not match is denied (reference §8.1), so the workload
  accepts exactly the export's consumers and the service's in-mesh ``callers``, on its workload
  (target) ports, which is what the destination sidecar sees.
* ``deny-foreign-trust-domains``, in every namespace of the mesh's services when the mesh has
  federation peers: a DENY of every principal of a peer trust domain except the principals granted
  to services of that namespace. DENY policies are evaluated first and never widen access, so this
  holds for workloads meshgen does not know and leaves the application teams' own policies alone.
  What remains: a principal granted to one service of a namespace is not denied at the others of
  that namespace; those without an ALLOW policy of their own still admit it.

Peer trust domains are accepted through ``meshConfig.caCertificates[].trustDomains`` (render.install),
not ``trustDomainAliases``: aliases would make ``peer/ns/x/sa/y`` the same principal as
``own/ns/x/sa/y`` in every policy (review F3; istiod ``trustdomain/bundle.go``). Exact peer
principals (five parts) in these policies make istiod log one warning per push ("does not match the
current trust domain or its aliases"); namespace wildcards (``td/ns/x/*``) and ``td/*`` are not five
parts and are kept as written without a log (``isTrustDomainBeingEnforced``, 1.24-1.30).

Nothing selects a gateway: AUTO_PASSTHROUGH chains carry no authorization filter, so enforcement can
only happen at the destination workload.
"""

from __future__ import annotations

from meshgen.model import ExportNode, FleetModel, Identity
from meshgen.render import bundle_path
from meshgen.render.bundles import MESH
from meshgen.render.common import ISTIO_NAMESPACE, metadata, obj
from meshgen.render.federation import deployed_ports
from meshgen.render.resource import Resource
from meshgen.spec.models import Service

SECURITY = "security.istio.io/v1"
SECURITY_FILE = "security.yaml"
FOREIGN_DENY = "deny-foreign-trust-domains"


def render(model: FleetModel) -> list[Resource]:
    """Each distinct body is built once and shared by the primaries of a mesh that need it."""
    out = []
    for mesh in model.meshes.values():
        origin = model.origin("meshes", mesh.name)
        shared = [peer_authentication(mesh.mtls)]
        shared += [peer_authentication(mode, namespace) for namespace, mode in sorted(mesh.namespaceMtls.items())]
        shared += foreign_denials(model, mesh.name)
        closed = closed_services(model, mesh.name)
        policies: dict[tuple, dict] = {}  # (service index, target ports) -> AuthorizationPolicy body
        for primary in model.primaries(mesh.name):
            path = bundle_path(primary.name, SECURITY_FILE, MESH)
            out += [Resource(path, body, origin) for body in shared]
            for i, (service, export) in enumerate(closed):
                ports = tuple(target_ports(model, service, primary.name))
                body = policies.get((i, ports))
                if body is None:
                    body = policies[(i, ports)] = allow_policy(model, mesh.name, service, export, list(ports))
                out.append(Resource(path, body, model.origin("services", f"{service.namespace}/{service.name}")))
    return out


def peer_authentication(mode: str, namespace: str = ISTIO_NAMESPACE) -> dict:
    """In the root namespace it applies mesh-wide; in another namespace, to that namespace only."""
    return obj(SECURITY, "PeerAuthentication", metadata("default", namespace), spec={"mtls": {"mode": mode}})


# --- closed services -------------------------------------------------------------------------------


def closed_services(model: FleetModel, mesh: str) -> list[tuple[Service, ExportNode | None]]:
    """Services of the mesh that admit only listed identities: exported ones and those with callers."""
    exports = {(e.service.namespace, e.service.name): e for e in model.exports_of(mesh)}
    found = []
    for service in model.services_in_mesh(mesh):
        export = exports.get((service.namespace, service.name))
        if export is not None or service.callers:
            found.append((service, export))
    return found


def policy_name(service: Service) -> str:
    return f"{service.name}-allow"


def allow_policy(model: FleetModel, mesh: str, service: Service, export: ExportNode | None, ports: list[str]) -> dict:
    rule = {
        "from": [{"source": {"principals": allowed_principals(model, mesh, service, export)}}],
        "to": [{"operation": {"ports": ports}}],
    }
    spec = {"selector": {"matchLabels": model.selector(service)}, "action": "ALLOW", "rules": [rule]}
    return obj(SECURITY, "AuthorizationPolicy", metadata(policy_name(service), service.namespace), spec=spec)


def allowed_principals(model: FleetModel, mesh: str, service: Service, export: ExportNode | None) -> list[str]:
    """The export's consumers (their trust domains) plus the service's in-mesh callers (the mesh's)."""
    found = {identity.principal for identity in caller_identities(model, mesh, service)}
    found |= {identity.principal for identity in (export.identities if export else ())}
    return sorted(found)


def caller_identities(model: FleetModel, mesh: str, service: Service) -> list[Identity]:
    domain = model.meshes[mesh].trustDomain
    return [Identity(domain, c.namespace, c.serviceAccount or "*") for c in service.callers]


def target_ports(model: FleetModel, service, primary: str) -> list[str]:
    """Every port the workloads listen on (the Service port when no targetPort), as strings."""
    numbers = {p.targetPort or p.number for ports in deployed_ports(model, service, primary) for p in ports}
    return [str(n) for n in sorted(numbers)]


# --- foreign trust domains -------------------------------------------------------------------------


def foreign_denials(model: FleetModel, mesh: str) -> list[dict]:
    """One DENY per namespace of the mesh's services, when the mesh accepts peer trust domains."""
    peers = model.peer_trust_domains(mesh)
    if not peers:
        return []
    grants: dict[str, set[str]] = {}
    for export in model.exports_of(mesh):
        grants.setdefault(export.service.namespace, set()).update(i.principal for i in export.identities)
    namespaces = sorted({s.namespace for s in model.services_in_mesh(mesh)} - {ISTIO_NAMESPACE})
    return [foreign_denial(namespace, peers, sorted(grants.get(namespace, ()))) for namespace in namespaces]


def foreign_denial(namespace: str, peers: list[str], granted: list[str]) -> dict:
    source: dict = {"principals": [f"{domain}/*" for domain in peers]}
    if granted:
        source["notPrincipals"] = granted
    spec = {"action": "DENY", "rules": [{"from": [{"source": source}]}]}
    return obj(SECURITY, "AuthorizationPolicy", metadata(FOREIGN_DENY, namespace), spec=spec)
