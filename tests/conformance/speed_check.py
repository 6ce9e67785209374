"""Speed sanity print (not a test): python -m tests.conformance.speed_check [count]

Validates a mix of distinct ServiceEntries, DestinationRules and AuthorizationPolicies, first
with every layer on a cold cache, then without the CEL layer, then with a warm CEL cache.
"""

from __future__ import annotations

import sys
import time

from meshgen.conformance import LAYERS, validate_object


def service_entry(i: int) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": f"svc-{i}", "namespace": f"ns-{i % 50}", "labels": {"app.kubernetes.io/managed-by": "meshgen"}},
            "spec": {"hosts": [f"svc-{i}.ns-{i % 50}.global"], "addresses": [f"240.0.{i // 250 % 250}.{i % 250 + 1}"],
                     "location": "MESH_INTERNAL", "resolution": "DNS",
                     "ports": [{"name": "http", "number": 80, "protocol": "HTTP"}, {"name": "tls", "number": 443, "protocol": "TLS"}],
                     "endpoints": [{"address": "east-gw.example.com", "ports": {"http": 15443, "tls": 15443}, "network": "n1"}]}}


def destination_rule(i: int) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": f"svc-{i}", "namespace": f"ns-{i % 50}"},
            "spec": {"host": f"svc-{i}.ns-{i % 50}.global",
                     "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"},
                                       "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
                                       "loadBalancer": {"localityLbSetting": {"enabled": True, "failover": [{"from": "us-east", "to": "us-west"}]}},
                                       "connectionPool": {"tcp": {"connectTimeout": "1s"}}}}}


def authorization_policy(i: int) -> dict:
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": f"allow-{i}", "namespace": f"ns-{i % 50}"},
            "spec": {"selector": {"matchLabels": {"app": f"svc-{i}"}}, "action": "ALLOW",
                     "rules": [{"from": [{"source": {"principals": [f"cluster.local/ns/ns-{i % 7}/sa/caller"]}}],
                                "to": [{"operation": {"ports": ["8080"]}}]}]}}


def rate(objects: list, layers) -> float:
    start = time.perf_counter()
    for obj in objects:
        validate_object(obj, layers)
    return len(objects) / (time.perf_counter() - start)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    objects = [make(i) for i in range(count // 3) for make in (service_entry, destination_rule, authorization_policy)]
    validate_object(objects[0])  # compile schemas and rules
    print(f"all layers, cold CEL cache: {rate(objects, LAYERS):>9,.0f} objects/s")
    print(f"without CEL:                {rate(objects, LAYERS - {'cel'}):>9,.0f} objects/s")
    print(f"all layers, warm CEL cache: {rate(objects, LAYERS):>9,.0f} objects/s")
    print(f"schema only:                {rate(objects, {'schema'}):>9,.0f} objects/s")


if __name__ == "__main__":
    main()
