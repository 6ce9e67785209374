"""lint locates a finding at the key its path names (1-based), or at the deepest key the document has."""

from __future__ import annotations

from meshgen.conformance.lint import _KeyLocator

DOCUMENT = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  annotations:
    argocd.argoproj.io/sync-wave: "3"
spec:
  servers:
    - port:
        number: 15443
        protocol: TLS
      hosts:
        - "*.global"
"""


def locate(path: str) -> tuple[int, int]:
    span = _KeyLocator(DOCUMENT.splitlines(), first_line=5).span("f.yaml", path)
    return span.line, span.col


def test_keys_and_indexes_are_followed_to_the_key():
    assert locate("spec.servers[0].port.number") == (14, 9)
    assert locate("spec.servers[0].hosts[0]") == (17, 11)


def test_a_key_with_dots_is_found_whole():
    assert locate("metadata.annotations.argocd.argoproj.io/sync-wave") == (10, 5)


def test_a_path_the_document_lacks_stops_at_its_deepest_key():
    assert locate("spec.servers[0].tls.mode") == (13, 7)
    assert locate("spec.servers[3]") == (12, 3)
    assert locate("") == (5, 1)
