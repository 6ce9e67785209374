"""Name, host, address and port syntax shared by the Kubernetes and Istio rules.

Each predicate mirrors a named helper of the API server ([LBL]: k8s.io/apimachinery validation) or
of istiod ([VAG]: pkg/config/validation/agent), as summarised in reference §9.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
_DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
# Istio compares hostnames case-insensitively and accepts upper case in host labels.
_HOST_LABEL = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_WILDCARD_LABEL = re.compile(r"^(\*|(\*|\*-)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$")
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _memo(function):
    """Rendered fleets repeat the same hosts, labels and addresses: memoise checks of hashable values."""
    cached = lru_cache(maxsize=65536)(function)

    def check(value):
        try:
            return cached(value)
        except TypeError:  # an unhashable value (a list where a string belongs): the schema reports it
            return function(value)

    check.__doc__ = function.__doc__
    return check

PROTOCOLS = frozenset(
    {"TCP", "UDP", "GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TLS", "MONGO", "REDIS", "MYSQL"}
)
HTTP_FAMILY = frozenset({"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB"})
TLS_FAMILY = frozenset({"HTTPS", "TLS"})


def is_dns1123_label(value) -> bool:
    return isinstance(value, str) and len(value) <= DNS1123_LABEL_MAX and bool(_DNS1123_LABEL.match(value))


def is_dns1123_subdomain(value) -> bool:
    return isinstance(value, str) and len(value) <= DNS1123_SUBDOMAIN_MAX and bool(_DNS1123_SUBDOMAIN.match(value))


def is_host_label(value: str) -> bool:
    return len(value) <= DNS1123_LABEL_MAX and bool(_HOST_LABEL.match(value))


def dns_labels_error(domain: str) -> str:
    """ValidateDNS1123Labels: every label a DNS-1123 label, top-level label not all-numeric."""
    labels = domain.removesuffix(".").split(".")
    for label in labels:
        if not is_host_label(label):
            return f"label {label!r} is not a DNS-1123 label"
    if labels[-1].isdigit():
        return f"top level domain {labels[-1]!r} cannot be all-numeric"
    return ""


@_memo
def wildcard_domain_error(domain) -> str:
    """ValidateWildcardDomain: '' when valid, else why not (IP literals fail)."""
    if not isinstance(domain, str) or not domain:
        return "empty domain name not allowed"
    if len(domain) > 255:
        return "domain name too long (max 255)"
    first, dot, rest = domain.partition(".")
    if len(first) > DNS1123_LABEL_MAX or not _WILDCARD_LABEL.match(first):
        return f"label {first!r} is not a DNS-1123 label or a wildcard label"
    return dns_labels_error(rest) if dot else ""


@_memo
def fqdn_error(domain) -> str:
    """ValidateFQDN: like a wildcard domain, but no wildcard at all."""
    if not isinstance(domain, str) or not domain:
        return "empty domain name not allowed"
    if len(domain) > 255:
        return "domain name too long (max 255)"
    return dns_labels_error(domain)


def is_partial_wildcard(host: str) -> bool:
    return "*" in host and host != "*" and not host.startswith("*.")


@_memo
def is_ip(value) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@_memo
def is_cidr(value) -> bool:
    if not isinstance(value, str) or value.count("/") != 1:
        return False
    address, _, bits = value.partition("/")
    if not is_ip(address) or not bits.isdigit():
        return False
    return int(bits) <= (32 if ipaddress.ip_address(address).version == 4 else 128)


def is_ip_or_cidr(value) -> bool:
    return is_cidr(value) if isinstance(value, str) and "/" in value else is_ip(value)


def is_port(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def protocol_valid(protocol) -> bool:
    return protocol in (None, "") or (isinstance(protocol, str) and protocol.upper() in PROTOCOLS)


@_memo
def label_key_error(key) -> str:
    """A qualified name: optional DNS-1123 subdomain prefix (≤253) and '/', then a name ≤63."""
    if not isinstance(key, str) or not key:
        return "label key must not be empty"
    prefix, slash, name = key.rpartition("/")
    if slash and not is_dns1123_subdomain(prefix):
        return f"prefix {prefix!r} must be a DNS-1123 subdomain of at most 253 characters"
    if not name or len(name) > DNS1123_LABEL_MAX or not _QUALIFIED_NAME.match(name):
        return (
            f"name part {name!r} must be at most 63 characters of alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return ""


@_memo
def label_value_error(value) -> str:
    if not isinstance(value, str):
        return "label value must be a string"
    if len(value) > DNS1123_LABEL_MAX:
        return f"label value must be at most 63 characters (has {len(value)})"
    if not _LABEL_VALUE.match(value):
        return "label value must be empty or alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
    return ""
