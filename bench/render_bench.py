"""End-to-end render benchmark against ``json.dumps`` of the same objects, measured in the same run.

    /work/venv/bin/python bench/render_bench.py                 # default size, 3 repeats
    /work/venv/bin/python bench/render_bench.py --no-validate   # the figure without validation
    /work/venv/bin/python bench/render_bench.py --size small --repeat 1 --profile /tmp/render.prof

A synthetic spec (``bench/synthetic.py``) is written to a temp folder, then each repeat runs the
real stages in order, each timed alone: load+check (``read_spec``), addresses
(``allocate_addresses``, a first render: no lock), resolve (``resolve_model``, including the lazily
resolved exports, and ``check_limits``), render, validate (``validate_resources``), emit, and
write (``writer.sync`` in WRITE mode into a fresh temp folder). The baseline is ``json.dumps`` of
every rendered ``resource.body``, one call per object, timed right after. The ratio is end-to-end
seconds over baseline seconds; figures are medians over the repeats. Peak memory is the process's
peak RSS (``ru_maxrss``, which includes the interpreter and imports), reported once at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: import synthetic beside it

import synthetic  # noqa: E402

from meshgen.diagnostics import raise_if_errors  # noqa: E402
from meshgen.emit import emit  # noqa: E402
from meshgen.pipeline import gc_paused, read_spec, resolve_model  # noqa: E402
from meshgen.render import render  # noqa: E402
from meshgen.writer import Mode, sync  # noqa: E402

STAGES = ("load+check", "addresses", "resolve", "render", "validate", "emit", "write")


@dataclass
class Run:
    objects: int = 0
    files: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    baseline: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    @property
    def ratio(self) -> float:
        return self.total / self.baseline


class Stopwatch:
    def __init__(self, run: Run):
        self.run = run
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.run.seconds[stage] = now - self.last
        self.last = now


def run_once(spec: Path, out: Path, validate: bool) -> Run:
    run = Run()
    watch = Stopwatch(run)
    with gc_paused():  # as pipeline.build runs the same stages; the CLI writes after it
        resources, tree = _build(watch, spec, validate)
    sync(tree, out, Mode.WRITE)
    watch.lap("write")
    run.objects, run.files = len(resources), len(tree)
    run.baseline = json_baseline([r.body for r in resources])
    return run


def _build(watch: Stopwatch, spec: Path, validate: bool):
    loaded = read_spec(spec)
    watch.lap("load+check")
    addresses = allocate(loaded, spec.with_name("meshgen.lock"))
    watch.lap("addresses")
    model = resolve_model(loaded, addresses)
    model.exports  # resolved lazily on first use; counted here, not in render  # noqa: B018
    raise_if_errors(limit_problems(model))
    watch.lap("resolve")
    resources = render(model)
    watch.lap("render")
    if validate:
        raise_if_errors(list(loaded.diagnostics) + validate_resources(resources))
    watch.lap("validate")
    tree = emit(resources)
    watch.lap("emit")
    return resources, tree


def validate_resources(resources):
    from meshgen.conformance import validate_resources as validate

    return validate(resources)


def json_baseline(bodies: list[dict]) -> float:
    dumps = json.dumps
    start = time.perf_counter()
    for body in bodies:
        dumps(body)
    return time.perf_counter() - start


def allocate(loaded, lock: Path) -> dict[str, str]:
    """Import addresses as ``pipeline.build`` allocates them (no lock yet: a first render)."""
    from meshgen.pipeline import allocate_addresses

    addresses, _lock_text = allocate_addresses(loaded, lock)
    return addresses


def limit_problems(model) -> list:
    from meshgen.addresses import check_limits

    return check_limits(model)


# --- reporting -------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def report(runs: list[Run], validate: bool) -> str:
    med = statistics.median
    first = runs[0]
    total, baseline = med(r.total for r in runs), med(r.baseline for r in runs)
    lines = [
        f"objects        {first.objects:>10,}   files {first.files:,}   validation {'on' if validate else 'off'}"
        f"   repeats {len(runs)} (medians)",
    ]
    for stage in STAGES:
        if stage not in first.seconds:
            continue
        seconds = med(r.seconds[stage] for r in runs)
        lines.append(f"  {stage:<12} {seconds:>9.2f} s  {seconds / baseline:>5.2f}x json")
    lines += [
        f"end to end     {total:>9.2f} s   {first.objects / total:>9,.0f} objects/s",
        f"json.dumps     {baseline:>9.2f} s   {first.objects / baseline:>9,.0f} objects/s",
        f"ratio          {med(r.ratio for r in runs):>9.2f}     (runs: {', '.join(f'{r.ratio:.2f}' for r in runs)})",
        f"peak RSS       {peak_rss_mb():>9,.0f} MB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic.add_size_options(parser)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-validate", dest="validate", action="store_false", help="skip validate_resources")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the last repeat to this file")
    args = parser.parse_args(argv)
    size = synthetic.size_from_args(args)
    runs = []
    with tempfile.TemporaryDirectory(prefix="meshgen-bench-") as tmp:
        spec = synthetic.write_spec(size, Path(tmp) / "fleet.yaml")
        print(f"spec: {spec.stat().st_size:,} bytes; {size}", file=sys.stderr)
        for i in range(args.repeat):
            out = Path(tmp) / f"out-{i}"
            profiler = cProfile.Profile() if args.profile and i == args.repeat - 1 else None
            if profiler:
                profiler.enable()
            runs.append(run_once(spec, out, args.validate))
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            print(f"run {i + 1}: {runs[-1].total:.2f} s, ratio {runs[-1].ratio:.2f}", file=sys.stderr)
            gc.collect()
    print(report(runs, args.validate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
