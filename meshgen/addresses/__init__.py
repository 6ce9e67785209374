"""Stable addresses for imported hosts: the lock file (``lock``), how addresses are chosen
(``allocate``), and the Istio limits and per-cluster budgets checked on the result (``budgets``)."""

from meshgen.addresses.allocate import FORBIDDEN, Pool, Request, allocate, allocate_fleet, check_lock, pool_for, requests_for
from meshgen.addresses.budgets import check_limits
from meshgen.addresses.lock import HEADER, LOCK_NAME, Lock, Locked, Released, format_lock, parse_lock

__all__ = [
    "FORBIDDEN", "HEADER", "LOCK_NAME", "Lock", "Locked", "Pool", "Released", "Request", "allocate",
    "allocate_fleet", "check_limits", "check_lock", "format_lock", "parse_lock", "pool_for", "requests_for",
]
