"""Valid objects of each kind meshgen emits, as the starting point of mutation tests."""

from __future__ import annotations

import copy

import pytest

SERVICE_ENTRY = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "ServiceEntry",
    "metadata": {"name": "reviews-global", "namespace": "bookinfo", "labels": {"app.kubernetes.io/managed-by": "meshgen"}},
    "spec": {
        "hosts": ["reviews.bookinfo.global"],
        "addresses": ["240.0.0.2"],
        "location": "MESH_INTERNAL",
        "resolution": "DNS",
        "ports": [{"name": "http", "number": 9080, "protocol": "HTTP"}],
        "endpoints": [{"address": "east.gateways.example.com", "ports": {"http": 15443}, "network": "east", "locality": "us-east/a"}],
    },
}
GATEWAY = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "cross-network-gateway", "namespace": "istio-system"},
    "spec": {
        "selector": {"istio": "eastwestgateway"},
        "servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"}, "tls": {"mode": "AUTO_PASSTHROUGH"},
                     "hosts": ["*.local"]}],
    },
}
DESTINATION_RULE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "reviews-global", "namespace": "bookinfo"},
    "spec": {
        "host": "reviews.bookinfo.global",
        "trafficPolicy": {
            "tls": {"mode": "ISTIO_MUTUAL"},
            "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
            "loadBalancer": {"localityLbSetting": {"enabled": True, "failover": [{"from": "us-east", "to": "us-west"}]}},
        },
    },
}
AUTHORIZATION_POLICY = {
    "apiVersion": "security.istio.io/v1",
    "kind": "AuthorizationPolicy",
    "metadata": {"name": "reviews-callers", "namespace": "bookinfo"},
    "spec": {
        "selector": {"matchLabels": {"app": "reviews"}},
        "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/frontend/sa/productpage"]}}],
                   "to": [{"operation": {"ports": ["9080"]}}]}],
    },
}
NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "istio-system", "labels": {"topology.istio.io/network": "east"}},
}
VALID = {
    "ServiceEntry": SERVICE_ENTRY,
    "Gateway": GATEWAY,
    "DestinationRule": DESTINATION_RULE,
    "AuthorizationPolicy": AUTHORIZATION_POLICY,
    "Namespace": NAMESPACE,
}


@pytest.fixture
def valid():
    """A fresh deep copy of the valid object of a kind: ``valid("Gateway")``."""
    return lambda kind: copy.deepcopy(VALID[kind])
