"""The address lock file, ``meshgen.lock``: its format, parsed and written. Pure.

One entry a line, comments (``#``) and blank lines ignored::

    # meshgen.lock: ...header...
    ledger.payments.global 240.10.52.183            <host> <address>, sorted by host
    released 240.10.7.1 9 search.catalog.global     released <address> <renders left> <last host>

A malformed line, a host listed twice or an address held twice is E303, located at the line.
How addresses are chosen is ``meshgen.addresses.allocate``'s business.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

from meshgen.diagnostics import Diagnostic, Span

LOCK_NAME = "meshgen.lock"
HEADER = (
    "# meshgen.lock: stable addresses of imported hosts. Written by `meshgen render`; commit it and review\n"
    "# its diffs. `<host> <address>` lines never change once written. `released <address> <n> <host>` keeps a\n"
    "# removed host's address unused for n more renders that change this file; delete the line to free it.\n"
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NO_SPAN = Span("")


# --- the lock ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Locked:
    host: str
    address: IPAddress
    span: Span = field(default=_NO_SPAN, compare=False)  # of the address
    host_col: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Released:
    address: IPAddress
    renders_left: int  # lock-changing renders during which it stays reserved
    host: str  # the host that held it, for reviewers
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True)
class Lock:
    entries: tuple[Locked, ...] = ()
    released: tuple[Released, ...] = ()

    @property
    def addresses(self) -> dict[str, IPAddress]:
        return {e.host: e.address for e in self.entries}


def format_lock(lock: Lock) -> str:
    lines = [f"{e.host} {e.address}\n" for e in sorted(lock.entries, key=lambda e: e.host)]
    ordered = sorted(lock.released, key=lambda r: (r.address.version, int(r.address)))
    lines += [f"released {r.address} {r.renders_left} {r.host}\n" for r in ordered]
    return HEADER + "".join(lines)


def parse_lock(text: str, file: str) -> tuple[Lock, list[Diagnostic]]:
    """Read lock text; unparsable lines, duplicate hosts and duplicate addresses are E303."""
    entries, released, problems = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        tokens = [(m.group(), m.start() + 1) for m in re.finditer(r"\S+", line)]
        if not tokens or tokens[0][0].startswith("#"):
            continue
        item, problem = _parse_line(tokens, file, number)
        problems += [problem] if problem else []
        target = released if isinstance(item, Released) else entries
        target += [item] if item else []
    problems += _duplicates(entries, released)
    return Lock(tuple(entries), tuple(released)), problems


def _parse_line(tokens, file: str, number: int):
    span = Span(file, number, tokens[0][1])
    if len(tokens) == 2:
        return _parse_entry(tokens, file, number)
    if len(tokens) == 4 and tokens[0][0] == "released":
        return _parse_released(tokens, file, number)
    return None, lock_error(span, f"cannot read line {number}: expected `<host> <address>` or "
                                   "`released <address> <renders left> <host>`")


def _parse_entry(tokens, file: str, number: int):
    (host, host_col), (text, col) = tokens
    if not _DNS_NAME.match(host):
        return None, lock_error(Span(file, number, host_col), f"'{host}' is not a host name")
    address = _address(text)
    if address is None:
        return None, lock_error(Span(file, number, col), f"'{text}' is not an IP address")
    return Locked(host, address, Span(file, number, col), host_col), None


def _parse_released(tokens, file: str, number: int):
    (_, _), (text, col), (count, count_col), (host, _) = tokens
    address = _address(text)
    if address is None:
        return None, lock_error(Span(file, number, col), f"'{text}' is not an IP address")
    if not count.isdigit() or int(count) < 1:
        message = f"renders left must be a whole number of at least 1, found '{count}'"
        return None, lock_error(Span(file, number, count_col), message, "delete the line to free the address")
    return Released(address, int(count), host, Span(file, number, col)), None


def _duplicates(entries: list[Locked], released: list[Released]) -> list[Diagnostic]:
    problems, hosts, owners = [], {}, {}
    for entry in entries:
        if entry.host in hosts:
            where = replace(entry.span, col=entry.host_col)
            problems.append(lock_error(where, f"host '{entry.host}' is listed twice (first at line "
                                               f"{hosts[entry.host].span.line})", "keep one of the lines"))
            continue
        hosts[entry.host] = entry
        problems += _claim(owners, entry.address, entry.span, f"host '{entry.host}'")
    for item in released:
        problems += _claim(owners, item.address, item.span, f"released line of '{item.host}'")
    return problems


def _claim(owners: dict, address, span: Span, who: str) -> list[Diagnostic]:
    if address in owners:
        first_who, first = owners[address]
        message = f"address {address} of {who} is also held by {first_who} at line {first.line}"
        return [lock_error(span, message, "every address belongs to one host; delete one line to renumber it")]
    owners[address] = (who, span)
    return []


def lock_error(span: Span, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic("E303", f"lock file is inconsistent: {message}", span, hint=hint)


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
