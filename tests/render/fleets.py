"""Inline specs shared by the renderer tests of namespaces, install, gateways, trust and traffic."""

from __future__ import annotations

# Mesh `prod`: primaries east-1 and east-2 on net-a, primary west-1 and its remote west-2 on
# net-b. Mesh `lab`: one primary on net-c, with its own root. No federation.
TWO_MESHES = """
networks: [{name: net-a}, {name: net-b}, {name: net-c}]
rootsOfTrust:
  - {name: corp-root, store: {name: vault-pki}, certificatePath: pki/corp/ca}
  - {name: lab-root, store: {name: vault-istio}, certificatePath: pki/lab/ca, property: pem}
meshes:
  - name: prod
    trustDomain: prod.example
    rootOfTrust: corp-root
    secretStore: {name: vault-istio}
  - name: lab
    trustDomain: lab.example
    rootOfTrust: lab-root
    secretStore: {name: vault-istio}
    dns: {capture: false}
clusters:
  - {name: east-1, network: net-a, mesh: prod, locality: {region: us-east1, zone: us-east1-b},
     podCIDRs: [10.1.0.0/16], serviceCIDRs: [10.101.0.0/20], gateways: [{address: 203.0.113.1}]}
  - {name: east-2, network: net-a, mesh: prod, locality: {region: us-east1, zone: us-east1-c},
     podCIDRs: [10.2.0.0/16], serviceCIDRs: [10.102.0.0/20]}
  - {name: west-1, network: net-b, mesh: prod, locality: {region: us-west1, zone: us-west1-a},
     podCIDRs: [10.3.0.0/16], serviceCIDRs: [10.103.0.0/20],
     gateways: [{address: gw.west-1.example}, {address: 198.51.100.9}]}
  - {name: west-2, network: net-b, mesh: prod, locality: {region: us-west1, zone: us-west1-b},
     controlPlane: {role: remote, primary: west-1},
     podCIDRs: [10.4.0.0/16], serviceCIDRs: [10.104.0.0/20]}
  - {name: lab-1, network: net-c, mesh: lab, locality: {region: eu-west1},
     podCIDRs: [10.1.0.0/16], serviceCIDRs: [10.101.0.0/20]}
services:
  - name: web
    namespace: shop
    ports: [{name: http, number: 80, protocol: HTTP}]
    instances: [{cluster: east-1, count: 2}, {cluster: west-2}]
  - name: cart
    namespace: shop
    ports: [{name: grpc, number: 7070, protocol: GRPC}]
    instances: [{cluster: east-2}, {cluster: west-1}]
  - name: ledger
    namespace: payments
    ports: [{name: grpc, number: 8443, protocol: GRPC}]
    instances: [{cluster: east-1}]
  - name: probe
    namespace: lab-tools
    ports: [{name: http, number: 8080, protocol: HTTP}]
    instances: [{cluster: lab-1}, {cluster: east-1}]
failover:
  - {service: shop/web, mesh: prod, regions: [us-east1, us-west1]}
"""

# Two federated meshes on their own networks with different roots: `a` exports shop/api to `b`.
FEDERATED = """
settings: {importNamespace: imports}
networks: [{name: net-a}, {name: net-b}]
rootsOfTrust:
  - {name: root-a, store: {name: pki}, certificatePath: pki/a}
  - {name: root-b, store: {name: pki}, certificatePath: pki/b}
meshes:
  - name: a
    trustDomain: a.example
    rootOfTrust: root-a
    secretStore: {name: istio-store, kind: SecretStore}
    trustBundles: [{mesh: b, store: {name: pki}, certificatePath: pki/b}]
  - name: b
    trustDomain: b.example
    rootOfTrust: root-b
    secretStore: {name: istio-store}
    caPath: ca/{mesh}/{cluster}
    trustBundles: [{mesh: a, store: {name: istio-store}, certificatePath: pki/a}]
clusters:
  - {name: a-1, network: net-a, mesh: a, locality: {region: r1}, podCIDRs: [10.1.0.0/16],
     serviceCIDRs: [10.101.0.0/20], federationGateways: [{address: 203.0.113.1}]}
  - {name: b-1, network: net-b, mesh: b, locality: {region: r2}, podCIDRs: [10.1.0.0/16],
     serviceCIDRs: [10.101.0.0/20], federationGateways: [{address: 203.0.113.2, port: 443}]}
services:
  - name: api
    namespace: shop
    serviceAccounts: [api]
    ports: [{name: http, number: 8080, protocol: HTTP}]
    instances: [{cluster: a-1}]
    callers: [{namespace: shop}]
exports:
  - {service: shop/api, mesh: a, to: [{mesh: b}], address: 240.10.0.5}
"""
