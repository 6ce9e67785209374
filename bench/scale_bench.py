"""The fleet-scale benchmark: the real commands on a synthetic fleet, each in its own process.

    .venv/bin/python bench/scale_bench.py                 # default size
    .venv/bin/python bench/scale_bench.py --size xl       # about 1,000 clusters, 20,000 services
    .venv/bin/python bench/scale_bench.py --size small --no-change

One run reports, for one size (``bench/synthetic.py``):
  * ``meshgen render`` into an empty folder: wall time, peak RSS, objects, files, bytes;
  * the baseline: ``json.dumps`` of every rendered object (one call per object, as
    ``render_bench.py`` times it), in a process of its own that renders the same spec first;
  * ``meshgen validate`` (load, checks, addresses, resolve, budgets) against the baseline;
  * ``meshgen check`` on the tree just written (up to date, exit 0) against the render;
  * the cost of a one-service change (``--no-change`` skips it): the output folder is committed
    to a Git repository, the spec changes in one place, ``meshgen render`` runs again: files
    changed and diff lines (``git diff --shortstat``), the render's wall time. One after the
    other, each committed: a port added to an exported service (its imports change in every
    primary of its consumer meshes), one consumer mesh more on an export, and a port added to a
    service that is not exported (at sizes that have one);
  * how much of the tree repeats: files whose bytes another file has too.

Each command is the CLI (``python -m meshgen``) in a child process; its peak RSS is the child's
``ru_maxrss`` from ``os.wait4`` (interpreter and imports included), its time the wall time
around it (start-up included, about 0.4 s). ``-v`` makes the CLI print its stage timestamps,
which are kept for the report.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: import synthetic beside it

import synthetic  # noqa: E402

from meshgen.emit import dump_yaml  # noqa: E402

BASELINE = """
import json, sys, time
from pathlib import Path
from meshgen.pipeline import gc_paused, read_spec, resolve_model
from meshgen.render import render
with gc_paused():
    resources = render(resolve_model(read_spec(Path(sys.argv[1]))))
bodies = [r.body for r in resources]
dumps = json.dumps
start = time.perf_counter()
for body in bodies:
    dumps(body)
print(len(bodies), time.perf_counter() - start)
"""


@dataclass
class Timed:
    seconds: float
    peak_mb: float
    code: int
    stages: list[str] = field(default_factory=list)  # the CLI's '-v' lines
    stdout: str = ""


def run(argv: list[str], cwd: Path | None = None) -> Timed:
    """One child process: wall time, peak RSS, exit code, its stderr lines and stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        return Timed(seconds, usage.ru_maxrss / 1024, child.returncode,
                     err.read().decode().splitlines(), out.read().decode())


def meshgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "meshgen", "-v", *args]


def tree_size(out: Path) -> tuple[int, int]:
    """(files, bytes) under out, Git's own folder and meshgen's ownership list excluded."""
    files = [p for p in out.rglob("*") if p.is_file() and ".git" not in p.relative_to(out).parts]
    return len(files), sum(p.stat().st_size for p in files)


def duplication(out: Path) -> dict:
    """Files under clusters/ whose exact bytes another file there has: how many, and the bytes a
    single shared copy of each would save."""
    by_digest: dict[str, list[Path]] = defaultdict(list)
    for path in (out / "clusters").rglob("*"):
        if path.is_file():
            by_digest[hashlib.sha256(path.read_bytes()).hexdigest()].append(path)
    repeated = [paths for paths in by_digest.values() if len(paths) > 1]
    by_name: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for paths in repeated:
        size = paths[0].stat().st_size
        by_name[paths[0].name][0] += len(paths)
        by_name[paths[0].name][1] += size * (len(paths) - 1)
    return {
        "files": sum(len(p) for p in repeated),
        "distinct": len(repeated),
        "saved": sum(p[0].stat().st_size * (len(p) - 1) for p in repeated),
        "by_name": dict(sorted(by_name.items(), key=lambda kv: -kv[1][1])),
    }


# --- the one-service change ----------------------------------------------------------------------


def add_port(spec: dict, size: synthetic.Size) -> str:
    """One port more on service svc-0000 of mesh m00 (exported)."""
    entry = spec["services"][0]
    entry["ports"] = [*entry["ports"], {"name": "admin", "number": 8443, "protocol": "HTTPS"}]
    return f"one port added to {entry['namespace']}/{entry['name']} (exported)"


def add_consumer(spec: dict, size: synthetic.Size) -> str:
    """One consumer mesh more on the export of svc-0001 of mesh m00: the last mesh, which exports to
    m00 already (so the two hold each other's trust bundles) but does not consume this export."""
    export = spec["exports"][1]
    mesh = synthetic._mesh_name(size.meshes - 1)
    export["to"] = [*export["to"], {"mesh": mesh}]
    return f"export of {export['service']} opened to mesh {mesh} as well"


def add_port_unexported(spec: dict, size: synthetic.Size) -> str:
    """One port more on the last service of mesh m00 (not exported when there are more services than exports)."""
    entry = spec["services"][size.services_per_mesh - 1]
    entry["ports"] = [*entry["ports"], {"name": "admin", "number": 8443, "protocol": "HTTPS"}]
    return f"one port added to {entry['namespace']}/{entry['name']} (not exported)"


CHANGES = (add_port, add_consumer, add_port_unexported)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "gc.auto=0", *args], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "--allow-empty", "-qm", message)


def succeeded(timed: Timed, what: str) -> Timed:
    if timed.code != 0:
        errors = [line for line in timed.stages if "error" in line]
        raise SystemExit(f"{what}: exit {timed.code}\n" + "\n".join(errors[:10] or timed.stages[-10:]))
    return timed


def change_cost(spec: dict, spec_path: Path, repo: Path, what: str) -> dict:
    """Render the changed spec into the committed tree: files and lines changed, seconds. Committed
    after, so that the next change is measured alone."""
    spec_path.write_text(dump_yaml(spec), encoding="utf-8")
    second = succeeded(run(meshgen("render", str(spec_path), "--out", str(repo / "out"))), what)
    git(repo, "add", "-A")
    stat = git(repo, "diff", "--cached", "--shortstat").strip() or "no file changed"
    names = Counter(Path(name).name for name in git(repo, "diff", "--cached", "--name-only").split())
    commit(repo, what)
    return {"what": what, "render_s": second.seconds, "shortstat": stat,
            "by_name": ", ".join(f"{name} {n}" for name, n in sorted(names.items()))}


# --- the report --------------------------------------------------------------------------------


def measure(size: synthetic.Size, folder: Path) -> dict:
    spec = synthetic.write_spec(size, folder / "fleet.yaml")
    out = folder / "repo" / "out"  # a Git work tree, for the one-service change
    figures: dict = {"spec_bytes": spec.stat().st_size}
    figures["render"] = succeeded(run(meshgen("render", str(spec), "--out", str(out))), "render")
    figures["files"], figures["bytes"] = tree_size(out)
    figures["validate"] = run(meshgen("validate", str(spec)))
    figures["check"] = succeeded(run(meshgen("check", str(spec), "--out", str(out))), "check")  # up to date
    baseline = run([sys.executable, "-c", BASELINE, str(spec)])
    figures["objects"], figures["json_s"] = (int(baseline.stdout.split()[0]), float(baseline.stdout.split()[1]))
    figures["duplication"] = duplication(out)
    git(folder / "repo", "init", "-q")
    commit(folder / "repo", "before")
    return figures


def report(size_name: str, f: dict) -> str:
    json_s, render = f["json_s"], f["render"]
    lines = [
        f"size {size_name}: spec {f['spec_bytes']:,} bytes; {f['objects']:,} objects in {f['files']:,} files, "
        f"{f['bytes']:,} bytes",
        f"render    {render.seconds:8.2f} s   {render.seconds / json_s:5.2f}x json.dumps   peak RSS {render.peak_mb:,.0f} MB",
        f"json.dumps{json_s:8.2f} s   (one call per rendered object)",
        f"validate  {f['validate'].seconds:8.2f} s   {f['validate'].seconds / json_s:5.2f}x json.dumps   "
        f"peak RSS {f['validate'].peak_mb:,.0f} MB",
        f"check     {f['check'].seconds:8.2f} s   {f['check'].seconds / render.seconds:5.2f}x render   "
        f"peak RSS {f['check'].peak_mb:,.0f} MB (up to date: exit {f['check'].code})",
        "render stages (-v):", *(f"  {line}" for line in render.stages if line.startswith("[")),
    ]
    dup = f["duplication"]
    lines.append(f"repeated files under clusters/: {dup['files']:,} files with {dup['distinct']:,} distinct contents; "
                 f"one copy of each would save {dup['saved']:,} bytes ({dup['saved'] / f['bytes']:.0%} of the tree)")
    lines += [f"  {name}: {n:,} files, {saved:,} bytes repeated" for name, (n, saved) in list(dup["by_name"].items())[:6]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic.add_size_options(parser)
    parser.add_argument("--no-change", dest="change", action="store_false", help="skip the one-service change")
    args = parser.parse_args(argv)
    size = synthetic.size_from_args(args)
    with tempfile.TemporaryDirectory(prefix="meshgen-scale-") as tmp:
        figures = measure(size, Path(tmp))
        print(report(args.size, figures), flush=True)
        spec = synthetic.fleet_spec(size)
        for change in CHANGES if args.change else ():
            if change is add_port_unexported and size.services_per_mesh <= size.exports_per_mesh:
                continue  # every service is exported
            c = change_cost(spec, Path(tmp) / "fleet.yaml", Path(tmp) / "repo", change(spec, size))
            print(f"{c['what']}: render {c['render_s']:.2f} s; {c['shortstat']}", flush=True)
            if c["by_name"]:
                print(f"  {c['by_name']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
