"""Explanations and matrices as text lines and as JSON-ready data. Pure: the CLI prints them.

Rendered objects are shown as ``<out>/<path>:<line>`` (``out`` is where ``meshgen render -o`` writes
the same tree), spec lines as ``<spec file>:<line>``.
"""

from __future__ import annotations

from meshgen.explain.hops import Explanation, Hop
from meshgen.explain.exposure import Exposure
from meshgen.explain.matrix import Matrix, Mismatch

MATRIX_COLUMNS = ("caller mesh", "caller clusters", "namespace", "service account", "host", "port")


def _where(hop: Hop, out: str) -> list[str]:
    found = [f"{out.rstrip('/')}/{path}:{line}" for path, line in dict.fromkeys(r.where() for r in hop.refs)]
    if hop.spec is not None and hop.spec.line:
        found.append(f"{hop.spec.file}:{hop.spec.line}")
    return found


def hop_line(hop: Hop, out: str) -> str:
    refs = " ".join(f"[{w}]" for w in _where(hop, out))
    return f"{hop.name}: {'ok' if hop.ok else 'fail'}: {hop.text}" + (f"  {refs}" if refs else "")


def verdict_line(explanation: Explanation) -> str:
    port = f":{explanation.port}" if explanation.port is not None else ""
    call = f"{explanation.caller} -> {explanation.host}{port}"
    failed = explanation.failed
    return f"allowed: {call}" if failed is None else f"denied at {failed.name}: {call}"


def explanation_lines(explanation: Explanation, out: str) -> list[str]:
    return [hop_line(h, out) for h in explanation.hops] + [verdict_line(explanation)]


def explanation_json(explanation: Explanation, out: str) -> dict:
    failed = explanation.failed
    return {
        "caller": str(explanation.caller),
        "host": explanation.host,
        "port": explanation.port,
        "allowed": explanation.allowed,
        "failed": failed.name if failed is not None else None,
        "hops": [{"hop": h.name, "ok": h.ok, "text": h.text, "where": _where(h, out)} for h in explanation.hops],
    }


# --- the matrix --------------------------------------------------------------------------------


def matrix_rows(matrix: Matrix) -> list[tuple]:
    """(caller mesh, clusters, namespace, service account, host, port), sorted; ``(other)`` names an
    account or namespace nobody names (any one of them: they all behave alike). A call made straight to
    a federation gateway is ``<host> via <gateway address>``, from any cluster of the caller's mesh."""
    rows = [(mesh, tuple(sorted(clusters)), ns, sa, host, port)
            for (mesh, ns, sa, host, port), clusters in matrix.reachable.items()]
    for (mesh, label, port), states in matrix.direct.items():
        rows += [(mesh, (f"any cluster of {mesh}",), p.namespace, p.service_account, label, port)
                 for p, state in zip(matrix.probes[mesh], states) if state]
    return sorted(rows)


def matrix_report(matrix: Matrix) -> list[str]:
    """The table, then every mismatch and exposure, then the summary."""
    return matrix_lines(matrix) + [mismatch_line(m) for m in matrix.mismatches] + \
        [exposure_line(e) for e in matrix.exposed] + [summary_line(matrix)]


def matrix_lines(matrix: Matrix) -> list[str]:
    lines = ["| " + " | ".join(MATRIX_COLUMNS) + " |", "|" + "---|" * len(MATRIX_COLUMNS)]
    for mesh, clusters, ns, sa, host, port in matrix_rows(matrix):
        lines.append(f"| {mesh} | {', '.join(clusters)} | {ns} | {sa} | {host} | {port} |")
    return lines


def mismatch_line(mismatch: Mismatch) -> str:
    p = mismatch.probe
    who = f"{p.cluster}/{p.namespace}/{p.service_account}"
    if mismatch.allowed:
        why = f"allowed by the output{' (some ways)' if mismatch.partly else ''}, granted by no row of `meshgen access`"
        if mismatch.documented:
            why += " (documented: granted to this identity in another cluster of its mesh; a consumer cluster " \
                   "narrows where imports are rendered, not who may call, docs/limitations.md)"
    else:
        why = "granted by `meshgen access`, refused by the output" + (" on some of the ways a request may take"
                                                                       if mismatch.partly else "")
    return f"{'note' if mismatch.documented else 'mismatch'}: {who} -> {mismatch.host}:{mismatch.port}: {why}"


def exposure_line(exposure: Exposure) -> str:
    return f"exposed: {exposure.host} is listed on federation gateway {exposure.gateway} of {exposure.cluster}, " \
           "but no export names it"


def summary_line(matrix: Matrix) -> str:
    allowed = len(matrix_rows(matrix))
    undocumented = sum(1 for m in matrix.mismatches if not m.documented) + len(matrix.exposed)
    verdict = "equal to the access matrix the spec grants" if matrix.equal else \
        f"{undocumented} pair(s) differ from the access matrix the spec grants"
    return f"{allowed} allowed rows, {matrix.pairs} caller/target pairs evaluated; {verdict}"


def matrix_json(matrix: Matrix) -> dict:
    return {
        "columns": list(MATRIX_COLUMNS),
        "allowed": [[m, list(c), ns, sa, h, p] for m, c, ns, sa, h, p in matrix_rows(matrix)],
        "pairs": matrix.pairs,
        "equal": matrix.equal,
        "mismatches": [{"caller": f"{m.probe.cluster}/{m.probe.namespace}/{m.probe.service_account}",
                        "host": m.host, "port": m.port, "allowed": m.allowed, "partly": m.partly,
                        "documented": m.documented}
                       for m in matrix.mismatches],
        "exposed": [{"cluster": e.cluster, "gateway": e.gateway, "host": e.host} for e in matrix.exposed],
    }
