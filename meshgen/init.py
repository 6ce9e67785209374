"""The commented starter spec that `meshgen init` writes (the CLI does the writing)."""

from __future__ import annotations

STARTER_NAME = "fleet.yaml"

STARTER = """\
# yaml-language-server: $schema=schema/fleet.schema.json
#
# A starter fleet: one mesh over two networks, joined by east-west gateways. Edit it, then
#   meshgen validate fleet.yaml     # every problem, with file:line:col
#   meshgen render fleet.yaml       # out/clusters/<cluster>/ bundles, out/gitops/, out/README.md
#   meshgen graph fleet.yaml        # the fleet as a Mermaid picture
# Write the schema for editor completion with `meshgen schema`.
apiVersion: meshgen.dev/v1alpha1
kind: Fleet
metadata:
  name: my-fleet

settings:
  istioVersion: "1.28"            # Istio minor of every cluster (1.24-1.30); a cluster may set its own
  exportSuffix: global            # exported names are <name>.<namespace>.global
  addressRange: 240.10.0.0/16     # addresses of imported hosts (kept stable in meshgen.lock)
  gitops:                         # where Argo CD / Flux find out/ (see docs/gitops.md)
    repoURL: https://git.example.com/platform/fleet.git
    revision: main
    path: out

# Networks: sets of endpoints that reach each other directly (one L3 routing domain).
networks:
  - name: net-east
  - name: net-west

# Roots of trust are referenced by secret-store path; never put certificates or keys here.
rootsOfTrust:
  - name: corp-root
    store: {name: vault-pki}                  # an external-secrets ClusterSecretStore
    certificatePath: pki/corp-root/ca

meshes:
  - name: prod
    trustDomain: prod.example.com
    rootOfTrust: corp-root
    secretStore: {name: vault-istio}          # per-cluster intermediate CAs and remote kubeconfigs
    # mtls: STRICT
    # dns: {capture: true, coreDNS: false}

clusters:
  - name: east-1
    network: net-east
    mesh: prod
    locality: {region: us-east1, zone: us-east1-b}
    podCIDRs: [10.10.0.0/16]
    serviceCIDRs: [10.110.0.0/20]
    gateways:                                 # east-west gateway address other networks use
      - address: 203.0.113.10
    # istioVersion: "1.29"                    # this cluster's own Istio minor (an upgrade in progress)
    # revision: 1-29                          # istio.io/rev on namespaces, istiod-1-29 (canary upgrades)
    # federationGateways:                     # the entry point peers of other meshes are given, separate
    #   - address: 203.0.113.11               # from the east-west gateway; needed to export services
  - name: west-1
    network: net-west
    mesh: prod
    locality: {region: us-west1, zone: us-west1-a}
    podCIDRs: [10.20.0.0/16]
    serviceCIDRs: [10.120.0.0/20]
    gateways:
      - address: 203.0.113.20
  # A remote cluster whose proxies are configured by west-1's istiod:
  # - name: west-2
  #   network: net-west
  #   mesh: prod
  #   locality: {region: us-west1, zone: us-west1-b}
  #   controlPlane: {role: remote, primary: west-1}
  #   podCIDRs: [10.21.0.0/16]
  #   serviceCIDRs: [10.120.16.0/20]

services:
  - name: frontend
    namespace: shop
    ports:
      - {name: http, number: 80, protocol: HTTP, targetPort: 8080}
    instances:
      - {cluster: east-1, count: 3}
      - {cluster: west-1, count: 2}

# Exports share a service of one mesh with other meshes (federation), for example:
# exports:
#   - service: shop/frontend
#     mesh: prod
#     to:
#       - mesh: staging
#         serviceAccounts: [checkout/checkout]

failover:
  - service: shop/frontend
    mesh: prod
    regions: [us-east1, us-west1]
"""


def starter_spec() -> str:
    return STARTER
