"""`meshgen explain`: why a workload can (or cannot) call a service, read from the rendered output.

``explain_call`` walks one call hop by hop; ``reachability`` evaluates every caller identity against
every target and compares the result with the access matrix the spec grants (``meshgen.access``).
Both render the spec in memory (``pipeline.build``) and read the tree back (``reader``): what they
judge is the output, with the spec consulted only for what the output cannot say (``fleet``).
"""

from __future__ import annotations

from meshgen.explain.fleet import Fleet
from meshgen.explain.hops import Caller, Explanation
from meshgen.explain.index import OutputIndex
from meshgen.explain.reader import read_tree
from meshgen.model import FleetModel


def load_fleet(tree: dict[str, bytes], model: FleetModel) -> Fleet:
    return Fleet(OutputIndex(read_tree(tree)), model)


def explain_call(fleet: Fleet, caller: Caller, host: str, port: int | None) -> Explanation:
    """Raises ValueError for an unknown caller cluster or a host with several ports and none given."""
    from meshgen.explain.walk import explain

    if caller.cluster not in fleet.index.bundles:
        raise ValueError(f"unknown cluster {caller.cluster!r} (clusters: {', '.join(sorted(fleet.index.bundles))})")
    return explain(fleet, caller, host, port)


__all__ = ["Caller", "Explanation", "Fleet", "explain_call", "load_fleet"]
