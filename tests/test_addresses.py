"""Address allocator and lock file: parse/format, located errors, pins, exhaustion, quarantine,
stability under add/remove/rename (property test), determinism, `meshgen check` on a stale lock."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from meshgen import cli
from meshgen.addresses import (
    HEADER,
    Lock,
    Pool,
    Request,
    allocate,
    check_limits,
    format_lock,
    parse_lock,
    pool_for,
)
from meshgen.diagnostics import MeshgenError
from meshgen.pipeline import Options, build, read_spec, resolve_model

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"
COMMITTED_LOCK = ROOT / "meshgen.lock"
ip = ipaddress.ip_address


def pool(cidr: str = "240.10.0.0/24", *forbidden: str) -> Pool:
    return Pool(ipaddress.ip_network(cidr), tuple((ipaddress.ip_network(f), f"block {f}") for f in forbidden))


def hosts(*names: str, pins: dict[str, str] | None = None) -> list[Request]:
    pins = pins or {}
    return [Request(n, ip(pins[n]) if n in pins else None) for n in names]


def run(requests, lock=Lock(), where=None, quarantine=10) -> Lock:
    new, problems = allocate(requests, lock, where or pool(), quarantine)
    assert problems == []
    return new


def errors_of(requests, lock=Lock(), where=None, quarantine=10) -> list[tuple[str, int, int]]:
    _, problems = allocate(requests, lock, where or pool(), quarantine)
    return [(d.code, d.span.line, d.span.col) for d in problems]


def parsed(text: str) -> Lock:
    lock, problems = parse_lock(text, "meshgen.lock")
    assert problems == []
    return lock


# --- the lock text ----------------------------------------------------------------------------------


def test_format_is_sorted_by_host_then_released_by_address_and_round_trips():
    text = HEADER + "a.x.global 240.10.0.9\nb.x.global 240.10.0.2\nreleased 240.10.0.3 2 c.x.global\n"
    lock = parsed("b.x.global 240.10.0.2\nreleased 240.10.0.3 2 c.x.global\n  a.x.global   240.10.0.9\n\n# note\n")
    assert format_lock(lock) == text
    assert format_lock(parsed(text)) == text


@pytest.mark.parametrize(
    "line, col, words",
    [
        ("a.x.global", 1, "cannot read line 2"),
        ("a.x.global 240.10.0.1 extra", 1, "cannot read line 2"),
        ("A_x 240.10.0.1", 1, "not a host name"),
        ("a.x.global 240.10.0.256", 12, "not an IP address"),
        ("released nope 3 a.x.global", 10, "not an IP address"),
        ("released 240.10.0.7 0 a.x.global", 21, "at least 1"),
        ("released 240.10.0.7 -2 a.x.global", 21, "at least 1"),
    ],
)
def test_unreadable_lines_are_located(line, col, words):
    _, problems = parse_lock(f"# header\n{line}\n", "meshgen.lock")
    assert [(d.code, str(d.span)) for d in problems] == [("E303", f"meshgen.lock:2:{col}")]
    assert words in problems[0].message


def test_duplicate_host_and_duplicate_address_are_located():
    text = "a.x.global 240.10.0.1\nb.x.global 240.10.0.2\n a.x.global 240.10.0.3\nc.x.global 240.10.0.2\n"
    text += "released 240.10.0.1 3 old.x.global\n"
    _, problems = parse_lock(text, "meshgen.lock")
    assert [(d.code, d.span.line, d.span.col) for d in problems] == [
        ("E303", 3, 2), ("E303", 4, 12), ("E303", 5, 10)]
    assert "listed twice (first at line 1)" in problems[0].message
    assert "also held by host 'b.x.global' at line 2" in problems[1].message


def test_locked_address_outside_the_range_is_inconsistent():
    lock = parsed("a.x.global 240.10.0.1\nb.x.global 10.0.0.1\nreleased 240.99.0.1 1 c.x.global\n")
    assert errors_of(hosts("a.x.global", "b.x.global"), lock) == [("E303", 2, 12), ("E303", 3, 10)]


# --- allocation ----------------------------------------------------------------------------------


def test_new_hosts_get_stable_hash_probed_addresses_inside_the_range():
    lock = run(hosts("a.x.global", "b.x.global", "c.x.global"))
    again = run(hosts("c.x.global", "b.x.global", "a.x.global"))  # input order does not matter
    assert lock == again
    assert all(e.address in ipaddress.ip_network("240.10.0.0/24") for e in lock.entries)
    assert len({e.address for e in lock.entries}) == 3


def test_forbidden_blocks_and_range_ends_are_skipped():
    where = pool("240.240.0.0/23", "240.240.0.0/24")  # first half forbidden (like Istio's range)
    lock = run(hosts(*(f"h{i}.x.global" for i in range(200))), where=where)
    addresses = {e.address for e in lock.entries}
    assert all(a in ipaddress.ip_network("240.240.1.0/24") for a in addresses)
    assert ip("240.240.1.255") not in addresses and len(addresses) == 200


def test_pool_for_a_spec_forbids_istio_range_loopback_and_cluster_cidrs(tmp_path):
    spec = EXAMPLE.read_text().replace("addressRange: 240.10.0.0/16", "addressRange: 0.0.0.0/0")
    loaded = read_spec(_write(tmp_path, spec))
    where = pool_for(loaded.fleet, loaded.positions)
    for address, words in [("240.240.3.4", "auto-allocation"), ("127.0.0.1", "loopback"), ("224.0.0.9", "multicast"),
                           ("10.10.4.4", "pod CIDR 10.10.0.0/16"), ("10.110.16.9", "service CIDR 10.110.16.0/20")]:
        assert words in where.why_not(ip(address))
    assert where.why_not(ip("240.10.0.1")) == ""


def test_a_pin_is_honoured_even_when_it_moves_a_locked_host():
    lock = run(hosts("a.x.global"))
    moved = run(hosts("a.x.global", pins={"a.x.global": "240.10.0.200"}), lock)
    assert moved.addresses == {"a.x.global": ip("240.10.0.200")}
    assert [(str(r.address), r.renders_left) for r in moved.released] == [(str(lock.entries[0].address), 10)]


def test_pin_collisions_are_e301_at_the_pin():
    lock = parsed("a.x.global 240.10.0.5\nreleased 240.10.0.6 4 gone.x.global\n")
    requests = [
        Request("a.x.global"),
        Request("b.x.global", ip("240.10.0.5"), pin_span=_span(7)),  # locked to a
        Request("c.x.global", ip("240.10.0.6"), pin_span=_span(8)),  # quarantined
        Request("d.x.global", ip("240.10.0.9"), pin_span=_span(9)),
        Request("e.x.global", ip("240.10.0.9"), pin_span=_span(10)),  # pinned by d
        Request("f.x.global", ip("240.11.0.1"), pin_span=_span(11)),  # outside the range
        Request("g.x.global", ip("240.10.0.0"), pin_span=_span(12)),  # first address of the range
    ]
    _, problems = allocate(requests, lock, pool(), 10)
    assert [(d.code, d.span.line) for d in problems] == [("E301", n) for n in (7, 8, 10, 11, 12)]
    assert "locked to 'a.x.global' (meshgen.lock:1:12)" in problems[0].message
    assert "quarantined for 4 more renders" in problems[1].message
    assert "also pinned by 'd.x.global' at line 9" in problems[2].message


def test_pins_may_swap_and_may_take_an_address_released_in_the_same_render():
    lock = parsed("a.x.global 240.10.0.5\nb.x.global 240.10.0.6\n")
    swapped = run(hosts("a.x.global", "b.x.global", pins={"a.x.global": "240.10.0.6", "b.x.global": "240.10.0.5"}), lock)
    assert swapped.addresses == {"a.x.global": ip("240.10.0.6"), "b.x.global": ip("240.10.0.5")}
    assert swapped.released == ()
    renamed = run(hosts("a.x.global", "b2.x.global", pins={"b2.x.global": "240.10.0.6"}), lock)
    assert renamed.addresses["b2.x.global"] == ip("240.10.0.6") and renamed.released == ()


def test_a_range_too_small_is_e302():
    tiny = pool("240.10.0.0/30")  # 4 addresses, 2 usable
    assert len(run(hosts("a.x.global", "b.x.global"), where=tiny).entries) == 2
    _, problems = allocate(hosts("a.x.global", "b.x.global", "c.x.global"), Lock(), tiny, 10)
    assert [d.code for d in problems] == ["E302"]
    assert "has 2 usable addresses, 0 of them locked, pinned or quarantined; 3 new hosts" in problems[0].message


# --- quarantine ----------------------------------------------------------------------------------


def test_a_removed_hosts_address_is_quarantined_for_n_lock_changing_renders():
    tiny = pool("240.10.0.0/29")  # 6 usable
    lock = run(hosts("a.x.global", "b.x.global"), where=tiny, quarantine=2)
    freed = lock.addresses["b.x.global"]
    lock = run(hosts("a.x.global"), lock, tiny, quarantine=2)  # generation 0 releases it
    assert [(r.address, r.renders_left, r.host) for r in lock.released] == [(freed, 2, "b.x.global")]
    assert run(hosts("a.x.global"), lock, tiny, quarantine=2) == lock  # not a generation: no countdown
    crowd = [f"n{i}.x.global" for i in range(4)]  # a + 4 new + the quarantined one fill the 6 usable
    lock = run(hosts("a.x.global", *crowd), lock, tiny, quarantine=2)  # generation 1
    assert freed not in lock.addresses.values()
    assert [(r.address, r.renders_left) for r in lock.released] == [(freed, 1)]
    lock = run(hosts("a.x.global", *crowd[:3]), lock, tiny, quarantine=2)  # generation 2: its last
    assert freed not in lock.addresses.values() and freed not in {r.address for r in lock.released}
    assert len(lock.released) == 1  # n3's address, just released
    lock = run(hosts("a.x.global", *crowd[:3], "z.x.global"), lock, tiny, quarantine=2)  # generation 3
    assert lock.addresses["z.x.global"] == freed  # the only free address left


def test_quarantine_counts_down_and_disappears():
    lock = parsed("a.x.global 240.10.0.5\nreleased 240.10.0.6 2 old.x.global\nreleased 240.10.0.7 1 o.x.global\n")
    lock = run(hosts("a.x.global", "b.x.global"), lock)
    assert [(str(r.address), r.renders_left) for r in lock.released] == [("240.10.0.6", 1)]
    assert lock.addresses["b.x.global"] not in {ip("240.10.0.6"), ip("240.10.0.7")}


def test_a_full_range_frees_only_when_the_lock_says_so():
    tiny = pool("240.10.0.0/30")
    lock = run(hosts("a.x.global", "b.x.global"), where=tiny)
    lock = run(hosts("a.x.global"), lock, tiny)
    assert [d[0] for d in errors_of(hosts("a.x.global", "c.x.global"), lock, tiny)] == ["E302"]
    edited = parsed(format_lock(lock).replace(format_lock(lock).splitlines()[-1], ""))  # delete the released line
    assert run(hosts("a.x.global", "c.x.global"), edited, tiny).addresses["c.x.global"] == lock.released[0].address


def test_quarantine_zero_reuses_at_once():
    tiny = pool("240.10.0.0/30")
    lock = run(hosts("a.x.global", "b.x.global"), where=tiny, quarantine=0)
    renamed = run(hosts("a.x.global", "c.x.global"), lock, tiny, quarantine=0)
    assert renamed.released == () and renamed.addresses["c.x.global"] == lock.addresses["b.x.global"]


# --- property: add / remove / rename never move a surviving host -------------------------------------

NAMES = [f"s{i}.ns.global" for i in range(40)]
operation = st.tuples(st.sampled_from(["add", "remove", "rename"]), st.sampled_from(NAMES), st.sampled_from(NAMES))


@settings(max_examples=150, deadline=None)
@given(st.lists(operation, min_size=1, max_size=30), st.integers(0, 3))
def test_surviving_hosts_never_change_address(operations, quarantine):
    where = pool("240.10.0.0/25")  # small enough that hash starts collide and probing matters
    current: set[str] = set()
    lock = Lock()
    for op, name, other in operations:
        if op == "add":
            current.add(name)
        elif op == "remove":
            current.discard(name)
        elif name in current and other not in current:
            current = current - {name} | {other}
        before = lock.addresses
        lock = run(hosts(*sorted(current)), lock, where, quarantine)
        after = lock.addresses
        assert set(after) == current
        assert all(after[h] == before[h] for h in current & set(before))  # survivors keep their address
        assert len(set(after.values())) == len(after)  # unique (hosts are fleet-wide: unique per cluster)
        assert all(where.why_not(a) == "" for a in after.values())
        assert not set(after.values()) & {r.address for r in lock.released}
        assert run(hosts(*sorted(current)), lock, where, quarantine) == lock  # same spec + lock -> same lock
        assert format_lock(parsed(format_lock(lock))) == format_lock(lock)


# --- through the pipeline and the CLI ---------------------------------------------------------------


def _span(line: int):
    from meshgen.diagnostics import Span

    return Span("fleet.yaml", line, 14)


def _write(folder: Path, text: str) -> Path:
    path = folder / "fleet.yaml"
    path.write_text(text)
    return path


def _built(spec: Path, lock: Path):
    result = build(Options(spec=spec, lock=lock))
    return result.tree, result.lock_text


def test_committed_lock_is_current_and_matches_a_render_from_an_empty_lock(tmp_path):
    from_committed = _built(EXAMPLE, COMMITTED_LOCK)
    from_empty = _built(EXAMPLE, tmp_path / "missing.lock")
    assert from_committed == from_empty
    assert COMMITTED_LOCK.read_text() == from_committed[1]


@pytest.mark.parametrize("seed", range(3))
def test_same_spec_and_lock_render_the_same_bytes(tmp_path, seed):
    spec = _write(tmp_path, EXAMPLE.read_text().replace("service: catalog/search\n", f"service: catalog/search\n    host: s{seed}.global\n"))
    lock = tmp_path / "meshgen.lock"
    lock.write_text(COMMITTED_LOCK.read_text())
    first = _built(spec, lock)
    lock.write_text(first[1])
    assert _built(spec, lock) == _built(spec, lock)
    assert _built(spec, lock)[1] == first[1]  # rendering again is not a new generation
    assert f"released {dict(_lock_lines(COMMITTED_LOCK))['search.catalog.global']} 10" in first[1]


def _lock_lines(path: Path):
    return [line.split() for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_inconsistent_lock_stops_the_build_with_a_located_error(tmp_path):
    lock = tmp_path / "meshgen.lock"
    lock.write_text("# x\nledger.payments.global 240.10.0.9\nsearch.catalog.global 240.10.0.9\n")
    with pytest.raises(MeshgenError) as err:
        build(Options(spec=EXAMPLE, lock=lock))
    assert [d.format().split(": error")[0] for d in err.value.diagnostics] == [f"{lock}:3:23"]


FRONTEND_TO_STAGING = "  - service: shop/frontend\n    mesh: prod\n    to:\n      - mesh: staging\n\nfailover:"


def test_budgets_warn_per_cluster(tmp_path):
    text = EXAMPLE.read_text().replace("  exportSuffix: global\n", "  exportSuffix: global\n  budgets: {BUDGETS}\n")
    with pytest.raises(MeshgenError):  # budgets are at least 1
        read_spec(_write(tmp_path, text.replace("{BUDGETS}", "{serviceEntriesPerCluster: 0}")))
    text = text.replace("{BUDGETS}", "{serviceEntriesPerCluster: 1, endpointsPerCluster: 3}")
    text = text.replace("\nfailover:", FRONTEND_TO_STAGING)
    model = resolve_model(read_spec(_write(tmp_path, text)))
    line = line_of(text, "  - name: staging-eu-1")
    assert sorted((d.code, d.span.line, d.message) for d in check_limits(model)) == [
        ("W301", line, "cluster 'staging-eu-1' carries 2 imported ServiceEntries, over the budget of 1"),
        ("W301", line, "cluster 'staging-eu-1' carries 4 imported endpoints, over the budget of 3"),
    ]


def line_of(text: str, prefix: str) -> int:
    """1-based line number of the first line of ``text`` that starts with ``prefix``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


def test_a_service_entry_over_256_ports_is_e304(tmp_path):
    search = "    instances:\n      - {cluster: staging-eu-1, count: 2}"
    ports = "".join(f"      - {{name: p{i}, number: {1000 + i}}}\n" for i in range(257))
    text = EXAMPLE.read_text().replace("      - {name: http, number: 8080, protocol: HTTP}\n" + search, ports + search)
    with pytest.raises(MeshgenError) as err:
        build(Options(spec=_write(tmp_path, text), lock=tmp_path / "none.lock"))
    export = line_of(text, "  - service: catalog/search")  # the search export, below the added ports
    assert [(d.code, d.span.line) for d in err.value.diagnostics] == [("E304", export)]
    assert "257 ports; Istio accepts at most 256" in err.value.diagnostics[0].message


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_check_fails_when_the_lock_is_stale_and_render_writes_it(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "fleet.yaml")
    spec, out, lock = str(tmp_path / "fleet.yaml"), str(tmp_path / "out"), tmp_path / "meshgen.lock"
    assert invoke("render", spec, "-o", out).exit_code == 0
    assert lock.read_text() == COMMITTED_LOCK.read_text()
    mtime = lock.stat().st_mtime_ns
    assert invoke("render", spec, "-o", out).exit_code == 0 and lock.stat().st_mtime_ns == mtime
    assert invoke("check", spec, "-o", out).exit_code == 0

    lines = lock.read_text().splitlines(keepends=True)
    lock.write_text("".join([lines[0], *reversed(lines[3:])]))  # hand-edited: header cut, lines swapped
    result = invoke("check", spec, "-o", out)
    assert result.exit_code == 1
    assert result.stdout == f"update: {lock}\n"  # out/ itself is current
    diffed = invoke("diff", spec, "-o", out)
    assert diffed.exit_code == 1 and f"+++ b/{str(lock).lstrip('/')}" in diffed.stdout  # outside a repository
    assert invoke("render", spec, "-o", out).exit_code == 0
    assert invoke("check", spec, "-o", out).exit_code == 0

    (tmp_path / "fleet.yaml").write_text(EXAMPLE.read_text().replace("\nfailover:", FRONTEND_TO_STAGING))
    result = invoke("check", spec, "-o", out)
    assert result.exit_code == 1 and f"update: {lock}" in result.stdout  # a new host: the lock is stale
    shutil.copy(EXAMPLE, tmp_path / "fleet.yaml")
    assert invoke("check", spec, "-o", out).exit_code == 0
    lock.unlink()
    assert invoke("check", spec, "-o", out).exit_code == 1  # a missing lock is stale too
