"""`meshgen explain --matrix` on the benchmark fleet, against the render of the same fleet.

    .venv/bin/python bench/explain_bench.py                 # default size, 1 repeat
    .venv/bin/python bench/explain_bench.py --size small --repeat 3

The synthetic spec (``bench/synthetic.py``) is written to a temp folder. Each repeat times:

* render: ``pipeline.build`` (load, checks, addresses, resolve, render, validate, emit: the whole tree in
  memory, as ``meshgen render`` computes it before writing);
* read: reading that tree back and indexing it (``explain.load_fleet``);
* matrix: every probe against every target and every direct gateway call, compared with
  ``meshgen access`` (``explain.matrix.reachability``).

``explain --matrix`` runs all three; the figure the issue asks for is (read + matrix) / render. Figures
are medians over the repeats. Where the generator gives primaries no federation gateway (older
generators; the checks require one where exported services run), one is added per primary, as in
``tests/test_explain_matrix.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: import synthetic beside it

import synthetic  # noqa: E402

from meshgen.emit import dump_yaml  # noqa: E402
from meshgen.explain import load_fleet  # noqa: E402
from meshgen.explain.matrix import reachability  # noqa: E402
from meshgen.pipeline import Options, build  # noqa: E402


def write_spec(size: synthetic.Size, path: Path) -> Path:
    data = synthetic.fleet_spec(size)
    for i, cluster in enumerate(data["clusters"]):
        if "gateways" in cluster:
            cluster.setdefault("federationGateways", [{"address": str(IPv4Address("10.255.0.1") + i)}])
    path.write_text(dump_yaml(data), encoding="utf-8")
    return path


def run_once(spec: Path) -> dict:
    start = time.perf_counter()
    built = build(Options(spec=spec))
    rendered = time.perf_counter()
    fleet = load_fleet(built.tree, built.model)
    read = time.perf_counter()
    matrix = reachability(fleet)
    done = time.perf_counter()
    return {"render": rendered - start, "read": read - rendered, "matrix": done - read, "pairs": matrix.pairs,
            "files": len(built.tree), "equal": matrix.equal, "allowed": sum(1 for states in matrix.cells.values() for s in states if s)}


def report(runs: list[dict]) -> str:
    med = statistics.median
    first = runs[0]
    render, read, matrix = (med(r[k] for r in runs) for k in ("render", "read", "matrix"))
    return "\n".join([
        f"files {first['files']:,}   probe x target pairs {first['pairs']:,}   allowed (probe, cluster, target) "
        f"{first['allowed']:,}   equal to the grants: {first['equal']}   repeats {len(runs)} (medians)",
        f"  render (pipeline.build)   {render:8.2f} s",
        f"  read the tree back        {read:8.2f} s",
        f"  matrix                    {matrix:8.2f} s",
        f"explain --matrix after render {read + matrix:8.2f} s   = {(read + matrix) / render:5.2f}x render",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic.add_size_options(parser)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    size = synthetic.size_from_args(args)
    with tempfile.TemporaryDirectory(prefix="meshgen-explain-bench-") as tmp:
        spec = write_spec(size, Path(tmp) / "fleet.yaml")
        print(f"spec: {spec.stat().st_size:,} bytes; {size}", file=sys.stderr)
        runs = []
        for i in range(args.repeat):
            runs.append(run_once(spec))
            print(f"run {i + 1}: render {runs[-1]['render']:.2f} s, read {runs[-1]['read']:.2f} s, "
                  f"matrix {runs[-1]['matrix']:.2f} s", file=sys.stderr)
    print(report(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
