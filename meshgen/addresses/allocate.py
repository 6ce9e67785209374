"""Address allocation for imported hosts against the lock. Pure.

Allocation rule, applied to the hosts of ``exports`` and ``globalNames`` (hosts are fleet-wide
unique, so one address per host is unique in every cluster that resolves it):
  1. A host in the lock keeps its address. A pinned host (``address:``) gets its pin,
     even when that changes its locked address: a pin is explicit.
  2. A new host gets the first free address probing upwards (with wrap-around) from
     ``sha256(host) mod size`` of ``settings.addressRange``. The start depends on the host alone,
     so two branches that each add a host almost never pick the same address (lowest-free would
     hand both the same one), and an empty lock re-derives the committed lock of an unchanged spec.
  Free means: inside the range, not its first or last address, not in a forbidden block
  (``FORBIDDEN``, or a cluster's pod/service CIDR), not locked, pinned or quarantined.

Quarantine rule. A *generation* is a render whose host -> address map differs from the lock's.
A render that is not one rewrites the lock unchanged, so ``render`` then ``check`` is clean. When
a generation releases an address (host removed or renamed, or re-pinned), the address is not
handed out in that generation nor in the next ``settings.addressQuarantine`` generations: its
``released`` line counts them down and disappears at zero. Deleting the line frees it at once.

Codes: E301 pinned address collides or is outside the range / forbidden; E302 range too small;
E303 a locked address is no longer allocatable.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, replace
from functools import cached_property

from meshgen.addresses.lock import IPAddress, Lock, Locked, Released, lock_error, parse_lock
from meshgen.diagnostics import Diagnostic, Span
from meshgen.spec.hosts import export_host
from meshgen.spec.models import Fleet
from meshgen.spec.positions import Positions

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORBIDDEN = (
    ("0.0.0.0/8", "'this network' block 0.0.0.0/8"),
    ("127.0.0.0/8", "loopback 127.0.0.0/8 (the sidecar may redirect it to its inbound listener)"),
    ("224.0.0.0/4", "multicast 224.0.0.0/4"),
    ("240.240.0.0/16", "Istio's auto-allocation range 240.240.0.0/16"),
    ("255.255.255.255/32", "the broadcast address"),
    ("::/128", "the unspecified address"),
    ("::1/128", "loopback ::1"),
    ("ff00::/8", "multicast ff00::/8"),
)
_NO_SPAN = Span("")


# --- the pool of allocatable addresses ------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """``settings.addressRange`` minus its first and last address and the forbidden blocks in it."""

    network: IPNetwork
    forbidden: tuple[tuple[IPNetwork, str], ...] = ()
    span: Span = _NO_SPAN

    @cached_property
    def ends(self) -> frozenset:
        net = self.network
        return frozenset({net.network_address, net.broadcast_address}) if net.num_addresses > 2 else frozenset()

    def why_not(self, address: IPAddress) -> str:
        """Why the address cannot be allocated, or '' when it can (free or not)."""
        if address.version != self.network.version or address not in self.network:
            return f"it is outside settings.addressRange {self.network}"
        if address in self.ends:
            return f"it is the first or last address of {self.network}"
        reason = next((why for net, why in self.forbidden if address in net), "")
        return f"it is in {reason}" if reason else ""

    def capacity(self) -> int:
        blocks = ipaddress.collapse_addresses(net for net, _ in self.forbidden)
        blocked = sum(net.num_addresses for net in blocks)
        outside = [a for a in self.ends if not any(a in net for net, _ in self.forbidden)]
        return self.network.num_addresses - blocked - len(outside)

    def next_free(self, host: str, taken: set) -> IPAddress:
        """First free address from the host's hash start, upwards with wrap. Caller checks capacity."""
        size, base = self.network.num_addresses, int(self.network.network_address)
        offset = int.from_bytes(hashlib.sha256(host.encode()).digest()[:8], "big") % size
        while True:
            address = ipaddress.ip_address(base + offset)
            block = next((net for net, _ in self.forbidden if address in net), None)
            if block is not None:
                offset = (int(block.broadcast_address) - base + 1) % size
            elif address in taken or address in self.ends:
                offset = (offset + 1) % size
            else:
                return address


def pool_for(fleet: Fleet, positions: Positions) -> Pool:
    network = ipaddress.ip_network(fleet.settings.addressRange)
    blocks = [(ipaddress.ip_network(cidr), why) for cidr, why in FORBIDDEN]
    for cluster in sorted(fleet.clusters, key=lambda c: c.name):
        blocks += [(ipaddress.ip_network(c), f"pod CIDR {c} of cluster '{cluster.name}'") for c in cluster.podCIDRs]
        blocks += [(ipaddress.ip_network(c), f"service CIDR {c} of cluster '{cluster.name}'")
                   for c in cluster.serviceCIDRs]
    inside = tuple(_clip(net, why, network) for net, why in blocks if _overlaps(net, network))
    return Pool(network, inside, positions.span(("settings", "addressRange")))


def _overlaps(net: IPNetwork, network: IPNetwork) -> bool:
    return net.version == network.version and net.overlaps(network)


def _clip(net: IPNetwork, why: str, network: IPNetwork) -> tuple[IPNetwork, str]:
    return (net if net.subnet_of(network) else network), why


# --- allocation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A host that needs an address, with its pin and where the spec declares it."""

    host: str
    pin: IPAddress | None = None
    span: Span = _NO_SPAN
    pin_span: Span = _NO_SPAN


def requests_for(fleet: Fleet, positions: Positions) -> list[Request]:
    """Every exported host and every global name needs an address (hosts are unique fleet-wide: E211)."""
    named = [(export_host(fleet, e), e.address, ("exports", i)) for i, e in enumerate(fleet.exports)]
    named += [(g.host, g.address, ("globalNames", i)) for i, g in enumerate(fleet.globalNames)]
    return [Request(host, pin and ipaddress.ip_address(pin), positions.span(path), positions.span((*path, "address")))
            for host, pin, path in named]


def allocate(requests: list[Request], lock: Lock, pool: Pool, quarantine: int) -> tuple[Lock, list[Diagnostic]]:
    """The next lock: every request gets an address; see the module docstring for the rules."""
    problems = check_lock(lock, pool)
    if problems:
        return lock, problems
    locked = lock.addresses
    pins, problems = _pins(requests, lock, pool)
    if problems:
        return lock, problems
    assigned = {r.host: locked[r.host] for r in requests if r.host in locked and r.host not in pins}
    assigned.update(pins)
    if assigned == locked and locked.keys() == {r.host for r in requests}:
        return Lock(_entries(assigned), lock.released), []  # not a generation: the lock stays as it is
    released = _released(lock, assigned, quarantine)
    taken = set(assigned.values()) | {r.address for r in lock.released} | {r.address for r in released}
    return _assign_new(requests, assigned, taken, pool, lock.released, released)


def _assign_new(requests, assigned, taken, pool, old, new) -> tuple[Lock, list[Diagnostic]]:
    fresh = sorted({r.host for r in requests} - assigned.keys())
    problem = _capacity(pool, taken, len(fresh))
    if problem:
        return Lock(), [problem]
    for host in fresh:
        assigned[host] = pool.next_free(host, taken)
        taken.add(assigned[host])
    counted = [replace(r, renders_left=r.renders_left - 1) for r in old if r.renders_left > 1]
    return Lock(_entries(assigned), tuple(counted + new)), []


def _entries(assigned: dict[str, IPAddress]) -> tuple[Locked, ...]:
    return tuple(Locked(host, assigned[host]) for host in sorted(assigned))


def _released(lock: Lock, assigned: dict[str, IPAddress], quarantine: int) -> list[Released]:
    if quarantine < 1:
        return []
    kept = set(assigned.values())
    return [Released(e.address, quarantine, e.host) for e in lock.entries if e.address not in kept]


def check_lock(lock: Lock, pool: Pool) -> list[Diagnostic]:
    """Every address in the lock must still be allocatable from the pool (E303)."""
    hint = "restore settings.addressRange, or delete the line to give it a new address"
    found = []
    for item in (*lock.entries, *lock.released):
        why = pool.why_not(item.address)
        if why:
            found.append(lock_error(item.span, f"address {item.address} of '{item.host}' is not allocatable: {why}",
                                     hint))
    return found


def _pins(requests: list[Request], lock: Lock, pool: Pool) -> tuple[dict[str, IPAddress], list[Diagnostic]]:
    pinned = [r for r in requests if r.pin is not None]
    pinned_hosts = {r.host for r in pinned}
    holders = {e.address: e for e in lock.entries if e.host not in pinned_hosts}
    holders.update({r.address: r for r in lock.released})
    live = {r.host for r in requests}
    pins, firsts, problems = {}, {}, []
    for request in pinned:
        problem = _pin_problem(request, pool, firsts.get(request.pin), holders.get(request.pin), live)
        problems += [problem] if problem else []
        firsts.setdefault(request.pin, request)
        pins[request.host] = request.pin
    return pins, problems


def _pin_problem(request: Request, pool: Pool, first: Request | None, holder, live: set) -> Diagnostic | None:
    why = pool.why_not(request.pin)
    if why:
        return _pin_error(request, f"pinned address {request.pin} of '{request.host}' cannot be used: {why}",
                          "choose an address inside settings.addressRange and outside reserved blocks")
    if first is not None:
        return _pin_error(request, f"pinned address {request.pin} of '{request.host}' is also pinned by "
                                   f"'{first.host}' at line {first.pin_span.line}", "pin a distinct address")
    if isinstance(holder, Released):
        return _pin_error(request, f"pinned address {request.pin} of '{request.host}' was released by "
                                   f"'{holder.host}' and is quarantined for {holder.renders_left} more renders "
                                   f"({holder.span})", "pick another, or delete its `released` line to free it")
    if holder is not None and holder.host in live:
        return _pin_error(request, f"pinned address {request.pin} of '{request.host}' is locked to "
                                   f"'{holder.host}' ({holder.span})", "pick another, or pin that host elsewhere")
    return None


def _pin_error(request: Request, message: str, hint: str) -> Diagnostic:
    return Diagnostic("E301", message, request.pin_span, hint=hint)


def _capacity(pool: Pool, taken: set, needed: int) -> Diagnostic | None:
    usable = pool.capacity()
    used = sum(1 for a in taken if not pool.why_not(a))
    if needed <= usable - used:
        return None
    message = (f"settings.addressRange {pool.network} has {usable} usable addresses, {used} of them locked, "
               f"pinned or quarantined; {needed} new hosts need one")
    return Diagnostic("E302", message, pool.span, hint="widen the range (quarantined addresses free up over renders)")


def allocate_fleet(fleet: Fleet, positions: Positions, lock_text: str, lock_file: str) -> tuple[Lock, list[Diagnostic]]:
    """Parse the lock and allocate every export's host; the lock comes back unchanged on errors."""
    lock, problems = parse_lock(lock_text, lock_file)
    if problems:
        return lock, problems
    quarantine = fleet.settings.addressQuarantine
    return allocate(requests_for(fleet, positions), lock, pool_for(fleet, positions), quarantine)
