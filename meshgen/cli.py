"""The command line: flags -> Options, call the library, print diagnostics, pick the exit code.

Exit codes (also in README.md):
  0  success (validate: spec valid; check: out/ up to date)
  1  check/diff: out/ differs from what the spec renders
  2  the spec has errors (YAML, schema, semantic)
  3  rendered output fails Istio/Kubernetes rules (render invariant)
  4  output or IO error (cannot read the spec, unsafe path, unowned file in the way)
  5  internal error (a bug: rerun with --debug for the traceback)
  2  also: usage error (unknown option or command; click)
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import replace
from pathlib import Path

import click

from meshgen.diagnostics import Diagnostic, MeshgenError, Report, Span

EXIT_OK, EXIT_DRIFT, EXIT_SPEC, EXIT_RENDER, EXIT_IO, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5
DEFAULT_SPEC = "fleet.yaml"


class Context:
    fail_on_change = False  # render --fail-on-change: exit 1 when files were written

    def __init__(self, output_format: str, debug: bool, quiet: bool, verbose: bool, limit: int):
        self.format = output_format
        self.debug = debug
        self.quiet = quiet
        self.verbose = verbose
        self.limit = limit

    def report(self, diagnostics) -> Report:
        report = Report(limit=self.limit)
        report.add(diagnostics)
        lines = {"json": [report.json()], "github": report.github_lines()}.get(self.format, report.lines())
        if self.format == "json" or report.diagnostics:
            click.echo("\n".join(lines), err=self.format == "text")
        return report


def exit_code_for(diagnostics: list[Diagnostic]) -> int:
    codes = [d.code for d in diagnostics if d.is_error]
    if any(c.startswith("E5") for c in codes):
        return EXIT_IO
    if any(c.startswith("E4") for c in codes):
        return EXIT_RENDER
    return EXIT_SPEC if codes else EXIT_OK


def run(ctx: Context, action) -> None:
    """Run one command body; turn MeshgenError and bugs into the documented exit codes."""
    try:
        code = action()
    except MeshgenError as exc:
        ctx.report(exc.diagnostics)
        code = exit_code_for(exc.diagnostics)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = 130
    except Exception as exc:  # an unexpected exception is a bug, not a user error
        if ctx.debug:
            traceback.print_exc()
        else:
            click.echo(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)", err=True)
        code = EXIT_INTERNAL
    sys.exit(code)


spec_argument = click.argument("spec", type=click.Path(path_type=Path), default=DEFAULT_SPEC, required=False)
out_option = click.option(
    "-o", "--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True, help="Output folder."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Diagnostics format: text, JSON, or GitHub workflow annotations.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print what is being done.")
@click.option("--max-diagnostics", "limit", type=int, default=50, show_default=True, help="Cap on printed diagnostics.")
@click.version_option(package_name="meshgen")
@click.pass_context
def main(click_ctx, output_format, debug, quiet, verbose, limit):
    """Compile a fleet spec into per-cluster Istio multicluster bundles for GitOps."""
    click_ctx.obj = Context(output_format, debug, quiet, verbose, limit)


@main.command()
@spec_argument
@click.pass_obj
def validate(ctx: Context, spec: Path):
    """Check SPEC and print every diagnostic; exit 2 if it has errors."""
    from meshgen.pipeline import Options, validate_spec

    def action():
        ctx.report(validate_spec(Options(spec=spec)))
        if not ctx.quiet and ctx.format == "text":
            click.echo(f"{spec}: ok", err=True)
        return EXIT_OK

    run(ctx, action)


@main.command()
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("schema/fleet.schema.json"),
              show_default=True, help="Where to write the JSON Schema of the fleet spec.")
@click.pass_obj
def schema(ctx: Context, out: Path):
    """Write the JSON Schema of the fleet spec (for editors and CI)."""
    from meshgen.spec.schema import fleet_schema_bytes

    def action():
        out.parent.mkdir(parents=True, exist_ok=True)
        data = fleet_schema_bytes()
        if not out.exists() or out.read_bytes() != data:
            out.write_bytes(data)
        if ctx.verbose:
            click.echo(f"wrote {out}", err=True)
        return EXIT_OK

    run(ctx, action)


def _sync(ctx: Context, spec: Path, out: Path, mode_name: str, validate_output: bool = True):
    from meshgen.pipeline import Options, build
    from meshgen.writer import Mode, sync, sync_file

    mode = Mode[mode_name]
    progress = Progress(ctx)

    def action():
        progress(f"{spec}: loading, checking, resolving, rendering and validating")
        options = Options(spec=spec, out=out, validate_output=validate_output)
        built = build(options)
        ctx.report([d for d in built.diagnostics if not ctx.quiet or d.is_error])
        progress(f"{len(built.tree)} files rendered; {'writing' if mode is Mode.WRITE else 'comparing with'} {out}")
        plan = sync(built.tree, out, mode)
        lock = sync_file(options.lock_path, built.lock_text.encode("utf-8"), mode)  # after out/: the one file outside it
        return max(_finish(ctx, plan, mode, out), _finish_lock(ctx, lock, mode))

    run(ctx, action)


def _finish_lock(ctx: Context, lock, mode) -> int:
    """The address lock beside the spec: listed or diffed like out/ files; stale means drift."""
    from meshgen.writer import Mode

    if not lock.changes:
        return EXIT_OK
    change = lock.changes[0]
    if mode is Mode.DIFF:
        click.echo(lock.diff(), nl=False)
    elif mode is Mode.CHECK:
        click.echo(f"{change.action}: {change.path}")
        if not ctx.quiet:
            click.echo(f"{change.path} is stale: run `meshgen render`", err=True)
    elif not ctx.quiet:
        click.echo(f"{change.path}: {change.action}d", err=True)
    return EXIT_OK if mode is Mode.WRITE and not ctx.fail_on_change else EXIT_DRIFT


def _finish(ctx: Context, plan, mode, out: Path) -> int:
    from meshgen.writer import Mode

    if mode is Mode.DIFF:
        if plan.changes:
            click.echo(plan.diff(), nl=False)
        return EXIT_DRIFT if plan.changes else EXIT_OK
    if mode is Mode.CHECK:
        for change in plan.changes:
            click.echo(f"{change.action}: {out / change.path}")
        if plan.changes and not ctx.quiet:
            click.echo(f"{out} is stale: run `meshgen render` ({len(plan.changes)} files differ)", err=True)
        return EXIT_DRIFT if plan.changes else EXIT_OK
    if not ctx.quiet:
        counts = {a: sum(1 for c in plan.changes if c.action == a) for a in ("create", "update", "delete")}
        summary = ", ".join(f"{n} {a}d" for a, n in counts.items() if n) or "no changes"
        click.echo(f"{out}: {summary}", err=True)
    return EXIT_DRIFT if plan.changes and ctx.fail_on_change else EXIT_OK


@main.command()
@spec_argument
@out_option
@click.option("--no-validate", is_flag=True, help="Skip checking rendered objects against Istio/Kubernetes rules.")
@click.option("--fail-on-change", is_flag=True,
              help="Exit 1 when files were created, updated or deleted (for pre-commit hooks and CI).")
@click.pass_obj
def render(ctx: Context, spec: Path, out: Path, no_validate: bool, fail_on_change: bool):
    """Render SPEC into OUT (one bundle per cluster); unchanged files are left alone."""
    ctx.fail_on_change = fail_on_change
    _sync(ctx, spec, out, "WRITE", validate_output=not no_validate)


@main.command()
@spec_argument
@out_option
@click.pass_obj
def check(ctx: Context, spec: Path, out: Path):
    """Exit 1 and list the paths when OUT differs from what SPEC renders."""
    _sync(ctx, spec, out, "CHECK")


@main.command()
@spec_argument
@out_option
@click.pass_obj
def diff(ctx: Context, spec: Path, out: Path):
    """Print a unified diff of what `render` would change in OUT."""
    _sync(ctx, spec, out, "DIFF")


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@main.command()
@click.argument("out", type=click.Path(path_type=Path), default=Path("out"), required=False)
@click.option("--kubeconform", "use_kubeconform", is_flag=True,
              help="Also run kubeconform (must be on PATH) with meshgen's schema/ folder as schema location.")
@click.pass_obj
def lint(ctx: Context, out: Path, use_kubeconform: bool):
    """Validate an existing output tree against Istio's and Kubernetes' rules (exit 3 on findings)."""
    from meshgen.conformance import SCHEMA_DIR, KubeconformNotFound, lint_tree, run_kubeconform

    def action():
        if not out.is_dir():
            raise MeshgenError([Diagnostic("E505", f"output folder {out} does not exist", Span(str(out)))])
        diagnostics = [replace(d, span=replace(d.span, file=str(out / d.span.file))) for d in lint_tree(out)]
        report = ctx.report(diagnostics)
        code = EXIT_RENDER if report.has_errors else EXIT_OK
        if use_kubeconform:
            try:
                status, output = run_kubeconform(out, SCHEMA_DIR)
            except KubeconformNotFound as exc:
                raise MeshgenError([Diagnostic("E506", str(exc), Span(str(out)))]) from None
            click.echo(output, nl=False)
            code = code or (EXIT_RENDER if status else EXIT_OK)
        return code

    run(ctx, action)


@main.command()
@spec_argument
@click.option("--format", "graph_format", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid",
              show_default=True, help="Mermaid text, Graphviz DOT, or SVG drawn by Graphviz `dot` (must be on PATH).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the picture to this file instead of standard output.")
@click.pass_obj
def graph(ctx: Context, spec: Path, graph_format: str, output: Path | None):
    """Draw the fleet: meshes, networks, clusters, gateways, exports and roots of trust."""
    from meshgen.graph import render_graph, to_svg
    from meshgen.pipeline import read_spec, resolve_model

    def action():
        model = resolve_model(read_spec(spec))
        text = render_graph(model, "dot" if graph_format == "svg" else graph_format)
        data = to_svg(text) if graph_format == "svg" else text.encode()
        if output is None:
            click.echo(data, nl=False)
            return EXIT_OK
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise MeshgenError([Diagnostic("E513", f"cannot write {output}: {exc.strerror}", Span(str(output)))]) from None
        return EXIT_OK

    run(ctx, action)


@main.command()
@spec_argument
@click.option("--format-out", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True,
              help="Markdown table or JSON rows (the group-level --format is for diagnostics).")
@click.option("--diff", "base", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Print `+ grant` / `- revoke` lines: what SPEC grants compared with BASE_SPEC.")
@click.pass_obj
def access(ctx: Context, spec: Path, format_out: str, base: Path | None):
    """Print the access matrix SPEC grants: who may call which exported service on which port."""
    from meshgen.access import access_matrix, diff_json, diff_lines, to_json, to_markdown
    from meshgen.pipeline import read_spec, resolve_model

    def action():
        grants = access_matrix(resolve_model(read_spec(spec)))
        if base is not None:
            before = access_matrix(resolve_model(read_spec(base)))
            if format_out == "json":
                echo_json(diff_json(before, grants))
            else:
                click.echo("".join(f"{line}\n" for line in diff_lines(before, grants)), nl=False)
        elif format_out == "json":
            echo_json(to_json(grants))
        else:
            click.echo(to_markdown(grants), nl=False)
        return EXIT_OK

    run(ctx, action)


class Progress:
    """Stage messages on stderr: always with --verbose; on a terminal unless --quiet; never in CI formats."""

    def __init__(self, ctx: Context):
        import time

        self._clock = time.monotonic
        self._start = self._clock()
        self.enabled = ctx.verbose or (not ctx.quiet and ctx.format == "text" and sys.stderr.isatty())

    def __call__(self, message: str) -> None:
        if self.enabled:
            click.echo(f"[{self._clock() - self._start:6.2f}s] {message}", err=True)


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("fleet.yaml"), required=False)
@click.pass_obj
def init(ctx: Context, path: Path):
    """Write a commented starter spec to PATH (a folder gets fleet.yaml); never overwrites a file."""
    from meshgen.init import STARTER_NAME, starter_spec

    def action():
        target = path / STARTER_NAME if path.is_dir() else path
        try:
            with open(target, "x", encoding="utf-8", newline="\n") as handle:
                handle.write(starter_spec())
        except FileExistsError:
            raise MeshgenError([Diagnostic("E512", f"{target} already exists; meshgen init never overwrites a file",
                                           Span(str(target)), hint="pass another path, or move the file away")]) from None
        except OSError as exc:
            raise MeshgenError([Diagnostic("E512", f"cannot write {target}: {exc.strerror}", Span(str(target)))]) from None
        if not ctx.quiet:
            click.echo(f"wrote {target}; next: `meshgen validate {target}` then `meshgen render {target}`", err=True)
        return EXIT_OK

    run(ctx, action)


@main.command()
@spec_argument
@click.option("--from", "caller", metavar="CLUSTER/NAMESPACE/SERVICEACCOUNT", help="The calling workload's identity.")
@click.option("--to", "target", metavar="HOST[:PORT]", help="The host it calls, and the port (needed when it has several).")
@click.option("--matrix", is_flag=True, help="Evaluate every caller identity against every target and compare with "
                                            "`meshgen access`; exit 1 when they differ.")
@out_option
@click.pass_obj
def explain(ctx: Context, spec: Path, caller: str | None, target: str | None, matrix: bool, out: Path):
    """Why CALLER can (or cannot) call TARGET, hop by hop, read from the output SPEC renders (in memory;
    paths are shown under OUT). Exit 0 when the call is allowed end to end, 1 when it is not."""
    from meshgen.explain import Caller, explain_call, load_fleet
    from meshgen.explain import format as fmt
    from meshgen.explain.matrix import reachability
    from meshgen.pipeline import Options, build

    if matrix == bool(caller or target) or (not matrix and not (caller and target)):
        raise click.UsageError("give either --matrix, or both --from CLUSTER/NAMESPACE/SERVICEACCOUNT and --to HOST[:PORT]")
    try:
        who = Caller.parse(caller) if caller else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None
    host, _, port = (target or "").rpartition(":") if ":" in (target or "") else (target, "", "")
    if port and not port.isdigit():
        raise click.BadParameter(f"port {port!r} is not a number", param_hint="--to")

    def action():
        built = build(Options(spec=spec, out=out))  # raises on spec errors; its warnings belong to `validate`
        fleet = load_fleet(built.tree, built.model)
        if matrix:
            found = reachability(fleet)
            if ctx.format == "json":
                echo_json(fmt.matrix_json(found))
            else:
                click.echo("\n".join(fmt.matrix_report(found)))
            return EXIT_OK if found.equal else EXIT_DRIFT
        try:
            explained = explain_call(fleet, who, host, int(port) if port else None)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            return EXIT_SPEC
        if ctx.format == "json":
            echo_json(fmt.explanation_json(explained, str(out)))
        else:
            click.echo("\n".join(fmt.explanation_lines(explained, str(out))))
        return EXIT_OK if explained.allowed else EXIT_DRIFT

    run(ctx, action)
