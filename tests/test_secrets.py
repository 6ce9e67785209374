"""E210 in both directions: a corpus of secret material is refused wherever a string is free-form,
and a corpus of ordinary names, paths, URLs and revisions (plus every value of the example and
golden specs) is accepted. Every secret below is fake: made-up or the vendors' documented examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshgen.spec.loader import load
from meshgen.spec.secrets import secret_free_form_key, secret_kind

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "fleet.example.yaml", *sorted((ROOT / "tests/golden").glob("*/fleet.yaml")),
         *sorted((ROOT / "tests/specs/valid").glob("*.yaml"))]

PEM_BODY = ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
            "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
            "NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ\n")
SECRETS = {
    "pem private key": "-----BEGIN PRIVATE KEY-----\n" + PEM_BODY + "-----END PRIVATE KEY-----\n",
    "pem lower-case header": "-----begin rsa private key-----\n" + PEM_BODY,
    "pgp private key block": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0bFyABCAC9NzUu\n",
    "pgp message": "-----BEGIN PGP MESSAGE-----\nhQEMA0s8WK0jXrRmAQf+",
    "pem body without header": PEM_BODY,
    "pem body on one line": PEM_BODY.replace("\n", ""),
    "ec key body": "MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49AwEHoUQDQgAE",
    "base64 encoded pem": "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUlyWVNTTlFGYUEy",
    "wrapped base64": "q7Vd2Xk9LmZp4RtYw8NcB3fHs6JgKe1T\nUa5Oi0Pz2QxWv7Ny4Mb9Gc8Dr3Fl6Hj1\nSn2Ke5Ao",
    "url-safe base64": "q9Z-xT3_vLk8Rm2Ya7Wc0Pe5Nf4Ub1Qd6Hs9Jt8Kg3L",
    "standard base64 key": "hQ7mZ+3tN0r/8JxWcB4vKpL2aYsE9dUg1fRiO6TnVq5e",
    "long base64 blob": "QUJD" * 60,
    "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln",
    "aws access key id": "AKIAIOSFODNN7EXAMPLE",
    "aws session key id": "ASIAY34FZKBOKMUTVV7A",
    "gcp api key": "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "gcp service account json": '{"type": "service_account", "project_id": "acme"}',
    "gcp private key field": '{"private_key": "x"}',
    "azure connection string": "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFy;",
    "azure sas": "https://acme.blob.core.windows.net/c?sv=2022-11-02&sig=dGhpcyBpcyBub3QgYSByZWFsIHNpZw%3D",
    "github token": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "github fine-grained token": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
    "gitlab token": "glpat-xYz12AbC34dEf56GhI78",
    "slack bot token": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack user token": "xoxp-1234567890-1234567890-1234567890-abcdef0123456789abcdef0123456789",
    "slack webhook": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "bearer": "Authorization: Bearer 0123456789abcdefABCDEF",
    "bearer alone": "bearer abcd1234efgh5678ijkl",
    "basic auth": "Basic dXNlcjpwYXNzd29yZDEyMw==",
    "url with password": "https://deploy:hunter2@git.example.com/platform/fleet.git",
    "url with token as password": "https://oauth2:glpat-xYz12AbC34dEf56GhI78@gitlab.example.com/fleet.git",
    "kubeconfig text": "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\nusers:\n- name: admin\n",
    "kubeconfig key data": "client-key-data: LS0t",
    "password pair": "password=hunter2",
    "password pair in a description": "the database uses user=app password=s3cr3t-Pa55",
    "db_password colon": "db_password: S3cr3t!x9",
    "api key pair": "api_key=abc123",
    "client secret pair": "client-secret = 0a1b2c3d",
    "token pair": "token=abcd",
}
ORDINARY = [
    "pki/corp-root/ca", "istio/{mesh}/{cluster}/cacerts", "istio/{mesh}/{cluster}/kubeconfig",
    "secret/data/prod/us-east-1/istio-ca", "kv/Platform/NetworkingTeam/RootCA-2024",
    "Shared/Platform/Teams/NetworkingTeam2024/Certificates", "AzureKeyVault/prod-weu-01/IstioIntermediateCA",
    "projects/acme-prod-42/secrets/istio-ca/versions/3", "kv-Prod-WestEurope-01/IstioRootCertificate2025",
    "Team-Platform/Networking/MeshFederationRoot-v2", "root-cert.pem", "ca-cert.pem", "tls.crt",
    "tokens/github-app", "secrets/istio", "passwords-are-not-here",
    "https://github.com/acme/fleet.git", "ssh://git@github.com/acme/fleet.git", "git@github.com:acme/fleet.git",
    "https://git.example.com:8443/platform/fleet.git", "https://user@git.example.com/fleet.git",
    "https://github.com/acme/fleet/tree/main/deploy?ref=v1.2.3#readme",
    "main", "refs/heads/release-2024.12", "refs/tags/v1.22.3-rc.1+build.20241201", "v1.22.3",
    "3f2a9c1e0b7d4a6f8e2c1b0a9d8e7f6a5b4c3d2e", "deploy/clusters/prod-east-1/overlays/production", "out", ".",
    "Primary network in us-east1 (VPC peering to west)", "the token service and its private key live in vault",
    "Bearer tokens are checked by istiod", "Basic authentication is off", "password rotation: monthly",
    "token: see the runbook", "the secret store is vault-istio; no secrets here", "kind: Config is not used",
    "ledger", "payments-ledger-v2", "v2", "canary", "true", "app.kubernetes.io/name",
    "LedgerServiceGRPCv2ExportForPartnerMeshQA3", "ProductionClusterSecretStoreForUsEast1Region2024",
    "HTTPRoute/v1beta1/GatewayClassNameIPv6Dual", "payments-ledger-v2-canary-eu-west-1b-20241201",
    "QUJDRA==", "aGVsbG8gd29ybGQ=", "spiffe://prod.corp.example/ns/payments/sa/ledger",
    "eastwest.prod-west-1.corp.example", "240.10.0.0/16", "2001:db8::/32",
]
SECRET_SELECTOR_KEYS = ["token", "password", "api-token", "db_password", "dbPassword", "client-secret",
                        "clientSecret", "private-key", "aws_secret_access_key", "ssh-key", "x-auth-token",
                        "example.com/api-key", "kubeconfig", "credentials"]
ORDINARY_SELECTOR_KEYS = ["app", "version", "app.kubernetes.io/name", "security.istio.io/tlsMode", "tier",
                          "topology.kubernetes.io/zone", "secret-store", "tokenizer", "keystone", "monkey",
                          "team", "passage", "track"]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secret_material_is_recognised(name):
    assert secret_kind(SECRETS[name]), name


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_strings_are_not_secrets(text):
    assert secret_kind(text) == ""


def test_every_value_of_the_example_and_golden_specs_passes():
    assert len(SPECS) >= 7
    for spec in SPECS:
        loaded = load(spec.read_bytes(), str(spec))
        assert [d for d in loaded.diagnostics if d.code == "E210"] == [], spec


@pytest.mark.parametrize("key", SECRET_SELECTOR_KEYS)
def test_secret_like_selector_keys_are_refused(key):
    assert secret_free_form_key(key)


@pytest.mark.parametrize("key", ORDINARY_SELECTOR_KEYS)
def test_ordinary_selector_keys_pass(key):
    assert not secret_free_form_key(key)


SPEC = """\
apiVersion: meshgen.dev/v1alpha1
kind: Fleet
metadata: {name: unit}
settings:
  gitops: {repoURL: "REPO", revision: "REVISION", path: "PATH"}
networks:
  - {name: vpc, description: "DESCRIPTION"}
rootsOfTrust:
  - {name: root, store: {name: vault}, certificatePath: "STOREPATH", property: "PROPERTY"}
meshes:
  - {name: prod, trustDomain: prod.example, rootOfTrust: root, secretStore: {name: vault}}
clusters:
  - {name: east, network: vpc, mesh: prod, locality: {region: r1}, podCIDRs: [10.1.0.0/16],
     serviceCIDRs: [10.101.0.0/20]}
services:
  - {name: api, namespace: shop, selector: {SELECTORKEY: "SELECTOR"}, ports: [{name: http, number: 80}],
     instances: [{cluster: east}]}
"""
FIELDS = {"REPO": "settings.gitops.repoURL", "REVISION": "settings.gitops.revision", "PATH": "settings.gitops.path",
          "DESCRIPTION": "networks[0].description", "STOREPATH": "rootsOfTrust[0].certificatePath",
          "PROPERTY": "rootsOfTrust[0].property", "SELECTOR": "services[0].selector.app"}


ORDINARY_VALUES = {"REPO": "https://git.corp.internal/platform/fleet.git", "REVISION": "main", "PATH": "out",
                   "DESCRIPTION": "the east VPC", "STOREPATH": "pki/root/ca", "PROPERTY": "root-cert.pem",
                   "SELECTOR": "api"}


def spec_with(field: str, value: str, key: str = "app") -> str:
    text = SPEC.replace("SELECTORKEY", key)
    for placeholder in FIELDS:
        text = text.replace(f'"{placeholder}"', '"' + (value if placeholder == field else ORDINARY_VALUES[placeholder]) + '"')
    return text


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("name", ["url with password", "github token", "bearer", "password pair", "url-safe base64"])
def test_every_free_form_field_is_scanned(field, name):
    import json

    value = json.dumps(SECRETS[name])[1:-1]  # a double-quoted YAML scalar takes JSON escapes
    found = load(spec_with(field, value).encode(), "f.yaml").diagnostics
    assert [(d.code, d.path) for d in found if d.code == "E210"] == [("E210", FIELDS[field])]


def test_a_secret_like_selector_key_is_refused_at_the_key():
    (found,) = [d for d in load(spec_with("", "", key="api-token").encode(), "f.yaml").diagnostics if d.code == "E210"]
    assert (found.span.line, found.path) == (16, "services[0].selector.api-token")


def test_an_ordinary_spec_has_no_secret_findings():
    assert [d for d in load(spec_with("", "").encode(), "f.yaml").diagnostics if d.code == "E210"] == []
